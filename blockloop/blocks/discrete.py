"""Blocks with discrete state: UnitDelay, and the sizes of a state that has its input's size."""

from __future__ import annotations

import numpy as np

from .base import Block, Lowering, as_vector

__all__ = ["UnitDelay", "StateOfInputSize"]


class StateOfInputSize:
    """Sizes of a one-input (``u``), one-output (``y``) block whose state has the signal's size.

    The size is fixed by an initial condition ``x0`` of more than one element (a scalar ``x0``
    is expanded to whatever size the wires give); input, output and state have that size.
    """

    x0: np.ndarray

    def _fixed_size(self):
        return self.x0.shape[0] if self.x0.shape[0] > 1 else None

    def declared_input_sizes(self):
        size = self._fixed_size()
        return {} if size is None else {"u": size}

    def output_sizes(self, in_sizes):
        size = self._fixed_size()
        return {"y": size if size is not None else in_sizes.get("u")}

    def infer_input_sizes(self, out_sizes):
        return {"u": out_sizes.get("y")}

    def state_size(self, in_sizes, out_sizes):
        return out_sizes["y"]

    def initial_state(self, size):
        return np.broadcast_to(self.x0, (size,)).astype(self.x0.dtype)


class UnitDelay(StateOfInputSize, Block):
    """One-sample delay ``z⁻¹`` (Simulink "Unit Delay").

    Ports: input ``u``, output ``y``. **No direct feedthrough**, so a delay on a feedback
    wire breaks an algebraic loop. State x of the signal's size::

        y[k]   = x[k]
        x[k+1] = u[k]
        x[0]   = x0        (scalar x0 is expanded to the signal size)

    So y[0] is the initial condition and the input at k = 0 appears at the output at k = 1.
    A per-run initial state of shape (n,) or (B, n) can be given to ``simulate`` instead.
    """

    has_state = True

    def __init__(self, x0=0.0):
        self.x0 = as_vector(x0, "UnitDelay x0")
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"x0": self.x0}

    def feedthrough(self):
        return frozenset()

    def output(self, u, x):
        return (x,)

    def update(self, u, x):
        return u[0]

    def output_vjp(self, u, x, y, gy):
        return (None,), gy[0], {}

    def update_vjp(self, u, x, gx_next):
        return (gx_next,), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("delay")
