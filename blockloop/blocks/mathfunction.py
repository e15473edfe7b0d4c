"""MathFunction: one function from a closed list, named by a string (never a callable, never eval)."""

from __future__ import annotations

import numpy as np

from ._scalars import choice
from .base import Lowering
from .nonsmooth import _Elementwise

__all__ = ["MathFunction", "MATH_FUNCTIONS"]

#: The functions a MathFunction may apply, in the order of the compiled op's function codes.
MATH_FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "square", "reciprocal")


class MathFunction(_Elementwise):
    """Apply one elementary function elementwise (Simulink "Math Function" / "Trigonometric Function").

    Ports: input ``u``, output ``y`` of the same size. Direct feedthrough u → y, no state.

    Rule and derivative, by ``function`` (numpy's functions, in the signal's dtype):

    ==============  =====================  =======================================
    function        y                      ∂y/∂u (the adjoint's expression)
    ==============  =====================  =======================================
    ``exp``         eᵘ                     y
    ``log``         ln u                   1 / u
    ``sqrt``        √u                     0.5 / y   (+inf at u = 0)
    ``sin``         sin u                  cos u
    ``cos``         cos u                  −sin u
    ``square``      u·u                    2·u
    ``reciprocal``  1 / u                  −y·y
    ==============  =====================  =======================================

    Outside the domain the result is what numpy gives and is reported as such: ``log`` of 0 is
    −inf, of a negative number NaN; ``sqrt`` of a negative number NaN; ``reciprocal`` of 0 ±inf;
    ``exp`` overflows to inf beyond about 709.78 (88.72 in float32); ``sin``/``cos`` of ±inf are
    NaN. With ``check_finite`` (the default) both backends stop there and name this block.

    The compiled backend computes ``exp`` with :func:`blockloop.compiled.mathfn.exp` (within
    3 ulp of numpy's), ``log``, ``sin``, ``cos`` with the C library's functions (numpy may use
    its own vectorized ones: both within 1e-12 relative, tested), and ``sqrt``, ``square``,
    ``reciprocal`` exactly (correctly rounded: numpy's bits).

    Parameters
    ----------
    function : str
        One of ``exp``, ``log``, ``sqrt``, ``sin``, ``cos``, ``square``, ``reciprocal``.

    Examples
    --------
    >>> import numpy as np
    >>> MathFunction("sqrt").output([np.array([[4.0, 2.25]])], None)[0].tolist()
    [[2.0, 1.5]]
    """

    def __init__(self, function: str = "exp"):
        super().__init__()
        self.function = choice(function, "MathFunction function", MATH_FUNCTIONS)

    def params(self):
        return {"function": self.function}

    def output(self, u, x):
        v, f = u[0], self.function
        if f == "square":
            return (v * v,)
        if f == "reciprocal":
            return (np.reciprocal(v),)
        return (getattr(np, f)(v),)

    def output_vjp(self, u, x, y, gy):
        v, w, g, f = u[0], y[0], gy[0], self.function
        if f == "exp":
            d = w
        elif f == "log":
            d = 1 / v
        elif f == "sqrt":
            d = 0.5 / w
        elif f == "sin":
            d = np.cos(v)
        elif f == "cos":
            d = -np.sin(v)
        elif f == "square":
            d = 2 * v
        else:
            d = -(w * w)
        return (g * d,), None, {}

    def nonfinite_hint(self):
        domain = {"log": "log of a value ≤ 0", "sqrt": "sqrt of a negative value", "reciprocal": "1/0"}
        if self.function not in domain:
            return None
        return (f"its input left the domain of {self.function} ({domain[self.function]}) or overflowed; limit it "
                "first (e.g. a Saturation or Abs block), or pass check_finite=False")

    def lowering(self):
        return Lowering("math_function", None, (MATH_FUNCTIONS.index(self.function),))
