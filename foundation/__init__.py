"""The foundation: configuration, the SQLite store, the clock and process helpers.

Everything above may import it; it imports nothing of the project."""
