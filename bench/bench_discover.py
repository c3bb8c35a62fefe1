"""`discover` over 16 simulated ports (some silent, some answering slowly): probes run in parallel.

Figures, measured in one run:
  parallel   wall time of one discover over all 16 ports (its own process)
  serial     each port probed alone, one after another (its own process, interleaved with the
             parallel runs): the sum, and the slowest single port ("the slowest probe")
  budget     the sum of the probe timeouts discover could spend on those ports if nothing answered
Goal: parallel <= 1.5 x the slowest single probe. Simulators run in a third process, so their
threads do not share the probing process's interpreter lock.

    .venv/bin/python bench/bench_discover.py [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLOW_S = 0.15  # a slow device answers this long after a request

# name, (kind, protocol) of the simulator or None for a dead adapter, VID, PID, slow?
PORTS = [
    ("ttyUSB0", ("oximeter", "contec"), 0x10C4, 0xEA60, False),
    ("ttyUSB1", ("oximeter", "contec"), 0x10C4, 0xEA60, True),
    ("ttyUSB2", ("oximeter", "nonin"), 0x0403, 0x6001, False),
    ("ttyUSB3", ("oximeter", "nonin"), 0x0403, 0x6001, False),
    ("ttyACM0", ("thermometer", "bridge"), 0x2E8A, 0x0005, False),
    ("ttyACM1", ("thermometer", "bridge"), 0x2E8A, 0x0005, True),
    ("ttyUSB4", ("thermometer", "optris"), 0x0403, 0x6015, False),
    ("ttyUSB5", ("thermometer", "optris"), 0x0403, 0x6015, True),
    ("ttyUSB6", ("printer", "escpos"), 0x04B8, 0x0E15, False),
    ("ttyUSB7", ("printer", "escpos"), 0x04B8, 0x0E15, True),
    ("ttyUSB8", ("display", "alpha"), 0x067B, 0x2303, False),
    ("ttyUSB9", ("display", "modbus"), 0x1A86, 0x7523, False),
    ("ttyUSB10", ("display", "modbus"), 0x1A86, 0x7523, True),
    ("ttyACM2", ("scanner", "cdc"), 0x0C2E, 0x0B61, False),  # silent until it scans
    ("ttyUSB11", None, 0x10C4, 0xEA60, False),  # a dead adapter: nothing behind it
    ("ttyUSB12", None, 0x1A86, 0x7523, False),
]


def slow(cls):
    """The same simulator, answering each request SLOW_S late."""
    class Slow(cls):
        def on_bytes(self, data: bytes) -> None:
            threading.Timer(SLOW_S, super().on_bytes, args=(data,)).start()
    Slow.__name__ = "Slow" + cls.__name__
    return Slow


def serve(root: Path) -> None:
    """Build the fake /sys and /dev tree, start the simulators, wait for stdin to close."""
    from devices import registry
    from devices.pty import open_raw_pty
    from tests.support.fake_sysfs import FakeUsbTree
    tree = FakeUsbTree(root)
    running, dead = [], []
    for i, (name, sim, vid, pid, is_slow) in enumerate(PORTS):
        tree.add_tty(name, vid, pid, f"SN{i:04d}")
        if sim is None:
            pair = open_raw_pty()
            os.symlink(pair.path, tree.node(name))
            dead.append(pair)
            continue
        cls = registry.simulator_class(*sim)
        s = (slow(cls) if is_slow else cls)(link_path=tree.node(name))
        s.start()
        running.append(s)
    print("ready", flush=True)
    sys.stdin.read()
    for s in running:
        s.stop()


def measure_parallel(root: Path) -> dict:
    from provisioning import discover, probes
    found, wall = discover.timed_discover(root / "sys", root / "dev")
    budget = sum(probes.LISTEN_S + probes.DEFAULT_TIMEOUTS.total(probes.plan(f.candidate.likely_kinds))
                 for f in found)
    return {"wall": wall, "identified": sum(1 for f in found if f.result.identification),
            "ports": len(found), "budget": budget,
            "longest_timeout": max(vars(probes.DEFAULT_TIMEOUTS).values()), "protocols": len(probes.PROBES)}


def measure_alone(root: Path) -> dict:
    from provisioning import discover, probes
    times = {}
    for c in discover.candidates(root / "sys", root / "dev"):
        start = time.monotonic()
        probes.probe_port(c.port, probes.plan(c.likely_kinds))
        times[c.name] = time.monotonic() - start
    return times


def child(mode: str, root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, f"--{mode}", str(root)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--serve", type=Path)
    parser.add_argument("--parallel", type=Path)
    parser.add_argument("--alone", type=Path)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.parallel:
        print(json.dumps(measure_parallel(args.parallel)))
        return 0
    if args.alone:
        print(json.dumps(measure_alone(args.alone)))
        return 0

    root = Path(tempfile.mkdtemp(prefix="vestibule-bench-discover-"))
    host = subprocess.Popen([sys.executable, __file__, "--serve", str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert host.stdout.readline().strip() == "ready"
        rows = []
        for _ in range(args.rounds):  # the baseline and the measured work take turns
            par = child("parallel", root)
            alone = child("alone", root)
            rows.append((par, alone))
        for i, (par, alone) in enumerate(rows, 1):
            slowest_name = max(alone, key=alone.get)
            slowest, serial = alone[slowest_name], sum(alone.values())
            print(f"round {i}: {par['ports']} ports, {par['identified']} identified")
            print(f"  parallel discover wall      {par['wall']:6.2f} s")
            print(f"  slowest single port alone   {slowest:6.2f} s ({slowest_name})")
            print(f"  all ports one after another {serial:6.2f} s")
            print(f"  sum of probe timeouts       {par['budget']:6.2f} s")
            print(f"  wall / slowest probe        {par['wall'] / slowest:6.2f} x   (goal <= 1.5 x)")
            print(f"  wall / serial               {par['wall'] / serial:6.2f} x")
            print(f"  wall / sum of timeouts      {par['wall'] / par['budget']:6.2f} x")
            print(f"  (one protocol's longest timeout is {par['longest_timeout']:.2f} s; a silent port runs "
                  f"all {par['protocols']} protocol probes in turn, as one port takes one at a time)")
    finally:
        host.stdin.close()
        host.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
