"""`vestibule provision credentials` against a real Mosquitto: every user gets in with its own password
file and can do what the ACL allows and nothing more; rotating one user leaves the others working."""
from __future__ import annotations

import signal
import re
import stat
import threading
import time

import paho.mqtt.client as paho
import pytest
import tomlkit
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.cli import main
from kiosk.node.config import load_node_config
from mqtt.broker import Broker
from provisioning.credentials import acl_rules, broker_users
from tests.conftest import ROOT

SITE = "spb-dunaisky"
NODE = "entrance-1"


def connect(port, user, password):
    done, result = threading.Event(), {}
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}", protocol=paho.MQTTv5)
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, u, f, rc, p: (result.update(rc=rc), done.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert done.wait(5), "no CONNACK"
    return c, not result["rc"].is_failure


def write_ok(port, user, password, topic, spy) -> bool:
    """Publish as `user`; True when the spy (allowed everything) received it."""
    arrived = threading.Event()
    spy.on_message = lambda c, u, m: arrived.set() if m.topic == topic else None
    client, ok = connect(port, user, password)
    assert ok
    client.publish(topic, b"x", qos=1).wait_for_publish(5)
    got = arrived.wait(1.0)
    client.disconnect()
    client.loop_stop()
    return got


@pytest.fixture
def creds(tmp_path, capsys):
    doc = tomlkit.parse((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    doc["node"]["store"] = str(tmp_path / "node.db")
    config = tmp_path / "node.toml"
    config.write_text(tomlkit.dumps(doc))
    out = tmp_path / "broker"
    assert main(["provision", "credentials", "--config", str(config), "--out", str(out)]) == 0
    capsys.readouterr()
    # the test's spy: a user of its own that may read everything (not part of the product ACL)
    import subprocess
    subprocess.run(["mosquitto_passwd", "-b", str(out / "passwords"), "spy", "pw-spy"], check=True)
    with open(out / "acl", "a") as acl:
        acl.write("\nuser spy\ntopic read #\n")
    broker = Broker(workdir=str(tmp_path / "run"), persistence=False,
                    extra_conf=f"allow_anonymous false\npassword_file {out / 'passwords'}\nacl_file {out / 'acl'}\n")
    (tmp_path / "run").mkdir()
    broker.start()
    yield config, out, broker
    broker.cleanup()


def users_and_rules(config):
    node = load_node_config(config)
    return broker_users(node), acl_rules(node)


def password(out, user) -> str:
    return (out / f"{user}.password").read_text().strip()


def test_each_user_gets_a_0600_password_file_and_hashed_entry(creds):
    config, out, _ = creds
    users, _ = users_and_rules(config)
    text = (out / "passwords").read_text()
    for user in users:
        mode = stat.S_IMODE((out / f"{user}.password").stat().st_mode)
        assert mode == 0o600, (user, oct(mode))
        assert f"{user}:$7$" in text  # a PBKDF2-SHA512 hash by mosquitto_passwd, never the password
        assert password(out, user) not in text
    assert len({password(out, u) for u in users}) == len(users)


def concrete(pattern: str) -> str:
    return pattern.replace("+", "x").replace("#", "probe")


def test_each_user_writes_what_the_acl_allows_and_nothing_more(creds):
    config, out, broker = creds
    users, rules = users_and_rules(config)
    spy, ok = connect(broker.port, "spy", "pw-spy")
    assert ok
    spy.subscribe("#", qos=1)
    time.sleep(0.3)
    denied = f"clinic/v1/{SITE}/node/{NODE}/test/not-in-any-acl"
    for user in users:
        writes = [concrete(t) for a, t in rules[user] if a in ("write", "readwrite")]
        if writes:
            assert write_ok(broker.port, user, password(out, user), writes[0], spy), (user, writes[0])
        assert not write_ok(broker.port, user, password(out, user), denied, spy), user
        assert not connect(broker.port, user, "wrong-" + password(out, user))[1]
    spy.disconnect()


def test_each_user_reads_what_the_acl_allows_and_nothing_more(creds):
    config, out, broker = creds
    users, rules = users_and_rules(config)
    readable = {concrete(t) for rs in rules.values() for a, t in rs if a in ("read", "readwrite")}
    core, _ = connect(broker.port, "core", password(out, "core"))
    controller, _ = connect(broker.port, "controller", password(out, "controller"))
    for topic in readable:  # retained, published by whichever product user may write there
        for writer, name in ((core, "core"), (controller, "controller")):
            if any(a in ("write", "readwrite") and paho.topic_matches_sub(t, topic) for a, t in rules[name]):
                writer.publish(topic, b"r", qos=1, retain=True).wait_for_publish(5)
                break
    time.sleep(0.3)
    for user in users:
        client, ok = connect(broker.port, user, password(out, user))
        assert ok, user
        seen: set[str] = set()
        client.on_message = lambda c, u, m, seen=seen: seen.add(m.topic)
        client.subscribe("clinic/#", qos=1)
        time.sleep(0.8)
        client.disconnect()
        client.loop_stop()
        may_read = {t for t in readable if any(a in ("read", "readwrite") and paho.topic_matches_sub(p, t)
                                               for a, p in rules[user])}
        published = {t for t in readable if any(a in ("write", "readwrite") and paho.topic_matches_sub(p, t)
                                                for n in ("core", "controller") for a, p in rules[n])}
        assert seen == may_read & published, user
    core.disconnect()
    controller.disconnect()


def test_rotating_one_user_keeps_the_others(creds, capsys):
    config, out, broker = creds
    before = {u: password(out, u) for u in users_and_rules(config)[0]}
    assert main(["provision", "credentials", "--config", str(config), "--out", str(out), "--rotate", "kiosk-1"]) == 0
    assert re.search(r"kiosk-1\s+rotated", capsys.readouterr().out)
    after = {u: password(out, u) for u in before}
    assert after["kiosk-1"] != before["kiosk-1"]
    assert {u: p for u, p in after.items() if u != "kiosk-1"} == {u: p for u, p in before.items() if u != "kiosk-1"}
    assert "spy:" in (out / "passwords").read_text()  # a user it does not manage is left alone too
    broker.proc.send_signal(signal.SIGHUP)  # Mosquitto rereads its password file
    time.sleep(0.5)
    assert connect(broker.port, "kiosk-1", after["kiosk-1"])[1]
    assert not connect(broker.port, "kiosk-1", before["kiosk-1"])[1]
    assert connect(broker.port, "controller", after["controller"])[1]


def test_rotating_an_unknown_user_is_refused(creds, capsys):
    config, out, _ = creds
    assert main(["provision", "credentials", "--config", str(config), "--out", str(out), "--rotate", "nobody"]) == 1
    assert "no broker user nobody" in capsys.readouterr().out
