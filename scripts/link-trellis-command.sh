#!/usr/bin/env bash
# Puts the `trellis` command on the PATH: <bin dir>/trellis (default /usr/local/bin/trellis) becomes a
# symlink to this checkout's built CLI, core/dist/cli/main.js, made executable (its first line is
# `#!/usr/bin/env node`). node_modules/.bin/trellis gets the same link, for `npx trellis`.
# Idempotent; a link that points elsewhere (another checkout, an old install) is repointed here.
# A regular file of that name is not ours: it is left alone and reported.
#
#   bash scripts/link-trellis-command.sh [<bin dir>]            link (scripts/setup.sh runs this)
#   bash scripts/link-trellis-command.sh --remove [<bin dir>]   remove the link, if it is one to a trellis CLI
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$REPO_ROOT/core/dist/cli/main.js"
say() { printf '%s\n' "$*"; }

remove=false
if [ "${1:-}" = --remove ]; then remove=true; shift; fi
BIN_DIR="${1:-/usr/local/bin}"
LINK="$BIN_DIR/trellis"

if $remove; then
  if [ -L "$LINK" ]; then
    case "$(readlink "$LINK")" in
      */core/dist/cli/main.js) rm -f "$LINK"; say "removed $LINK" ;;
      *) say "left $LINK alone: it links to $(readlink "$LINK"), not a trellis CLI"; exit 1 ;;
    esac
  elif [ -e "$LINK" ]; then
    say "left $LINK alone: it is not a link made by this script"; exit 1
  else
    say "$LINK does not exist; nothing to remove"
  fi
  exit 0
fi

[ -f "$CLI" ] || { say "$CLI is missing; build first (npx nx run-many -t build)"; exit 1; }
[ "$(head -n 1 "$CLI")" = '#!/usr/bin/env node' ] || { say "$CLI does not start with #!/usr/bin/env node"; exit 1; }
chmod 755 "$CLI"

# node_modules/.bin/trellis: npm links workspace bins before core/dist exists, so it skips this one.
if [ -d "$REPO_ROOT/node_modules/.bin" ] && [ "$(readlink "$REPO_ROOT/node_modules/.bin/trellis" 2>/dev/null)" != ../../core/dist/cli/main.js ]; then
  ln -sfn ../../core/dist/cli/main.js "$REPO_ROOT/node_modules/.bin/trellis"
fi

if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$CLI" ]; then
  say "$LINK -> $CLI (already)"
  exit 0
fi
if [ -e "$LINK" ] && [ ! -L "$LINK" ]; then
  say "left $LINK alone: it is a regular file, not a link; remove it and run this again to use this checkout's CLI"
  exit 1
fi
if [ ! -w "$BIN_DIR" ]; then
  say "cannot write $BIN_DIR (run as root); meanwhile run the CLI as $CLI"
  exit 0
fi
was=$(readlink "$LINK" 2>/dev/null || true)
ln -sfn "$CLI" "$LINK"
say "$LINK -> $CLI${was:+ (was -> $was)}"
