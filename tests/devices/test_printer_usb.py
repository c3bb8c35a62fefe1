"""The usb:// path: python-escpos's Usb printer over a fake device at the pyusb seam (usb.core.find).

The fake runs the same PrinterModel as the pty simulator; everything above usb.core.find is the
real code (python-escpos Usb.open/_raw/close, our transport and driver).
"""
from __future__ import annotations

import pytest

from devices.errors import DeviceUnavailable
from devices.printer.driver import EscposPrinter
from tests.support.fake_usb import FakeUsbBus, FakeUsbPrinter
from devices.printer.layout import layout_for, sample_receipt
from devices.printer.render import render
from devices.status import DeviceState
from devices.url import parse_device_url


@pytest.fixture
def usb_printer(monkeypatch):
    device = FakeUsbPrinter(0x04B8, 0x0E15, serial_number="TM1")
    FakeUsbBus([FakeUsbPrinter(0x04B8, 0x0E15, serial_number="OTHER"), device]).install(monkeypatch)
    return device


def driver(url="usb://04b8:0e15/TM1", **options) -> EscposPrinter:
    return EscposPrinter("usb-printer", parse_device_url(url), options)


def test_usb_printer_opens_answers_status_and_prints(usb_printer):
    p = driver()
    p.open()
    try:
        assert usb_printer.kernel_driver_detached  # python-escpos detached usblp, as on Linux
        assert p.status().state == DeviceState.READY
        outcome = p.print_job(render(layout_for(sample_receipt("ru")), p.printer_options))
        assert outcome.printed
    finally:
        p.close()
    [doc] = usb_printer.documents
    assert "Кабинет 214, этаж 2" in doc.text_lines and doc.qr_payloads == ["BK-7F3K2Q"]
    assert usb_printer.disposed == 1  # close() released the interface


def test_usb_serial_number_selects_the_right_printer(usb_printer, monkeypatch):
    p = driver("usb://04b8:0e15/TM1")
    p.open()
    p.print_job(b"hello\n\x1dV\x01")
    p.close()
    assert [d.text_lines for d in usb_printer.documents] == [["hello"]]


def test_usb_paper_states_and_refusal(usb_printer):
    p = driver()
    p.open()
    try:
        usb_printer.set_state(paper_near_end=True)
        assert p.query_status() == ("paper_near_end",)
        usb_printer.set_state(paper_out=True)
        assert not p.print_job(b"x\n\x1dV\x01").printed
        assert usb_printer.documents == []
    finally:
        p.close()


def test_custom_endpoints_are_used(monkeypatch):
    device = FakeUsbPrinter(0x0FE6, 0x811E, in_ep=0x81, out_ep=0x02)
    FakeUsbBus([device]).install(monkeypatch)
    with pytest.raises(DeviceUnavailable, match="in_ep=0x81"):  # default endpoints 0x82 / 0x01 are wrong here
        driver("usb://0fe6:811e").open()
    p = driver("usb://0fe6:811e?in_ep=0x81&out_ep=0x02")
    p.open()
    assert p.status().state == DeviceState.READY
    p.close()


def test_usb_access_denied_tells_the_technician_about_the_udev_rule(usb_printer):
    usb_printer.holder = "denied"
    with pytest.raises(DeviceUnavailable) as err:
        driver().open()
    message = str(err.value)
    assert "access denied" in message and "udev" in message and 'ATTRS{idVendor}=="04b8"' in message


def test_usb_resource_busy_tells_the_technician_about_usblp_and_cups(usb_printer):
    usb_printer.holder = "busy"
    with pytest.raises(DeviceUnavailable) as err:
        driver().open()
    message = str(err.value)
    assert "busy" in message and "usblp" in message and "CUPS" in message


def test_usb_unplug_and_replug(usb_printer):
    p = driver()
    p.open()
    usb_printer.unplug()
    with pytest.raises(DeviceUnavailable, match="disconnected"):
        p.query_status()
    p.close()
    with pytest.raises(DeviceUnavailable, match="not found"):
        p.open()
    usb_printer.replug()
    p.open()
    assert p.status().state == DeviceState.READY
    p.close()


def test_usb_printer_not_connected(monkeypatch):
    FakeUsbBus([]).install(monkeypatch)
    with pytest.raises(DeviceUnavailable, match="04b8:0e15 with serial number TM1 not found"):
        driver().open()
