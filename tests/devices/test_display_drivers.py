"""Display drivers against the simulators over a real pty: text, flash, shared lines, failures."""
from __future__ import annotations

import threading
import time

import pytest

from devices.display import alpha
from devices.display.driver import AlphaBoard, DisplayOptionError, ModbusNumberBoard
from devices.display.sim import AlphaBoardSim, ModbusBoardSim, Shown
from devices.errors import DeviceNotAnswering, DeviceUnavailable
from devices.status import DeviceState
from devices.url import parse_device_url


@pytest.fixture
def boards():
    made = []

    def make(cls, sim, address, **options):
        board = cls(f"board-{address}", parse_device_url(f"serial://{sim.link_path}"),
                    {"address": address, **options})
        made.append(board)
        return board

    yield make
    for board in made:
        board.close()


@pytest.fixture
def alpha_sim(tmp_path):
    sim = AlphaBoardSim(link_path=str(tmp_path / "signs"), addresses="01,02")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def modbus_sim(tmp_path):
    sim = ModbusBoardSim(link_path=str(tmp_path / "numbers"), addresses="1,2")
    sim.start()
    yield sim
    sim.stop()


def _texts_written(sim: AlphaBoardSim, address: str) -> list[str]:
    return [alpha.parse_text_file(p.data).text for p in list(sim.model.packets)
            if p.command == "A" and p.address == address]


# -- Alpha -------------------------------------------------------------------------------------------
def test_alpha_board_shows_the_call_on_its_sign(alpha_sim, boards):
    board = boards(AlphaBoard, alpha_sim, "01")
    board.open()
    board.show("A023 → 12")
    assert alpha_sim.shows("01") == Shown("A023 -> 12", "hold", "middle")
    assert alpha_sim.shows("02") == Shown("", None, None)
    assert board.status().state == DeviceState.READY


def test_flash_is_per_call_or_the_board_default(alpha_sim, boards):
    plain = boards(AlphaBoard, alpha_sim, "01", position="top")
    flashing = boards(AlphaBoard, alpha_sim, "02", mode="flash", position="fill")
    plain.open()
    flashing.open()
    plain.show("B101", flash=True)
    flashing.show("C7 -> 3")
    assert alpha_sim.shows("01") == Shown("B101", "flash", "top")
    assert alpha_sim.shows("02") == Shown("C7 -> 3", "flash", "fill")
    plain.show("B102")
    assert alpha_sim.shows("01") == Shown("B102", "hold", "top")


