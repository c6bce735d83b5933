#!/bin/sh
# deploy/systemd/aequa-supervisor.service passes systemd-analyze verify with nothing on stderr.
set -u
unit="$1/deploy/systemd/aequa-supervisor.service"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify resolves ExecStart: point it at the built binary in a copy of the unit.
sed "s#^ExecStart=/usr/bin/aequa-supervisor#ExecStart=$2#" "$unit" > "$tmp/aequa-supervisor.service"
err=$(systemd-analyze verify "$tmp/aequa-supervisor.service" 2>&1 >/dev/null)
if [ -n "$err" ]; then
  echo "FAIL: systemd-analyze verify printed:"; echo "$err"; exit 1
fi
grep -q '^Type=notify' "$unit" && grep -q '^RestartPreventExitStatus=78' "$unit" &&
  grep -q '^WatchdogSec=' "$unit" && grep -q '^NotifyAccess=main' "$unit" ||
  { echo "FAIL: unit lacks Type=notify/NotifyAccess/WatchdogSec/RestartPreventExitStatus=78"; exit 1; }
echo "ok: systemd-analyze verify is silent"
