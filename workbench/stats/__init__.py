"""Pure statistics: summaries, the streaming histogram, output parity, speedups and compare verdicts."""
