"""Fixed data and helpers for the TUI tests and snapshots (test fixtures, never shown by the product)."""
