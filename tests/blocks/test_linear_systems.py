"""DiscreteStateSpace, DiscreteTransferFunction, DiscreteIntegrator against hand-computed difference equations.

Each runs on the interpreter and the compiled backend (same bits: the numpy rules sum
column by column, left to right, as the ops do), in float64 and float32, with and without a
batch; feedthrough follows the parameters; a block without feedthrough closes a loop alone.
"""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import (
    Demux,
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    Gain,
    Inport,
    Outport,
    Sum,
)
from blockloop.errors import AlgebraicLoopError, ParameterError

A = np.array([[0.5, 0.2], [-0.1, 0.7]])
B = np.array([[1.0, 0.0], [0.5, -2.0]])
C = np.array([[1.0, -1.0], [0.25, 0.5], [0.0, 3.0]])
D = np.array([[0.3, 0.0], [0.0, 0.0], [-1.0, 0.5]])
BACKENDS = ("interpreter", "compiled")


def one_block(block, n_in, dtype="float64"):
    d = Diagram("one")
    d.add("u", Inport(n_in))
    d.add("blk", block)
    d.add("y", Outport())
    d.chain("u", "blk", "y")
    return d.compile(dtype=dtype)


def run(program, u, backend):
    return program.simulate({"u": u}, backend=backend)["y"]


def ss_reference(A, B, C, D, x0, u):
    """y[k] = C x[k] + D u[k], x[k+1] = A x[k] + B u[k], per sequence (u: (T, m) or (T, B, m))."""
    u3 = u[:, None, :] if u.ndim == 2 else u
    x = np.broadcast_to(np.asarray(x0, dtype=np.float64), (u3.shape[1], A.shape[0])).copy()
    ys = []
    for k in range(u3.shape[0]):
        ys.append(x @ C.T + u3[k] @ D.T)
        x = x @ A.T + u3[k] @ B.T
    y = np.array(ys)
    return y[:, 0, :] if u.ndim == 2 else y


def tf_reference(num, den, u):
    """den[0] y[k] + den[1] y[k−1] + … = num[0] u[k] + num[1] u[k−1] + … (zero initial conditions)."""
    y = np.zeros(len(u))
    for k in range(len(u)):
        acc = sum(num[i] * u[k - i] for i in range(len(num)) if k - i >= 0)
        acc -= sum(den[i] * y[k - i] for i in range(1, len(den)) if k - i >= 0)
        y[k] = acc / den[0]
    return y


# -- DiscreteStateSpace ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("with_d", [True, False])
def test_state_space_matches_its_difference_equation(backend, batch, with_d):
    rng = np.random.default_rng(0)
    u = rng.standard_normal((12, 2) if batch is None else (12, batch, 2))
    blk = DiscreteStateSpace(A, B, C, D if with_d else None, x0=[0.5, -1.0])
    y = run(one_block(blk, 2), u, backend)
    ref = ss_reference(A, B, C, D if with_d else np.zeros((3, 2)), [0.5, -1.0], u)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-13)
    assert blk.feedthrough() == (frozenset({("u", "y")}) if with_d else frozenset())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", [None, 3, 300])
def test_stateful_blocks_compiled_give_the_interpreters_bits(dtype, batch):
    rng = np.random.default_rng(1)
    cases = [(DiscreteStateSpace(A, B, C, D, x0=[0.5, -1.0]), 2), (DiscreteStateSpace(A, B, C), 2),
             (DiscreteTransferFunction([0.5, 0.2, -0.1], [2.0, -0.4, 0.3], x0=[0.1, -0.2]), 1),
             (DiscreteTransferFunction([0.0, 1.0, 0.5], [1.0, -0.5]), 1),
             (DiscreteIntegrator(1.5, 0.1, "forward", x0=[1.0, -1.0, 2.0]), 3),
             (DiscreteIntegrator(-0.5, 0.25, "backward", x0=0.5), 3)]
    for blk, n in cases:
        program = one_block(blk, n, dtype)
        u = rng.standard_normal((9, n) if batch is None else (9, batch, n))
        yc = program.simulate({"u": u}, backend="compiled")["y"]
        yi = program.simulate({"u": u}, backend="interpreter")["y"]
        assert yc.dtype == np.dtype(dtype)
        assert np.array_equal(yc, yi), (blk, np.max(np.abs(yc - yi)))


