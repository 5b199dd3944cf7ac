"""The merge queue: a pure state machine (``engine``) that keeps main green while many changes
land, and a simulator (``simulate``) that drives it with a simulated clock and CI."""
