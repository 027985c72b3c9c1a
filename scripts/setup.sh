#!/usr/bin/env bash
# Idempotent setup shared by `npm run demo`, `npm test` and `npm run bench`: installs what is
# missing (Debian packages, npm dependencies, Go-built tools, the build, the `trellis` command) and
# takes seconds when nothing is.
#
# Steps run as soon as the steps they need are done, side by side otherwise: the Go builds start at
# once (they need only the Go toolchain), npm ci waits for the Debian packages (node-gyp needs the
# compilers), the build waits for npm ci and opa (the policies project compiles with opa). Each step's
# output goes to its own log; setup prints one line per step with its time, and a failed step's
# whole output (its log is kept, and its path printed).
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

say() { printf 'setup: %s\n' "$*" >&2; }

# `setup.sh --runtime` (deploy/install.sh) prepares a machine that only runs a controller or an
# agent: the runtime's Debian packages and the build, without what the lab and the tests use.
# `setup.sh --demo` (`npm run demo`) adds the lab's, without what only the tests use (chDB, Chromium,
# systemd-analyze). `npm test` and `npm run bench` install everything.
PROFILE=all
case "${1:-}" in
  '') ;;
  --runtime) PROFILE=runtime ;;
  --demo) PROFILE=demo ;;
  *) say "usage: scripts/setup.sh [--runtime | --demo]"; exit 2 ;;
esac

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/trellis-setup.XXXXXX")
# The logs go with the run, unless a step failed (then they are kept for reading).
KEEP_LOGS=false
trap '$KEEP_LOGS || rm -rf "$LOGS"' EXIT
# note <text>: the short result a step prints on its line (e.g. "up to date").
note() { printf '%s' "$*" >"$LOGS/$STEP.note"; }

# --- the steps ------------------------------------------------------------------------------------

# Debian packages the runtime uses (build-essential and python3 compile better-sqlite3, ethtool reads
# the TUN offloads `trellis status` shows), then those the lab adds: clickhouse-* for `lab up
# --clickhouse` and the telemetry tests, prometheus for `lab up --prometheus` and promtool,
# postgresql for the lab's `--store postgres`, the PostgreSQL store's tests and the HA benchmarks
# (each starts its own cluster with initdb), libnetfilter-queue-dev for the lab's delay line (`trellis
# lab impair`); then those only the tests use: chromium for the console's browser test, python3-venv
# for chDB, systemd for `systemd-analyze verify` of deploy/systemd/, traceroute for the path checks of
# the route tests, tcpdump for the captures of the end-to-end hub test.
DEB_PACKAGES=(wireguard-go wireguard-tools iproute2 nftables ethtool procps curl build-essential python3)
[ "$PROFILE" = runtime ] || DEB_PACKAGES+=(iputils-ping iptables iperf3 psmisc socat clickhouse-server clickhouse-client prometheus postgresql libnetfilter-queue-dev)
[ "$PROFILE" != all ] || DEB_PACKAGES+=(python3-venv chromium systemd traceroute tcpdump)
step_debian_packages() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then note "all ${#DEB_PACKAGES[@]} installed"; return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run this as root (apt-get install) and try again"; return 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  note "installed ${missing[*]}"
}

# npm dependencies: reinstall when the lock file changed since the last install, or when a package
# it lists (also one nested in a workspace, e.g. core/node_modules/yaml) is missing. JOBS lets
# node-gyp compile better-sqlite3 on every core.
missing_npm_packages() {
  node -e 'const fs = require("fs");
    const gone = Object.entries(require("./package-lock.json").packages)
      .filter(([path, p]) => path.includes("node_modules/") && !p.optional && !fs.existsSync(path)).map(([path]) => path);
    if (gone.length) console.log(`${gone.length} missing, e.g. ${gone[0]}`);'
}
step_npm_deps() {
  local stamp=node_modules/.trellis-lock.sha want gone=''
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    gone=$(missing_npm_packages)
    if [ -z "$gone" ]; then note "up to date"; return 0; fi
    echo "package-lock.json is unchanged but packages are missing ($gone)"
  fi
  JOBS=max npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
  note "npm ci${gone:+ ($gone)}"
}

