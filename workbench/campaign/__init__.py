"""Campaigns: many measured runs toward one answer — sweeps (cells, the grid, resume, the memory-bounded batch
search), recommend's search, the compatibility matrix, and the A/A measurement of the machine's run-to-run spread.
Each run is an ordinary :class:`workbench.measure.runner.Runner` run; this layer decides which runs, in what order,
and what they add up to. It imports the measuring layer, never the reverse."""
