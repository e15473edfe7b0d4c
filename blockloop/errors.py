"""Typed exceptions. Every message names the block and port involved and, where obvious, the fix."""

from __future__ import annotations

__all__ = [
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


class BlockloopError(Exception):
    """Base class of every error raised on purpose by blockloop."""


class ParameterError(BlockloopError, ValueError):
    """A block or diagram parameter has the wrong shape, type or value."""


class WiringError(BlockloopError, ValueError):
    """A wire is invalid: unknown block or port, doubly driven input, unconnected input."""


class SizeMismatchError(WiringError):
    """The two ends of a wire carry signals of different sizes."""


class AlgebraicLoopError(WiringError):
    """A cycle made only of direct-feedthrough paths.

    Attributes
    ----------
    cycle : list of tuple
        The port path around the loop, as ``(block, direction, port)`` triples where
        ``direction`` is ``"in"`` or ``"out"``.
    """

    def __init__(self, message: str, cycle: list[tuple[str, str, str]]):
        super().__init__(message)
        self.cycle = cycle


class SimulationError(BlockloopError, RuntimeError):
    """Simulation could not run with the given inputs (bad shapes, empty time grid, ...)."""


class NonFiniteError(SimulationError, ValueError):
    """A NaN or infinity was found in an input, a parameter or a simulated signal."""


class DiagramFileError(BlockloopError, ValueError):
    """A diagram file (JSON structure + ``.npz`` arrays) cannot be read.

    Attributes
    ----------
    path : str or None
        The file that was being read.
    location : str or None
        Where in the file, JSON-pointer-like: ``blocks[3] ("sig_f").params.K``.
    """

    def __init__(self, message: str, path: str | None = None, location: str | None = None):
        where = ": ".join(str(p) for p in (path, location) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.location = location


class DifferentiationError(BlockloopError, TypeError):
    """A gradient was asked through a block that declares no adjoint, or of something not trainable."""
