"""blockloop: discrete-time block diagrams with explicit feedback, checked against deep-learning libraries.

``import blockloop`` is light: it loads only the typed errors. The engine's names (``Diagram``,
``simulate``, ``gradient``, …) and the sub-packages (``blockloop.blocks``, ``blockloop.engine``, …)
are imported on first use through the module's ``__getattr__`` (PEP 562), so
``from blockloop import Diagram`` and ``blockloop.Diagram`` work as before while ``import blockloop``
and ``blockloop --help`` stay free of networkx, scipy, matplotlib, python-control, numba and torch.
"""

import importlib as _importlib

from .errors import (
    AlgebraicLoopError,
    BlockloopError,
    DiagramFileError,
    DifferentiationError,
    NonFiniteError,
    ParameterError,
    SimulationError,
    SizeMismatchError,
    WiringError,
)

__version__ = "0.1.0"

# Public names imported on first access: name -> module that defines it.
_LAZY = {name: ".engine" for name in
         ("Diagram", "Program", "Result", "compile_diagram", "fit", "flatten", "gradient", "simulate")}
# Sub-packages reachable as attributes after a bare ``import blockloop`` (``blockloop.engine.Diagram``).
_SUBPACKAGES = ("autodiff", "blocks", "cli", "compiled", "diagrams", "engine", "interop", "io", "study", "viz")

__all__ = [
    "Diagram",
    "Program",
    "Result",
    "compile_diagram",
    "flatten",
    "simulate",
    "gradient",
    "fit",
    "BlockloopError",
    "ParameterError",
    "WiringError",
    "SizeMismatchError",
    "AlgebraicLoopError",
    "SimulationError",
    "NonFiniteError",
    "DiagramFileError",
    "DifferentiationError",
]


def __getattr__(name: str):
    """Import a lazy public name or a sub-package on first access and cache it in the module."""
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
