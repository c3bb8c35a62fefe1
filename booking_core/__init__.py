"""The booking-core stand-in: speaks the core's side of the MQTT contract for demos and tests.

The real booking core is not ours. This package only imitates it: a generated day of
appointments, answers to `core/req/*`, an inbox of node events, and demo calls.
"""
