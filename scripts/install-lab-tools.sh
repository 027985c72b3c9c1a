#!/usr/bin/env bash
# Builds the lab's native tools into .lab-tools/bin (git-ignored), where the lab looks for them:
#   trellis-delay-queue  the NFQUEUE delay line of `trellis lab impair --delay/--jitter` (the kernel
#                        here has no netem), from core/src/lab/native/trellis-delay-queue.c with
#                        Debian's libnetfilter-queue-dev (setup installs it).
# Idempotent: rebuilds only when the source is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=core/src/lab/native/trellis-delay-queue.c
OUT=.lab-tools/bin/trellis-delay-queue
if [ -x "$OUT" ] && [ "$OUT" -nt "$SRC" ]; then exit 0; fi
if [ ! -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ]; then
  echo "install-lab-tools: libnetfilter-queue-dev is not installed (apt-get install libnetfilter-queue-dev)" >&2
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
cc -O2 -Wall -Wextra -Werror -o "$OUT.tmp" "$SRC" -lnetfilter_queue
mv "$OUT.tmp" "$OUT"
echo "install-lab-tools: built $OUT"
