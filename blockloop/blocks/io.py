"""Boundary blocks: Inport, Outport, FromArray ("From Workspace"), Probe ("To Workspace")."""

from __future__ import annotations

from ..errors import ParameterError
from .base import MAX_SIGNAL_SIZE, Block, Lowering, as_float_array, check_int

__all__ = ["Inport", "Outport", "FromArray", "Probe"]


class Inport(Block):
    """A named input of a diagram; its name is the block's name in the diagram.

    Ports: output ``y`` of ``size`` (inferred from what it drives when None). At top level
    its samples come from ``simulate(inputs={name: array})``, an array (T, n) or (T, B, n);
    inside a subsystem it is replaced by the wire that drives the subsystem's port.
    """

    is_time_source = True

    def __init__(self, size: int | None = None):
        self.size = None if size is None else check_int(size, "Inport size", 1, MAX_SIGNAL_SIZE)
        self.inputs = ()
        self.outputs = ("y",)

    def params(self):
        return {"size": self.size}

    def output_sizes(self, in_sizes):
        return {"y": self.size}

    def lowering(self):
        return Lowering("source")


class _Sink(Block):
    """One input ``u``, no outputs, no parameters: the engine logs what arrives (see subclasses)."""

    def __init__(self):
        self.inputs = ("u",)
        self.outputs = ()

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {}

    def output(self, u, x):
        return ()

    def output_vjp(self, u, x, y, gy):
        return (None,), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("sink")


class Outport(_Sink):
    """A named output of a diagram: its input ``u`` is logged as ``result[name]``.

    Ports: input ``u``. Inside a subsystem it is replaced by the wire it receives.
    """


class Probe(_Sink):
    """A sink that logs its input under the block's name ("To Workspace").

    Ports: input ``u``. Unlike an Outport it is not a port of the diagram, so it may sit
    anywhere, inside subsystems too (logged as ``"sub/probe"``).
    """


class FromArray(Block):
    """A stored sequence ("From Workspace"): ``y[k] = data[k]``.

    Parameters
    ----------
    data : array (T, n) or (T, B, n)
        One row per step; with a batch axis, one sequence per batch row. A simulation may
        not run longer than T steps.

    Ports: output ``y`` of size n. No inputs, no state.
    """

    is_time_source = True

    def __init__(self, data):
        arr = as_float_array(data, "FromArray data", max_ndim=3)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim not in (2, 3) or 0 in arr.shape:
            raise ParameterError(f"FromArray data: expected shape (T, n) or (T, B, n) with T, B, n ≥ 1, "
                                 f"got {arr.shape}")
        self.data = arr
        self.inputs = ()
        self.outputs = ("y",)

    def params(self):
        return {"data": self.data}

    def output_sizes(self, in_sizes):
        return {"y": self.data.shape[-1]}

    def lowering(self):
        return Lowering("source")
