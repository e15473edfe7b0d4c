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
    "ModelFileError",
    "ConfigError",
    "MissingDependencyError",
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
    """A NaN or infinity was found in an input, a parameter or a simulated signal.

    Attributes
    ----------
    block, port : str or None
        Where a simulated value first became non-finite (flattened block path and output port;
        ``port`` is None for a state), when the error is about a simulated value.
    step : int or None
        The step k at which it did.
    """

    def __init__(self, message: str, block: str | None = None, port: str | None = None, step: int | None = None):
        super().__init__(message)
        self.block = block
        self.port = port
        self.step = step


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


class MissingDependencyError(BlockloopError, ImportError):
    """An optional package a feature needs is not installed; the message names the ``pip install`` that fixes it."""


class DifferentiationError(BlockloopError, TypeError):
    """A gradient was asked through a block that declares no adjoint, or of something not trainable."""


class ConfigError(BlockloopError, ValueError):
    """A configuration file (e.g. a sweep's TOML or JSON) has an unknown key, a wrong type or a bad value.

    Attributes
    ----------
    path : str or None
        The file that was being read.
    key : str or None
        Where in the file, dotted: ``grid.lr0[2]``, ``runs[3].epochs``.
    """

    def __init__(self, message: str, path: str | None = None, key: str | None = None):
        where = ": ".join(str(p) for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.key = key


class ModelFileError(BlockloopError, ValueError):
    """A model file from another library (e.g. ONNX) cannot be read or has no blockloop diagram.

    Attributes
    ----------
    path : str or None
        The file that was being read.
    node : str or None
        The graph node involved, as ``name (OpType)``, when there is one.
    """

    def __init__(self, message: str, path: str | None = None, node: str | None = None):
        where = ": ".join(str(p) for p in (path, f"node {node}" if node else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.node = node
