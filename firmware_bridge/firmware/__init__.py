"""The bridge firmware (MicroPython). Importable on CPython so the simulator runs the same source."""
