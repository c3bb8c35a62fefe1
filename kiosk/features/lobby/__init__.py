"""The lobby kiosk: check-in, walk-in tickets, same-day booking, feedback, receipts."""
