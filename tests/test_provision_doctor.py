"""`vestibule provision doctor` on a secured real Mosquitto with a simulated, bound oximeter: all well,
then each fault named with its fix: device missing, wrong password, broker down, core offline, disk full."""
from __future__ import annotations

import json
import os
import threading
import time

import paho.mqtt.client as paho
import pytest
import tomlkit
from paho.mqtt.enums import CallbackAPIVersion

from devices.oximeter.sim import ContecSim
from kiosk.cli import main
from kiosk.node.config import load_node_config
from mqtt.broker import Broker
from provisioning import udev
from provisioning.credentials import write_credentials
from tests.conftest import ROOT

SITE, NODE = "spb-dunaisky", "entrance-1"


def publish_core_status(port, password, online: bool):
    done = threading.Event()
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="core", protocol=paho.MQTTv5)  # the ACL ties ids to users
    c.username_pw_set("core", password)
    c.on_connect = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert done.wait(5)
    payload = json.dumps({"online": online, "ts": "2026-12-01T08:00:00+00:00"})
    c.publish(f"clinic/v1/{SITE}/core/status", payload, qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


@pytest.fixture
def node(tmp_path):
    creds = tmp_path / "broker"
    broker = Broker(workdir=str(tmp_path / "run"), persistence=False,
                    extra_conf=f"allow_anonymous false\npassword_file {creds / 'passwords'}\nacl_file {creds / 'acl'}\n")
    (tmp_path / "run").mkdir()
    stable = tmp_path / "dev" / "vestibule" / "oximeter-1"
    stable.parent.mkdir(parents=True)
    sim = ContecSim(link_path=str(stable))
    sim.start()
    rules = tmp_path / "70-vestibule.rules"
    udev.write_binding(udev.Binding("oximeter-1", "tty", 0x10C4, 0xEA60, "OX-0001"), rules)
    doc = tomlkit.parse((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    doc["node"]["store"] = str(tmp_path / "node.db")
    doc["broker"]["url"] = broker.url
    doc["broker"]["username"] = "controller"
    doc["broker"]["password_file"] = str(creds / "controller.password")
    doc["devices"] = {"oximeter-1": {"kind": "oximeter", "protocol": "contec", "url": f"serial://{stable}",
                                     "role": "screening-1"}}  # the post's broker user reads the statuses
    doc["voice"]["player"] = "sox -q -t wav - -d"  # a player this machine has (the default aplay is not installed here)
    config = tmp_path / "node.toml"
    config.write_text(tomlkit.dumps(doc))
    write_credentials(creds, load_node_config(config))
    broker.start()
    publish_core_status(broker.port, (creds / "core.password").read_text().strip(), True)
    yield {"config": config, "creds": creds, "broker": broker, "sim": sim, "rules": rules, "stable": stable}
    sim.stop()
    broker.cleanup()


def doctor(node, capsys, *extra) -> tuple[int, dict[str, dict]]:
    code = main(["provision", "doctor", "--json", "--config", str(node["config"]), "--rules", str(node["rules"]),
                 "--disk-min-free-mb", "1", *extra])
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] == (code == 0)
    return code, {c["name"]: c for c in report["checks"]}


def faults(checks) -> dict[str, dict]:
    return {name: c for name, c in checks.items() if c["state"] == "fault"}


def test_a_healthy_node_passes(node, capsys):
    code, checks = doctor(node, capsys)
    assert faults(checks) == {} and code == 0
    assert checks["device oximeter-1"]["detail"].endswith("oximeter/contec (model CMS50D+, vendor CONTEC, device_id SIM0001)")
    for user in ("controller", "core", "screening-1", "doctor"):  # one per client this config has
        assert checks[f"broker user {user}"]["state"] == "ok"
    assert checks["core"]["state"] == "ok"


def test_a_missing_device_is_named_with_discover_as_the_fix(node, capsys):
    node["sim"].unplug()
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["device oximeter-1"]
    fault = checks["device oximeter-1"]
    assert fault["detail"] == f"no device at {node['stable']}"
    assert "another port" in fault["fix"] and "vestibule provision discover" in fault["fix"]


def test_a_device_that_does_not_answer_is_a_fault(node, capsys):
    node["sim"].answering = False
    code, checks = doctor(node, capsys)
    assert code == 1 and "no contec device answers" in checks["device oximeter-1"]["detail"]


def test_a_wrong_password_is_named_with_rotation_as_the_fix(node, capsys):
    (node["creds"] / "screening-1.password").write_text("not-the-password\n")
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["broker user screening-1"]
    assert "does not match screening-1's hash" in checks["broker user screening-1"]["detail"]
    assert "--rotate screening-1" in checks["broker user screening-1"]["fix"]


def test_a_broker_that_is_down_is_named_with_the_start_command(node, capsys):
    node["broker"].stop()
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["broker"]
    assert "is down" in checks["broker"]["detail"] and "systemctl start mosquitto" in checks["broker"]["fix"]
    assert checks["core"]["state"] == "skipped"


def test_an_offline_core_is_named(node, capsys):
    publish_core_status(node["broker"].port, (node["creds"] / "core.password").read_text().strip(), False)
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["core"]
    assert checks["core"]["detail"].startswith("the core is offline")


def test_a_core_never_seen_is_named(node, capsys):
    node["broker"].restart()  # no persistence: the retained status is gone
    code, checks = doctor(node, capsys)
    assert code == 1 and "never said it is online" in checks["core"]["detail"]


def test_an_almost_full_disk_is_named_at_the_configured_threshold(node, capsys):
    code, checks = doctor(node, capsys, "--disk-min-free-mb", str(10**9))
    assert code == 1 and list(faults(checks)) == ["disk"]
    assert checks["disk"]["detail"].startswith("disk almost full")


def test_an_unbound_device_is_named_with_assign_as_the_fix(node, capsys):
    node["rules"].unlink()
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["device oximeter-1 binding"]
    assert "provision assign oximeter-1" in checks["device oximeter-1 binding"]["fix"]


def test_the_outbox_backlog_is_read_without_writing(node, capsys):
    import sqlite3
    store = node["config"].parent / "node.db"
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT, type TEXT, ts TEXT, created_ns INTEGER, "
               "session INTEGER, data TEXT, delivered_ns INTEGER)")
    now = time.time_ns()
    db.executemany("INSERT INTO outbox (id, created_ns, delivered_ns) VALUES (?, ?, ?)",
                   [(f"e{i}", now - 600 * 10**9, None if i % 2 else now) for i in range(3000)])
    db.commit()
    db.close()
    before = os.stat(store).st_mtime_ns
    code, checks = doctor(node, capsys)
    assert code == 1 and checks["outbox"]["detail"] == "1500 events waiting for the core, oldest 10 min old"
    assert os.stat(store).st_mtime_ns == before


def test_a_voice_player_that_is_not_installed_is_named_with_its_debian_package(node, capsys):
    doc = tomlkit.parse(node["config"].read_text(encoding="utf-8"))
    doc["voice"]["player"] = "/nowhere/aplay -q -"  # the default player, not on this machine
    node["config"].write_text(tomlkit.dumps(doc))
    code, checks = doctor(node, capsys)
    assert code == 1 and list(faults(checks)) == ["voice"]
    assert checks["voice"]["detail"] == "/nowhere/aplay not installed: calls are shown but not spoken"
    assert "`sudo apt-get install alsa-utils`" in checks["voice"]["fix"]
