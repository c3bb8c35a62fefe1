"""Receipt / ticket printers speaking ESC/POS.

layout    documents (ticket, booking receipt) -> a list of blocks, per language
render    blocks -> ESC/POS bytes (python-escpos Dummy; our own code-page / GB18030 handling)
escpos_parser, document   ESC/POS bytes -> events -> parsed documents (simulator, tests, preview)
status    DLE EOT / GS a answers -> problem names
driver    EscposPrinter: python-escpos transports chosen by URL
sim       EscposPrinterSim on a pty; printer_model is the state machine it shares with the
          fake USB device of the tests (tests/support/fake_usb.py)
preview   parsed document -> PNG
tool      `vestibule device status printer` / `vestibule device print`
"""
