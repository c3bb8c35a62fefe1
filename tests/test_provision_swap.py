"""A failed oximeter swapped for another (new serial number, another USB port) with `discover` +
`assign`, while the controller runs: the stable name moves and readings flow from the new one."""
from __future__ import annotations

import json
import logging
import threading
import time

import tomlkit

from devices.oximeter.sim import ContecSim
from kiosk.app import build_controller
from kiosk.cli import main
from kiosk.node.config import load_node_config
from mqtt.client import MqttClient
from provisioning import udev
from tests.conftest import ROOT
from tests.support.fake_sysfs import FakeUsbTree
from tests.support.waiting import wait_until

log = logging.getLogger("vestibule.test.swap")
CP210X = (0x10C4, 0xEA60)


def node_config_file(tmp_path, broker_url):
    doc = tomlkit.parse((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    doc["node"]["store"] = str(tmp_path / "node.db")
    doc["broker"]["url"] = broker_url
    del doc["devices"]
    path = tmp_path / "node.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return path


def test_swapping_an_oximeter_with_discover_and_assign_moves_the_readings(tmp_path, broker, capsys):
    tree = FakeUsbTree(tmp_path / "root")
    config = node_config_file(tmp_path, broker.url)
    rules = tmp_path / "udev" / "70-vestibule.rules"
    roots = ["--sysfs", str(tree.sysfs), "--dev", str(tree.dev), "--rules", str(rules)]

    tree.add_tty("ttyUSB0", *CP210X, serial="OX-OLD")
    old = ContecSim(link_path=tree.node("ttyUSB0"), spo2=97, device_id="OLD0001")
    old.start()
    assert main(["provision", "assign", "oximeter-1", "--port", tree.node("ttyUSB0"), "--role", "screening-1",
                 "--config", str(config), *roots]) == 0
    capsys.readouterr()

    controller = build_controller(load_node_config(config))
    seen: list[dict] = []
    lock = threading.Lock()

    def on_reading(msg):
        with lock:
            seen.append(json.loads(msg.payload))
    watcher = MqttClient("127.0.0.1", broker.port, "swap-watcher", role="core")
    watcher.subscribe(controller.topics.device_reading("oximeter-1"), on_reading, qos=0)
    watcher.start()
    assert watcher.wait_connected(5)
    controller.start()
    new = None
    try:
        def spo2_seen(value):
            with lock:
                return any(r.get("spo2") == value for r in seen)
        assert wait_until(lambda: spo2_seen(97), 20), "no readings from the first oximeter"

        # the first oximeter fails: unplugged; the replacement goes into another port
        started = time.monotonic()
        old.stop()
        tree.remove_tty("ttyUSB0")
        tree.add_tty("ttyUSB1", *CP210X, serial="OX-NEW")
        new = ContecSim(link_path=tree.node("ttyUSB1"), spo2=91, device_id="NEW0002")
        new.start()

        assert main(["provision", "discover", "--json", "--config", str(config), *roots]) == 0
        rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
        assert set(rows) == {"ttyUSB1"}
        assert (rows["ttyUSB1"]["protocol"], rows["ttyUSB1"]["serial"]) == ("contec", "OX-NEW")
        assert rows["ttyUSB1"]["identity"]["device_id"] == "NEW0002"
        assert rows["ttyUSB1"]["configured"] is None  # the old binding names the old serial

        assert main(["provision", "assign", "oximeter-1", "--port", rows["ttyUSB1"]["port"],
                     "--config", str(config), *roots]) == 0
        assert "replaces the old binding" in capsys.readouterr().out
        assert wait_until(lambda: spo2_seen(91), 30), "no readings from the replacement"
        swap_s = time.monotonic() - started
        log.info("oximeter swap (unplug, discover, assign, first reading from the new one): %.2f s", swap_s)
        print(f"oximeter swap wall time: {swap_s:.2f} s")
    finally:
        controller.stop()
        watcher.stop()
        if new:
            new.stop()
    bindings = udev.read_bindings(rules)
    assert list(bindings) == ["oximeter-1"] and bindings["oximeter-1"].serial == "OX-NEW"
    assert "OX-OLD" not in rules.read_text()
    text = config.read_text()
    assert text.count("[devices.oximeter-1]") == 1 and 'role = "screening-1"' in text
    assert text.startswith("# Vestibule node configuration")  # the file's comments survive both edits
    assert swap_s < 120
