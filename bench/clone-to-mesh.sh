#!/usr/bin/env bash
# clone-to-mesh: how long a new user waits from `git clone` to a running mesh. Clones <source> (default:
# this checkout's committed HEAD) into a temp dir, points GOMODCACHE, GOCACHE, the npm, pip and Nx
# caches (Nx keeps its cache per user, outside the checkout, so a fresh clone would reuse its builds)
# and wireguard-go's install path (machine-wide, so it would count as built) at empty temp dirs, runs
# `npm run demo` there and stops it (SIGINT, the demo tears its lab down) once it prints
# "The lab is running". Prints every output line with the seconds since the start, then the total.
# Debian packages are not removed first: the figure assumes they are installed (say so when reporting).
#
#   /work/bin/e2e-lock bash bench/clone-to-mesh.sh [<git source> [<rev>]]
#
# The demo makes a lab, so run it under the machine-wide lab lock. Everything it made is removed after.
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
rev=${2:-HEAD}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trellis-clone-to-mesh.XXXXXX")
demo_pgid=
# The clone's setup points /usr/local/bin/trellis at the clone; point it back when the clone is gone.
link_was=$(readlink /usr/local/bin/trellis 2>/dev/null || true)
cleanup() {
  if [ -n "$demo_pgid" ] && kill -0 -- "-$demo_pgid" 2>/dev/null; then
    kill -INT -- "-$demo_pgid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 -- "-$demo_pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$demo_pgid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  if [ -n "$link_was" ] && [ "$(readlink /usr/local/bin/trellis 2>/dev/null)" != "$link_was" ]; then ln -sfn "$link_was" /usr/local/bin/trellis; fi
}
trap cleanup EXIT

git clone -q --no-local "$src" "$tmp/trellis"
git -C "$tmp/trellis" checkout -q "$rev"
mkdir -p "$tmp/gomodcache" "$tmp/gocache" "$tmp/npm-cache" "$tmp/nx-cache" "$tmp/nx-data" "$tmp/pip-cache" "$tmp/wireguard-go"
# Nx's cache and its task database must move together: a database that remembers a task whose
# outputs are not in the cache reports a hit and restores nothing.
export GOMODCACHE="$tmp/gomodcache" GOCACHE="$tmp/gocache" npm_config_cache="$tmp/npm-cache" \
  NX_CACHE_DIRECTORY="$tmp/nx-cache" NX_WORKSPACE_DATA_DIRECTORY="$tmp/nx-data" \
  PIP_CACHE_DIR="$tmp/pip-cache" TRELLIS_WIREGUARD_GO_DEST="$tmp/wireguard-go/wireguard-go"
echo "clone-to-mesh: $(git -C "$tmp/trellis" log -1 --format='%h %s') in $tmp/trellis; empty GOMODCACHE, GOCACHE, npm, pip and Nx caches, wireguard-go not installed"

start=$(date +%s%N)
since() { printf '%6.1f' "$(( ($(date +%s%N) - start) / 1000000 ))e-3"; }
fifo="$tmp/demo.out"
mkfifo "$fifo"
( cd "$tmp/trellis" && exec setsid npm run demo ) >"$fifo" 2>&1 &
demo_pgid=$!

mesh_at=
while IFS= read -r line; do
  printf '%s  %s\n' "$(since)" "$line"
  if [ -z "$mesh_at" ] && [[ "$line" == *"The lab is running"* ]]; then
    mesh_at=$(since)
    kill -INT -- "-$demo_pgid" 2>/dev/null || true
  fi
done <"$fifo"
wait "$demo_pgid" || true
demo_pgid=

if [ -z "$mesh_at" ]; then
  echo "clone-to-mesh: the demo ended without reaching a running mesh"
  exit 1
fi
echo "clone-to-mesh: running mesh after ${mesh_at# } s (goal: at most 300 s)"
