"""blockloop: discrete-time block diagrams with explicit feedback, checked against deep-learning libraries.

The package never imports torch at import time; :mod:`blockloop.interop.torch` does, when used.
"""

from .engine import Diagram, Program, Result, compile_diagram, fit, flatten, gradient, simulate
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
