"""The printer simulator's `baud` option: a job takes at least its line time to arrive, as on a
real serial printer (the check-in benchmark measures up to the last receipt byte)."""
from __future__ import annotations

import os
import time

import pytest

from devices.printer.sim import EscposPrinterSim

JOB = b"\x1b@" + b"x" * 478 + b"\n" + b"\x1dV\x01"  # 484 bytes: init, text, a partial cut


def print_and_time(tmp_path, **options) -> float:
    sim = EscposPrinterSim(link_path=str(tmp_path / "printer"), **options)
    sim.start()
    fd = os.open(sim.link_path, os.O_RDWR | os.O_NOCTTY)
    try:
        t0 = time.monotonic()
        os.write(fd, JOB)
        assert len(sim.wait_for_documents(1, timeout=10)) == 1, "the job was not printed"
        return time.monotonic() - t0
    finally:
        os.close(fd)
        sim.stop()


def test_a_job_arrives_no_sooner_than_its_line_time_at_the_set_baud(tmp_path):
    line_time = len(JOB) * 10 / 4800  # 8N1: 10 bits a byte, about 1 s
    assert print_and_time(tmp_path, baud=4800) >= line_time


def test_without_baud_the_simulator_takes_bytes_as_fast_as_the_pty(tmp_path):
    assert print_and_time(tmp_path) < len(JOB) * 10 / 4800


def test_baud_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="baud"):
        EscposPrinterSim(link_path=str(tmp_path / "printer"), baud=0)
