"""Pointwise nonlinearities: Sigmoid and Tanh."""

from __future__ import annotations

import numpy as np

from .base import Block, Lowering

__all__ = ["Sigmoid", "Tanh"]


class _Pointwise(Block):
    """A memoryless function applied to each element. Ports: ``u`` → ``y``, same size."""

    def __init__(self):
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def infer_input_sizes(self, out_sizes):
        return {"u": out_sizes.get("y")}


class Sigmoid(_Pointwise):
    """Logistic sigmoid ``y = 1 / (1 + exp(−u))``, elementwise.

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough, no state.

    Evaluated without overflow for large |u| (``scipy.special.expit``), in the input's dtype.
    """

    def output(self, u, x):
        from scipy.special import expit  # imported on first use: scipy.special costs ~0.2 s to import

        return (expit(u[0]),)

    def output_vjp(self, u, x, y, gy):
        return (gy[0] * y[0] * (1 - y[0]),), None, {}  # σ' = σ(1 − σ)

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("sigmoid")


class Tanh(_Pointwise):
    """Hyperbolic tangent ``y = tanh(u)``, elementwise.

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough, no state.
    """

    def output(self, u, x):
        return (np.tanh(u[0]),)

    def output_vjp(self, u, x, y, gy):
        return (gy[0] * (1 - y[0] * y[0]),), None, {}  # tanh' = 1 − tanh²

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("tanh")
