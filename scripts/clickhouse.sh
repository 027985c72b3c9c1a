#!/usr/bin/env bash
# ClickHouse for the telemetry plugin's tests and benchmarks. Idempotent.
#   scripts/clickhouse.sh install                         install Debian's clickhouse-server/-client if missing
#   scripts/clickhouse.sh start <dir> <http-port> <tcp-port>
#                                                         write a minimal config under <dir> (127.0.0.1 only),
#                                                         start a throwaway server, wait for /ping, print its pid
#   scripts/clickhouse.sh stop <dir>                      stop the server started in <dir> (data stays)
# The throwaway server has two users: "default" (no password) and "trellis" (password "trellis-test").
set -euo pipefail

say() { printf 'clickhouse.sh: %s\n' "$*" >&2; }

server_bin() {
  if command -v clickhouse-server >/dev/null 2>&1; then command -v clickhouse-server
  elif [ -x /usr/sbin/clickhouse-server ]; then echo /usr/sbin/clickhouse-server
  elif [ -x /usr/bin/clickhouse-server ]; then echo /usr/bin/clickhouse-server
  elif command -v clickhouse >/dev/null 2>&1; then echo "$(command -v clickhouse) server"
  else return 1
  fi
}

install() {
  if server_bin >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then say "clickhouse-server is missing; run this as root to apt-get install it"; exit 1; fi
  say "installing clickhouse-server and clickhouse-client (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client >/dev/null
  fi
  server_bin >/dev/null || { say "clickhouse-server still not found after install"; exit 1; }
}

write_config() {
  local dir=$1 http=$2 tcp=$3
  mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files" "$dir/format_schemas"
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>50</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>134217728</mark_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
EOF
  cat >"$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <trellis>
      <password>trellis-test</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </trellis>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
EOF
}

alive() { [ -f "$1/server.pid" ] && kill -0 "$(cat "$1/server.pid")" 2>/dev/null; }

start() {
  local dir http tcp bin pid
  [ $# -eq 3 ] || { say "usage: $0 start <dir> <http-port> <tcp-port>"; exit 2; }
  mkdir -p "$1"; dir=$(cd "$1" && pwd); http=$2; tcp=$3
  install
  if alive "$dir"; then
    say "a server is already running in $dir (pid $(cat "$dir/server.pid"))"; cat "$dir/server.pid"; return 0
  fi
  write_config "$dir" "$http" "$tcp"
  bin=$(server_bin)
  # shellcheck disable=SC2086 # "clickhouse server" must split into two words
  setsid $bin --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/server.pid"
  for _ in $(seq 1 300); do
    if curl -fsS --max-time 1 "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then echo "$pid"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "server exited during startup; last log lines:"; tail -n 20 "$dir/log/server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
      rm -f "$dir/server.pid"; exit 1
    fi
    sleep 0.1
  done
  say "server did not answer http://127.0.0.1:$http/ping within 30 s; stopping it"
  kill "$pid" 2>/dev/null || true; rm -f "$dir/server.pid"; exit 1
}

stop() {
  local dir pid
  [ $# -eq 1 ] || { say "usage: $0 stop <dir>"; exit 2; }
  dir=$1
  [ -f "$dir/server.pid" ] || return 0
  pid=$(cat "$dir/server.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/server.pid"
}

cmd=${1:-}; shift || true
case "$cmd" in
  install) install ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) say "usage: $0 install | start <dir> <http-port> <tcp-port> | stop <dir>"; exit 2 ;;
esac