# The pinned opa CLI, built with the Go toolchain when missing (no prebuilt downloads here).
step_opa() {
  local out
  out=$(bash scripts/install-opa.sh 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  if [ -n "$out" ]; then note "built $(.opa/bin/opa version | sed -n 's/^Version: /v/p')"; else note "up to date"; fi
}

# chDB (ClickHouse 26.x in-process, pinned) in .venv-chdb, for the suite's current-engine SQL check.
step_chdb() {
  local out
  out=$(bash scripts/install-chdb.sh 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  if [ -n "$out" ]; then note "$(tail -n 1 <<<"$out" | sed 's/^install-chdb: //')"; else note "up to date"; fi
}

# The current wireguard-go the agents run (Debian's predates TUN offloads). Never fails: when it
# cannot be built, its note is the one-line warning naming why, and agents fall back to Debian's.
step_wireguard_go() {
  local out
  out=$(bash scripts/install-wireguard-go.sh 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  note "$(if [ -n "$out" ]; then tail -n 1 <<<"$out" | sed 's/^install-wireguard-go: //'; else echo "up to date"; fi)"
}

# The lab's native tools (.lab-tools/bin): trellis-delay-queue, the NFQUEUE delay line of `lab impair`.
step_lab_tools() {
  local out
  out=$(bash scripts/install-lab-tools.sh 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  if [ -n "$out" ]; then note "built trellis-delay-queue"; else note "up to date"; fi
}

# trellis-wg, Trellis's own device (wireguard-go's, with the socket NAT traversal and relays need).
# Never fails: when it cannot be built, its note is the warning, and agents run upstream wireguard-go.
step_trellis_wg() {
  local out
  out=$(bash scripts/install-trellis-wg.sh 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  note "$(if [ -n "$out" ]; then tail -n 1 <<<"$out" | sed 's/^install-trellis-wg: //'; else echo "up to date"; fi)"
}

# Build every project; Nx caches, so an unchanged tree builds in about a second. It needs opa: the
# policies project compiles the bundle with it, and posture-opa depends on policies, so a build that
# started before opa was there would build opa a second time, at once.
step_build() {
  local out cached
  out=$(npx nx run-many -t build --outputStyle=static 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  cached=$(grep -o 'from the cache instead of running the command for [0-9]* out of [0-9]* tasks' <<<"$out" | grep -o '[0-9]* out of [0-9]*' || true)
  note "${cached:+$cached from the Nx cache}"
}

# `trellis` on the PATH: /usr/local/bin/trellis -> this checkout's core/dist/cli/main.js.
step_trellis_command() {
  local out
  out=$(bash scripts/link-trellis-command.sh) || { echo "$out"; return 1; }
  echo "$out"
  note "$(tail -n 1 <<<"$out")"
}

# name | the steps it needs (space-separated) | function | "lab" when only the lab and the suite need
# it (not run by --runtime), "tests" when only the suite does (run by neither --runtime nor --demo). Steps are listed in an order that respects their needs. Further Go-built or
# pip-installed tools go beside opa (or after debian-packages when they need a Debian package), and
# "build" needs them only if the build uses them.
STEPS=(
  'debian-packages||step_debian_packages|'
  'opa||step_opa|'
  'wireguard-go||step_wireguard_go|'
  'trellis-wg||step_trellis_wg|'
  'npm-deps|debian-packages|step_npm_deps|'
  'chdb|debian-packages|step_chdb|tests'
  'lab-tools|debian-packages|step_lab_tools|lab'
  'build|npm-deps opa|step_build|'
  'trellis-command|build|step_trellis_command|'
)

# --- the scheduler --------------------------------------------------------------------------------

if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 600 /dev/net/tun || { say "/dev/net/tun is missing and cannot be created; wireguard-go needs TUN"; exit 1; }
fi

declare -A NEEDS FN STATE STARTED
ORDER=()
for s in "${STEPS[@]}"; do
  IFS='|' read -r name needs fn only <<<"$s"
  [ "$PROFILE" = runtime ] && [ -n "$only" ] && continue
  [ "$PROFILE" = demo ] && [ "$only" = tests ] && continue
  ORDER+=("$name"); NEEDS[$name]=$needs; FN[$name]=$fn; STATE[$name]=waiting
done

now_ms() { date +%s%3N; }
secs() { printf '%5.1f s' "$(( $1 ))e-3"; }
t0=$(now_ms)
elapsed() { printf '%.1f s' "$(( $(now_ms) - t0 ))e-3"; }
declare -A RUNNING=()
failed=()
# Finished steps write "<name> <exit status>" here; the loop below reads one line per step.
mkfifo "$LOGS/finished"
exec 3<>"$LOGS/finished"

report() {
  local name=$1 code=$2 took=$(( $(now_ms) - STARTED[$1] ))
  if [ "$code" -eq 0 ]; then
    STATE[$name]=done
    say "$(printf '%-16s %s  %s' "$name" "$(secs "$took")" "$(cat "$LOGS/$name.note" 2>/dev/null || echo done)")"
  else
    STATE[$name]=failed
    failed+=("$name")
    say "$(printf '%-16s %s  FAILED (exit %d); its output:' "$name" "$(secs "$took")" "$code")"
    sed 's/^/  | /' "$LOGS/$name.log" >&2
    say "$name: full output kept in $LOGS/$name.log"
  fi
}

while :; do
  for name in "${ORDER[@]}"; do
    [ "${STATE[$name]}" = waiting ] || continue
    ready=1
    for need in ${NEEDS[$name]}; do
      case "${STATE[$need]}" in
        done) ;;
        failed | skipped) STATE[$name]=skipped; say "$(printf '%-16s skipped: needs %s' "$name" "$need")"; ready=0; break ;;
        *) ready=0 ;;
      esac
    done
    [ "$ready" = 1 ] || continue
    STATE[$name]=running
    STARTED[$name]=$(now_ms)
    # The step runs with errexit in its own subshell; the outer one reports its status on fd 3.
    ( set +e; ( set -e; STEP=$name; "${FN[$name]}" ) >"$LOGS/$name.log" 2>&1 </dev/null; echo "$name $?" >&3 ) &
    RUNNING[$name]=$!
  done
  [ "${#RUNNING[@]}" -gt 0 ] || break
  read -r -u 3 name code
  wait "${RUNNING[$name]}" || true
  unset "RUNNING[$name]"
  report "$name" "$code"
done

if [ "${#failed[@]}" -gt 0 ]; then
  KEEP_LOGS=true
  say "failed: ${failed[*]}, after $(elapsed); logs in $LOGS"
  exit 1
fi
say "ready in $(elapsed)"
