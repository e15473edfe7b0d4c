"""Discrete-time linear systems with state: DiscreteStateSpace, DiscreteTransferFunction, DiscreteIntegrator.

Each is a stateful block whose output may or may not depend on the input of the same step
(its feedthrough is read from its parameters: a state space's D ≠ 0, a transfer function's
leading numerator coefficient ≠ 0, a backward-Euler integrator). Without feedthrough the
block breaks an algebraic loop like a UnitDelay.

A parameter that decides the feedthrough is *structural*: a zero D, a zero leading numerator
coefficient. The output rule then leaves that term out (so a NaN in u does not reach y), its
gradient is reported as 0 (so training keeps it zero: a non-zero value would change the
schedule, and inside a loop make it algebraic), and ``Program.with_parameters`` refuses to make
it non-zero (build and compile the diagram again instead).

The numpy rules sum matrix–vector products column by column, left to right, so the compiled
ops (opcodes 30–35, :mod:`blockloop.compiled.vm`) give the same bits.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, SizeMismatchError
from ._scalars import as_written, choice, in_dtype, real
from .base import Block, Lowering, as_float_array, as_vector
from .discrete import StateOfInputSize

__all__ = ["DiscreteStateSpace", "DiscreteTransferFunction", "DiscreteIntegrator"]


def _matrix(value, what: str) -> np.ndarray:
    arr = as_float_array(value, what, max_ndim=2)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2:
        raise ParameterError(f"{what}: expected a matrix, got an array of shape {arr.shape}")
    return arr


def _x0(value, size: int, what: str) -> np.ndarray:
    """An initial state: a scalar (every element) or a vector of the state size."""
    x0 = as_vector(value, what)
    if x0.shape[0] not in (1, size):
        raise ParameterError(f"{what}: expected a scalar or {size} values (the state size), got {x0.shape[0]}")
    return x0


def _matvec(M: np.ndarray, v: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """``acc + v @ M.T`` for a batch ``v`` (B, m), summed column by column, left to right (as the compiled op)."""
    for j in range(M.shape[1]):
        acc = acc + v[:, j:j + 1] * M[:, j]
    return acc


class DiscreteStateSpace(Block):
    """A discrete-time linear state-space system (Simulink "Discrete State-Space", python-control ``ss``).

    Ports: input ``u`` (m), output ``y`` (p). State x (n), at step k::

        y[k]   = C·x[k] + D·u[k]
        x[k+1] = A·x[k] + B·u[k]
        x[0]   = x0          (zeros by default; a scalar fills every element)

    **Direct feedthrough u → y only if D ≠ 0** (any non-zero element). With D = 0 the block
    breaks algebraic loops like a UnitDelay: y[k] depends on x[k] only, and u[k] enters x[k+1].
    D = 0 is then structural (see :mod:`blockloop.blocks.linear_systems`).

    Parameters
    ----------
    A : (n, n), B : (n, m), C : (p, n), D : (p, m), or a scalar for a 1×1 matrix;
        ``D=None`` (default) is zeros((p, m)).
    x0 : scalar or (n,)
    """

    has_state = True

    def __init__(self, A, B, C, D=None, x0=0.0):
        self.A, self.B, self.C = (_matrix(M, f"DiscreteStateSpace {k}") for k, M in zip("ABC", (A, B, C),
                                                                                         strict=True))
        n = self.A.shape[0]
        if self.A.shape != (n, n) or n == 0:
            raise ParameterError(f"DiscreteStateSpace A: expected a square n×n matrix (n ≥ 1), got shape "
                                 f"{self.A.shape}")
        if self.B.shape[0] != n or self.B.shape[1] == 0:
            raise ParameterError(f"DiscreteStateSpace B: expected shape ({n}, m) with m ≥ 1 (A is {n}×{n}), got "
                                 f"shape {self.B.shape}")
        if self.C.shape[1] != n or self.C.shape[0] == 0:
            raise ParameterError(f"DiscreteStateSpace C: expected shape (p, {n}) with p ≥ 1 (A is {n}×{n}), got "
                                 f"shape {self.C.shape}")
        self.n, self.m, self.p = n, self.B.shape[1], self.C.shape[0]
        self._D_given = D is not None  # D=None is kept as None in params(): a file's null is not an array
        self.D = (np.zeros((self.p, self.m), dtype=self.C.dtype) if D is None
                  else _matrix(D, "DiscreteStateSpace D"))
        if self.D.shape != (self.p, self.m):
            raise ParameterError(f"DiscreteStateSpace D: expected shape ({self.p}, {self.m}) (rows of C × columns "
                                 f"of B), got shape {self.D.shape}")
        self.x0 = _x0(x0, n, "DiscreteStateSpace x0")
        self._through = bool(np.any(self.D != 0))
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"A": self.A, "B": self.B, "C": self.C, "D": self.D if self._D_given else None, "x0": self.x0}

    def arrays(self):
        return {"A": self.A, "B": self.B, "C": self.C, "D": self.D, "x0": self.x0}  # D too when given as None

    def feedthrough(self):
        return frozenset({("u", "y")}) if self._through else frozenset()

    def declared_input_sizes(self):
        return {"u": self.m}

    def output_sizes(self, in_sizes):
        return {"y": self.p}

    def state_size(self, in_sizes, out_sizes):
        return self.n

    def initial_state(self, size):
        return np.broadcast_to(self.x0, (size,)).astype(self.x0.dtype)

    def output(self, u, x):
        y = _matvec(self.C, x, np.zeros((x.shape[0], self.p), dtype=x.dtype))
        return (_matvec(self.D, u[0], y) if self._through else y,)

    def update(self, u, x):
        return _matvec(self.B, u[0], _matvec(self.A, x, np.zeros_like(x)))

    def output_vjp(self, u, x, y, gy):
        g = gy[0]
        gu = g @ self.D if self._through else None
        gD = g.T @ u[0] if self._through else np.zeros_like(self.D)  # a structural zero stays zero
        return (gu,), g @ self.C, {"C": g.T @ x, "D": gD}

    def update_vjp(self, u, x, gx_next):
        g = gx_next
        return (g @ self.B,), g @ self.A, {"A": g.T @ x, "B": g.T @ u[0]}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        """Op ``state_space``: A, B, C, D row-major; ints (n, m, p, D ≠ 0)."""
        params = np.concatenate([M.reshape(-1) for M in (self.A, self.B, self.C, self.D)])
        return Lowering("state_space", params, (self.n, self.m, self.p, int(self._through)))


class DiscreteTransferFunction(Block):
    """A discrete transfer function in z⁻¹ (Simulink "Discrete Transfer Fcn", scipy ``lfilter``).

    ::

                 num[0] + num[1]·z⁻¹ + … + num[N]·z⁻ᴺ
        H(z)  =  ------------------------------------      (den[0] ≠ 0; the shorter is zero-padded)
                 den[0] + den[1]·z⁻¹ + … + den[N]·z⁻ᴺ

    i.e. ``den[0]·y[k] + den[1]·y[k−1] + … = num[0]·u[k] + num[1]·u[k−1] + …``.

    Ports: input ``u`` (size 1: single input, single output), output ``y`` (size 1). State:
    N = max(len(num), len(den)) − 1 ≥ 1 values, the direct form II transposed realization
    (scipy's ``lfilter``) with b = num/den[0], a = den/den[0]::

        y[k]      = b₀·u[k] + x₁[k]
        xᵢ[k+1]   = xᵢ₊₁[k] + bᵢ·u[k] − aᵢ·y[k]      (i = 1 … N, x_{N+1} = 0)
        x[0]      = x0      (zeros by default: the system at rest)

    **Direct feedthrough u → y only if num[0] ≠ 0**; with num[0] = 0 the b₀ term is left out
    (structural, see :mod:`blockloop.blocks.linear_systems`) and the block breaks algebraic loops.

    Parameters
    ----------
    num, den : sequences of coefficients of z⁰, z⁻¹, …; den[0] ≠ 0.
    x0 : scalar or (N,) initial state of the realization above.
    """

    has_state = True

    def __init__(self, num, den, x0=0.0):
        self.num = as_vector(num, "DiscreteTransferFunction num")
        self.den = as_vector(den, "DiscreteTransferFunction den")
        if self.den[0] == 0:
            raise ParameterError("DiscreteTransferFunction den: the leading coefficient den[0] must not be 0 "
                                 f"(got {self.den.tolist()[:8]}); y[k] is divided by it")
        self.L = max(len(self.num), len(self.den))
        if self.L < 2:
            raise ParameterError("DiscreteTransferFunction den: num and den are both one coefficient, a pure gain with "
                                 "no state; use a Gain block (num[0]/den[0])")
        self.x0 = _x0(x0, self.L - 1, "DiscreteTransferFunction x0")
        self._through = bool(self.num[0] != 0)
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"num": self.num, "den": self.den, "x0": self.x0}

    def feedthrough(self):
        return frozenset({("u", "y")}) if self._through else frozenset()

    def declared_input_sizes(self):
        return {"u": 1}

    def output_sizes(self, in_sizes):
        return {"y": 1}

    def state_size(self, in_sizes, out_sizes):
        return self.L - 1

    def initial_state(self, size):
        return np.broadcast_to(self.x0, (size,)).astype(self.x0.dtype)

    def _padded(self):
        """num and den zero-padded to length L, in num's dtype (a compiled block's num and den share one)."""
        num = np.zeros(self.L, dtype=self.num.dtype)
        den = np.zeros(self.L, dtype=self.num.dtype)
        num[:len(self.num)] = self.num
        den[:len(self.den)] = self.den
        return num, den

    def _coefficients(self):
        """b = num/den[0] and a = den/den[0], zero-padded to length L (elementwise divisions, as the op)."""
        num, den = self._padded()
        return num / den[0], den / den[0]

    def _y(self, u, x, b):
        return b[0] * u + x[:, :1] if self._through else x[:, :1]

    def output(self, u, x):
        b, _ = self._coefficients()
        return (self._y(u[0], x, b),)

    def update(self, u, x):
        b, a = self._coefficients()
        u = u[0]
        y = self._y(u, x, b)
        N = self.L - 1
        cols = [(x[:, i + 1:i + 2] + b[i + 1] * u) - a[i + 1] * y for i in range(N - 1)]
        cols.append(b[N] * u - a[N] * y)
        return np.concatenate(cols, axis=1)

    def _raw(self, gb, ga, b, a):
        """Cotangents of (b, a) → of (num, den): b = num/den₀, a = den/den₀."""
        d0 = self.den[0]
        gnum = (gb / d0)[:len(self.num)]
        gden = ga / d0
        gden[0] = -(np.dot(gb, b) + np.dot(ga[1:], a[1:])) / d0
        return {"num": gnum.astype(self.num.dtype), "den": gden[:len(self.den)].astype(self.den.dtype)}

    def output_vjp(self, u, x, y, gy):
        b, a = self._coefficients()
        g = gy[0]
        gx = np.zeros_like(x)
        gx[:, :1] = g
        gb, ga = np.zeros_like(b), np.zeros_like(a)
        gb[0] = np.sum(g * u[0]) if self._through else 0.0  # a structural zero stays zero
        return ((b[0] * g if self._through else None),), gx, self._raw(gb, ga, b, a)

    def update_vjp(self, u, x, gx_next):
        b, a = self._coefficients()
        u = u[0]
        y = self._y(u, x, b)
        N = self.L - 1
        g = gx_next
        gyy = -(g @ a[1:])[:, None]                      # cotangent of y inside the update
        gx = np.zeros_like(x)
        gx[:, 1:] = g[:, :N - 1]
        gx[:, :1] += gyy
        gu = (g @ b[1:])[:, None] + (b[0] * gyy if self._through else 0)
        gb = np.concatenate([[np.sum(gyy * u) if self._through else 0.0], (g * u).sum(axis=0)])
        ga = np.concatenate([[0.0], -(g * y).sum(axis=0)])
        return (gu,), gx, self._raw(gb, ga, b, a)

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        """Op ``transfer_function``: num and den zero-padded to L; ints (L, num[0] ≠ 0)."""
        return Lowering("transfer_function", np.concatenate(self._padded()), (self.L, int(self._through)))


class DiscreteIntegrator(StateOfInputSize, Block):
    """Discrete-time integrator K·Ts/(z − 1) or K·Ts·z/(z − 1) (Simulink "Discrete-Time Integrator").

    Ports: input ``u``, output ``y``, elementwise (any size; a vector ``x0`` fixes it). State x
    of the signal's size, x[0] = x0. With c = K·Ts (Ts is the sample time in the units of the
    integration, a plain number: blockloop steps are numbered, not timed)::

        method="forward"  (forward Euler, default)    y[k] = x[k]             no feedthrough
        method="backward" (backward Euler)            y[k] = x[k] + c·u[k]    feedthrough u → y
        both:                                         x[k+1] = x[k] + c·u[k]

    So with forward Euler y[k] = x0 + c·Σ_{j<k} u[j] and the block breaks algebraic loops;
    with backward Euler y[k] = x0 + c·Σ_{j≤k} u[j] (x holds y[k−1], x0 plays y[−1]).

    Parameters
    ----------
    K : scalar gain (trainable); Ts : sample time, a positive number (default 1);
    method : "forward" or "backward"; x0 : scalar or vector initial state.
    """

    has_state = True
    METHODS = ("forward", "backward")

    def __init__(self, K=1.0, Ts=1.0, method="forward", x0=0.0):
        K = as_float_array(K, "DiscreteIntegrator K")
        if K.size != 1:
            raise ParameterError(f"DiscreteIntegrator K: expected a scalar, got shape {K.shape}")
        self.K = K.reshape(())
        self.Ts = real(Ts, "DiscreteIntegrator Ts")
        if self.Ts <= 0:
            raise ParameterError(f"DiscreteIntegrator Ts: expected a positive finite number, got {Ts!r}")
        self._Ts_written = as_written(Ts)  # 2 stays 2 in params() (and in a file), the rules use the float
        self.method = choice(method, "DiscreteIntegrator method", self.METHODS)
        self.x0 = as_vector(x0, "DiscreteIntegrator x0")
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"K": self.K, "Ts": self._Ts_written, "method": self.method, "x0": self.x0}

    def feedthrough(self):
        return frozenset({("u", "y")}) if self.method == "backward" else frozenset()

    def state_size(self, in_sizes, out_sizes):
        if in_sizes.get("u") != out_sizes["y"]:
            raise SizeMismatchError(f"DiscreteIntegrator: input size {in_sizes.get('u')} ≠ output size "
                                    f"{out_sizes['y']}")
        return super().state_size(in_sizes, out_sizes)

    def _c(self):
        return self.K * in_dtype(self.Ts, self.K.dtype)

    def output(self, u, x):
        return (x + self._c() * u[0] if self.method == "backward" else x,)

    def update(self, u, x):
        return x + self._c() * u[0]

    def output_vjp(self, u, x, y, gy):
        g = gy[0]
        if self.method == "forward":
            return (None,), g, {"K": np.zeros((), dtype=self.K.dtype)}
        return (self._c() * g,), g, {"K": np.asarray(np.sum(g * u[0]) * self.Ts, dtype=self.K.dtype)}

    def update_vjp(self, u, x, gx_next):
        g = gx_next
        return (self._c() * g,), g, {"K": np.asarray(np.sum(g * u[0]) * self.Ts, dtype=self.K.dtype)}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        """Op ``integrator``: (K, Ts); ints (backward Euler?)."""
        return Lowering("integrator", np.array([self.K, in_dtype(self.Ts, self.K.dtype)], dtype=self.K.dtype),
                        (int(self.method == "backward"),))
