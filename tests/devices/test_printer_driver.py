"""EscposPrinter against the simulator over a real pty, and the print queue on top of it."""
from __future__ import annotations

import time

import pytest

from devices.errors import BadDeviceURL, DeviceNotAnswering, DeviceUnavailable
from devices.printer.driver import EscposPrinter, PrintOutcome
from devices.printer.document import parse_documents
from devices.printer.layout import layout_for, sample_receipt, sample_ticket
from devices.printer.render import render
from devices.printer.sim import EscposPrinterSim
from devices.printer.status import STATUS_UNKNOWN
from devices.status import DeviceState
from devices.url import parse_device_url


@pytest.fixture
def sim(tmp_path):
    s = EscposPrinterSim(link_path=str(tmp_path / "printer"))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def printer(sim):
    p = EscposPrinter("printer-1", parse_device_url(f"serial://{sim.link_path}?baud=115200"),
                      {"scripts": "latin,cyrillic,cjk"})
    p.open()
    yield p
    p.close()


def job(lang="ru", kind="receipt", printer=None) -> bytes:
    doc = sample_receipt(lang) if kind == "receipt" else sample_ticket(lang)
    return render(layout_for(doc), printer.printer_options if printer else None)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_open_asks_for_status_and_reports_ready(sim, printer):
    assert printer.status().state == DeviceState.READY
    assert sim.model.status_requests[:3] == [1, 2, 4]


def test_receipt_prints_and_the_simulator_reads_back_the_text(sim, printer):
    outcome = printer.print_job(job("zh", printer=printer))
    assert outcome == PrintOutcome(True, (), sent=True)
    [doc] = sim.wait_for_documents(1)
    assert "诊室 214, 2 楼" in doc.text_lines
    assert doc.qr_payloads == ["BK-7F3K2Q"] and doc.cut == "partial"


def test_bitmap_heavy_job_crosses_the_pty_in_chunks_and_arrives_whole(sim):
    p = EscposPrinter("p", parse_device_url(sim.link_path))  # default fonts: Chinese as raster images
    p.open()
    try:
        data = job("zh", printer=p)
        assert len(data) > 20_000
        assert p.print_job(data).printed
    finally:
        p.close()
    [doc] = sim.wait_for_documents(1)
    assert len(doc.images) >= 8 and all(img.width == 576 for img in doc.images)
    assert doc.qr_payloads == ["BK-7F3K2Q"] and "B105" in doc.text_lines


def test_paper_near_end_is_a_degraded_problem_and_still_prints(sim, printer):
    sim.paper_near_end = True
    assert printer.query_status() == ("paper_near_end",)
    assert printer.status().state == DeviceState.DEGRADED
    assert printer.print_job(job(printer=printer)).printed
    assert len(sim.wait_for_documents(1)) == 1


def test_paper_out_refuses_the_job_sends_nothing_and_prints_again_once_paper_is_back(sim, printer):
    # The kiosk keeps a failed job for staff (kiosk/features/lobby/receipts.py); the driver only refuses it.
    sim.set_paper("out")
    outcome = printer.print_job(job("ru", "ticket", printer))
    assert not outcome.printed and "paper_out" in outcome.problems
    assert printer.status().state == DeviceState.FAULT
    time.sleep(0.2)
    assert sim.documents == [] and sim.discarded == []  # nothing was sent to the printer
    sim.set_paper("ok")
    printer.query_status()
    assert printer.print_job(job("ru", "ticket", printer)).printed
    [doc] = sim.wait_for_documents(1)
    assert doc.text_lines


def test_cover_open_is_a_fault_and_the_job_is_refused(sim, printer):
    sim.cover_open = True
    outcome = printer.print_job(job(printer=printer))
    assert outcome == PrintOutcome(False, ("cover_open",), sent=False)
    sim.cover_open = False
    assert printer.print_job(job(printer=printer)).printed


