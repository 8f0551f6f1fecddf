"""Measuring: the runner, the pinned benchmark child and its wire protocol, model preparation,
parity runs, and the live event stream."""
