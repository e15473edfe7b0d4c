"""Choosing the engine that runs a checked :class:`~blockloop.engine.simulate.RunPlan`.

Every backend is a function ``run(program, plan) -> {logged name: (T, B, n) array}``; all of
them receive the same plan from :func:`~blockloop.engine.simulate.plan_run`, so they accept and
reject exactly the same inputs.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
import weakref

from ..errors import SimulationError

__all__ = ["BACKENDS", "BackendFallbackWarning", "select_backend", "compiled_available"]

#: Names accepted by ``simulate(..., backend=...)``.
BACKENDS = ("auto", "compiled", "interpreter")


_UNCOMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class BackendFallbackWarning(UserWarning):
    """The compiled backend cannot run a block type, so the run went to the interpreter."""


@functools.cache
def compiled_available() -> bool:
    """Whether numba (the ``compiled`` extra) is installed."""
    return importlib.util.find_spec("numba") is not None


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first frame outside blockloop."""
    import sys
    from pathlib import Path

    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def select_backend(program, backend: str = "auto"):
    """The run function for ``backend`` on ``program``.

    ``"compiled"`` without numba raises :class:`SimulationError` (with the install command);
    a program holding a block with no compiled rule runs on the interpreter with a one-line
    :class:`BackendFallbackWarning` naming the block type(s).
    """
    from . import interpreter

    if not isinstance(backend, str) or backend not in BACKENDS:
        raise SimulationError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "interpreter":
        return interpreter.run_plan
    if not compiled_available():
        if backend == "compiled":
            raise SimulationError("backend 'compiled' needs numba: pip install 'blockloop[compiled]' "
                                  "(or use backend='interpreter')")
        return interpreter.run_plan
    from ..compiled import uncompiled_blocks

    missing = _UNCOMPILED.get(program)
    if missing is None:
        missing = _UNCOMPILED[program] = uncompiled_blocks(program)
    if missing:
        reasons = sorted(set(missing.values()))
        listing = "; ".join(f"{r} (e.g. '{next(n for n, v in missing.items() if v == r)}')" for r in reasons)
        warnings.warn(f"compiled backend: {listing}; running on the interpreter",
                      BackendFallbackWarning, stacklevel=_caller_stacklevel())
        return interpreter.run_plan
    from ..compiled.backend import run_plan

    return run_plan