def test_unplug_raises_device_unavailable_and_replug_reopens(sim, printer):
    sim.unplug()
    with pytest.raises(DeviceUnavailable):
        printer.print_job(job(printer=printer))
    printer.close()
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        printer.open()
    sim.replug()
    printer.open()
    assert printer.status().state == DeviceState.READY
    assert printer.print_job(job("en", printer=printer)).printed
    assert "Room 214, floor 2" in sim.wait_for_documents(1)[0].text_lines


def test_silent_printer_is_not_accepted(sim, tmp_path):
    sim.answering = False
    p = EscposPrinter("p", parse_device_url(sim.link_path), {"status_timeout": 0.5})
    started = time.monotonic()
    with pytest.raises(DeviceNotAnswering, match="did not answer"):
        p.open()
    assert time.monotonic() - started < 5
    assert not p.is_open


def test_garbage_status_bytes_are_rejected_not_read_as_problems(sim):
    sim.bad_status = True  # what a wrong baud rate looks like
    p = EscposPrinter("p", parse_device_url(sim.link_path), {"status_timeout": 0.5})
    with pytest.raises(DeviceNotAnswering, match="not an ESC/POS status byte"):
        p.open()
    assert p.problems() == []


def test_automatic_status_back_updates_problems_without_asking(sim):
    p = EscposPrinter("p", parse_device_url(sim.link_path), {"auto_status": "true"})
    p.open()
    try:
        assert wait_until(lambda: sim.asb_enabled)
        sim.paper_near_end = True
        assert wait_until(lambda: p.poll(0.1) == ("paper_near_end",))
        sim.cover_open = True
        assert wait_until(lambda: p.poll(0.1) == ("cover_open", "paper_near_end"))
    finally:
        p.close()


def test_missing_serial_port_is_device_unavailable(tmp_path):
    p = EscposPrinter("p", parse_device_url(str(tmp_path / "ttyUSB7")))
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        p.open()


def test_file_printer_has_no_status_channel_and_says_so(tmp_path):
    out = tmp_path / "lp0"
    p = EscposPrinter("p", parse_device_url(f"file://{out}"))
    p.open()
    try:
        assert p.problems() == [STATUS_UNKNOWN]
        outcome = p.print_job(job("ru", printer=p))
        assert outcome.printed and outcome.problems == (STATUS_UNKNOWN,)
    finally:
        p.close()
    [doc] = parse_documents(out.read_bytes()[2:])  # after the ESC @ sent at open
    assert "Кабинет 214, этаж 2" in doc.text_lines


def test_unknown_options_and_schemes_are_rejected_up_front(tmp_path):
    with pytest.raises(BadDeviceURL, match="bauds"):
        EscposPrinter("p", parse_device_url(f"serial://{tmp_path}/x?bauds=9600"))
    with pytest.raises(BadDeviceURL, match="not a printer address"):
        EscposPrinter("p", parse_device_url("sim://printer?protocol=escpos"))


class TcpPrinter:
    """The simulated printer model behind a TCP socket, as a network printer on port 9100."""

    def __init__(self):
        import socket
        import threading

        from devices.printer.printer_model import PrinterModel

        self.model = PrinterModel()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                reply = self.model.receive(data)
                if reply:
                    conn.sendall(reply)

    def close(self):
        self.server.close()


def test_network_printer_answers_status_and_prints_over_tcp():
    server = TcpPrinter()
    try:
        p = EscposPrinter("net", parse_device_url(f"tcp://127.0.0.1:{server.port}"))
        p.open()
        try:
            assert p.status().state == DeviceState.READY
            assert p.print_job(job("en", printer=p)).printed
        finally:
            p.close()
        assert wait_until(lambda: len(server.model.documents) == 1)
        assert "Booking code: BK-7F3K2Q" in server.model.documents[0].text_lines
    finally:
        server.close()


def test_network_printer_not_listening_is_device_unavailable():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        EscposPrinter("net", parse_device_url(f"tcp://127.0.0.1:{port}?timeout=2")).open()