def test_state_space_with_zero_d_closes_a_loop_without_a_delay():
    """r → e = r − y → SS(D = 0) → y, fed back: no delay needed, y[k] = C x[k], x[k+1] = A x + B (r − y)."""
    a, b, c = np.array([[0.9, 0.1], [0.0, 0.8]]), np.array([[0.0], [1.0]]), np.array([[1.0, 0.5]])
    d = Diagram("loop")
    d.add("r", Inport(1))
    d.add("e", Sum("+-"))
    d.add("plant", DiscreteStateSpace(a, b, c))
    d.add("y", Outport())
    d.connect("r", "e.u1")
    d.connect("plant", "e.u2")
    d.connect("e", "plant")
    d.connect("plant", "y")
    program = d.compile()
    r = np.sin(0.3 * np.arange(20))[:, None]
    x, ref = np.zeros(2), []
    for k in range(20):
        y = c @ x
        ref.append(y)
        x = a @ x + b @ (r[k] - y)
    for backend in BACKENDS:
        np.testing.assert_allclose(program.simulate({"r": r}, backend=backend)["y"], np.array(ref), atol=1e-14)
    d2 = Diagram("loop")  # with D ≠ 0 the same loop is algebraic
    d2.add("r", Inport(1)); d2.add("e", Sum("+-")); d2.add("plant", DiscreteStateSpace(a, b, c, D=0.1))
    d2.connect("r", "e.u1"); d2.connect("plant", "e.u2"); d2.connect("e", "plant")
    with pytest.raises(AlgebraicLoopError, match="plant.u → plant.y"):
        d2.compile()


def test_state_space_parameters_are_checked():
    with pytest.raises(ParameterError, match="A: expected a square"):
        DiscreteStateSpace([[1.0, 2.0]], [[1.0]], [[1.0]])
    with pytest.raises(ParameterError, match=r"B: expected shape \(2, m\)"):
        DiscreteStateSpace(A, [[1.0]], C)
    with pytest.raises(ParameterError, match=r"C: expected shape \(p, 2\)"):
        DiscreteStateSpace(A, B, [[1.0]])
    with pytest.raises(ParameterError, match=r"D: expected shape \(3, 2\)"):
        DiscreteStateSpace(A, B, C, [[1.0]])
    with pytest.raises(ParameterError, match="x0"):
        DiscreteStateSpace(A, B, C, x0=[1.0, 2.0, 3.0])
    s = DiscreteStateSpace(0.5, 1.0, 2.0)  # scalars are 1×1
    assert (s.n, s.m, s.p) == (1, 1, 1) and s.feedthrough() == frozenset()


def test_making_a_structural_zero_non_zero_is_refused():
    program = one_block(DiscreteStateSpace(A, B, C), 2)
    with pytest.raises(ParameterError, match="change which inputs feed through"):
        program.with_parameters({"blk.D": np.ones((3, 2))})
    program.with_parameters({"blk.A": 0.5 * A})  # not structural


# -- DiscreteTransferFunction ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num,den", [([0.5, 0.2, 0.1], [2.0, -0.4, 0.3]), ([0.0, 1.0], [1.0, -0.5]),
                                     ([1.0, -1.0, 0.25, 0.5], [1.0, 0.3]), ([2.0], [1.0, -0.9, 0.2])],
                         ids=["biquad", "delayed", "long num", "all-pole"])
def test_transfer_function_matches_its_difference_equation(backend, num, den):
    u = np.random.default_rng(2).standard_normal((15, 1))
    blk = DiscreteTransferFunction(num, den)
    y = run(one_block(blk, 1), u, backend)[:, 0]
    np.testing.assert_allclose(y, tf_reference(num, den, u[:, 0]), rtol=0, atol=1e-13)
    assert blk.feedthrough() == (frozenset({("u", "y")}) if num[0] != 0 else frozenset())
    assert blk.state_size({"u": 1}, {"y": 1}) == max(len(num), len(den)) - 1


def test_transfer_function_initial_state_is_the_realizations():
    """y[0] = b0 u[0] + x1[0]; x1[1] = x2[0] + b1 u[0] − a1 y[0] (direct form II transposed)."""
    blk = DiscreteTransferFunction([1.0, 2.0, 3.0], [2.0, 1.0, 0.5], x0=[0.4, -0.6])
    y = run(one_block(blk, 1), np.array([[1.0], [0.0]]), "interpreter")[:, 0]
    b, a = np.array([0.5, 1.0, 1.5]), np.array([1.0, 0.5, 0.25])
    y0 = b[0] * 1.0 + 0.4
    x1 = -0.6 + b[1] * 1.0 - a[1] * y0
    assert y[0] == pytest.approx(y0, abs=1e-15) and y[1] == pytest.approx(x1, abs=1e-15)


def test_transfer_function_without_feedthrough_closes_a_loop():
    """u = r − y, y = z⁻¹·0.5/(1 − 0.5 z⁻¹) u → y[k] = 0.5 y[k−1] + 0.5 (r[k−1] − y[k−1]) = 0.5 r[k−1]."""
    d = Diagram("loop")
    d.add("r", Inport(1)); d.add("e", Sum("+-")); d.add("h", DiscreteTransferFunction([0, 0.5], [1, -0.5]))
    d.add("y", Outport())
    d.connect("r", "e.u1"); d.connect("h", "e.u2"); d.connect("e", "h"); d.connect("h", "y")
    r = np.arange(1.0, 9.0)[:, None]
    for backend in BACKENDS:
        y = d.compile().simulate({"r": r}, backend=backend)["y"][:, 0]
        np.testing.assert_allclose(y, np.concatenate([[0.0], 0.5 * r[:-1, 0]]), atol=1e-15)


