"""Private Mosquitto brokers for the demo and the tests (loopback, free port, own persistence)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from foundation.children import die_with_parent
from mqtt.client import broker_message_limit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto); `make setup` does it")


class Broker:
    """A Mosquitto process. `stop()` is graceful (it saves persistence); `kill()` is a crash."""

    def __init__(self, port: int | None = None, workdir: str | None = None, extra_conf: str = "",
                 persistence: bool = True):
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vestibule-broker-"))
        self.extra_conf = extra_conf
        self.persistence = persistence
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_conf(self) -> Path:
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "max_inflight_messages 1000",
            # Without it Nagle holds small answers until the peer's delayed ACK: ~40 ms a hop.
            "set_tcp_nodelay true",
            "max_queued_messages 200000",
            # a large site's day is one ~46 MB retained snapshot; see mqtt.client.DEFAULT_MAX_PAYLOAD
            f"message_size_limit {broker_message_limit()}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            # Mosquitto drops root for user "mosquitto", who cannot write our private temp dirs:
            # persistence would silently fail, and a restart would lose the queue.
            lines.append("user root")
        if "allow_anonymous" not in self.extra_conf and "password_file" not in self.extra_conf:
            lines.append("allow_anonymous true")
        conf.write_text("\n".join(lines) + "\n" + self.extra_conf + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> "Broker":
        conf = self._write_conf()
        log = open(self.workdir / "mosquitto.log", "ab")
        # a private broker ends with whoever started it, even when that process is killed
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log,
                                     start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
