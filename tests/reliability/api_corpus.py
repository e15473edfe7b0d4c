"""The API-misuse corpus: every argument of the public builders and of ``simulate``, substituted.

Each argument gets every value of :data:`API_VALUES` (the file corpus's substitutes plus numpy
scalars, tuples and objects). Whether the documentation accepts a value is written by hand, per
argument, in the ``accepts`` predicates below (not derived from the code); :func:`api_cases` yields
``(name, action, places, valid, faithful)`` for :func:`reliability_corpus.judge`.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from reliability_corpus import SUBSTITUTES

from blockloop.blocks import (
    Constant,
    DeadZone,
    Demux,
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    FromArray,
    Function,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Product,
    Pulse,
    Ramp,
    Saturation,
    Selector,
    Sine,
    Step,
    Sum,
    Switch,
    UnitDelay,
)
from blockloop.blocks.base import MAX_PORTS, MAX_SIGNAL_SIZE
from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_layer, lstm_network, state_space_diagram
from blockloop.diagrams.examples import accumulator
from blockloop.engine import Diagram
from blockloop.errors import BlockloopError

API_VALUES = {
    **SUBSTITUTES,
    "np_bool": np.bool_(True),
    "np_float": np.float64(2.5),
    "np_int": np.int64(2),
    "tuple": (2, 2),
    "ifgo": "ifgo",
    "str_array": np.array(["1"]),
    "object": object(),
    "bool_array": np.array([True, False]),
    "complex": 1 + 2j,
    "nested3": [[[1.0]]],
    "ragged": [[1.0], [1.0, 2.0]],
    "huge_int_list": [10**400],
}

#: :data:`API_VALUES` plus the numbers a sample time or a tolerance must also survive: ints beyond a
#: float (10**400 once raised a bare OverflowError), the smallest subnormal, a numpy NaN, a
#: Decimal (not an int or float: refused) and a one-element array (not a scalar: refused).
NUMBER_VALUES = {
    **API_VALUES,
    "huge_int_400": 10**400,
    "neg_huge_int_400": -(10**400),
    "subnormal": 5e-324,
    "np_nan": np.float64("nan"),
    "np_inf": np.float32("inf"),
    "decimal": Decimal("0.5"),
    "array_1": np.array([0.5]),
}


# -- what the documentation accepts (hand-written) -----------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and (not isinstance(v, int) or abs(v) < 1.7e308))


def _leaves(v):
    """Leaves and depth of a number or (nested) list/tuple of numbers; None if ragged or non-numeric."""
    if isinstance(v, np.ndarray):
        return (v.reshape(-1).tolist(), v.ndim, v.shape) if v.dtype.kind in "fiu" else None
    if _is_real(v):
        return [float(v)], 0, ()
    if not isinstance(v, (list, tuple)):
        return None
    try:
        arr = np.array(v, dtype=object)
    except ValueError:
        return None
    if arr.dtype != object or any(not _is_real(x) for x in arr.reshape(-1)) or arr.size == 0 and v != [] and v != ():
        return None
    if any(isinstance(x, (list, tuple)) for x in arr.reshape(-1)):
        return None  # ragged
    return [float(x) for x in arr.reshape(-1)], arr.ndim, arr.shape


def numbers(max_ndim: int, min_ndim: int = 0, vector: bool = False):
    """A non-empty number or nested list of numbers of at most ``max_ndim`` dimensions."""
    def accepts(v):
        got = _leaves(v)
        if got is None:
            return False
        leaves, ndim, shape = got
        if not leaves or ndim > max_ndim or ndim < min_ndim:
            return False
        return not (vector and ndim == 2 and 1 not in shape)
    return accepts


def integer(lo: int, hi: int, none_ok: bool = False):
    return lambda v: (v is None and none_ok) or (_is_int(v) and lo <= v <= hi)


def int_list(lo: int, hi: int, single_ok: bool = False):
    def accepts(v):
        if single_ok and _is_int(v):
            return lo <= v <= hi
        if isinstance(v, np.ndarray):
            return v.ndim == 1 and v.size > 0 and v.dtype.kind in "iu" and v.min() >= lo and v.max() <= hi
        return isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_int(x) and lo <= x <= hi for x in v)
    return accepts


def finite(lo: float = -math.inf, hi: float = math.inf):
    """A finite real number (never a bool, a string or a list) from ``lo`` to ``hi``."""
    return lambda v: _is_real(v) and math.isfinite(v) and lo <= v <= hi


def one_of(*allowed: str):
    return lambda v: isinstance(v, str) and v in allowed


def sign_string(v) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_PORTS and not set(v) - {"+", "-"}


def flag(v) -> bool:
    return isinstance(v, (bool, np.bool_))


def positive_time(v) -> bool:
    return _is_real(v) and math.isfinite(v) and v > 0 and 2 * float(v) < math.inf


def sample_time(v) -> bool:
    """``Diagram.Ts``: None, or a finite int or float (Python or numpy) > 0, never a bool, a string or an array."""
    return v is None or (_is_real(v) and math.isfinite(v) and v > 0)


def tolerance(v) -> bool:
    """``rtol``/``atol`` of a cross-check: None, or a finite int or float ≥ 0."""
    return v is None or (_is_real(v) and math.isfinite(v) and v >= 0)


def _ts_kept(value):
    """Faithful check of a diagram's Ts: None stays None, an int stays an int, a float the same float."""
    def faithful(d):
        ts = d.Ts
        if value is None:
            return "" if ts is None else f"read None as {ts!r}"
        want = int if _is_int(value) else float
        return "" if type(ts) is want and ts == value else f"read {value!r} as {ts!r}"
    return faithful


