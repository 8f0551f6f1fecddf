"""The results history (TinyDB), opened per operation under a file lock and written atomically."""
