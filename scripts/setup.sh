#!/usr/bin/env bash
# Idempotent setup shared by `npm run demo`, `npm test` and `npm run bench`: installs what is
# missing (Debian packages, npm dependencies, the build) and takes seconds when nothing is.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

say() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages the runtime, lab and tests use.
# clickhouse-* for telemetry tests, prometheus for promtool, chromium for the console's browser test.
DEB_PACKAGES=(wireguard-go wireguard-tools iproute2 iputils-ping nftables iptables iperf3 procps psmisc curl socat
  build-essential python3 clickhouse-server clickhouse-client prometheus chromium)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}; run this as root (apt-get install) and try again"; exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 600 /dev/net/tun || { say "/dev/net/tun is missing and cannot be created; wireguard-go needs TUN"; exit 1; }
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
stamp=node_modules/.trellis-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The pinned opa CLI, built with the Go toolchain when missing (no prebuilt downloads here).
bash scripts/install-opa.sh

# Build every project; Nx caches, so an unchanged tree builds in about a second.
npx nx run-many -t build --outputStyle=static >/tmp/trellis-build.log 2>&1 || { cat /tmp/trellis-build.log >&2; say "build failed"; exit 1; }