def _run_ts(value, default=1.0):
    """Faithful check of a run's time axis: Ts is the value given (``default`` for None), t = k·Ts."""
    def faithful(result):
        want = default if value is None else float(value)
        t_ok = np.array_equal(result.t, np.arange(len(result.t)) * want)
        return "" if result.Ts == want and t_ok else f"ran {value!r} as Ts={result.Ts!r}, t={result.t.tolist()}"
    return faithful


def _series(value) -> bool:
    """A finite input for the accumulator's size-1 input: (T,), (T, 1) or (T, B, 1), T, B ≥ 1."""
    got = _leaves(value) if numbers(3, min_ndim=1)(value) else None
    if got is None or not all(math.isfinite(x) for x in got[0]):
        return False
    shape = got[2]
    return len(shape) == 1 or shape[-1] == 1


def _same_numbers(given, stored) -> bool:
    got = _leaves(given)
    return got is not None and np.array_equal(np.asarray(got[0]), np.asarray(stored, dtype=float).reshape(-1),
                                              equal_nan=True)


# -- the cases -----------------------------------------------------------------------------------
def _block_case(cls, param, others, accepts, array=False):
    for key, value in API_VALUES.items():
        kwargs = {**others, param: value}

        def action(kwargs=kwargs):
            return cls(**kwargs)

        def faithful(block, value=value):
            stored = block.params()[param]
            if value is None and stored is None:  # a documented None default, kept as given
                return ""
            if array:
                return "" if _same_numbers(value, stored) else f"read {value!r} as {stored!r}"
            if _is_int(value) and not isinstance(stored, list):
                return "" if type(stored) is int and stored == value else f"read {value!r} as {stored!r}"
            if isinstance(value, (float, np.floating)):  # a number kept as the float it is (3.7 is not 3)
                return "" if type(stored) is float and stored == value else f"read {value!r} as {stored!r}"
            return ""

        yield (f"{cls.__name__}({param}={key})", action, [f"{cls.__name__} {param}"], accepts(value), faithful)


def block_cases():
    """Every constructor argument of every parameterised library block."""
    yield from _block_case(Constant, "value", {}, numbers(2, vector=True), array=True)
    yield from _block_case(Gain, "K", {}, numbers(2), array=True)
    yield from _block_case(UnitDelay, "x0", {}, numbers(2, vector=True), array=True)
    yield from _block_case(FromArray, "data", {}, numbers(3, min_ndim=1), array=True)
    yield from _block_case(Sum, "signs", {}, sign_string)
    yield from _block_case(Product, "n_inputs", {}, integer(1, MAX_PORTS))
    yield from _block_case(Mux, "n_inputs", {}, integer(1, MAX_PORTS))
    yield from _block_case(Inport, "size", {}, integer(1, MAX_SIGNAL_SIZE, none_ok=True))
    yield from _block_case(Selector, "indices", {}, int_list(0, MAX_SIGNAL_SIZE - 1, single_ok=True))
    yield from _block_case(Demux, "sizes", {}, int_list(1, MAX_SIGNAL_SIZE))
    def names_ok(v):
        return v is None or (isinstance(v, (list, tuple)) and len(v) == 2 and len({str(n) for n in v}) == 2
                             and all(isinstance(n, str) and n and n.strip() == n and "." not in n
                                     and "/" not in n and n != "u" for n in v))
    yield from _block_case(Demux, "names", {"sizes": [1, 1]}, names_ok)
    yield from control_block_cases()
    yield from linear_system_cases()
    yield from function_cases()


