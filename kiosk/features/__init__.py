"""Controller features, each built from its config section on the contract in kiosk/node/feature.py."""
