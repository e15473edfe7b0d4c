"""argparse ``type=`` checkers shared by the sub-commands: a bad number is a usage error (exit 2)."""

from __future__ import annotations

import argparse
import importlib
import math
from collections.abc import Sequence

__all__ = ["positive_int", "seed", "positive_float", "add_backend_option", "LazyChoices"]


class LazyChoices(Sequence):
    """argparse ``choices`` read from ``module.attribute`` the first time they are needed.

    Registering a sub-command then imports nothing: ``blockloop --help`` lists the commands without
    loading numpy, networkx or the study. The module is imported when a value is checked against
    the choices or the sub-command's own help is printed. The values are the attribute's items
    (a dict gives its keys), as strings, in order.
    """

    def __init__(self, module: str, attribute: str):
        self._where = (module, attribute)
        self._values: tuple[str, ...] | None = None

    def _load(self) -> tuple[str, ...]:
        if self._values is None:
            module, attribute = self._where
            self._values = tuple(getattr(importlib.import_module(module), attribute))
        return self._values

    def __getitem__(self, index):
        return self._load()[index]

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, value) -> bool:
        return value in self._load()

    def __iter__(self):
        return iter(self._load())

    def __repr__(self) -> str:
        return f"LazyChoices({'.'.join(self._where)}: {self._values if self._values is not None else '...'})"


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
    parser.add_argument("--backend", choices=LazyChoices("blockloop.engine.backends", "BACKENDS"), default="auto",
                        metavar="NAME",
                        help="simulation engine: compiled (numba step loop), interpreter (numpy, the reference "
                             "semantics) or auto (compiled when numba is installed; default)")
