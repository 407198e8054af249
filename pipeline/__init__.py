"""Dask wiring of the word-sense induction pipeline: config, CLI, stages, storage."""
import os

# Tables that crossed a process boundary may hold unaligned buffers; Acero (Arrow's
# group-by engine, used by tasks.counting) then prints a warning per call unless told
# to copy them. Set here, before any worker imports a stage's function.
os.environ.setdefault("ACERO_ALIGNMENT_HANDLING", "reallocate")
