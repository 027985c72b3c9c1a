# Sourced (not run) by the scripts that build a Go binary Trellis's agent runs and install it under
# /usr/local/lib/trellis (install-wireguard-go.sh, install-trellis-wg.sh): the steps they share.
# Setup never fails on them: when the build cannot be made, give_up records why beside the
# binary's path (the agent repeats it when it falls back) and the script exits 0.
#
# The sourcing script sets, before calling these:
#   TOOL          its name in messages (install-wireguard-go)
#   DEST          where the binary goes; UNAVAILABLE ($DEST.unavailable) holds why it is not current
#   FALLBACK      what agents run without it, for the warning
# and defines installed_description FILE, one line naming the build at FILE.

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
    echo "${TOOL}: warning: ${why}; agents keep the build already at ${DEST} ($(installed_description "$DEST"))" >&2
  else
    echo "${TOOL}: warning: ${why}; agents fall back to ${FALLBACK}" >&2
  fi
  exit 0
}

# need_go gives up unless the Go toolchain is on PATH; $1 names what cannot be built without it.
need_go() {
  command -v go >/dev/null 2>&1 || give_up "the Go toolchain is not installed, so $1 cannot be built"
}

# need_writable_dest gives up unless DEST's folder exists (or can be made) and is writable.
need_writable_dest() {
  mkdir -p "$(dirname "$DEST")" 2>/dev/null || give_up "cannot create $(dirname "$DEST") (run setup as root)"
  [ -w "$(dirname "$DEST")" ] || give_up "cannot write to $(dirname "$DEST") (run setup as root)"
}

# install_built puts the built binary $1 at DEST by rename, so a process running the old file keeps
# its inode, and clears the reason it was unavailable.
install_built() {
  install -m 0755 "$1" "$DEST.new"
  mv -f "$DEST.new" "$DEST"
  rm -f "$UNAVAILABLE"
}
