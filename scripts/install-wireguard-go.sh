#!/usr/bin/env bash
# Builds the pinned upstream wireguard-go with the machine's Go toolchain and installs it at
# /usr/local/lib/trellis/wireguard-go, where the agent looks first (core/src/wg/wireguard-go.ts).
# Debian's package (0.0.20220316) predates TUN segmentation offloads and moves about a fifth of
# the bytes per CPU second; current upstream uses them.
#
# Idempotent: exits at once when the installed binary's Go build info names the pinned module
# version. Never fails setup: when the build cannot be made it prints one warning naming why,
# records the reason beside the binary's path (the agent repeats it when it falls back to Debian's
# /usr/bin/wireguard-go), and exits 0. Only the Go module proxy is reachable here, so the pin is a
# pseudo-version the proxy serves: `go list -m golang.zx2c4.com/wireguard@latest` finds the newest.
set -euo pipefail

WIREGUARD_GO_VERSION="${WIREGUARD_GO_VERSION:-v0.0.0-20260522210424-ecfc5a8d5446}"
MODULE=golang.zx2c4.com/wireguard
TOOL=install-wireguard-go
DEST="${TRELLIS_WIREGUARD_GO_DEST:-/usr/local/lib/trellis/wireguard-go}"
UNAVAILABLE="$DEST.unavailable"
FALLBACK="Debian's /usr/bin/wireguard-go (0.0.20220316, no TUN offloads, ~5x slower)"
# shellcheck source=go-binary-install.sh
source "$(dirname "$0")/go-binary-install.sh"

# installed_version prints the module version recorded in a binary's Go build info.
installed_version() {
  local out
  out=$(go version -m "$1" 2>/dev/null) || return 1
  awk -v m="$MODULE" '$1 == "mod" && $2 == m { print $3 }' <<<"$out"
}

installed_description() {
  installed_version "$1" || echo 'unknown version'
}

need_go "wireguard-go ${WIREGUARD_GO_VERSION}"

if [ -x "$DEST" ] && [ "$(installed_version "$DEST")" = "$WIREGUARD_GO_VERSION" ]; then
  rm -f "$UNAVAILABLE"
  exit 0
fi

need_writable_dest

start=$(date +%s)
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
# The module's main package is its root, so the binary comes out named "wireguard".
if ! log=$(GOBIN="$gobin" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath" \
  timeout 600 go install "${MODULE}@${WIREGUARD_GO_VERSION}" 2>&1); then
  give_up "go install ${MODULE}@${WIREGUARD_GO_VERSION} failed: $(first_error "$log")"
fi
built="$gobin/wireguard"
[ "$(installed_version "$built")" = "$WIREGUARD_GO_VERSION" ] ||
  give_up "the build of ${MODULE}@${WIREGUARD_GO_VERSION} does not record that version in its build info"
version_line=$("$built" --version 2>/dev/null | head -n 1) || give_up "the built wireguard-go does not run (--version failed)"

install_built "$built"
echo "install-wireguard-go: built ${version_line} (${MODULE}@${WIREGUARD_GO_VERSION}) into ${DEST} in $(( $(date +%s) - start ))s"
