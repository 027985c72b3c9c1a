#!/usr/bin/env bash
# Prepares chDB (ClickHouse 26.x in-process, PyPI "chdb") in <repo>/.venv-chdb, for the suite's
# check that every migration and dashboard query also runs on a current ClickHouse engine
# (test/clickhouse-current.e2e.test.ts). Debian's clickhouse-server (18.16) stays for the pipeline.
# Idempotent: exits at once when the venv already holds exactly the pinned packages.
set -euo pipefail

# chdb 4.4.0 embeds ClickHouse 26.9 (chdb-core); its dependencies are pinned too, so every machine
# runs the same engine and the same Python stack.
PINS=(chdb==4.4.0 chdb-core==26.9.0 pandas==3.1.1 pyarrow==26.0.1 numpy==2.4.6 python-dateutil==4.0.0 tzdata==2026.6)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv-chdb"
STAMP="$VENV/.trellis-pins"
want="${PINS[*]}"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

say() { printf 'install-chdb: %s\n' "$*" >&2; }
# python3 and python3-venv come from setup's Debian packages step.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  say "python3 with its venv module is required: apt-get install python3 python3-venv (scripts/setup.sh does), then retry"; exit 1
fi

start=$(date +%s)
rm -f "$STAMP"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PINS[@]}"
engine=$("$VENV/bin/python" -c 'import chdb; print(chdb.query("SELECT version()", "TSV").bytes().decode().strip())') || {
  say "chdb was installed into $VENV but does not run a query"; exit 1
}
echo "$want" >"$STAMP"
say "chdb ${PINS[0]#chdb==} (ClickHouse $engine) ready in .venv-chdb in $(($(date +%s) - start))s"
