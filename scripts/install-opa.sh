#!/usr/bin/env bash
# Builds the pinned Open Policy Agent CLI into <repo>/.opa/bin/opa with the machine's Go toolchain.
# Idempotent: exits at once when the binary is already there at the pinned version.
# Prebuilt binaries are not downloaded on purpose: only the Go module proxy is reachable.
set -euo pipefail

OPA_VERSION="${OPA_VERSION:-v1.22.2}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$REPO_ROOT/.opa/bin"
OPA="$BIN_DIR/opa"

if [ -x "$OPA" ] && "$OPA" version 2>/dev/null | grep -qx "Version: ${OPA_VERSION#v}"; then
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-opa: the Go toolchain is required to build opa ${OPA_VERSION}; install Go (>= 1.24) and retry" >&2
  exit 1
fi

mkdir -p "$BIN_DIR"
start=$(date +%s)
GOBIN="$BIN_DIR" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
  go install "github.com/open-policy-agent/opa@${OPA_VERSION}"

if ! "$OPA" version | grep -qx "Version: ${OPA_VERSION#v}"; then
  echo "install-opa: built $OPA but it does not report version ${OPA_VERSION}" >&2
  exit 1
fi
echo "install-opa: built opa ${OPA_VERSION} into .opa/bin/opa in $(( $(date +%s) - start ))s"
