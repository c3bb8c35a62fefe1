"""Call displays: Alpha LED text signs and Modbus RTU number boards on shared serial lines."""
