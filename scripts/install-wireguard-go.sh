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
DEST="${TRELLIS_WIREGUARD_GO_DEST:-/usr/local/lib/trellis/wireguard-go}"
UNAVAILABLE="$DEST.unavailable"
FALLBACK=/usr/bin/wireguard-go

# installed_version prints the module version recorded in a binary's Go build info.
installed_version() {
  local out
  out=$(go version -m "$1" 2>/dev/null) || return 1
  awk -v m="$MODULE" '$1 == "mod" && $2 == m { print $3 }' <<<"$out"
}

# first_error squeezes go's output (less its download progress) into one line of at most 500 characters.
first_error() {
  grep -v '^go: downloading' <<<"$1" | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//' | cut -c1-500
}

# give_up records why there is no current build and tells the operator in one line; setup goes on.
give_up() {
  local why="$1"
  if mkdir -p "$(dirname "$DEST")" 2>/dev/null; then
    printf '%s\n' "$why" >"$UNAVAILABLE" 2>/dev/null || true
  fi
  if [ -x "$DEST" ]; then
    echo "install-wireguard-go: warning: ${why}; agents keep the build already at ${DEST} ($(installed_version "$DEST" || echo 'unknown version'))" >&2
  else
    echo "install-wireguard-go: warning: ${why}; agents fall back to Debian's ${FALLBACK} (0.0.20220316, no TUN offloads, ~5x slower)" >&2
  fi
  exit 0
}

if ! command -v go >/dev/null 2>&1; then
  give_up "the Go toolchain is not installed, so wireguard-go ${WIREGUARD_GO_VERSION} cannot be built"
fi

if [ -x "$DEST" ] && [ "$(installed_version "$DEST")" = "$WIREGUARD_GO_VERSION" ]; then
  rm -f "$UNAVAILABLE"
  exit 0
fi

mkdir -p "$(dirname "$DEST")" 2>/dev/null || give_up "cannot create $(dirname "$DEST") (run setup as root)"
[ -w "$(dirname "$DEST")" ] || give_up "cannot write to $(dirname "$DEST") (run setup as root)"

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

# Replace by rename, so a wireguard-go that runs from the old file keeps its inode.
install -m 0755 "$built" "$DEST.new"
mv -f "$DEST.new" "$DEST"
rm -f "$UNAVAILABLE"
echo "install-wireguard-go: built ${version_line} (${MODULE}@${WIREGUARD_GO_VERSION}) into ${DEST} in $(( $(date +%s) - start ))s"