def test_transfer_function_parameters_are_checked():
    with pytest.raises(ParameterError, match=r"den\[0\] must not be 0"):
        DiscreteTransferFunction([1.0], [0.0, 1.0])
    with pytest.raises(ParameterError, match="use a Gain"):
        DiscreteTransferFunction([1.0], [2.0])
    with pytest.raises(ParameterError, match="x0"):
        DiscreteTransferFunction([1.0, 0.0, 0.0], [1.0], x0=[1.0, 2.0, 3.0])


# -- DiscreteIntegrator ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["forward", "backward"])
def test_integrator_matches_euler_sums(backend, method):
    u = np.random.default_rng(3).standard_normal((10, 2))
    blk = DiscreteIntegrator(K=2.0, Ts=0.1, method=method, x0=[1.0, -2.0])
    y = run(one_block(blk, 2), u, backend)
    x, ref = np.array([1.0, -2.0]), []
    for k in range(10):  # forward: y = x; backward: y = x + K Ts u; x ← x + K Ts u
        ref.append(x + 0.2 * u[k] if method == "backward" else x.copy())
        x = x + 0.2 * u[k]
    np.testing.assert_allclose(y, np.array(ref), rtol=0, atol=1e-14)
    assert blk.feedthrough() == (frozenset({("u", "y")}) if method == "backward" else frozenset())


def test_forward_integrator_closes_a_loop_and_backward_does_not():
    """y[k+1] = y[k] + Ts·(r − y[k]) with forward Euler: a first-order lag."""
    def loop(method):
        d = Diagram("loop")
        d.add("r", Inport(1)); d.add("e", Sum("+-")); d.add("i", DiscreteIntegrator(Ts=0.25, method=method))
        d.add("y", Outport())
        d.connect("r", "e.u1"); d.connect("i", "e.u2"); d.connect("e", "i"); d.connect("i", "y")
        return d

    r = np.ones((6, 1))
    for backend in BACKENDS:
        y = loop("forward").compile().simulate({"r": r}, backend=backend)["y"][:, 0]
        np.testing.assert_allclose(y, 1 - 0.75 ** np.arange(6), atol=1e-15)
    with pytest.raises(AlgebraicLoopError):
        loop("backward").compile()


def test_integrator_parameters_are_checked():
    with pytest.raises(ParameterError, match="method"):
        DiscreteIntegrator(method="trapezoidal")
    with pytest.raises(ParameterError, match="Ts"):
        DiscreteIntegrator(Ts=0)
    with pytest.raises(ParameterError, match="Ts"):
        DiscreteIntegrator(Ts="1")
    with pytest.raises(ParameterError, match="K: expected a scalar"):
        DiscreteIntegrator(K=[1.0, 2.0])


@pytest.mark.parametrize("kind", ["state_space", "transfer_function", "integrator"])
def test_a_block_without_feedthrough_reads_an_input_placed_after_it(kind):
    """u → Sum ← fb.y; Sum → Demux → fb.u: the block without feedthrough runs before the Demux whose
    output it reads (its rows are known only when the Demux is placed); its next state still reads them."""
    block = {"state_space": DiscreteStateSpace([[0.5]], [[1.0]], [[-0.5]], x0=1.0),
             "transfer_function": DiscreteTransferFunction([0.0, 1.0], [1.0, -0.5], x0=1.0),
             "integrator": DiscreteIntegrator(K=-0.5, x0=1.0)}[kind]
    d = Diagram("late")
    d.add("u", Inport(1)); d.add("m", Gain([[1.0], [2.0]])); d.add("dm", Demux([1, 1])); d.add("fb", block)
    d.add("s", Sum("++")); d.add("y", Outport())
    d.chain("u", "s.u1"); d.chain("fb", "s.u2"); d.chain("s", "m", "dm"); d.connect("dm.y2", "fb"); d.connect("s", "y")
    program = d.compile()
    assert program.order.index("fb") < program.order.index("dm")
    u = np.linspace(-1.0, 1.0, 7)[:, None]
    x, ref = 1.0, []
    for uk in u[:, 0]:  # y = x·c, x' = a·x + b·(2·s): (c, a, b) = (−0.5, 0.5, 1), (1, 0.5, 1), (1, 1, −0.5)
        c, a, b = {"state_space": (-0.5, 0.5, 1.0), "transfer_function": (1.0, 0.5, 1.0),
                   "integrator": (1.0, 1.0, -0.5)}[kind]
        s = uk + c * x
        ref.append(s)
        x = a * x + b * 2 * s
    for backend in BACKENDS:
        np.testing.assert_allclose(program.simulate({"u": u}, backend=backend)["y"][:, 0], ref, rtol=1e-14)


