"""The block mapping behind :mod:`blockloop.interop.bdsim`: one bdsim block per blockloop leaf.

Kept apart so that the export module stays small; see :mod:`blockloop.interop.bdsim` for the
mapping table and the bdsim 1.4 behaviours it works around. Nothing here imports bdsim: the
blocks are made through the factory methods of the bdsim ``BlockDiagram`` being filled.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from types import MappingProxyType
from typing import Any

import numpy as np

from ..blocks import (
    Abs,
    Constant,
    DeadZone,
    Demux,
    FromArray,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Probe,
    Product,
    Pulse,
    Ramp,
    Saturation,
    Selector,
    Sigmoid,
    Sine,
    Step,
    Sum,
    Switch,
    Tanh,
    UnitDelay,
)
from ..blocks.linear_systems import DiscreteIntegrator, DiscreteStateSpace, DiscreteTransferFunction
from ..engine import Program
from ..errors import ParameterError

__all__ = ["Build", "Composite", "MAKERS", "make_block", "input_plugs", "output_plug"]

# -- functions run by bdsim FUNCTION blocks ----------------------------------------------------
def _vec(u) -> np.ndarray:
    """A bdsim signal as a 1-D float64 array (size-1 signals arrive as Python floats)."""
    return np.atleast_1d(np.asarray(u, dtype=np.float64))


def _with_positional(fn, n: int):
    """``fn(tuple_of_inputs)`` as a callable with ``n`` positional parameters (bdsim counts them)."""
    def call(*u):
        return fn(u)

    kind = inspect.Parameter.POSITIONAL_ONLY
    call.__signature__ = inspect.Signature([inspect.Parameter(f"u{i + 1}", kind) for i in range(n)])
    return call


def _product(u) -> np.ndarray:
    return reduce(np.multiply, (_vec(v) for v in u))


def _sigmoid(u) -> np.ndarray:
    # 1/(1+e^-u) written as ½(1 + tanh(u/2)): never overflows, and independent of scipy's expit.
    return 0.5 * (1.0 + np.tanh(0.5 * _vec(u)))


def _tanh(u) -> np.ndarray:
    return np.tanh(_vec(u))


def _scale_by(K: np.ndarray):
    def scale(u):
        return K * _vec(u)
    return scale


def _premultiply_by(K: np.ndarray):
    def matvec(u):
        return K @ _vec(u)
    return matvec


def _pick(indices: np.ndarray):
    def pick(u):
        return _vec(u)[indices]
    return pick


def _split(slices: tuple[slice, ...]):
    def split(u):
        v = _vec(u)
        return [v[s] for s in slices]
    return split


def _abs(u) -> np.ndarray:
    return np.abs(_vec(u[0]))


def _dead_zone(start: float, end: float):
    def dead_zone(u):
        v = _vec(u[0])
        return np.select([v > end, v < start], [v - end, v - start], 0.0)
    return dead_zone


def _switch(threshold: float, criterion: str):
    def switch(u):
        c = _vec(u[1])
        passes = c >= threshold if criterion == ">=" else (c > threshold if criterion == ">" else c != 0)
        return np.where(passes, _vec(u[0]), _vec(u[2]))
    return switch


def _min_max(function: str):
    ufunc = np.minimum if function == "min" else np.maximum

    def min_max(u):
        return reduce(ufunc, (_vec(v) for v in u))
    return min_max


#: MathFunction's closed list, as numpy functions (looked up by the validated name, never evaluated).
_MATH = MappingProxyType({"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
                          "square": np.square, "reciprocal": lambda v: 1.0 / v})


def _math(function: str):
    f = _MATH[function]

    def math_function(u):
        return f(_vec(u[0]))
    return math_function


def _matmul(m: int, k: int, n: int):
    def matmul(u):
        return (_vec(u[0]).reshape(m, k) @ _vec(u[1]).reshape(k, n)).reshape(-1)
    return matmul


# -- the export --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Build:
    """What a block maker needs: the diagram being filled, its clock and this run's data."""

    bd: Any
    clock: Any
    program: Program
    feeds: Mapping[str, np.ndarray]
    x0: Mapping[str, np.ndarray]
    row: int | None
    steps: int
    Ts: float


def _source(b: Build, name: str, block):
    """INTERPOLATE over time, held from k·Ts: y(t) = data[k] for k·Ts ≤ t < (k+1)·Ts."""
    data = b.feeds[name] if isinstance(block, Inport) else block.data
    if data.ndim == 3:
        data = data[:, b.row or 0]
    data = np.asarray(data[: b.steps], dtype=np.float64)
    ys = np.vstack([data, data[-1:]])  # bdsim asserts that the table reaches the end time
    return b.bd.INTERPOLATE(x=np.arange(b.steps + 1) * b.Ts, y=ys, time=True, kind="previous", name=name)


