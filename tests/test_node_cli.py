"""The node's command line as a technician and systemd meet it."""
from __future__ import annotations

import json
import os
import socket
import subprocess

import sys
import time

from tests.conftest import ROOT
from tests.support.processes import popen_child

VESTIBULE = [sys.executable, "-m", "kiosk.cli"]


def run(*args, env=None, timeout=60):
    return subprocess.run(VESTIBULE + list(args), capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_config_check_accepts_the_example():
    result = run("config", "check", str(ROOT / "config" / "example.toml"))
    assert result.returncode == 0 and "ok" in result.stdout


def test_config_check_names_every_bad_key_with_its_path_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "Spb Site"\ntimezone = "Europe/Nowhere"\n[node]\nid = "entrance-1"\nstroe = "x.db"\n'
                   '[broker]\nurl = "http://localhost"\n[[services]]\nid = "lab"\nprefix = "LL"\nnames = {ru = "Лаб"}\n'
                   '[devices.p1]\nkind = "printer"\nprotocol = "zebra"\nurl = "serial:///dev/ttyUSB0"\n')
    result = run("config", "check", str(bad))
    assert result.returncode == 2
    for key in ("site.id", "site.timezone", "node.store", "node.stroe", "broker.url", "services[0].prefix",
                "devices.p1"):
        assert f": {key}" in result.stderr, key
    assert "Traceback" not in result.stderr


def test_config_check_reports_unreadable_toml_and_missing_file(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\n")
    assert run("config", "check", str(broken)).returncode == 2
    missing = run("config", "check", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_contract_schemas_are_generated_for_every_payload(tmp_path):
    result = run("contract", "schemas", str(tmp_path))
    assert result.returncode == 0
    names = {p.name for p in tmp_path.glob("*.schema.json")}
    for expected in ("event-envelope", "evt-ticket.issued", "schedule-snapshot", "cmd-checkin", "answer", "node-status"):
        assert f"{expected}.schema.json" in names
    envelope = json.loads((tmp_path / "event-envelope.schema.json").read_text())
    assert {"id", "seq", "session", "historical"} <= set(envelope["properties"])


def test_controller_tells_systemd_ready_and_pings_the_watchdog_while_healthy(tmp_path, broker):
    from kiosk.demo import write_runtime_config
    (tmp_path / "run").mkdir()
    config = write_runtime_config(ROOT / "config" / "example.toml", tmp_path / "run", broker.url)
    config.write_text(config.read_text().split("[devices.")[0])
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(20)
    proc = popen_child(VESTIBULE + ["controller", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": sock_path,
                                 "WATCHDOG_USEC": "2000000"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        messages = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ("READY=1" in messages and messages.count("WATCHDOG=1") >= 2):
            messages.append(sock.recv(256).decode())
        assert "READY=1" in messages and messages.count("WATCHDOG=1") >= 2
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        tail = []
        try:
            while True:
                tail.append(sock.recv(256).decode())
        except (TimeoutError, socket.timeout, OSError):
            pass
        assert "STOPPING=1" in messages + tail
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_headless_demo_on_an_existing_broker_runs_and_delivers_every_event(broker):
    result = run("demo", "--headless", "--duration", "12", "--broker", broker.url, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "walk-in" in out or "check-in" in out
    summary = out[out.index("summary"):]
    wire = int(summary.split("events on the wire")[1].split()[0])
    inbox = int(summary.split("in the core's inbox")[1].split()[0])
    assert wire > 0 and inbox >= wire
    assert "private Mosquitto" not in out
