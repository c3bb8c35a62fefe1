#!/usr/bin/env bash
# The demo command: sets itself up, then runs the whole entrance on simulated devices.
# With a display the kiosk window opens; without one (a server, CI) the headless scenario runs
# for DURATION seconds (default 60). Extra args go to `vestibule demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -n "${DISPLAY:-}" ]; then
  exec .venv/bin/vestibule demo "$@"
else
  exec .venv/bin/vestibule demo --headless --duration "${DURATION:-60}" "$@"
fi
