"""Scalar parameters shared by the non-smooth, math and source blocks: checked, then cast per dtype."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from .base import _shown, is_integer

__all__ = ["real", "as_written", "choice", "in_dtype"]


def real(value, what: str) -> float:
    """``value`` as a finite Python float: an int or float (Python or numpy), never a bool or a string."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or (is_integer(value) and abs(value) > 1.7976931348623157e308):
        raise ParameterError(f"{what}: expected a finite number, got {_shown(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{what}: expected a finite number, got {value}")
    return value


def as_written(value) -> int | float:
    """A number already checked by :func:`real` as its caller gave it: a Python int stays an int.

    ``params()`` returns this, so a block rebuilt from its parameters, or saved and loaded, holds
    exactly what was written (``2`` is not ``2.0``); the rules use the float from :func:`real`.
    """
    return int(value) if is_integer(value) else float(value)


def choice(value, what: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``allowed``, else a ParameterError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ParameterError(f"{what}: expected one of {', '.join(map(repr, allowed))}, got {_shown(value)}")
    return value


def in_dtype(value: float, dtype) -> np.generic:
    """``value`` rounded to ``dtype`` as the compiled backend's ``fpar`` holds it (beyond float32's range: ±inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(value, dtype=dtype)[()]
