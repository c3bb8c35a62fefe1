"""IR thermometers: our MLX90614 bridge board and the Optris CT / CSmicro serial sensors."""
