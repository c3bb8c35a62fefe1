"""Board wiring: builds machine.UART and machine.I2C. Imported only on MicroPython.

Edit PINS for your board. The host link is a hardware UART (to a 3.3 V USB-serial adapter on
the node), so the USB REPL stays free for `mpremote` (flashing, Ctrl-C to stop the loop).
"""
import sys

import machine

BAUD = 115200
I2C_FREQ = 100000  # the MLX90614's SMBus is specified up to 100 kHz

# sys.platform -> UART id, TX, RX, I2C id, SDA, SCL
PINS = {
    "rp2": (0, 0, 1, 0, 4, 5),  # Raspberry Pi Pico: UART0 GP0/GP1, I2C0 GP4/GP5
    "esp32": (2, 17, 16, 0, 21, 22),  # ESP32 DevKit: UART2 GPIO17/16, I2C0 GPIO21/22
}


def build(platform=None):
    uart_id, tx, rx, i2c_id, sda, scl = PINS[platform or sys.platform]
    uart = machine.UART(uart_id, baudrate=BAUD, bits=8, parity=None, stop=1,
                        tx=machine.Pin(tx), rx=machine.Pin(rx))
    i2c = machine.I2C(i2c_id, sda=machine.Pin(sda), scl=machine.Pin(scl), freq=I2C_FREQ)
    return uart, i2c
