#!/usr/bin/env bash
# Every benchmark, one after another, each printing its figures against its goal. Run it on a
# quiet machine: the figures are ratios measured side by side, but a busy machine widens p99s.
# `scripts/bench.sh bench/bench_outbox.py` runs one.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export KIVY_NO_ARGS=1 KIVY_LOG_MODE=PYTHON KIVY_NO_CONSOLELOG=1
failed=0
for b in ${@:-bench/bench_*.py}; do
  echo "== $b"
  xvfb-run -a -s "-screen 0 1920x1920x24" .venv/bin/python "$b" || { echo "!! $b exited $?"; failed=1; }
done
exit $failed
