"""Pulse oximeters: Contec packet protocol V7.0 (contec.py) and Nonin Data Format 2 (nonin.py),
their drivers (driver.py), pty simulators (sim.py) and the `vestibule device read` handler (tool.py)."""