#: Largest step index a source parameter may name (documented in blockloop.blocks.sources: 2⁵³).
MAX_STEP = 2**53


def control_block_cases():
    """The non-smooth, math, matrix and source blocks: every constructor argument, the others at their defaults."""
    yield from _block_case(Saturation, "lower", {}, finite(hi=1.0))      # upper defaults to 1
    yield from _block_case(Saturation, "upper", {}, finite(lo=-1.0))     # lower defaults to −1
    yield from _block_case(DeadZone, "start", {}, finite(hi=0.5))        # end defaults to 0.5
    yield from _block_case(DeadZone, "end", {}, finite(lo=-0.5))         # start defaults to −0.5
    yield from _block_case(Switch, "threshold", {}, finite())
    yield from _block_case(Switch, "criterion", {}, one_of(">=", ">", "!=0"))
    yield from _block_case(MinMax, "function", {}, one_of("min", "max"))
    yield from _block_case(MinMax, "n_inputs", {}, integer(2, MAX_PORTS))
    yield from _block_case(MathFunction, "function", {},
                           one_of("exp", "log", "sqrt", "sin", "cos", "square", "reciprocal"))
    for dim in ("m", "k", "n"):
        yield from _block_case(MatrixProduct, dim, {"m": 1, "k": 1, "n": 1}, integer(1, MAX_SIGNAL_SIZE))
        # with the other two at 2, the declared signal sizes m·k, k·n, m·n stay within MAX_SIGNAL_SIZE
        yield from _block_case(MatrixProduct, dim, {"m": 2, "k": 2, "n": 2}, integer(1, MAX_SIGNAL_SIZE // 2))
    yield from _block_case(Step, "step_time", {}, integer(0, MAX_STEP))
    for param in ("initial", "final"):
        yield from _block_case(Step, param, {}, finite())
    yield from _block_case(Ramp, "start", {}, integer(0, MAX_STEP))
    for param in ("slope", "initial"):
        yield from _block_case(Ramp, param, {}, finite())
    for param in ("amplitude", "frequency", "phase", "bias"):
        yield from _block_case(Sine, param, {}, finite())
    yield from _block_case(Pulse, "amplitude", {}, finite())
    yield from _block_case(Pulse, "period", {}, integer(5, MAX_STEP))     # width defaults to 5 (≤ period)
    yield from _block_case(Pulse, "width", {}, integer(0, 10))           # period defaults to 10
    yield from _block_case(Pulse, "delay", {}, integer(0, MAX_STEP))
    for name, dims in (("m·k", (10**5, 10**4, 1)), ("k·n", (1, 10**5, 10**4)), ("m·n", (10**5, 1, 10**4))):
        yield (f"MatrixProduct({name} too large)", lambda d=dims: MatrixProduct(*d), ["MatrixProduct m"], False, None)


def matrix(shape, none_ok: bool = False):
    """A number (a 1×1 matrix) or a 2-D (nested) list or array of numbers of exactly ``shape``."""
    def accepts(v):
        if v is None:
            return none_ok
        got = _leaves(v)
        if got is None or not numbers(2)(v):
            return False
        return (got[1] == 0 and shape == (1, 1)) or (got[1] == 2 and got[2] == shape)
    return accepts


def vector(lo: int, hi: int = MAX_SIGNAL_SIZE, first_nonzero: bool = False):
    """A number or a 1-D (or n×1, 1×n) list or array of ``lo`` to ``hi`` numbers."""
    def accepts(v):
        got = _leaves(v)
        if got is None or not numbers(2, vector=True)(v) or not lo <= len(got[0]) <= hi:
            return False
        return not (first_nonzero and got[0][0] == 0)
    return accepts


def _run_linear(block, steps=3, batch=None):
    d = Diagram("lin")
    d.add("u", Inport(getattr(block, "m", 1))); d.add("b", block); d.add("y", Outport())
    d.chain("u", "b", "y")
    p = d.compile()
    shape = (steps, p.size("u", "y")) if batch is None else (steps, batch, p.size("u", "y"))
    return p.simulate({"u": np.ones(shape)}, backend="interpreter")


def linear_system_cases():
    """DiscreteStateSpace, DiscreteTransferFunction and DiscreteIntegrator: every constructor argument,
    then hand-made ill-shaped, degenerate and unstable systems."""
    one = {"A": [[0.5]], "B": [[1.0]], "C": [[1.0]]}
    for param in "ABC":
        yield from _block_case(DiscreteStateSpace, param, {k: v for k, v in one.items() if k != param},
                               matrix((1, 1)), array=True)
    yield from _block_case(DiscreteStateSpace, "D", one, matrix((1, 1), none_ok=True), array=True)
    yield from _block_case(DiscreteStateSpace, "x0", one, vector(1, 1), array=True)
    tf = {"num": [1.0], "den": [1.0, -0.5]}
    yield from _block_case(DiscreteTransferFunction, "num", {"den": tf["den"]}, vector(1), array=True)
    yield from _block_case(DiscreteTransferFunction, "den", {"num": tf["num"]}, vector(2, first_nonzero=True),
                           array=True)
    yield from _block_case(DiscreteTransferFunction, "den", {"num": [1.0, 0.5]}, vector(1, first_nonzero=True),
                           array=True)
    yield from _block_case(DiscreteTransferFunction, "x0", tf, vector(1, 1), array=True)
    yield from _block_case(DiscreteIntegrator, "K", {}, lambda v: numbers(32)(v) and len(_leaves(v)[0]) == 1,
                           array=True)
    yield from _block_case(DiscreteIntegrator, "Ts", {}, lambda v: finite(lo=0.0)(v) and v > 0)
    yield from _block_case(DiscreteIntegrator, "method", {}, one_of("forward", "backward"))
    yield from _block_case(DiscreteIntegrator, "x0", {}, numbers(2, vector=True), array=True)
    eye, z = np.eye(2), np.zeros
    bad = [
        ("A 2×3", dict(A=z((2, 3)), B=z((2, 1)), C=z((1, 2))), "DiscreteStateSpace A"),
        ("A 0×0", dict(A=z((0, 0)), B=z((0, 1)), C=z((1, 0))), "DiscreteStateSpace A"),
        ("A 3-D", dict(A=z((2, 2, 1)), B=z((2, 1)), C=z((1, 2))), "DiscreteStateSpace A"),
        ("A vector", dict(A=[0.5, 0.5], B=z((2, 1)), C=z((1, 2))), "DiscreteStateSpace A"),
        ("B rows", dict(A=eye, B=z((3, 1)), C=z((1, 2))), "DiscreteStateSpace B"),
        ("B 2×0", dict(A=eye, B=z((2, 0)), C=z((1, 2))), "DiscreteStateSpace B"),
        ("C columns", dict(A=eye, B=z((2, 1)), C=z((1, 3))), "DiscreteStateSpace C"),
        ("C 0×2", dict(A=eye, B=z((2, 1)), C=z((0, 2))), "DiscreteStateSpace C"),
        ("D shape", dict(A=eye, B=z((2, 1)), C=z((1, 2)), D=z((2, 1))), "DiscreteStateSpace D"),
        ("D transposed", dict(A=eye, B=z((2, 3)), C=z((1, 2)), D=z((3, 1))), "DiscreteStateSpace D"),
        ("x0 length", dict(A=eye, B=z((2, 1)), C=z((1, 2)), x0=[1.0, 2.0, 3.0]), "DiscreteStateSpace x0"),
        ("x0 matrix", dict(A=eye, B=z((2, 1)), C=z((1, 2)), x0=eye), "DiscreteStateSpace x0"),
        ("B bool", dict(A=eye, B=np.ones((2, 1), dtype=bool), C=z((1, 2))), "DiscreteStateSpace B"),
        ("C strings", dict(A=eye, B=z((2, 1)), C=[["1", "0"]]), "DiscreteStateSpace C"),
    ]
    for name, kwargs, place in bad:
        yield (f"DiscreteStateSpace({name})", lambda k=kwargs: DiscreteStateSpace(**k), [place], False, None)
    for name, num, den, place in [
        ("den[0]=0", [1.0], [0.0, 1.0], "den"), ("den zeros", [1.0, 2.0], [0.0, 0.0], "den"),
        ("den -0.0", [1.0], [-0.0, 1.0], "den"), ("pure gain", [2.0], [1.0], "den"),
        ("num empty", [], [1.0, 0.5], "num"), ("den empty", [1.0], [], "den"),
        ("num matrix", np.ones((2, 2)), [1.0, 0.5], "num"), ("den nested", [[[1.0, 0.5]]], [1.0, 0.5], "num"),
    ]:
        yield (f"DiscreteTransferFunction({name})", lambda a=num, b=den: DiscreteTransferFunction(a, b),
               [f"DiscreteTransferFunction {place}"], False, None)
    yield ("DiscreteTransferFunction(x0 length)",
           lambda: DiscreteTransferFunction([1.0, 0.5], [1.0, 0.2, 0.1], x0=[0.0, 1.0, 2.0]),
           ["DiscreteTransferFunction x0"], False, None)
    yield ("DiscreteIntegrator(x0 size ≠ input size)",
           lambda: _run_linear_sized(DiscreteIntegrator(x0=[0.0, 1.0]), 3), ["'b'", "u"], False, None)
    # legal but extreme: an unstable system overflows while running, reported at the block
    for name, block in [("unstable A", DiscreteStateSpace([[3.0]], [[1.0]], [[1.0]])),
                        ("unstable den", DiscreteTransferFunction([0.0, 1.0], [1.0, -4.0])),
                        ("huge K·Ts", DiscreteIntegrator(K=1e200, Ts=1e200))]:
        yield (f"simulate({name})", lambda b=block: _run_linear(b, steps=800), ["'b'"], False, None)
    for name, block in [("stable", DiscreteStateSpace([[0.5, 0.1], [0.0, -0.3]], [[1.0], [0.5]], [[1.0, 1.0]])),
                        ("tf num[0]=0", DiscreteTransferFunction([0.0, 1.0], [1.0, 0.5])),
                        ("backward", DiscreteIntegrator(method="backward"))]:
        yield (f"simulate({name})", lambda b=block: _run_linear(b, steps=5, batch=2), [], True, None)


def _run_linear_sized(block, size):
    d = Diagram("lin")
    d.add("u", Inport(size)); d.add("b", block); d.add("y", Outport())
    d.chain("u", "b", "y")
    return d.compile()


def _feedthrough_ok(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return True
    return isinstance(v, (list, tuple, set, frozenset)) and all(
        isinstance(p, (list, tuple)) and tuple(p) == ("u", "y") for p in v)


def _one_finite_output(v) -> bool:
    ys = v if isinstance(v, (list, tuple)) else (v,)
    got = _leaves(ys[0]) if len(ys) == 1 else None
    return got is not None and len(got[0]) == 1 and math.isfinite(got[0][0])


def function_cases():
    """Function(fn, in_sizes, out_sizes, feedthrough), what its callable returns, and register_block_type."""
    from blockloop.io import register_block_type, unregister_block_type

    yield from _block_case(Function, "fn", {}, callable)
    sizes = int_list(1, MAX_SIGNAL_SIZE, single_ok=True)
    for param in ("in_sizes", "out_sizes"):
        yield from _block_case(Function, param, {"fn": np.negative},
                               lambda v: not isinstance(v, np.ndarray) and sizes(v) and (
                                   _is_int(v) or len(v) <= MAX_PORTS))
    yield from _block_case(Function, "feedthrough", {"fn": np.negative}, _feedthrough_ok)
    yield ("Function(in_sizes=10001 ports)", lambda: Function(np.negative, in_sizes=[1] * (MAX_PORTS + 1)),
           ["Function in_sizes"], False, None)
    yield ("Function(feedthrough=[('u', 'z')])", lambda: Function(np.negative, feedthrough=[("u", "z")]),
           ["Function feedthrough"], False, None)

    def run_fn(fn, steps=2):
        d = Diagram("f")
        d.add("u", Inport(1)); d.add("f", Function(fn)); d.add("y", Outport())
        d.chain("u", "f", "y")
        return d.compile().simulate({"u": np.ones((steps, 1))}, backend="interpreter")

    for key, value in API_VALUES.items():  # what the callable returns: one finite number (or a list of it)
        yield (f"Function(returns={key})", lambda v=value: run_fn(lambda u: v), ["Function", "'f'"],
               _one_finite_output(value), None)
    for key, value in API_VALUES.items():
        yield (f"register_block_type(name={key})", lambda v=value: _register(v, _UserGain),
               ["register_block_type"], isinstance(value, str) and value.isidentifier(), None)
        yield (f"register_block_type(cls={key})", lambda v=value: _register("MyType", v),
               ["register_block_type"], False, None)
    for name, cls, valid in [("Gain", _UserGain, False), ("Diagram", _UserGain, False), ("MyGain", Gain, False),
                             ("MyFn", Function, False), ("MyBlock", type(Gain).__mro__[0], False)]:
        yield (f"register_block_type({name}, {getattr(cls, '__name__', cls)})", lambda n=name, c=cls: _register(n, c),
               ["register_block_type"], valid, None)

    def twice(first, second):
        register_block_type(*first)
        try:
            register_block_type(*second)
        finally:
            unregister_block_type(first[0])
            unregister_block_type(second[0])
    yield ("register_block_type(name taken)", lambda: twice(("Taken", _UserGain), ("Taken", _OtherGain)),
           ["register_block_type"], False, None)
    yield ("register_block_type(class twice)", lambda: twice(("One", _UserGain), ("Two", _UserGain)),
           ["register_block_type"], False, None)


class _UserGain(Gain):
    """Test block: a Gain of 2 registered under a user name."""

    def __init__(self):
        super().__init__(2.0)

    def params(self):
        return {}


class _OtherGain(_UserGain):
    """Test block: another class for a name already taken."""


def _register(name, cls):
    from blockloop.io import register_block_type, unregister_block_type

    register_block_type(name, cls)
    if isinstance(name, str):
        unregister_block_type(name)


def diagram_cases():
    """Diagram(name), Diagram.add(name, block), Diagram.connect(src, dst)."""
    for key, value in API_VALUES.items():
        yield (f"Diagram(name={key})", lambda v=value: Diagram(v), ["name"], isinstance(value, str), None)
        ok_name = isinstance(value, str) and value and value.strip() == value and "." not in value
        yield (f"add(name={key})", lambda v=value: Diagram("d").add(v, Gain(1.0)), ["name"], bool(ok_name), None)
        yield (f"add(block={key})", lambda v=value: Diagram("d").add("k", v), ["'k'"], False, None)

        def connect(v=value, end="src"):
            d = accumulator()
            d.graph.remove_edges_from(list(d.graph.in_edges("y", keys=True)))
            return d.connect(v, "y") if end == "src" else d.connect("s", v)

        yield (f"connect(src={key})", connect, [repr(value)[:20], str(value)[:20]], False, None)
        yield (f"connect(dst={key})", lambda v=value: connect(v, "dst"), [repr(value)[:20], str(value)[:20]],
               False, None)
    d = Diagram("a")
    yield ("add(itself)", lambda: d.add("me", d), ["'a'"], False, None)
    yield from sample_time_cases()


def sample_time_cases():
    """``Diagram(name, Ts=…)``, ``diagram.Ts = …`` and a run that takes the diagram's Ts, over :data:`NUMBER_VALUES`."""
    def set_ts(v):
        d = Diagram("d", Ts=0.5)
        try:
            d.Ts = v
        except BlockloopError:
            assert d.Ts == 0.5, "a refused Ts changed the diagram"  # a bare error: judged a failure
            raise
        return d

    def run_with(v):
        d = accumulator()
        d.Ts = v
        return d.simulate({"u": np.ones((3, 1))}, backend="interpreter")

    for key, value in NUMBER_VALUES.items():
        yield f"Diagram(Ts={key})", lambda v=value: Diagram("d", Ts=v), ["'d' Ts"], sample_time(value), _ts_kept(value)
        yield f"diagram.Ts={key}", lambda v=value: set_ts(v), ["'d' Ts"], sample_time(value), _ts_kept(value)
        yield (f"simulate(diagram.Ts={key})", lambda v=value: run_with(v), ["Ts"],
               value is None or positive_time(value), _run_ts(value))


def simulate_cases():
    """Every argument of compile/simulate on the accumulator (input u of size 1, delay z)."""
    prog = accumulator().compile()
    u = np.ones((3, 1))

    def sim(v=None, arg=None, **kwargs):
        return prog.simulate(v if arg == "inputs" else {"u": u}, backend="interpreter", **kwargs)

    for key, value in API_VALUES.items():
        yield (f"compile(dtype={key})", lambda v=value: accumulator().compile(dtype=v), ["dtype"], False, None)
        yield (f"compile(check_finite={key})", lambda v=value: accumulator().compile(check_finite=v),
               ["check_finite"], flag(value), None)
        yield f"simulate(inputs={key})", lambda v=value: sim(v, "inputs"), ["input"], _series(value), None
        yield f"simulate(inputs[u]={key})", lambda v=value: sim({"u": v}, "inputs"), ["'u'"], _series(value), None
        yield (f"simulate(steps={key})", lambda v=value: sim(steps=v), ["steps"],
               value is None or (_is_int(value) and 1 <= value <= 3), None)
        probes_ok = value is None or (isinstance(value, (list, tuple)) and len(value) == 0)
        yield f"simulate(probes={key})", lambda v=value: sim(probes=v), ["probe"], probes_ok, None
        yield (f"simulate(initial_states={key})", lambda v=value: sim(initial_states=v), ["initial_state"],
               value is None or (isinstance(value, dict) and not value), None)
        got = _leaves(value) if numbers(2, min_ndim=1)(value) else None
        x0_ok = got is not None and got[2] in ((1,), (1, 1)) and all(math.isfinite(x) for x in got[0])
        yield (f"simulate(initial_states[z]={key})", lambda v=value: sim(initial_states={"z": v}), ["'z'"], x0_ok,
               None)
        yield f"simulate(check_finite={key})", lambda v=value: sim(check_finite=v), ["check_finite"], flag(value), None
        yield (f"simulate(backend={key})", lambda v=value: prog.simulate({"u": u}, backend=v), ["backend"], False,
               None)
    for key, value in NUMBER_VALUES.items():  # None: the diagram's sample time (the accumulator has none), else 1 s
        yield (f"simulate(Ts={key})", lambda v=value: sim(Ts=v), ["Ts"],
               value is None or positive_time(value), _run_ts(value))


def lstm_cases():
    """lstm_layer/lstm_network/state_space_diagram with wrong objects, LayerWeights and random() arguments."""
    w = NetworkWeights.random(ni=2, nn=2, no=1)
    layer = w.layers[0]
    for key, value in API_VALUES.items():
        yield (f"lstm_layer({key})", lambda v=value: lstm_layer(v), ["weights", "LayerWeights"], False, None)
        yield (f"lstm_network({key})", lambda v=value: lstm_network(v), ["weights", "NetworkWeights"], False, None)
        yield (f"lstm_layer(name={key})", lambda v=value: lstm_layer(layer, name=v), ["name"],
               isinstance(value, str), None)
        yield (f"state_space_diagram({key})", lambda v=value: state_space_diagram(v), ["system"], False, None)
        for arg in ("W", "R", "b", "h0", "c0"):
            kwargs = {k: getattr(layer, k) for k in ("W", "R", "b", "h0", "c0")}
            kwargs[arg] = value
            state_ok = value is None or (numbers(2, vector=True)(value) and len(_leaves(value)[0]) == 2
                                         and all(math.isfinite(x) for x in _leaves(value)[0]))
            yield (f"LayerWeights({arg}={key})", lambda kw=kwargs: LayerWeights(**kw), [f"{arg}:"],
                   arg in ("h0", "c0") and state_ok, None)
        for arg in ("ni", "nn", "no", "n_layers"):
            kwargs = {"ni": 2, "nn": 2, "no": 1, "n_layers": 1, arg: value}
            yield (f"NetworkWeights.random({arg}={key})", lambda kw=kwargs: NetworkWeights.random(**kw), [arg],
                   _is_int(value) and 1 <= value <= 2, None)


def torch_cases():
    """from_torch/to_torch/torch_forward/crosscheck with wrong objects and shapes (needs torch)."""
    import torch

    from blockloop.interop.torch import crosscheck, from_torch, to_torch, torch_forward

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3, num_layers=2, dtype=torch.float64)
    w = NetworkWeights.random(ni=2, nn=2, no=1)
    u = np.ones((4, 2))
    for key, value in API_VALUES.items():
        yield (f"from_torch({key})", lambda v=value: from_torch(v), ["LSTM"], False, None)
        yield (f"from_torch(linear={key})", lambda v=value: from_torch(lstm, v), ["Linear"], value is None, None)
        for arg in ("h0", "c0"):
            yield (f"from_torch({arg}={key})", lambda v=value, a=arg: from_torch(lstm, **{a: v}), [arg],
                   value is None, None)
        yield (f"to_torch({key})", lambda v=value: to_torch(v), ["weights", "NetworkWeights"], False, None)
        yield (f"torch_forward(u={key})", lambda v=value: torch_forward(w, v), ["u:"], False, None)
        yield (f"torch_forward(initial_states={key})", lambda v=value: torch_forward(w, u, initial_states=v),
               ["initial_state"], value is None or (isinstance(value, dict) and not value), None)
        yield (f"crosscheck(tolerance_scale={key})",
               lambda v=value: crosscheck(w, u, tolerance_scale=v, backend="interpreter"), ["tolerance_scale"],
               value is None or (_is_real(value) and 0 < value < math.inf), None)
    yield from tolerance_cases()
    for shape in [(2, 3), (2, 1, 3)]:
        yield (f"from_torch(h0={shape})", lambda s=shape: from_torch(lstm, h0=np.zeros(s)), ["h0"], True, None)
    for shape in [(2, 4, 3), (3, 3), (2, 2), (6,), (2, 3, 1)]:
        yield (f"from_torch(h0={shape})", lambda s=shape: from_torch(lstm, h0=np.zeros(s)), ["h0"], False, None)
    yield ("from_torch(h0=nan)", lambda: from_torch(lstm, h0=np.full((2, 3), np.nan)), ["h0"], False, None)


def tolerance_cases():
    """``rtol``/``atol`` of the LSTM cross-check and of the GRU/RNN one (``torch_rnn``) over :data:`NUMBER_VALUES`."""
    from blockloop.diagrams import GRUNetworkWeights
    from blockloop.interop import torch_rnn
    from blockloop.interop.torch import crosscheck, matlab_norm

    checks = {"crosscheck": (crosscheck, NetworkWeights.random(ni=2, nn=2, no=1, seed=1)),
              "torch_rnn.crosscheck": (torch_rnn.crosscheck, GRUNetworkWeights.random(ni=2, nn=2, no=1, seed=1))}
    u = np.linspace(-1.0, 1.0, 8).reshape(4, 2)

    def kept(value, name):
        def faithful(report):
            norm = matlab_norm(report.results["diagram"]["float64"]["y"])
            want = float(value) * (norm if name == "rtol" else 1.0) if value is not None else None
            got = {k: c.tolerance for k, c in report.comparisons.items()}
            if want is None:  # neither given: the scaled defaults, all positive
                return "" if all(0 < g < math.inf for g in got.values()) else f"default tolerances {got}"
            return "" if all(g == want for g in got.values()) else f"{name}={value!r} gave tolerances {got}"
        return faithful

    for label, (check, weights) in checks.items():
        for name in ("rtol", "atol"):
            for key, value in NUMBER_VALUES.items():
                yield (f"{label}({name}={key})",
                       lambda c=check, w=weights, n=name, v=value: c(w, u, backend="interpreter", **{n: v}),
                       [f"{name}:"], tolerance(value), kept(value, name))


def api_cases(with_torch: bool = True):
    yield from block_cases()
    yield from diagram_cases()
    yield from simulate_cases()
    yield from lstm_cases()
    if with_torch:
        yield from torch_cases()


if __name__ == "__main__":  # pragma: no cover - measuring tool
    import resource
    from collections import Counter

    from reliability_corpus import judge

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # a huge allocation fails instead of swapping

    counts, fails, examples = Counter(), Counter(), []
    for name, action, places, valid, faithful in api_cases():
        out = judge(action, places, faithful, valid)
        group = name.split("(")[0]
        counts[group] += 1
        if out.failed:
            fails[(group, out.kind)] += 1
            examples.append(f"{name}: {out.kind}: {out.detail[:220]}")
    print("cases:", sum(counts.values()), dict(counts))
    print("failed:", sum(fails.values()))
    for k, v in sorted(fails.items()):
        print(" ", k, v)
    for e in examples:
        print("   ", e)
