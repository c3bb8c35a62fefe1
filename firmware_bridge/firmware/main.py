"""Bridge firmware: answers the host over a UART, reads an MLX90614 over I2C.

Runs unchanged on MicroPython (copied to the board as /main.py) and on CPython (the simulator
imports Board). Hardware objects are parameters: `uart` has any()/read(n)/write(b) like
machine.UART, `i2c` has readfrom_mem(addr, mem, n) like machine.I2C, `clock` has
ticks_ms()/ticks_diff()/ticks_add()/sleep_ms() like MicroPython's time module.
"""
import sys
import time

from firmware_bridge import link, mlx90614

FIRMWARE_VERSION = (1, 0, 0)


class _MonotonicClock:
    """MicroPython's ticks API over CPython's monotonic clock (no wrap-around to care about)."""

    def ticks_ms(self):
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, delta):
        return a + delta

    def sleep_ms(self, ms):
        time.sleep(ms / 1000)


def default_clock():
    return time if hasattr(time, "ticks_ms") else _MonotonicClock()


class Board:
    def __init__(self, uart, i2c, clock=None, address=mlx90614.DEFAULT_ADDRESS,
                 protocol_version=link.PROTOCOL_VERSION, messages=link.MESSAGES):
        self.uart = uart
        self.clock = clock or default_clock()
        self.sensor = mlx90614.Sensor(i2c, address)
        self.decoder = link.FrameDecoder()
        self.version = protocol_version
        self.messages = messages
        ids = {}
        for name, mid in messages:
            ids[name] = mid
        self.ids = ids
        self.period_ms = 0  # streaming period; 0 = not streaming
        self.next_due = 0
        self.stream_seq = 0
        self._dropped_seen = 0

    # -- main loop body --------------------------------------------------------------------
    def poll(self):
        n = self.uart.any()
        if n:
            data = self.uart.read(n)
            if data:
                for frame in self.decoder.feed(data):
                    self.handle(frame)
        if self.decoder.dropped != self._dropped_seen:
            # at most one report per poll: a burst of line noise must not flood the link
            self._dropped_seen = self.decoder.dropped
            self.send_error(0, link.BAD_FRAME, 0, "frame dropped: bad CRC, COBS or length")
        if self.period_ms:
            now = self.clock.ticks_ms()
            if self.clock.ticks_diff(now, self.next_due) >= 0:
                self.next_due = self.clock.ticks_add(now, self.period_ms)
                self.stream_seq = (self.stream_seq + 1) & 0xFF
                self.measure(self.stream_seq, self.ids["READING"])

    def handle(self, frame):
        version, seq, mid, payload = frame
        if mid == link.HELLO:  # answered in any version, so the host can say what is wrong
            self.period_ms = 0  # a new host session starts quiet
            self.send(seq, link.HELLO, link.pack_hello_reply(self.version, self.messages))
            return
        if version != self.version:
            self.send_error(seq, link.BAD_FRAME, mid, "protocol version %d not supported (board speaks %d)"
                            % (version, self.version))
            return
        ids = self.ids
        try:
            if mid == ids["IDENTIFY"]:
                self.identify(seq)
            elif mid == ids["MEASURE"]:
                self.measure(seq, mid)
            elif mid == ids["STREAM"]:
                self.stream(seq, link.unpack_stream(payload))
            else:
                self.send_error(seq, link.UNKNOWN_MESSAGE, mid, "unknown message id %d" % mid)
        except link.PayloadError as exc:
            self.send_error(seq, link.BAD_FRAME, mid, str(exc))

    # -- handlers --------------------------------------------------------------------------
    def identify(self, seq):
        # the board answers for itself even when the sensor cannot be read
        sensor_status, sensor_id, emissivity = 0, bytes(8), 0
        try:
            sensor_id = self.sensor.sensor_id()
            emissivity = self.sensor.emissivity_raw()
        except mlx90614.PecError:
            sensor_status, sensor_id = link.PEC_ERROR, bytes(8)
        except mlx90614.NackError:
            sensor_status, sensor_id = link.I2C_NACK, bytes(8)
        self.send(seq, self.ids["IDENTIFY"],
                  link.pack_identify(FIRMWARE_VERSION, self.version, sensor_status, sensor_id, emissivity))

    def measure(self, seq, reply_id):
        try:
            obj, amb = self.sensor.temperatures()
        except mlx90614.PecError as exc:
            return self.send_error(seq, link.PEC_ERROR, reply_id, str(exc))
        except mlx90614.NackError as exc:
            return self.send_error(seq, link.I2C_NACK, reply_id, str(exc))
        if (obj | amb) & mlx90614.ERROR_FLAG:
            return self.send_error(seq, link.SENSOR_ERROR, reply_id,
                                   "sensor error flag (bit15): object 0x%04x ambient 0x%04x" % (obj, amb))
        self.send(seq, reply_id, link.pack_measurement(obj, amb))

    def stream(self, seq, period_ms):
        if period_ms and period_ms < link.MIN_STREAM_PERIOD_MS:
            period_ms = link.MIN_STREAM_PERIOD_MS
        self.period_ms = period_ms
        self.next_due = self.clock.ticks_ms()  # first reading right away
        self.send(seq, self.ids["ACK"], link.pack_ack(self.ids["STREAM"]))

    # -- output ----------------------------------------------------------------------------
    def send(self, seq, mid, payload):
        self.uart.write(link.encode_frame(self.version, seq, mid, payload))

    def send_error(self, seq, code, ref, text):
        self.send(seq, self.ids["ERROR"], link.pack_error(code, ref, text))


def run(uart, i2c, clock=None, **board_options):
    """The firmware's main loop; never returns."""
    clock = clock or default_clock()
    board = Board(uart, i2c, clock, **board_options)
    while True:
        board.poll()
        clock.sleep_ms(1)


if sys.implementation.name == "micropython":  # on the board, /main.py runs at boot
    import hardware  # noqa: E402  (only on the board: builds machine.UART / machine.I2C)

    run(*hardware.build())
