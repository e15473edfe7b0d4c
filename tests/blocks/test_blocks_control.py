"""The control blocks against hand-computed values: non-smooth blocks, MathFunction, MatrixProduct, sources.

Each rule is checked on numbers worked out by hand (or by the ``math`` module), its feedthrough
is asserted, and each adjoint's value at and around the kinks is checked against the documented
subgradient. Both backends run every diagram-level case.
"""

import math

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import (
    Abs,
    DeadZone,
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
    Switch,
)
from blockloop.errors import NonFiniteError, ParameterError

BACKENDS = ("compiled", "interpreter")
NAN, INF = float("nan"), float("inf")


def row(*values):
    return np.array([values], dtype=np.float64)


def run(block, *inputs, backend="interpreter"):
    """``block`` alone in a diagram, fed the given (T, n) inputs; its output (T, n)."""
    d = Diagram("one")
    d.add("b", block)
    for port, u in zip(block.inputs, inputs, strict=True):
        d.add(f"in_{port}", Inport(u.shape[-1]))
        d.connect(f"in_{port}", f"b.{port}")
    d.add("y", Outport())
    d.connect("b", "y")
    feeds = {f"in_{port}": u for port, u in zip(block.inputs, inputs, strict=True)}
    return d.compile().simulate(feeds, backend=backend, check_finite=False, steps=None if inputs else 8)["y"]


def grad_u(block, *inputs):
    """The input cotangents of ``output_vjp`` for a cotangent of ones."""
    y = block.output(inputs, None)
    gu, gx, gp = block.output_vjp(inputs, None, y, (np.ones_like(y[0]),))
    assert gx is None and gp == {}
    return gu


# -- Saturation --------------------------------------------------------------------------------
SAT_U = row(-2.0, -1.0, -0.5, 0.0, -0.0, 0.3, 1.0, 1.5, NAN, INF, -INF)


@pytest.mark.parametrize("backend", BACKENDS)
def test_saturation_clips_to_the_limits(backend):
    y = run(Saturation(-1.0, 1.0), SAT_U, backend=backend)
    np.testing.assert_array_equal(y, row(-1.0, -1.0, -0.5, 0.0, -0.0, 0.3, 1.0, 1.0, NAN, 1.0, -1.0))
    assert np.signbit(y[0, 4])  # −0 inside the limits passes unchanged


def test_saturation_subgradient_is_one_on_the_closed_interval():
    (g,) = grad_u(Saturation(-1.0, 1.0), SAT_U)
    np.testing.assert_array_equal(g, row(0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0))


def test_saturation_parameters():
    assert Saturation(-1, 2).feedthrough() == {("u", "y")}
    assert Saturation(0.5, 0.5).params() == {"lower": 0.5, "upper": 0.5}
    with pytest.raises(ParameterError, match="lower ≤ upper"):
        Saturation(1.0, -1.0)
    for bad in (True, "1", None, NAN, INF, [1.0]):
        with pytest.raises(ParameterError, match="Saturation upper"):
            Saturation(0.0, bad)


# -- DeadZone ----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_zone(backend):
    u = row(-2.0, -0.5, -0.2, 0.0, 0.5, 0.75, 3.0, NAN, -INF)
    y = run(DeadZone(-0.5, 0.5), u, backend=backend)
    np.testing.assert_array_equal(y, row(-1.5, 0.0, 0.0, 0.0, 0.0, 0.25, 2.5, NAN, -INF))
    assert not np.any(np.signbit(y[0, 1:5]))  # the zone's output is +0


def test_dead_zone_subgradient_is_zero_on_the_closed_zone():
    (g,) = grad_u(DeadZone(-0.5, 0.5), row(-2.0, -0.5, -0.2, 0.0, 0.5, 0.75))
    np.testing.assert_array_equal(g, row(1, 0, 0, 0, 0, 1))
    assert DeadZone().feedthrough() == {("u", "y")}
    with pytest.raises(ParameterError, match="start ≤ end"):
        DeadZone(1.0, 0.0)


# -- Abs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_abs(backend):
    y = run(Abs(), row(-3.0, -0.0, 0.0, 2.5, -INF, NAN), backend=backend)
    np.testing.assert_array_equal(y, row(3.0, 0.0, 0.0, 2.5, INF, NAN))
    assert not np.any(np.signbit(y[0, :5]))


