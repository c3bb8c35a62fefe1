"""Errors every driver raises, so callers (CLI, device manager) handle all classes alike."""


class DeviceError(Exception):
    """Base class: a device problem with a message fit for a technician."""


class DeviceUnavailable(DeviceError):
    """The port does not exist, cannot be opened, or was unplugged. The manager reconnects."""


class DeviceNotAnswering(DeviceError):
    """The port is open but the device does not answer within its bound."""


class BadDeviceURL(DeviceError):
    """A device URL that cannot be parsed or names an unsupported scheme."""
