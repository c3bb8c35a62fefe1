#!/usr/bin/env bash
# The test command: sets itself up (Debian packages, venv), checks the code (ruff, the import
# contract), then runs the whole suite with three workers on the two cores (pytest-xdist, by file:
# many tests wait on brokers and ptys, so a third worker fills the gaps), each worker with a
# private virtual display. Tests start their own Mosquitto brokers. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
mkdir -p build/screenshots
echo "== ruff"
.venv/bin/ruff check --quiet .
echo "== import contract (layers point down)"
.venv/bin/lint-imports --no-cache 2>&1 | tail -n 4
export KIVY_NO_ARGS=1 KIVY_LOG_MODE=PYTHON KIVY_NO_CONSOLELOG=1
exec xvfb-run -a -s "-screen 0 1280x1024x24" .venv/bin/python -m pytest -q -p no:cacheprovider \
  -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
