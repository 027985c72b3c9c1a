#!/usr/bin/env bash
# Builds trellis-wg, Trellis's WireGuard device (core/native/trellis-wg: the pinned upstream
# wireguard-go device, vendored with one fix in its third_party/wireguard-go, with a control socket
# for STUN and disco datagrams, and the relay forwarder), and installs it at
# /usr/local/lib/trellis/trellis-wg, where the agent looks first (core/src/wg/device-binary.ts).
#
# Idempotent: the binary records a digest of the sources it was built from (`trellis-wg
# --version` prints it), and the script exits at once when that is the digest of the sources now.
# Never fails setup: when the build cannot be made it prints one warning naming why, records the
# reason beside the binary's path (the agent repeats it when it falls back to upstream
# wireguard-go, without NAT traversal, candidate probes or relays), and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=core/native/trellis-wg
TOOL=install-trellis-wg
DEST="${TRELLIS_WG_DEST:-/usr/local/lib/trellis/trellis-wg}"
UNAVAILABLE="$DEST.unavailable"
FALLBACK="upstream wireguard-go, without NAT traversal, candidate probes or relays"
# shellcheck source=go-binary-install.sh
source scripts/go-binary-install.sh

# source_digest hashes every file the build reads: go.mod, go.sum and the non-test Go sources.
source_digest() {
  (cd "$SRC" && find . -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12
}

installed_description() {
  "$1" --version 2>/dev/null | head -n 1 || echo 'unknown version'
}

need_go trellis-wg

digest=$(source_digest)
if [ -x "$DEST" ] && "$DEST" --version 2>/dev/null | head -n 1 | grep -qF "(source ${digest})"; then
  rm -f "$UNAVAILABLE"
  exit 0
fi

need_writable_dest

start=$(date +%s)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! log=$(cd "$SRC" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath -mod=readonly" \
  timeout 600 go build -ldflags "-X main.SourceDigest=${digest}" -o "$out/trellis-wg" . 2>&1); then
  give_up "go build of ${SRC} failed: $(first_error "$log")"
fi
version_line=$("$out/trellis-wg" --version 2>/dev/null | head -n 1) || give_up "the built trellis-wg does not run (--version failed)"

install_built "$out/trellis-wg"
echo "install-trellis-wg: built ${version_line} into ${DEST} in $(( $(date +%s) - start ))s"
