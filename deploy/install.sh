#!/usr/bin/env bash
# Installs this checkout as the controller and/or agent service of this machine, or removes them.
# Run as root from the checkout (e.g. /opt/trellis; not under /home or /root, which the services
# cannot read). README "Running on real machines" walks through it.
#
#   bash deploy/install.sh --controller [--agent]   build (scripts/setup.sh --runtime), link
#   bash deploy/install.sh --agent                  /usr/local/bin/trellis, install the unit files,
#                                                   create /etc/trellis/*.env from deploy/etc/ when
#                                                   missing (never overwritten), systemctl daemon-reload
#   bash deploy/install.sh --uninstall [--purge]    stop and disable both services, remove the unit
#                                                   files and the link; --purge also removes
#                                                   /etc/trellis, /var/lib/trellis and the user trellis
#   --no-setup                                      skip the build (when it is done already)
#
# TRELLIS_INSTALL_ROOT=<dir> installs under <dir> instead of / and leaves users, systemd and the
# build alone (the suite checks the files that way).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${TRELLIS_INSTALL_ROOT:-}"
UNIT_DIR="$ROOT/etc/systemd/system"
ETC_DIR="$ROOT/etc/trellis"
STATE_DIR="$ROOT/var/lib/trellis"
say() { printf 'install: %s\n' "$*"; }
usage() { sed -n '6,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

controller=false agent=false uninstall=false purge=false setup=true
[ $# -gt 0 ] || usage
for arg in "$@"; do
  case "$arg" in
    --controller) controller=true ;;
    --agent) agent=true ;;
    --uninstall) uninstall=true ;;
    --purge) purge=true ;;
    --no-setup) setup=false ;;
    -h | --help) usage ;;
    *) say "unknown argument $arg"; usage ;;
  esac
done
if $uninstall && { $controller || $agent; }; then say "--uninstall removes both services; pass it alone (with --purge)"; exit 2; fi
if $purge && ! $uninstall; then say "--purge goes with --uninstall"; exit 2; fi
if ! $uninstall && ! $controller && ! $agent; then say "pass --controller, --agent or both"; exit 2; fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then say "run this as root"; exit 1; fi

real_system() { [ -z "$ROOT" ]; }
systemd_running() { real_system && [ -d /run/systemd/system ]; }

if $uninstall; then
  for unit in trellis-agent trellis-controller; do
    if systemd_running && systemctl cat "$unit.service" >/dev/null 2>&1; then
      systemctl disable --now "$unit.service" || true
      say "stopped and disabled $unit"
    fi
    if [ -f "$UNIT_DIR/$unit.service" ]; then rm -f "$UNIT_DIR/$unit.service"; say "removed $UNIT_DIR/$unit.service"; fi
  done
  if systemd_running; then systemctl daemon-reload; fi
  if real_system; then bash "$REPO_ROOT/scripts/link-trellis-command.sh" --remove || true; fi
  if $purge; then
    rm -rf "$ETC_DIR" "$STATE_DIR"
    say "removed $ETC_DIR and $STATE_DIR"
    if real_system && id trellis >/dev/null 2>&1; then userdel trellis; say "removed the user trellis"; fi
  else
    say "kept $ETC_DIR (settings) and $STATE_DIR (controller database, node identity); --purge removes them"
  fi
  exit 0
fi

case "$REPO_ROOT" in
  /home/* | /root/*) say "warning: $REPO_ROOT is under /home or /root, which the services cannot read (ProtectHome=); clone to /opt/trellis" ;;
esac

if $setup && real_system; then
  say "building (scripts/setup.sh --runtime)"
  bash "$REPO_ROOT/scripts/setup.sh" --runtime
fi
# The units start /usr/local/bin/trellis.
if real_system; then say "$(bash "$REPO_ROOT/scripts/link-trellis-command.sh")"; fi

if $controller && real_system && ! id trellis >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/trellis --no-create-home --shell /usr/sbin/nologin trellis
  say "created the system user trellis (the controller runs as it)"
fi

install -d -m 0755 "$UNIT_DIR" "$ETC_DIR"
install_env() {
  local name=$1 file="$ETC_DIR/$1.env"
  if [ -e "$file" ]; then say "kept $file"; return 0; fi
  install -m 0600 "$REPO_ROOT/deploy/etc/$name.env" "$file"
  if [ "$name" = agent ]; then
    local host
    host=$(hostname -s 2>/dev/null | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-\n' '-' | sed 's/^-*//; s/-*$//' | cut -c1-63)
    [ -z "$host" ] || sed -i "s/^TRELLIS_NAME=\$/TRELLIS_NAME=$host/" "$file"
  fi
  say "wrote $file (edit it before starting the service)"
}
for side in controller agent; do
  if [ "$side" = controller ] && ! $controller; then continue; fi
  if [ "$side" = agent ] && ! $agent; then continue; fi
  install -m 0644 "$REPO_ROOT/deploy/systemd/trellis-$side.service" "$UNIT_DIR/trellis-$side.service"
  say "installed $UNIT_DIR/trellis-$side.service"
  install_env "$side"
done

if systemd_running; then
  systemctl daemon-reload
  say "next: edit $ETC_DIR/*.env, then systemctl enable --now$($controller && echo ' trellis-controller')$($agent && echo ' trellis-agent')"
else
  say "systemd is not running here: the unit files are in place, start them where it runs"
fi
