"""The control blocks on the compiled backend against the interpreter: float64 and float32, batch 1 and B > 1.

Saturation, DeadZone, Abs, Switch, MinMax, MatrixProduct, the sources and MathFunction's sqrt,
square and reciprocal must give the interpreter's bits (same comparisons, correctly rounded
arithmetic, sums in the same order); MathFunction's exp (blockloop's own), log, sin and cos
(the C library's, where numpy may use its own vectorized versions) must agree to 1e-12 relative
in float64 (2e-6 in float32). Inputs are rounded to multiples of ½ so that kinks, limits,
thresholds and ties are hit exactly.
"""

import warnings

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import (
    Abs,
    DeadZone,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Outport,
    Pulse,
    Ramp,
    Saturation,
    Sine,
    Step,
    Sum,
    Switch,
    UnitDelay,
)

pytest.importorskip("numba")

T = 13
DTYPES = ["float64", "float32"]
BATCHES = [None, 3, 300]  # 300: split over threads when the machine has 2+ cores
TOL = {"float64": 1e-12, "float32": 2e-6}


def one_block(block, in_sizes) -> Diagram:
    d = Diagram(f"one {block.type_name}")
    d.add("b", block)
    for port, n in zip(block.inputs, in_sizes, strict=True):
        d.add(f"in_{port}", Inport(n))
        d.connect(f"in_{port}", f"b.{port}")
    d.add("y", Outport())
    d.connect("b", "y")
    return d


def feeds(d: Diagram, batch, seed, transform=None):
    """Inputs rounded to multiples of ½ (kinks and ties hit exactly), with −0.0 among the zeros."""
    rng = np.random.default_rng(seed)
    program = d.compile()
    out = {}
    for name in program.inputs:
        n = program.size(name, "y")
        x = np.round(2 * rng.standard_normal((T, n) if batch is None else (T, batch, n))) / 2
        x.reshape(-1)[1::5] *= -1.0  # some −0.0 where x was 0
        x.reshape(-1)[2::9] = -0.0
        out[name] = x if transform is None else transform(x)
    return out


def run_both(d: Diagram, dtype, inputs):
    program = d.compile(dtype=dtype)
    return (program.simulate(inputs, backend="compiled", check_finite=False),
            program.simulate(inputs, backend="interpreter", check_finite=False))


def assert_bit_identical(rc, ri):
    for name, ref in ri.signals.items():
        got = rc[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype, name
        np.testing.assert_array_equal(got, ref)
        assert np.array_equal(np.signbit(got), np.signbit(ref)), f"{name}: signs of zeros differ"


EXACT = [
    ("saturation", lambda: one_block(Saturation(-0.5, 1.0), [4])),
    ("saturation_point", lambda: one_block(Saturation(0.0, 0.0), [2])),
    ("dead_zone", lambda: one_block(DeadZone(-0.5, 1.0), [4])),
    ("abs", lambda: one_block(Abs(), [3])),
    ("sqrt", lambda: one_block(MathFunction("sqrt"), [3])),
    ("square", lambda: one_block(MathFunction("square"), [3])),
    ("reciprocal", lambda: one_block(MathFunction("reciprocal"), [3])),
    ("min_2", lambda: one_block(MinMax("min", 2), [3, 3])),
    ("max_4", lambda: one_block(MinMax("max", 4), [2, 2, 2, 2])),
    ("switch_ge", lambda: one_block(Switch(0.5, ">="), [3, 3, 3])),
    ("switch_gt", lambda: one_block(Switch(0.0, ">"), [3, 3, 3])),
    ("switch_nonzero", lambda: one_block(Switch(1.0, "!=0"), [3, 3, 3])),
    ("matrix_2x3x2", lambda: one_block(MatrixProduct(2, 3, 2), [6, 6])),
    ("matrix_1x1x1", lambda: one_block(MatrixProduct(1, 1, 1), [1, 1])),
    ("matrix_3x4x1", lambda: one_block(MatrixProduct(3, 4, 1), [12, 4])),
]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [c[1] for c in EXACT], ids=[c[0] for c in EXACT])
def test_exact_blocks_are_bit_identical(make, dtype, batch):
    d = make()
    inputs = feeds(d, batch, seed=len(d.name))
    if "Product" in d.name:  # not only halves: products and sums that round
        inputs = {k: v + np.random.default_rng(1).standard_normal(v.shape) / 3 for k, v in inputs.items()}
    rc, ri = run_both(d, dtype, inputs)
    assert_bit_identical(rc, ri)
    assert rc["y"].dtype == np.dtype(dtype) and rc["y"].ndim == (2 if batch is None else 3)


