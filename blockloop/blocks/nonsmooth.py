"""Piecewise-linear blocks: Saturation, DeadZone, Abs, Switch, MinMax.

Each is memoryless with direct feedthrough. Their derivatives jump at the kinks; the adjoints
use the one-sided value stated in each docstring (the same on both backends), which is what a
gradient at exactly a kink returns. The scalar parameters (limits, threshold) are structure, not
trainable parameters (``arrays()`` is empty); each rule casts them to the signal's dtype, as the
compiled backend's parameter table does.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ._scalars import as_written, choice, in_dtype, real
from .base import MAX_PORTS, Block, Lowering, check_int, numbered_ports, same_size

__all__ = ["Saturation", "DeadZone", "Abs", "Switch", "MinMax"]


class _Elementwise(Block):
    """One input ``u`` → one output ``y`` of the same size, direct feedthrough, no state."""

    def __init__(self):
        self.inputs = ("u",)
        self.outputs = ("y",)

    def arrays(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def infer_input_sizes(self, out_sizes):
        return {"u": out_sizes.get("y")}

    def nonfinite_raises_flags(self):
        return True


class Saturation(_Elementwise):
    """Limit the input to ``[lower, upper]`` (Simulink "Saturation", bdsim ``CLIP``).

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough u → y, no state.

    Rule, elementwise: ``y = upper if u > upper, lower if u < lower, else u`` (a NaN stays NaN,
    ±inf becomes a limit). Subgradient: ∂y/∂u = 1 for lower ≤ u ≤ upper — the limits included,
    as PyTorch's ``clamp`` — and 0 outside.

    Parameters
    ----------
    lower, upper : float
        Finite scalar limits applied to every element, lower ≤ upper.

    Examples
    --------
    >>> import numpy as np
    >>> Saturation(-1.0, 1.0).output([np.array([[-3.0, 0.5, 2.0]])], None)[0].tolist()
    [[-1.0, 0.5, 1.0]]
    """

    def __init__(self, lower: float = -1.0, upper: float = 1.0):
        super().__init__()
        self.lower = real(lower, "Saturation lower")
        self.upper = real(upper, "Saturation upper")
        if self.lower > self.upper:
            raise ParameterError(f"Saturation lower ({self.lower}) > Saturation upper ({self.upper}): "
                                 "expected lower ≤ upper")
        self._written = {"lower": as_written(lower), "upper": as_written(upper)}

    def params(self):
        return dict(self._written)

    def output(self, u, x):
        v = u[0]
        lo, hi = in_dtype(self.lower, v.dtype), in_dtype(self.upper, v.dtype)
        return (np.where(v > hi, hi, np.where(v < lo, lo, v)),)

    def output_vjp(self, u, x, y, gy):
        v = u[0]
        inside = (v >= in_dtype(self.lower, v.dtype)) & (v <= in_dtype(self.upper, v.dtype))
        return (np.where(inside, gy[0], 0),), None, {}

    def lowering(self):
        return Lowering("saturation", np.array([self.lower, self.upper]))


class DeadZone(_Elementwise):
    """Zero output inside ``[start, end]``, shifted input outside (Simulink "Dead Zone").

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough u → y, no state.

    Rule, elementwise: ``y = u − end if u > end, u − start if u < start, else u − u`` (that is
    +0 for a finite u, and NaN for a NaN, which is passed on). Subgradient: ∂y/∂u = 1 for u > end
    or u < start, and 0 on the closed zone ``start ≤ u ≤ end``, its edges included.

    Parameters
    ----------
    start, end : float
        Finite scalar edges of the zone, start ≤ end.
    """

    def __init__(self, start: float = -0.5, end: float = 0.5):
        super().__init__()
        self.start = real(start, "DeadZone start")
        self.end = real(end, "DeadZone end")
        if self.start > self.end:
            raise ParameterError(f"DeadZone start ({self.start}) > DeadZone end ({self.end}): expected start ≤ end")
        self._written = {"start": as_written(start), "end": as_written(end)}

    def params(self):
        return dict(self._written)

    def output(self, u, x):
        v = u[0]
        s, e = in_dtype(self.start, v.dtype), in_dtype(self.end, v.dtype)
        return (np.where(v > e, v - e, np.where(v < s, v - s, v - v)),)

    def output_vjp(self, u, x, y, gy):
        v = u[0]
        outside = (v > in_dtype(self.end, v.dtype)) | (v < in_dtype(self.start, v.dtype))
        return (np.where(outside, gy[0], 0),), None, {}

    def nonfinite_raises_flags(self):
        # u − end overflows with a flag; but an edge beyond float32's range is ±inf in a float32
        # program, and u − inf raises none: then the interpreter checks the output explicitly.
        big = float(np.finfo(np.float32).max)
        return abs(self.start) <= big and abs(self.end) <= big

    def lowering(self):
        return Lowering("dead_zone", np.array([self.start, self.end]))


class Abs(_Elementwise):
    """Absolute value ``y = |u|``, elementwise (Simulink "Abs").

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough u → y, no state.

    Rule: ``y = |u|`` (|−0| = +0, NaN stays NaN). Subgradient: ∂y/∂u = sign(u), with
    abs′(0) = 0 (and 0 for a NaN).
    """

    def params(self):
        return {}

    def output(self, u, x):
        return (np.abs(u[0]),)

    def output_vjp(self, u, x, y, gy):
        v, g = u[0], gy[0]
        return (np.where(v > 0, g, np.where(v < 0, -g, 0)),), None, {}

    def lowering(self):
        return Lowering("abs")


#: Switch criteria: what selects ``u1`` (else ``u2``).
SWITCH_CRITERIA = (">=", ">", "!=0")


class Switch(Block):
    """Pass ``u1`` or ``u2``, element by element, according to ``control`` (Simulink "Switch").

    Ports: inputs ``u1``, ``control``, ``u2`` (in this order, Simulink's), output ``y``; all of
    one size n. Direct feedthrough from all three inputs, no state.

    Rule, elementwise: ``y = u1 if pass(control) else u2``, with ``pass`` set by ``criterion``:

    * ``">="``: control ≥ threshold (Simulink's default, "u2 >= Threshold");
    * ``">"``: control > threshold;
    * ``"!=0"``: control ≠ 0 (``threshold`` unused).

    A NaN control fails ``>=`` and ``>`` (u2 passes) and passes ``!=0`` (u1 passes).
    Gradients flow to the selected input only; the control gets none (∂y/∂control = 0 almost
    everywhere).

    Parameters
    ----------
    threshold : float
        Finite scalar compared with every element of ``control``.
    criterion : str
        One of ``">="``, ``">"``, ``"!=0"``.
    """

    def __init__(self, threshold: float = 0.0, criterion: str = ">="):
        self.threshold = real(threshold, "Switch threshold")
        self._threshold = threshold  # as written (see as_written)
        self.criterion = choice(criterion, "Switch criterion", SWITCH_CRITERIA)
        self.inputs = ("u1", "control", "u2")
        self.outputs = ("y",)

    def params(self):
        return {"threshold": as_written(self._threshold), "criterion": self.criterion}

    def arrays(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": same_size(in_sizes, self.inputs)}

    def infer_input_sizes(self, out_sizes):
        return {p: out_sizes.get("y") for p in self.inputs}

    def passes(self, control: np.ndarray) -> np.ndarray:
        """Where ``u1`` is selected, as a boolean array of ``control``'s shape."""
        t = in_dtype(self.threshold, control.dtype)
        if self.criterion == ">=":
            return control >= t
        if self.criterion == ">":
            return control > t
        return control != 0

    def output(self, u, x):
        return (np.where(self.passes(u[1]), u[0], u[2]),)

    def output_vjp(self, u, x, y, gy):
        take = self.passes(u[1])
        return (np.where(take, gy[0], 0), None, np.where(take, 0, gy[0])), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("switch", np.array([self.threshold]), (SWITCH_CRITERIA.index(self.criterion),))


class MinMax(Block):
    """Elementwise minimum or maximum of ``n_inputs`` inputs of one size (Simulink "MinMax").

    Ports: inputs ``u1 .. uN`` (N ≥ 2), output ``y``, all of one size. Direct feedthrough from
    every input, no state.

    Rule, elementwise, left to right: ``y = u1``, then for j = 2 … N, y takes u_j if u_j < y
    (``"min"``; u_j > y for ``"max"``) or if u_j is NaN and y is not. A NaN is passed on (as
    ``np.minimum`` does), and of equal values the first is kept. Gradient: to the selected input
    only — the first of the inputs holding the minimum (maximum).

    Parameters
    ----------
    function : str
        ``"min"`` or ``"max"``.
    n_inputs : int
        Number of inputs, 2 … 10 000.
    """

    def __init__(self, function: str = "min", n_inputs: int = 2):
        self.function = choice(function, "MinMax function", ("min", "max"))
        self.n_inputs = check_int(n_inputs, "MinMax n_inputs", 2, MAX_PORTS)
        self.inputs = numbered_ports(self.n_inputs)
        self.outputs = ("y",)

    def params(self):
        return {"function": self.function, "n_inputs": self.n_inputs}

    def output_sizes(self, in_sizes):
        return {"y": same_size(in_sizes, self.inputs)}

    def infer_input_sizes(self, out_sizes):
        return {p: out_sizes.get("y") for p in self.inputs}

    def selected(self, u) -> tuple[np.ndarray, np.ndarray]:
        """(y, index of the selected input) for inputs ``u``, both of the inputs' shape."""
        y, index = u[0], np.zeros(u[0].shape, dtype=np.int64)
        for j, v in enumerate(u[1:], start=1):
            better = v < y if self.function == "min" else v > y
            take = better | (np.isnan(v) & ~np.isnan(y))
            y, index = np.where(take, v, y), np.where(take, j, index)
        return y, index

    def output(self, u, x):
        return (self.selected(u)[0],)

    def output_vjp(self, u, x, y, gy):
        index = self.selected(u)[1]
        return tuple(np.where(index == j, gy[0], 0) for j in range(len(u))), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("min_max", None, (0 if self.function == "min" else 1,))