def _constant(b: Build, name: str, block: Constant):
    return b.bd.CONSTANT(np.array(block.value, dtype=np.float64), name=name)


def _gain(b: Build, name: str, block: Gain):
    K = np.asarray(block.K, dtype=np.float64)
    if K.ndim == 0:
        return b.bd.GAIN(float(K), name=name)
    if K.ndim == 2 and K.shape[1] > 1:  # the input has ≥ 2 elements, so it is an array
        return b.bd.GAIN(K, premul=True, name=name)
    fn = _scale_by(K) if K.ndim == 1 else _premultiply_by(K)
    return b.bd.FUNCTION(fn, nin=1, name=name)


def _sum(b: Build, name: str, block: Sum):
    return b.bd.SUM(block.signs, name=name)


def _product_block(b: Build, name: str, block: Product):
    return b.bd.FUNCTION(_with_positional(_product, block.n_inputs), nin=block.n_inputs, name=name)


def _pointwise(fn):
    def make(b: Build, name: str, block):
        return b.bd.FUNCTION(fn, nin=1, name=name)
    return make


def _unit_delay(b: Build, name: str, block: UnitDelay):
    x0 = b.x0[name] if b.x0[name].ndim == 1 else b.x0[name][b.row or 0]
    return b.bd.ZOH(b.clock, x0=np.array(x0, dtype=np.float64), name=name)


def _mux(b: Build, name: str, block: Mux):
    return b.bd.MUX(nin=block.n_inputs, name=name)


def _demux(b: Build, name: str, block: Demux):
    edges = np.cumsum((0,) + tuple(block.sizes))
    slices = tuple(slice(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True))
    return b.bd.FUNCTION(_split(slices), nin=1, nout=len(slices), name=name)


def _selector(b: Build, name: str, block: Selector):
    if b.program.in_sizes[(name, "u")] > 1:
        return b.bd.INDEX([int(i) for i in block.indices], name=name)
    return b.bd.FUNCTION(_pick(block.indices.copy()), nin=1, name=name)


def _generated(b: Build, name: str, block):
    """Step, Ramp, Sine, Pulse: their samples held per step, as an INTERPOLATE table (see the module doc)."""
    ys = block.samples(b.steps + 1)[:, 0, :]  # the table reaches the end time, as bdsim asserts
    return b.bd.INTERPOLATE(x=np.arange(b.steps + 1) * b.Ts, y=ys, time=True, kind="previous", name=name)


def _saturation(b: Build, name: str, block: Saturation):
    return b.bd.CLIP(min=block.lower, max=block.upper, name=name)


def _n_ary(make):
    """A FUNCTION block running ``make(block)`` on the tuple of its inputs (one positional parameter each)."""
    def maker(b: Build, name: str, block):
        n = len(block.inputs)
        return b.bd.FUNCTION(_with_positional(make(block), n), nin=n, name=name)
    return maker


def _sink(b: Build, name: str, block):
    return b.bd.NULL(nin=1, name=name)


MAKERS = MappingProxyType({
    Inport: _source, FromArray: _source, Constant: _constant, Gain: _gain, Sum: _sum,
    Product: _product_block, Sigmoid: _pointwise(_sigmoid), Tanh: _pointwise(_tanh), UnitDelay: _unit_delay,
    Mux: _mux, Demux: _demux, Selector: _selector, Outport: _sink, Probe: _sink,
    Saturation: _saturation, Abs: _n_ary(lambda block: _abs),
    DeadZone: _n_ary(lambda block: _dead_zone(block.start, block.end)),
    MathFunction: _n_ary(lambda block: _math(block.function)),
    Switch: _n_ary(lambda block: _switch(block.threshold, block.criterion)),
    MinMax: _n_ary(lambda block: _min_max(block.function)),
    MatrixProduct: _n_ary(lambda block: _matmul(block.m, block.k, block.n)),
    Step: _generated, Ramp: _generated, Sine: _generated, Pulse: _generated,
})
"""Block class → maker. Exact classes only: a subclass may compute something else."""


def make_block(b: Build, name: str, block):
    """Add the bdsim block for one blockloop leaf block to ``b.bd`` and return it.

    Raises
    ------
    ParameterError
        The block's class has no bdsim counterpart (custom or subclassed blocks).
    """
    maker = MAKERS.get(type(block))
    if maker is None:
        supported = ", ".join(sorted(cls.__name__ for cls in MAKERS))
        raise ParameterError(f"block '{name}' ({block.type_name}) has no bdsim counterpart; the bdsim export "
                             f"supports exactly these block types: {supported}")
    return maker(b, name, block)


