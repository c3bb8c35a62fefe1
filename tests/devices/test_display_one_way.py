"""One-way Alpha signs (no return line, or addressed by broadcast): the driver writes, never reads
back, and says the sign is unverified. Two-way signs keep their health check. Real ptys."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devices import status
from devices.display import alpha
from devices.display.driver import AlphaBoard, DisplayOptionError
from devices.display.sim import AlphaBoardSim, Shown
from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.status import DeviceState
from devices.url import parse_device_url

VESTIBULE = str(Path(sys.executable).with_name("vestibule"))


@pytest.fixture
def one_way_line(tmp_path):
    """Two signs that take every packet, on a line with no return wire: nothing comes back."""
    sim = AlphaBoardSim(link_path=str(tmp_path / "signs"), addresses="01,02", return_line=False)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def two_way_line(tmp_path):
    sim = AlphaBoardSim(link_path=str(tmp_path / "signs"), addresses="01,02")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def boards():
    made = []

    def make(sim, **options):
        board = AlphaBoard(f"board-{len(made)}", parse_device_url(f"serial://{sim.link_path}"), options)
        made.append(board)
        return board

    yield make
    for board in made:
        board.close()


def wait_for_bytes(sim: AlphaBoardSim, n: int, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    while len(sim.received) < n:
        assert time.monotonic() < deadline, f"only {bytes(sim.received)!r} reached the pty"
        time.sleep(0.02)
    time.sleep(0.2)  # anything more (a status read) would arrive right behind it
    return bytes(sim.received)


def test_one_way_sign_gets_exactly_the_text_packet_and_no_read(one_way_line, boards):
    board = boards(one_way_line, address="01", answers=False)
    board.open()  # a sign that never answers is still accepted: it cannot answer
    board.show("A023 -> 12", flash=True)
    packet = alpha.write_text("A023 -> 12", address="01", mode="flash")
    assert wait_for_bytes(one_way_line, len(packet)) == packet
    assert one_way_line.status_reads == 0
    assert one_way_line.shows("01") == Shown("A023 -> 12", "flash", "middle")
    assert one_way_line.shows("02") == Shown("", None, None)


def test_one_way_sign_is_degraded_and_unverified_never_ready(one_way_line, boards):
    board = boards(one_way_line, address="01", answers=False, check_every=0.1)
    board.open()
    board.show("B7")
    for _ in range(3):  # the periodic check runs, and still asks nothing
        time.sleep(0.15)
        got = board.status()
        assert (got.state, got.problems) == (DeviceState.DEGRADED, (status.UNVERIFIED,))
    assert one_way_line.status_reads == 0


def test_broadcast_address_implies_one_way_and_reaches_every_sign(two_way_line, boards):
    board = boards(two_way_line, address="00")
    assert board.answers is False
    board.open()
    board.show("C5 -> 7")
    packet = alpha.write_text("C5 -> 7", address="00")
    assert wait_for_bytes(two_way_line, len(packet)) == packet
    assert two_way_line.status_reads == 0
    assert two_way_line.shows("01").text == two_way_line.shows("02").text == "C5 -> 7"
    assert board.problems() == [status.UNVERIFIED]


def test_signs_never_answer_a_broadcast_status_read(two_way_line):
    # The reason broadcast implies one-way, in the simulator as on real signs.
    assert two_way_line.model.receive(alpha.read_serial_error_status("00")) == b""
    assert two_way_line.model.receive(alpha.read_serial_error_status("01")) != b""
    assert two_way_line.model.status_reads == 2


def test_two_way_sign_keeps_its_health_check(two_way_line, boards):
    board = boards(two_way_line, address="02")
    assert board.answers is True
    board.open()
    board.show("D1")
    assert two_way_line.status_reads >= 2  # at open, and after the text
    assert board.status().state == DeviceState.READY and board.problems() == []


def test_two_way_sign_on_a_line_without_return_wire_is_not_answering(one_way_line, boards):
    board = boards(one_way_line, address="01", answer_timeout=0.3)
    with pytest.raises(DeviceNotAnswering, match="did not answer"):
        board.open()
    assert one_way_line.status_reads >= 1


def test_unplugged_one_way_sign_is_disconnected(one_way_line, boards):
    board = boards(one_way_line, address="01", answers=False, check_every=0.1)
    board.open()
    one_way_line.unplug()
    time.sleep(0.15)
    assert board.problems() == [status.DISCONNECTED]
    with pytest.raises(DeviceUnavailable):
        board.show("lost")


@pytest.mark.parametrize("options, message", [
    ({"address": "00", "answers": True}, "broadcast never answer"),
    ({"address": "01", "answers": "no"}, "expected true or false"),
])
def test_contradictory_or_malformed_answers_option_is_refused(one_way_line, options, message):
    with pytest.raises(DisplayOptionError, match=message):
        AlphaBoard("board-x", parse_device_url(one_way_line.link_path), options)


# -- `vestibule device show --no-answer` ----------------------------------------------------

def show(link: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VESTIBULE, "device", "show", "--display", link, "--protocol", "alpha", *args],
                          check=False, capture_output=True, text=True, timeout=30)


def test_cli_no_answer_writes_to_a_sign_without_return_line_and_exits_0(one_way_line):
    shown = show(one_way_line.link_path, "--address", "02", "--no-answer", "--text", "E9 -> 3")
    assert shown.returncode == 0, shown.stderr
    assert "one-way: not confirmed" in shown.stdout
    packet = alpha.write_text("E9 -> 3", address="02")
    assert wait_for_bytes(one_way_line, len(packet)) == packet
    assert one_way_line.status_reads == 0 and one_way_line.shows("02").text == "E9 -> 3"


def test_cli_without_no_answer_still_needs_the_signs_answer(one_way_line):
    refused = show(one_way_line.link_path, "--address", "02", "--text", "E9 -> 3")
    assert refused.returncode == 1
    assert "did not answer a status read" in refused.stderr and "Traceback" not in refused.stderr


def test_cli_broadcast_address_needs_no_flag_to_be_one_way(one_way_line):
    shown = show(one_way_line.link_path, "--address", "00", "--text", "ALL")
    assert shown.returncode == 0, shown.stderr
    wait_for_bytes(one_way_line, len(alpha.write_text("ALL", address="00")))
    assert one_way_line.status_reads == 0
    assert one_way_line.shows("01").text == one_way_line.shows("02").text == "ALL"


def test_cli_no_answer_is_refused_for_modbus_boards(one_way_line):
    proc = subprocess.run([VESTIBULE, "device", "show", "--display", one_way_line.link_path, "--protocol",
                           "modbus", "--no-answer", "--text", "5"], check=False, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1 and "for one-way Alpha signs" in proc.stderr