def test_parameters_read_back_as_written():
    """D=None stays None and an integer Ts stays an int (a file's null and 2 are read back as such)."""
    ss = DiscreteStateSpace(0.5, 1.0, 1.0)
    assert ss.params()["D"] is None and np.array_equal(ss.D, [[0.0]])
    assert DiscreteStateSpace(**ss.params()).feedthrough() == frozenset()
    it = DiscreteIntegrator(K=0.5, Ts=2)
    assert type(it.params()["Ts"]) is int and it.params()["Ts"] == 2
    np.testing.assert_array_equal(it.output([np.ones((1, 1))], np.zeros((1, 1)))[0], [[0.0]])
    assert DiscreteIntegrator(Ts=np.float32(0.1)).params()["Ts"] == float(np.float32(0.1))
    with pytest.raises(ParameterError, match="DiscreteIntegrator Ts"):
        DiscreteIntegrator(Ts=10**400)
    with pytest.raises(ParameterError, match="DiscreteIntegrator method"):
        DiscreteIntegrator(method=np.array([True, False]))


def test_gain_in_loop_with_state_space_uses_the_state():
    """Scalar plant x' = 0.5x + u, y = x under u = −0.2·y: x[k] = 0.3^k·x0."""
    d = Diagram("p")
    d.add("plant", DiscreteStateSpace(0.5, 1.0, 1.0, x0=2.0)); d.add("k", Gain(-0.2)); d.add("y", Outport())
    d.chain("plant", "k", "plant"); d.connect("plant", "y")
    for backend in BACKENDS:
        y = d.compile().simulate(steps=5, backend=backend)["y"][:, 0]
        np.testing.assert_allclose(y, 2.0 * 0.3 ** np.arange(5), rtol=1e-15)


def test_file_round_trip_keeps_every_parameter(tmp_path):
    from blockloop.io import load_diagram, save_diagram

    d = Diagram("lin")
    d.add("u", Inport(2))
    d.add("ss", DiscreteStateSpace(A, B, C, D, x0=[0.5, -1.0]))
    d.add("sel", Gain([[1.0, 0.0, 0.0]]))
    d.add("tf", DiscreteTransferFunction([0.0, 1.0, 0.5], [2.0, -0.5], x0=[0.1, 0.2]))
    d.add("i", DiscreteIntegrator(K=0.5, Ts=0.2, method="backward", x0=0.25))
    d.add("y", Outport())
    d.chain("u", "ss", "sel", "tf", "i", "y")
    loaded = load_diagram(save_diagram(d, tmp_path / "lin.json"))
    for name in ("ss", "tf", "i"):
        a, b = d.blocks[name], loaded.blocks[name]
        assert type(a) is type(b)
        for key, value in a.params().items():
            np.testing.assert_array_equal(b.params()[key], value)
    u = np.random.default_rng(4).standard_normal((8, 2))
    np.testing.assert_array_equal(loaded.simulate({"u": u})["y"], d.simulate({"u": u})["y"])


def test_glyphs_show_the_system():
    from blockloop.viz.style import glyph

    assert glyph(DiscreteStateSpace(A, B, C)).text == "Ax+Bu"
    assert glyph(DiscreteTransferFunction([1.0, 0.5], [1.0, -0.5])).text == "B(z)/A(z)"
    assert glyph(DiscreteIntegrator()).text == "KTs/(z−1)"
    assert glyph(DiscreteIntegrator(method="backward")).text == "KTsz/(z−1)"


@pytest.mark.parametrize("block,where", [
    (DiscreteStateSpace([[1e200]], [[1.0]], [[1.0]], x0=1e200), "the state of 'b'"),
    (DiscreteStateSpace([[0.5]], [[1.0]], [[1e200]], x0=1e200), "signal 'b.y'"),
    (DiscreteTransferFunction([1.0, 0.0], [1.0, -1e200], x0=1e200), "the state of 'b'"),
    (DiscreteIntegrator(K=1e300, Ts=1.0), "the state of 'b'"),
], ids=["ss state", "ss output", "tf state", "integrator state"])
def test_an_overflow_is_named_alike_on_both_backends(block, where):
    from blockloop.errors import NonFiniteError

    d = Diagram("o")
    d.add("u", Inport(1)); d.add("b", block); d.add("y", Outport()); d.chain("u", "b", "y")
    program = d.compile()
    messages = []
    for backend in BACKENDS:
        with pytest.raises(NonFiniteError, match=f"{where} .* became non-finite at step 0") as info:
            program.simulate({"u": np.full((4, 1), 1e300)}, backend=backend)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
