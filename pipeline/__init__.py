"""Dask wiring of the word-sense induction pipeline: config, CLI, stages, storage."""
