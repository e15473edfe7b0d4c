"""argparse ``type=`` checkers shared by the sub-commands: a bad number is a usage error (exit 2)."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "seed", "positive_float", "add_backend_option"]


def positive_int(text: str) -> int:
    """An integer ≥ 1 (sizes, steps, batch, threads)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer in 0 … 2³² − 1 (what numpy and MATLAB's MT19937 accept)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**32 - 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A positive finite number (a sample time in seconds)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """``--backend auto|compiled|interpreter`` (see ``blockloop.engine.simulate.simulate``)."""
    from ..engine.backends import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="simulation engine: compiled (numba step loop), interpreter (numpy, the reference "
                             "semantics) or auto (compiled when numba is installed; default)")