def test_the_kinks_were_hit():
    """The rounded inputs do hit limits, thresholds, ties and zeros of both signs."""
    x = feeds(one_block(MinMax("min", 2), [3, 3]), 300, seed=1)
    u1, u2 = x["in_u1"], x["in_u2"]
    assert np.any(u1 == u2) and np.any(u1 == 0.5) and np.any(u1 == -0.5)
    assert np.any((u1 == 0) & np.signbit(u1)) and np.any((u1 == 0) & ~np.signbit(u1))


APPROX = [
    ("exp", None),
    ("log", lambda x: np.abs(x) + 0.125),
    ("sin", lambda x: 7.0 * x),
    ("cos", lambda x: 7.0 * x),
]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function,transform", APPROX, ids=[a[0] for a in APPROX])
def test_transcendental_functions_are_close(function, transform, dtype, batch):
    d = one_block(MathFunction(function), [4])
    rng = np.random.default_rng(3)
    shape = (T, 4) if batch is None else (T, batch, 4)
    x = 3.0 * rng.standard_normal(shape)
    rc, ri = run_both(d, dtype, {"in_u": x if transform is None else transform(x)})
    got, ref = rc["y"].astype(np.float64), ri["y"].astype(np.float64)
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(got - ref) / np.maximum(1.0, np.abs(ref))) <= TOL[dtype]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sources_are_bit_identical(dtype, batch):
    d = Diagram("sources")
    d.add("st", Step(4, -1.0, 2.5)); d.add("rp", Ramp(0.3, 2, 1.0)); d.add("sn", Sine(1.5, 0.07, 0.3, -0.2))
    d.add("pl", Pulse(2.0, 5, 2, 1)); d.add("g", Gain(2.0)); d.add("s", Sum("++--"))
    for name in ("st", "rp", "sn", "pl"):
        d.add(f"y_{name}", Outport()); d.connect(name, f"y_{name}")
    d.add("u", Inport(1)); d.chain("u", "g"); d.connect("g", "s.u1"); d.connect("st", "s.u2")
    d.connect("rp", "s.u3"); d.connect("sn", "s.u4"); d.add("y", Outport()); d.connect("s", "y")
    rng = np.random.default_rng(4)
    u = rng.standard_normal((T, 1) if batch is None else (T, batch, 1))
    rc, ri = run_both(d, dtype, {"u": u})
    assert_bit_identical(rc, ri)
    expected = np.where(np.arange(T) < 4, -1.0, 2.5).astype(dtype)
    np.testing.assert_array_equal(rc["y_st"].reshape(T, -1), np.broadcast_to(expected[:, None], (T, batch or 1)))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_loop_through_every_new_block(dtype, batch):
    """A saturated, dead-zoned feedback loop with a switch, min/max, |·| and a 2×2 matrix product."""
    d = Diagram("loop")
    d.add("u", Inport(4)); d.add("z", UnitDelay([0.1, -0.2, 0.3, 0.4])); d.add("e", Sum("+-"))
    d.add("sat", Saturation(-1.0, 1.0)); d.add("dz", DeadZone(-0.1, 0.2)); d.add("ab", Abs())
    d.add("sw", Switch(0.25, ">")); d.add("mm", MinMax("max", 3)); d.add("mp", MatrixProduct(2, 2, 2))
    d.add("k", Gain(0.9)); d.add("sq", MathFunction("sqrt")); d.add("y", Outport()); d.add("ys", Outport())
    d.connect("u", "e.u1"); d.connect("z", "e.u2"); d.chain("e", "sat", "dz")
    d.chain("dz", "ab"); d.connect("dz", "sw.u1"); d.connect("ab", "sw.control"); d.connect("sat", "sw.u2")
    d.connect("sw", "mm.u1"); d.connect("e", "mm.u2"); d.connect("u", "mm.u3")
    d.connect("mm", "mp.u1"); d.connect("sat", "mp.u2"); d.chain("mp", "k", "z")
    d.connect("mp", "y"); d.chain("ab", "sq", "ys")
    rng = np.random.default_rng(5)
    u = rng.standard_normal((T, 4) if batch is None else (T, batch, 4))
    rc, ri = run_both(d, dtype, {"u": u})
    assert_bit_identical(rc, ri)


