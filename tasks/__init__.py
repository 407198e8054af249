"""Numeric kernels: plain functions on numpy/scipy data, with no Dask import.

Every function here takes data arguments first and keyword-only parameters
after, and is testable on tiny arrays without a scheduler.
"""