# -- the stateful linear systems: bdsim's LTI_SS_S (x[k+1] = A x + B u, y = C x + D u) ---------
def _initial(b: Build, name: str) -> np.ndarray:
    x0 = b.x0[name] if b.x0[name].ndim == 1 else b.x0[name][b.row or 0]
    return np.array(x0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Composite:
    """Several bdsim blocks standing for one blockloop block.

    ``inputs[i]``: the bdsim input plugs that blockloop input port i feeds (one or more);
    ``outputs[j]``: the bdsim output plug of blockloop output port j.
    """

    inputs: tuple[tuple[Any, ...], ...]
    outputs: tuple[Any, ...]


def input_plugs(made, i: int) -> tuple[Any, ...]:
    """The bdsim input plugs fed by input port i of a made block (a bdsim block or a Composite)."""
    return made.inputs[i] if isinstance(made, Composite) else (made[i],)


def output_plug(made, j: int):
    """The bdsim output plug of output port j of a made block (a bdsim block or a Composite)."""
    return made.outputs[j] if isinstance(made, Composite) else made[j]


def _affine(M: np.ndarray, N: np.ndarray | None):
    """``M·x (+ N·u)``, x and u arriving as bdsim signals."""
    if N is None:
        def one(x):
            return M @ _vec(x)
        return one

    def two(x, u):
        return M @ _vec(x) + N @ _vec(u)
    return two


def _lti(b: Build, name: str, A, B, C, D):
    """LTI_SS_S of the realization; its D only where non-zero (bdsim then declares feedthrough, as blockloop).

    bdsim 1.4's LTI_SS_S takes m scalar inputs and declares p outputs but returns one vector, so
    a system with a vector input or output (m > 1 or p > 1) is built from bdsim primitives instead:
    a ZOH holding x, a FUNCTION for A·x + B·u feeding it, and a FUNCTION for C·x (+ D·u if D ≠ 0).
    """
    A, B, C, D = (np.array(M, dtype=np.float64) for M in (A, B, C, D))
    through = bool(np.any(D != 0))
    if B.shape[1] == 1 and C.shape[0] == 1:
        return b.bd.LTI_SS_S(b.clock, A=A, B=B, C=C, D=D if through else None, x0=_initial(b, name), name=name)
    state = b.bd.ZOH(b.clock, x0=_initial(b, name), name=f"{name}/x")
    update = b.bd.FUNCTION(_affine(A, B), nin=2, name=f"{name}/update")
    out = b.bd.FUNCTION(_affine(C, D if through else None), nin=2 if through else 1, name=name)
    b.bd.connect(update[0], state[0])
    b.bd.connect(state[0], update[0])
    b.bd.connect(state[0], out[0])
    return Composite(inputs=((update[1], out[1]) if through else (update[1],),), outputs=(out[0],))


def _state_space(b: Build, name: str, block: DiscreteStateSpace):
    return _lti(b, name, block.A, block.B, block.C, block.D)


def _transfer_function(b: Build, name: str, block: DiscreteTransferFunction):
    """The block's own realization (direct form II transposed), so its state and x0 carry over.

    y = b₀u + x₁, xᵢ' = xᵢ₊₁ + bᵢu − aᵢy = xᵢ₊₁ − aᵢx₁ + (bᵢ − aᵢb₀)u.
    """
    bn, an = (np.asarray(v, dtype=np.float64) for v in block._coefficients())
    N = block.L - 1
    A = np.zeros((N, N))
    A[:, 0] = -an[1:]
    A[:-1, 1:] = np.eye(N - 1)
    b0 = bn[0] if block.feedthrough() else 0.0
    B = (bn[1:] - an[1:] * b0)[:, None]
    C = np.eye(1, N)
    return _lti(b, name, A, B, C, [[b0]])


def _integrator(b: Build, name: str, block: DiscreteIntegrator):
    """A = I, B = K·Ts·I, C = I, D = K·Ts·I (backward Euler) or 0 (forward). bdsim's Integrator_S
    multiplies by the clock's period instead of the block's Ts, so it is not used."""
    n = b.program.out_sizes[(name, "y")]
    c = float(block.K) * block.Ts
    eye = np.eye(n)
    return _lti(b, name, eye, c * eye, eye, c * eye if block.method == "backward" else 0 * eye)


MAKERS = MappingProxyType({**MAKERS, DiscreteStateSpace: _state_space, DiscreteTransferFunction: _transfer_function,
                           DiscreteIntegrator: _integrator})