def declared(lowering):
    """A Saturation subclass declaring its own rule and a wrong ``lowering``: checked before any kernel runs."""

    class Declared(Saturation):
        def output(self, u, x):
            return super().output(u, x)

        def lowering(self):
            return lowering

    return Declared()


@pytest.mark.parametrize("lowering,why", [
    (("saturation", [1.0, -1.0], ()), "limits"),
    (("saturation", [1.0], ()), "2 parameter(s) expected"),
    (("math_function", None, (7,)), "function code from 0 to 6"),
    (("min_max", None, (0,)), "at least 2 inputs"),
    (("switch", [0.0], (0,)), "op expects 3 input(s)"),
    (("matrix_product", None, (2, 2, 2)), "op expects 2 input(s)"),
])
def test_a_lowering_that_does_not_fit_falls_back_to_the_interpreter(lowering, why):
    from blockloop.blocks import Lowering
    from blockloop.compiled.lowering import uncompiled_blocks

    op, params, ints = lowering
    d = one_block(declared(Lowering(op, None if params is None else np.array(params), ints)), [2])
    assert why in uncompiled_blocks(d.compile())["b"]


# -- extreme but legal parameters: reported the same way by both backends, without numpy warnings --
def _through_tanh(block, n_in: int) -> Diagram:
    """x (1) → block → Tanh → y, or block → Tanh → y for a source: a non-finite value no logged signal shows."""
    from blockloop.blocks import Tanh

    d = Diagram("extreme")
    d.add("b", block)
    d.add("t", Tanh())
    d.add("y", Outport())
    if n_in:
        d.add("x", Inport(1))
        d.connect("x", "b")
    d.chain("b", "t", "y")
    return d


@pytest.mark.parametrize("dtype, block, step", [
    ("float32", Step(1, initial=0.0, final=1e300), 1),           # final overflows float32
    ("float64", Ramp(1e308, start=0), 2),                        # 2·1e308 overflows
    ("float64", Sine(amplitude=1e308, frequency=0.25, bias=1e308), 1),
    ("float64", Sine(frequency=1e308), 0),                       # 2π·f overflows: sin(inf·0) is NaN
    ("float32", Pulse(1e39, period=2, width=1, delay=3), 3),
])
@pytest.mark.parametrize("backend", ["interpreter", "compiled"])
def test_a_source_with_a_non_finite_sample_is_named(dtype, block, step, backend):
    from blockloop.errors import NonFiniteError

    program = _through_tanh(block, 0).compile(dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from numpy on the way
        with pytest.raises(NonFiniteError, match=f"source 'b' \\({type(block).__name__}\\) has a non-finite sample "
                                                 f"at step {step},") as err:
            program.simulate(steps=5, backend=backend)
    assert (err.value.block, err.value.step) == ("b", step)
    y = program.simulate(steps=5, backend=backend, check_finite=False)["y"]  # allowed when asked
    assert y.shape == (5, 1)


@pytest.mark.parametrize("backend", ["interpreter", "compiled"])
def test_a_dead_zone_edge_beyond_float32_is_reported_even_when_hidden(backend):
    """In float32, end = 1e300 is +inf: u − end is −inf without any numpy flag; Tanh then hides it."""
    from blockloop.errors import NonFiniteError

    program = _through_tanh(DeadZone(1e300, 1e300), 1).compile(dtype="float32")
    with pytest.raises(NonFiniteError, match="signal 'b.y' \\(DeadZone\\) became non-finite at step 0"):
        program.simulate({"x": np.zeros((3, 1))}, backend=backend)


@pytest.mark.parametrize("backend", ["interpreter", "compiled"])
def test_limits_beyond_float32_act_as_in_float64(backend):
    """A Saturation or Switch limit beyond float32's range is ±inf there: the same outputs, and no cast warning."""
    u = np.array([[-3e38], [-1.5], [0.0], [2.5], [3e38]])
    for block, n_in in ((Saturation(-1e300, 1e300), 1), (Switch(-1e300, ">="), 3)):
        d = Diagram("wide")
        d.add("b", block)
        d.add("y", Outport())
        d.connect("b", "y")
        feeds = {}
        for j, port in enumerate(block.inputs[:n_in]):
            d.add(f"x{j}", Inport(1))
            d.connect(f"x{j}", f"b.{port}")
            feeds[f"x{j}"] = u if j % 2 == 0 else u[::-1]
        want = d.compile().simulate(feeds, backend="interpreter")["y"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = d.compile(dtype="float32").simulate(feeds, backend=backend)["y"]
        np.testing.assert_array_equal(got, want.astype(np.float32))