def test_abs_subgradient_is_zero_at_zero():
    (g,) = grad_u(Abs(), row(-3.0, -0.0, 0.0, 2.5))
    np.testing.assert_array_equal(g, row(-1, 0, 0, 1))
    assert Abs().feedthrough() == {("u", "y")} and Abs().params() == {}


# -- MathFunction ------------------------------------------------------------------------------
POINTS = (0.25, 1.0, 2.0, 3.5)
REFERENCE = {  # (y, dy/du) from the math module, not from numpy
    "exp": (math.exp, math.exp),
    "log": (math.log, lambda v: 1 / v),
    "sqrt": (math.sqrt, lambda v: 0.5 / math.sqrt(v)),
    "sin": (math.sin, math.cos),
    "cos": (math.cos, lambda v: -math.sin(v)),
    "square": (lambda v: v * v, lambda v: 2 * v),
    "reciprocal": (lambda v: 1 / v, lambda v: -1 / (v * v)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function", sorted(REFERENCE))
def test_math_function_values_and_derivatives(function, backend):
    u = row(*POINTS)
    f, df = REFERENCE[function]
    y = run(MathFunction(function), u, backend=backend)
    np.testing.assert_allclose(y, row(*(f(v) for v in POINTS)), rtol=1e-15)
    (g,) = grad_u(MathFunction(function), u)
    np.testing.assert_allclose(g, row(*(df(v) for v in POINTS)), rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_math_function_outside_the_domain(backend):
    np.testing.assert_array_equal(run(MathFunction("log"), row(0.0, -1.0), backend=backend), row(-INF, NAN))
    np.testing.assert_array_equal(run(MathFunction("sqrt"), row(-1.0, 0.0), backend=backend), row(NAN, 0.0))
    np.testing.assert_array_equal(run(MathFunction("reciprocal"), row(0.0, -0.0), backend=backend), row(INF, -INF))
    np.testing.assert_array_equal(run(MathFunction("exp"), row(800.0, -INF), backend=backend), row(INF, 0.0))


def squashed(function: str, hide) -> Diagram:
    """u → f → (a block that can hide ±inf) → y: e.g. log(0) = −inf is clipped to −1, so y never shows it."""
    d = Diagram("squashed")
    d.add("u", Inport(1)); d.add("lg", MathFunction(function)); d.add("h", hide); d.add("y", Outport())
    d.chain("u", "lg", "h.u1" if hide.type_name == "MinMax" else "h")
    if hide.type_name == "MinMax":
        d.add("c", Inport(1)); d.connect("c", "h.u2")
    d.connect("h", "y")
    return d


@pytest.mark.parametrize("batch", [None, 300])  # 300: chunks on threads on the compiled backend
@pytest.mark.parametrize("function,u0,hide", [
    ("log", 0.0, Saturation(-1.0, 1.0)), ("log", -2.0, Saturation(-1.0, 1.0)), ("exp", 800.0, MinMax("min")),
    ("reciprocal", 0.0, MathFunction("reciprocal")), ("sqrt", -1.0, Saturation(-1.0, 1.0))],
    ids=["log 0", "log negative", "exp overflow", "1 over 0", "sqrt negative"])
def test_math_domain_error_is_reported_by_name_on_both_backends(function, u0, hide, batch):
    program = squashed(function, hide).compile()
    u = np.array([[1.0], [2.0], [u0], [1.0]])
    if batch:
        u = np.repeat(u[:, None, :], batch, axis=1)
        u[2, : batch - 1] = 1.0  # only the last sequence
    feeds = {"u": u, "c": np.zeros_like(u)} if "c" in program.inputs else {"u": u}
    errors = []
    for backend in BACKENDS:
        with pytest.raises(NonFiniteError) as err:
            program.simulate(feeds, backend=backend)
        assert (err.value.block, err.value.port, err.value.step) == ("lg", "y", 2)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert "signal 'lg.y' (MathFunction) became non-finite at step 2" in errors[0]
    y = program.simulate(feeds, backend="compiled", check_finite=False)["y"]
    if u0 < 0:  # log and √ of a negative number are NaN, which is passed on
        assert np.isnan(y[2]).any() and np.isfinite(y[[0, 1, 3]]).all()
    else:  # ±inf: clipped, dropped by the min, or 1/inf = 0 — no logged signal shows it
        assert np.isfinite(y).all()


def test_math_function_is_a_closed_list():
    assert MathFunction("sin").feedthrough() == {("u", "y")}
    for bad in ("tan", "np.exp", "__import__('os')", np.exp, None, "EXP"):
        with pytest.raises(ParameterError, match="MathFunction function: expected one of"):
            MathFunction(bad)


# -- MinMax ------------------------------------------------------------------------------------
MM_U = (row(1.0, 2.0, 3.0, NAN, 1.0, 0.0), row(0.0, 2.0, 4.0, 1.0, NAN, -0.0), row(5.0, 2.0, -1.0, 0.0, 7.0, 0.0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function,expected", [("min", row(0.0, 2.0, -1.0, NAN, NAN, 0.0)),
                                                ("max", row(5.0, 2.0, 4.0, NAN, NAN, 0.0))])
def test_min_max(function, expected, backend):
    y = run(MinMax(function, 3), *MM_U, backend=backend)
    np.testing.assert_array_equal(y, expected)
    assert not np.signbit(y[0, 5])  # 0 and −0 tie: the first input (u1's +0) is kept


@pytest.mark.parametrize("function,selected", [("min", [1, 0, 2, 0, 1, 0]), ("max", [2, 0, 1, 0, 1, 0])])
def test_min_max_gradient_goes_to_the_first_selected_input(function, selected):
    grads = grad_u(MinMax(function, 3), *MM_U)
    for j, g in enumerate(grads):
        np.testing.assert_array_equal(g[0], [1.0 if s == j else 0.0 for s in selected])


def test_min_max_parameters():
    assert MinMax("max", 2).feedthrough() == {("u1", "y"), ("u2", "y")}
    with pytest.raises(ParameterError):
        MinMax("median")
    with pytest.raises(ParameterError):
        MinMax("min", 1)


# -- Switch ------------------------------------------------------------------------------------
SW_CONTROL = row(-1.0, 0.0, 0.5, 1.0, NAN, -0.0)
SW_U1, SW_U2 = row(1.0, 2.0, 3.0, 4.0, 5.0, 6.0), row(-1.0, -2.0, -3.0, -4.0, -5.0, -6.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threshold,criterion,passes", [
    (0.5, ">=", [0, 0, 1, 1, 0, 0]),
    (0.5, ">", [0, 0, 0, 1, 0, 0]),
    (0.0, ">=", [0, 1, 1, 1, 0, 1]),  # −0 ≥ 0
    (7.0, "!=0", [1, 0, 1, 1, 1, 0]),  # threshold unused; NaN ≠ 0
])
def test_switch_criteria(threshold, criterion, passes, backend):
    block = Switch(threshold, criterion)
    y = run(block, SW_U1, SW_CONTROL, SW_U2, backend=backend)
    np.testing.assert_array_equal(y, np.where(np.array(passes, bool), SW_U1, SW_U2))
    g1, gc, g2 = grad_u(block, SW_U1, SW_CONTROL, SW_U2)
    np.testing.assert_array_equal(g1[0], passes)
    np.testing.assert_array_equal(g2[0], [1 - p for p in passes])
    assert gc is None


def test_switch_parameters():
    assert Switch().inputs == ("u1", "control", "u2")
    assert Switch().feedthrough() == {("u1", "y"), ("control", "y"), ("u2", "y")}
    with pytest.raises(ParameterError, match="criterion"):
        Switch(0.0, "u2 >= Threshold")


# -- MatrixProduct -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_matrix_product_of_a_2x3_and_a_3x2(backend):
    # U1 = [[1, 2, 3], [4, 5, 6]], U2 = [[7, 8], [9, 10], [11, 12]] → [[58, 64], [139, 154]]
    y = run(MatrixProduct(2, 3, 2), row(1, 2, 3, 4, 5, 6), row(7, 8, 9, 10, 11, 12), backend=backend)
    np.testing.assert_array_equal(y, row(58, 64, 139, 154))


def test_matrix_product_adjoint_by_hand():
    # gY = ones(2, 2): gU1[i, l] = Σ_j U2[l, j], gU2[l, j] = Σ_i U1[i, l]
    g1, g2 = grad_u(MatrixProduct(2, 3, 2), row(1, 2, 3, 4, 5, 6), row(7, 8, 9, 10, 11, 12))
    np.testing.assert_array_equal(g1, row(15, 19, 23, 15, 19, 23))
    np.testing.assert_array_equal(g2, row(5, 5, 7, 7, 9, 9))


def test_matrix_product_sizes():
    b = MatrixProduct(2, 3, 4)
    assert b.declared_input_sizes() == {"u1": 6, "u2": 12} and b.output_sizes({}) == {"y": 8}
    assert b.feedthrough() == {("u1", "y"), ("u2", "y")}
    d = Diagram("bad")
    d.add("a", Inport(5)); d.add("c", Inport(12)); d.add("p", b); d.add("y", Outport())
    d.connect("c", "p.u2"); d.connect("p", "y")
    with pytest.raises(Exception, match="size"):
        d.connect("a", "p.u1")
        d.compile()
    with pytest.raises(ParameterError):
        MatrixProduct(0, 1, 1)


# -- sources -----------------------------------------------------------------------------------
SOURCES = [
    (Step(3, 1.0, 5.0), [1, 1, 1, 5, 5, 5, 5, 5]),
    (Step(0, 1.0, 5.0), [5] * 8),
    (Ramp(0.5, 2, 1.0), [1, 1, 1, 1.5, 2, 2.5, 3, 3.5]),
    (Ramp(-2.0, 0, 0.0), [0, -2, -4, -6, -8, -10, -12, -14]),
    (Pulse(2.0, 4, 1, 1), [0, 2, 0, 0, 0, 2, 0, 0]),
    (Pulse(1.5, 3, 2, 0), [1.5, 1.5, 0, 1.5, 1.5, 0, 1.5, 1.5]),
    (Pulse(1.0, 2, 0, 0), [0] * 8),
    (Pulse(1.0, 2, 2, 3), [0, 0, 0, 1, 1, 1, 1, 1]),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("source,expected", SOURCES, ids=[repr(s) for s, _ in SOURCES])
def test_sources_by_hand(source, expected, backend):
    assert source.feedthrough() == frozenset() and source.inputs == ()
    np.testing.assert_array_equal(run(source, backend=backend)[:, 0], expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sine_four_samples_per_period(backend):
    # bias + A·sin(2π·0.25·k + π/2) = 1 + 2·cos(πk/2): 3, 1, −1, 1, 3, …
    y = run(Sine(2.0, 0.25, math.pi / 2, 1.0), backend=backend)[:, 0]
    np.testing.assert_allclose(y, [3, 1, -1, 1, 3, 1, -1, 1], atol=1e-14)


def test_sources_in_a_batch_and_in_float32():
    s = Sine(1.0, 0.1)
    x = s.samples(5, batch=3, dtype=np.float32)
    assert x.shape == (5, 3, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], x[:, 2])
    np.testing.assert_array_equal(x[:, 1, 0], np.float32([math.sin(2 * math.pi * 0.1 * k) for k in range(5)]))


def test_source_parameters_are_checked():
    for make in (lambda: Step(1.5), lambda: Step(-1), lambda: Ramp(start=True), lambda: Pulse(period=0),
                 lambda: Pulse(period=3, width=4), lambda: Pulse(delay=-1), lambda: Sine(frequency="1"),
                 lambda: Sine(amplitude=INF)):
        with pytest.raises(ParameterError):
            make()


# -- pictures ----------------------------------------------------------------------------------
def test_glyphs_name_each_block():
    from blockloop.viz.style import glyph

    texts = {Saturation(): "sat", DeadZone(): "dead zone", Abs(): "|u|", Switch(): "switch", MinMax("max"): "max",
             MathFunction("sqrt"): "√u", MathFunction("reciprocal"): "1/u", MatrixProduct(1, 2, 1): "U₁·U₂",
             Step(): "step", Ramp(): "ramp", Sine(): "sine", Pulse(): "pulse"}
    for block, text in texts.items():
        g = glyph(block)
        assert (g.shape, g.text) == ("box", text), block


def test_a_diagram_of_control_blocks_draws_its_glyphs_as_text(tmp_path):
    pytest.importorskip("matplotlib")
    from blockloop.viz.draw_mpl import save_diagram_image

    d = Diagram("ctl")
    d.add("st", Step(2)); d.add("sat", Saturation()); d.add("ab", Abs()); d.add("ex", MathFunction("exp"))
    d.add("y", Outport())
    d.chain("st", "sat", "ab", "ex", "y")
    svg = save_diagram_image(d, tmp_path / "ctl.svg").read_text()
    for text in ("step", "sat", "|u|", "eᵘ"):
        assert text in svg
