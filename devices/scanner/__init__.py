"""2D/QR booking-code scanners: CDC-ACM serial lines and HID keyboard mode."""
