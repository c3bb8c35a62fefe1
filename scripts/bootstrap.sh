#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (run as root): Debian packages, then the venv.
# Both `make demo` and `make test` call it, so neither needs a manual step first.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS="mosquitto mosquitto-clients systemd xvfb xauth fonts-noto-cjk espeak-ng sox libgl1 libgl1-mesa-dri libegl1 libmtdev1 libsdl2-2.0-0 python3-venv python3-dev gcc make"
missing=""
for p in $DEBS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bootstrap: installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  # The Debian package starts a system broker on 1883; Vestibule runs its own private brokers.
  (systemctl disable --now mosquitto >/dev/null 2>&1 || service mosquitto stop >/dev/null 2>&1 || true)
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