def test_two_boards_on_one_line_written_from_two_threads_never_interleave_frames(alpha_sim, boards):
    first, second = boards(AlphaBoard, alpha_sim, "01"), boards(AlphaBoard, alpha_sim, "02")
    first.open()
    second.open()
    start, errors = threading.Barrier(2), []

    def writer(board, prefix):
        start.wait()
        try:
            for i in range(6):
                board.show(f"{prefix}{i:03d} -> {i + 1}")
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(first, "A")),
               threading.Thread(target=writer, args=(second, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert list(alpha_sim.model.rejects) == []  # every byte on the line belonged to a whole packet
    assert _texts_written(alpha_sim, "01") == [f"A{i:03d} -> {i + 1}" for i in range(6)]
    assert _texts_written(alpha_sim, "02") == [f"B{i:03d} -> {i + 1}" for i in range(6)]
    assert alpha_sim.shows("01").text == "A005 -> 6" and alpha_sim.shows("02").text == "B005 -> 6"


def test_a_sign_that_stops_answering_goes_offline_while_the_other_keeps_working(alpha_sim, boards):
    first, second = boards(AlphaBoard, alpha_sim, "01"), boards(AlphaBoard, alpha_sim, "02")
    first.open()
    second.open()
    alpha_sim.stop_answering("02")
    with pytest.raises(DeviceNotAnswering, match="did not answer"):
        second.show("B1")
    assert second.status().state == DeviceState.OFFLINE
    assert second.problems() == ["not_answering"]
    first.show("A1")
    assert alpha_sim.shows("01").text == "A1" and first.status().state == DeviceState.READY
    alpha_sim.resume("02")
    second.show("B2")
    assert alpha_sim.shows("02").text == "B2" and second.status().state == DeviceState.READY


@pytest.mark.parametrize("cls,sim_name,address", [(AlphaBoard, "alpha_sim", "02"), (ModbusNumberBoard, "modbus_sim", 2)])
def test_a_board_that_falls_silent_between_calls_is_found_out_by_status(request, boards, cls, sim_name, address):
    sim = request.getfixturevalue(sim_name)
    board = boards(cls, sim, address, check_every=0.2, answer_timeout=0.5)
    board.open()
    assert board.status().state == DeviceState.READY
    sim.stop_answering(address)
    deadline = time.monotonic() + 10
    while board.status().state != DeviceState.OFFLINE:
        assert time.monotonic() < deadline, "a silent board still looks ready"
        time.sleep(0.1)
    assert board.problems() == ["not_answering"]
    sim.resume(address)
    while board.status().state != DeviceState.READY:
        assert time.monotonic() < deadline, "the board answers again but still looks offline"
        time.sleep(0.1)


def test_a_sign_reporting_a_checksum_error_gets_the_text_once_more(alpha_sim, boards):
    board = boards(AlphaBoard, alpha_sim, "01")
    board.open()
    alpha_sim.model.signs["01"].status |= alpha.STATUS_CHECKSUM  # as if our packet arrived garbled
    board.show("A9")
    assert _texts_written(alpha_sim, "01") == ["A9", "A9"]
    assert board.status().state == DeviceState.READY


def test_unplug_reports_disconnected_and_reopening_after_replug_serves_both_boards(alpha_sim, boards):
    first, second = boards(AlphaBoard, alpha_sim, "01"), boards(AlphaBoard, alpha_sim, "02")
    first.open()
    second.open()
    first.show("before")
    alpha_sim.unplug()
    with pytest.raises(DeviceUnavailable):
        first.show("lost")
    assert first.status().state == DeviceState.OFFLINE and first.problems() == ["disconnected"]
    alpha_sim.replug()
    first.close()
    first.open()
    first.show("after")
    second.show("also after")  # same line, reopened by the first board
    assert alpha_sim.shows("01").text == "after" and alpha_sim.shows("02").text == "also after"


def test_open_fails_when_no_sign_answers_and_leaves_the_line_usable(alpha_sim, boards):
    absent = boards(AlphaBoard, alpha_sim, "03", answer_timeout=0.5)
    with pytest.raises(DeviceNotAnswering, match="Alpha sign 03"):
        absent.open()
    assert absent.status().state == DeviceState.OFFLINE
    present = boards(AlphaBoard, alpha_sim, "01")
    present.open()
    present.show("ok")
    assert alpha_sim.shows("01").text == "ok"


def test_missing_port_is_unavailable(tmp_path, boards):
    board = AlphaBoard("x", parse_device_url(str(tmp_path / "ttyUSB9")), {"address": "01"})
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        board.open()
    assert board.status().state == DeviceState.OFFLINE


def test_text_a_sign_cannot_show_is_refused_before_anything_is_sent(alpha_sim, boards):
    board = boards(AlphaBoard, alpha_sim, "01")
    board.open()
    sent = len(alpha_sim.model.packets)
    with pytest.raises(alpha.AlphaEncodeError, match="ASCII"):
        board.show("Кабинет 5")
    assert len(alpha_sim.model.packets) == sent


@pytest.mark.parametrize("options,word", [({"address": "G1"}, "hex"), ({"mode": "blink"}, "mode"),
                                          ({"position": "left"}, "position")])
def test_bad_options_are_refused_at_construction(tmp_path, options, word):
    with pytest.raises(DisplayOptionError, match=word):
        AlphaBoard("x", parse_device_url(str(tmp_path / "tty")), options)


# -- Modbus ------------------------------------------------------------------------------------------
def test_modbus_board_shows_a_signed_number(modbus_sim, boards):
    board = boards(ModbusNumberBoard, modbus_sim, 2)
    board.open()
    board.show_number(23)
    assert modbus_sim.number(2) == 23 and modbus_sim.number(1) is None
    board.show_number(-7)
    assert modbus_sim.shows(2) == Shown("-7", "number")
    assert board.status().state == DeviceState.READY


def test_a_number_board_that_stops_answering_goes_offline_while_the_other_keeps_working(modbus_sim, boards):
    first, second = boards(ModbusNumberBoard, modbus_sim, 1), boards(ModbusNumberBoard, modbus_sim, 2)
    first.open()
    second.open()
    modbus_sim.stop_answering(2)
    with pytest.raises(DeviceNotAnswering, match="unit 2"):
        second.show_number(12)
    assert second.problems() == ["not_answering"] and second.status().state == DeviceState.OFFLINE
    first.show_number(11)
    assert modbus_sim.number(1) == 11 and first.status().state == DeviceState.READY
    modbus_sim.resume(2)
    second.show_number(13)
    assert modbus_sim.number(2) == 13


def test_two_number_boards_written_from_two_threads_get_every_number(modbus_sim, boards):
    first, second = boards(ModbusNumberBoard, modbus_sim, 1), boards(ModbusNumberBoard, modbus_sim, 2)
    first.open()
    second.open()
    start, errors = threading.Barrier(2), []

    def writer(board, base):
        start.wait()
        try:
            for i in range(20):
                board.show_number(base + i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(first, 100)), threading.Thread(target=writer, args=(second, 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    writes = [(r.unit, r.pdu.registers[0]) for r in modbus_sim.model.requests if r.pdu.function_code == 6]
    assert [v for u, v in writes if u == 1] == list(range(100, 120))
    assert [v for u, v in writes if u == 2] == list(range(200, 220))


def test_modbus_unplug_and_replug(modbus_sim, boards):
    board = boards(ModbusNumberBoard, modbus_sim, 1)
    board.open()
    modbus_sim.unplug()
    with pytest.raises(DeviceUnavailable):
        board.show_number(1)
    assert board.problems() == ["disconnected"]
    modbus_sim.replug()
    board.close()
    board.open()
    board.show_number(2)
    assert modbus_sim.number(1) == 2


def test_modbus_open_fails_for_an_absent_unit(modbus_sim, boards):
    with pytest.raises(DeviceNotAnswering, match="unit 9"):
        boards(ModbusNumberBoard, modbus_sim, 9, answer_timeout=0.5).open()


def test_one_line_carries_one_protocol(alpha_sim, boards):
    boards(AlphaBoard, alpha_sim, "01").open()
    with pytest.raises(DeviceUnavailable, match="already carries alpha"):
        boards(ModbusNumberBoard, alpha_sim, 1).open()
