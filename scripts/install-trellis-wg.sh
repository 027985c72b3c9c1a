#!/usr/bin/env bash
# Builds trellis-wg, Trellis's WireGuard device (core/native/trellis-wg: the pinned upstream
# wireguard-go device with a control socket for STUN and disco datagrams, and the relay
# forwarder), and installs it at /usr/local/lib/trellis/trellis-wg, where the agent looks first
# (core/src/wg/device-binary.ts).
#
# Idempotent: the binary records a digest of the sources it was built from (`trellis-wg
# --version` prints it), and the script exits at once when that is the digest of the sources now.
# Never fails setup: when the build cannot be made it prints one warning naming why, records the
# reason beside the binary's path (the agent repeats it when it falls back to upstream
# wireguard-go, without NAT traversal, candidate probes or relays), and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=core/native/trellis-wg
DEST="${TRELLIS_WG_DEST:-/usr/local/lib/trellis/trellis-wg}"
UNAVAILABLE="$DEST.unavailable"

# source_digest hashes every file the build reads: go.mod, go.sum and the non-test Go sources.
source_digest() {
  (cd "$SRC" && find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

first_error() {
  grep -v '^go: downloading' <<<"$1" | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//' | cut -c1-500
}

give_up() {
  local why="$1"
  if mkdir -p "$(dirname "$DEST")" 2>/dev/null; then
    printf '%s\n' "$why" >"$UNAVAILABLE" 2>/dev/null || true
  fi
  if [ -x "$DEST" ]; then
    echo "install-trellis-wg: warning: ${why}; agents keep the build already at ${DEST} ($("$DEST" --version 2>/dev/null | head -n 1 || echo 'unknown version'))" >&2
  else
    echo "install-trellis-wg: warning: ${why}; agents fall back to upstream wireguard-go, without NAT traversal, candidate probes or relays" >&2
  fi
  exit 0
}

if ! command -v go >/dev/null 2>&1; then
  give_up "the Go toolchain is not installed, so trellis-wg cannot be built"
fi

digest=$(source_digest)
if [ -x "$DEST" ] && "$DEST" --version 2>/dev/null | head -n 1 | grep -qF "(source ${digest})"; then
  rm -f "$UNAVAILABLE"
  exit 0
fi

mkdir -p "$(dirname "$DEST")" 2>/dev/null || give_up "cannot create $(dirname "$DEST") (run setup as root)"
[ -w "$(dirname "$DEST")" ] || give_up "cannot write to $(dirname "$DEST") (run setup as root)"

start=$(date +%s)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! log=$(cd "$SRC" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath -mod=readonly" \
  timeout 600 go build -ldflags "-X main.SourceDigest=${digest}" -o "$out/trellis-wg" . 2>&1); then
  give_up "go build of ${SRC} failed: $(first_error "$log")"
fi
version_line=$("$out/trellis-wg" --version 2>/dev/null | head -n 1) || give_up "the built trellis-wg does not run (--version failed)"

# Replace by rename, so a trellis-wg that runs from the old file keeps its inode.
install -m 0755 "$out/trellis-wg" "$DEST.new"
mv -f "$DEST.new" "$DEST"
rm -f "$UNAVAILABLE"
echo "install-trellis-wg: built ${version_line} into ${DEST} in $(( $(date +%s) - start ))s"
