"""Parameter checks shared by the kernels: one-line ValueErrors naming the parameter."""
from __future__ import annotations

import numbers

import numpy as np


def integer(v, name, *, lo):
    """``v`` as an int, which must be >= ``lo`` (bools are refused)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def real(v, name, *, lo, lo_open):
    """``v`` as a finite float above ``lo`` (strictly when ``lo_open``)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) \
            or (v <= lo if lo_open else v < lo):
        op = ">" if lo_open else ">="
        raise ValueError(f"{name} must be a finite number {op} {lo}, got {v!r}")
    return float(v)
