"""Every library block on the compiled backend: against the interpreter, and against hand-computed equations.

Each block runs in a small diagram, in float64 and float32, without a batch axis, with a small
batch and with a batch large enough (300) to be split into column chunks over threads. Gains,
sums, products, routing, sources and delays must give the interpreter's bits; Sigmoid and Tanh
(own exp, a few ulp) and matrix gains (left-to-right dot products vs BLAS) only its numbers.
"""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import (
    Constant,
    Demux,
    FromArray,
    Gain,
    Inport,
    Mux,
    Outport,
    Probe,
    Product,
    Selector,
    Sigmoid,
    Sum,
    Tanh,
    UnitDelay,
)
from blockloop.compiled.backend import run_plan
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.diagrams.examples import accumulator, gain_feedback
from blockloop.engine.simulate import plan_run

T = 17
DTYPES = ["float64", "float32"]
BATCHES = [None, 3, 300]  # 300 ≥ 2·64 columns: split over threads when the machine has 2+ cores
#: Largest difference allowed where bits may differ, relative to max(1, max |y|).
TOL = {"float64": 1e-12, "float32": 2e-6}


# -- helpers ---------------------------------------------------------------------------------
def signal(rng, steps, batch, n, scale=1.0):
    """Standard normal samples (T, n) or (T, B, n) with a few exact zeros (and a −0.0)."""
    shape = (steps, n) if batch is None else (steps, batch, n)
    x = scale * rng.standard_normal(shape)
    flat = x.reshape(-1)
    flat[:: 7] = 0.0
    flat[3:: 11] = -0.0
    return x


def run_both(program, inputs=None, **kwargs):
    """(compiled Result, interpreter Result) of one program."""
    return (program.simulate(inputs, backend="compiled", **kwargs),
            program.simulate(inputs, backend="interpreter", **kwargs))


def assert_same_layout(rc, ri):
    assert list(rc.outputs) == list(ri.outputs)
    assert list(rc.probes) == list(ri.probes)
    assert rc.batched == ri.batched
    np.testing.assert_array_equal(rc.t, ri.t)
    for name in ri.signals:
        assert rc[name].shape == ri[name].shape, name
        assert rc[name].dtype == ri[name].dtype, name


def assert_bit_identical(rc, ri):
    assert_same_layout(rc, ri)
    for name, ref in ri.signals.items():
        got = rc[name]
        assert np.array_equal(got, ref), f"{name}: max |Δ| = {np.max(np.abs(got - ref))}"
        assert np.array_equal(np.signbit(got), np.signbit(ref)), f"{name}: signs of zeros differ"


def assert_close(rc, ri, dtype):
    assert_same_layout(rc, ri)
    for name, ref in ri.signals.items():
        got = rc[name]
        assert np.all(np.isfinite(got)) and np.all(np.isfinite(ref))
        scale = max(1.0, float(np.max(np.abs(ref))))
        diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
        assert diff <= TOL[dtype] * scale, f"{name}: max |Δ| = {diff:.3g} (scale {scale:.3g})"


def one_block(block, in_sizes, *, out_names=None) -> Diagram:
    """Inports u1…uN of ``in_sizes`` → ``block`` → one Outport per block output."""
    d = Diagram(f"one {block.type_name}")
    for i, n in enumerate(in_sizes, start=1):
        d.add(f"u{i}", Inport(n))
    d.add("b", block)
    for port, name in zip(block.inputs, [f"u{i}" for i in range(1, len(in_sizes) + 1)], strict=True):
        d.connect(name, f"b.{port}")
    for port in block.outputs:
        out = f"y_{port}" if out_names is None else out_names[port]
        d.add(out, Outport())
        d.connect(f"b.{port}", out)
    return d


def feeds(rng, d: Diagram, batch, scale=1.0):
    program = d.compile()
    return {n: signal(rng, T, batch, program.size(n, "y"), scale) for n in program.inputs}


# -- blocks that must be bit-identical -------------------------------------------------------
def exact_cases():
    """(id, diagram factory) of single-block diagrams whose compiled result is bit-identical."""
    cases = [
        ("gain_scalar", lambda: one_block(Gain(-0.75), [3])),
        ("gain_scalar_size1", lambda: one_block(Gain(1.3), [1])),
        ("gain_vector", lambda: one_block(Gain([0.5, -2.0, 0.0, 3.25]), [4])),
        ("gain_vector_size1", lambda: one_block(Gain([-0.1]), [1])),
        ("sum_mixed_signs_3", lambda: one_block(Sum("+-+"), [2, 2, 2])),
        ("sum_leading_minus", lambda: one_block(Sum("-+"), [3, 3])),
        ("sum_all_minus_4", lambda: one_block(Sum("----"), [2, 2, 2, 2])),
        ("sum_5", lambda: one_block(Sum("+-++-"), [3, 3, 3, 3, 3])),
        ("mux_3", lambda: one_block(Mux(3), [1, 3, 2])),
        ("mux_1", lambda: one_block(Mux(1), [2])),
        ("demux_named", lambda: one_block(Demux([1, 2, 1], names=["a", "bb", "c"]), [4])),
        ("demux_default_names", lambda: one_block(Demux([2, 2]), [4])),
        ("selector_repeat_reorder", lambda: one_block(Selector([3, 0, 3, 1, 1]), [4])),
        ("selector_single", lambda: one_block(Selector(2), [3])),
        ("unit_delay_scalar_x0", lambda: one_block(UnitDelay(0.25), [3])),
        ("unit_delay_vector_x0", lambda: one_block(UnitDelay([1.0, -2.0]), [2])),
    ]
    for signs in ["+", "-", "+-", "-+-", "++-+", "+-+-+"]:
        cases.append((f"sum_{signs}", lambda s=signs: one_block(Sum(s), [2] * len(s))))
    for n in range(1, 5):
        cases.append((f"product_{n}", lambda n=n: one_block(Product(n), [3] * n)))
    return cases


EXACT = exact_cases()


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [c[1] for c in EXACT], ids=[c[0] for c in EXACT])
def test_exact_blocks_are_bit_identical(make, dtype, batch):
    d = make()
    rng = np.random.default_rng(len(d.name) + (batch or 0))
    rc, ri = run_both(d.compile(dtype=dtype), feeds(rng, d, batch))
    assert_bit_identical(rc, ri)
    for y in rc.signals.values():
        assert y.dtype == np.dtype(dtype)
        assert y.ndim == (2 if batch is None else 3) and y.shape[:-1] == ((T,) if batch is None else (T, batch))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sources_constant_fromarray_inport_probe_are_bit_identical(dtype, batch):
    rng = np.random.default_rng(5)
    d = Diagram("sources")
    d.add("u", Inport(2))
    d.add("c", Constant([1.5, -0.25, 0.0]))
    shape = (T + 4, 2) if batch is None else (T + 4, batch, 2)  # longer than the run: only T used
    d.add("fa", FromArray(rng.standard_normal(shape)))
    d.add("fa2", FromArray(rng.standard_normal((T, 1))))  # (T, n) data, broadcast over a batch
    d.add("m", Mux(4))
    d.add("p", Probe()); d.add("pc", Probe())
    d.add("y", Outport()); d.add("yu", Outport()); d.add("yc", Outport())
    d.connect("u", "m.u1"); d.connect("c", "m.u2"); d.connect("fa", "m.u3"); d.connect("fa2", "m.u4")
    d.connect("m", "y"); d.connect("u", "yu"); d.connect("c", "yc"); d.connect("fa", "p"); d.connect("c", "pc")
    u = signal(rng, T, batch, 2)
    rc, ri = run_both(d.compile(dtype=dtype), {"u": u}, probes=["m.u3", "fa2"])
    assert_bit_identical(rc, ri)
    assert set(rc.signals) == {"y", "yu", "yc", "p", "pc", "m.u3", "fa2"}
    np.testing.assert_array_equal(rc["yu"], u.astype(dtype))
    np.testing.assert_array_equal(rc["yc"], np.broadcast_to(np.array([1.5, -0.25, 0.0], dtype), rc["yc"].shape))
    fa = d.block("fa").data[:T].astype(dtype)
    np.testing.assert_array_equal(rc["p"], fa)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fromarray_batch_without_inputs_sets_the_batch(dtype):
    rng = np.random.default_rng(8)
    d = Diagram("fa only")
    d.add("fa", FromArray(rng.standard_normal((9, 5, 3))))
    d.add("z", UnitDelay([1.0, 2.0, 3.0]))
    d.add("g", Gain([1.0, -1.0, 0.5]))
    d.add("y", Outport())
    d.chain("fa", "z", "g", "y")
    rc, ri = run_both(d.compile(dtype=dtype))
    assert rc["y"].shape == (9, 5, 3)
    assert_bit_identical(rc, ri)


def test_constant_only_diagram_needs_steps_and_gives_the_constant():
    d = Diagram("const")
    d.add("c", Constant([2.0, -3.0])); d.add("g", Gain(0.5)); d.add("y", Outport())
    d.chain("c", "g", "y")
    rc, ri = run_both(d.compile(), steps=4)
    assert_bit_identical(rc, ri)
    np.testing.assert_array_equal(rc["y"], [[1.0, -1.5]] * 4)


# -- UnitDelay initial states ----------------------------------------------------------------
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x0_kind", ["default", "vector", "batch"])
def test_unit_delay_initial_states(dtype, batch, x0_kind):
    rng = np.random.default_rng(11)
    d = Diagram("delays")
    d.add("u", Inport(3)); d.add("z", UnitDelay(0.5)); d.add("z2", UnitDelay([1.0, 2.0, 3.0]))
    d.add("y", Outport()); d.add("y2", Outport())
    d.chain("u", "z", "y"); d.chain("z", "z2", "y2")
    u = signal(rng, T, batch, 3)
    B = batch or 4
    states = {"default": None,
              "vector": {"z": np.array([-1.0, 0.0, 7.0])},
              "batch": {"z": rng.standard_normal((B, 3)), "z2": rng.standard_normal((B, 3))}}[x0_kind]
    rc, ri = run_both(d.compile(dtype=dtype), {"u": u}, initial_states=states)
    assert_bit_identical(rc, ri)
    # y[0] = x0, y[k] = u[k−1]; y2[0] = x0₂, y2[1] = x0, y2[k] = u[k−2]
    y = rc["y"] if rc.batched else rc["y"][:, None, :]
    uu = np.broadcast_to((u if u.ndim == 3 else u[:, None, :]).astype(dtype), y.shape)
    np.testing.assert_array_equal(y[1:], uu[:-1])
    y2 = rc["y2"] if rc.batched else rc["y2"][:, None, :]
    np.testing.assert_array_equal(y2[2:], uu[:-2])
    if x0_kind == "batch":
        np.testing.assert_array_equal(y[0], states["z"].astype(dtype))
        np.testing.assert_array_equal(y2[0], states["z2"].astype(dtype))
        np.testing.assert_array_equal(y2[1], states["z"].astype(dtype))
    else:
        x0 = np.full(3, 0.5) if x0_kind == "default" else states["z"]
        np.testing.assert_array_equal(y[0], np.broadcast_to(x0.astype(dtype), y[0].shape))
        np.testing.assert_array_equal(y2[0], np.broadcast_to(np.array([1.0, 2.0, 3.0], dtype), y2[0].shape))


def test_batched_initial_state_alone_makes_a_batched_run():
    d = accumulator(2.0)
    x0 = np.array([[1.0], [-1.0], [0.5]])
    u = np.arange(1.0, 6.0)[:, None]
    rc, ri = run_both(d.compile(), {"u": u}, initial_states={"z": x0})
    assert_bit_identical(rc, ri)
    assert rc["y"].shape == (5, 3, 1)
    np.testing.assert_array_equal(rc["y"][:, :, 0], x0[:, 0][None, :] + np.cumsum(u[:, 0])[:, None])


# -- blocks that may differ by a few ulp -----------------------------------------------------
def approx_cases():
    return [
        ("gain_matrix_3x2", lambda: one_block(Gain([[1.0, -0.5], [0.25, 2.0], [0.0, 3.0]]), [2])),
        ("gain_matrix_1x4", lambda: one_block(Gain([[0.1, 0.2, -0.3, 0.4]]), [4])),
        ("gain_matrix_4x1", lambda: one_block(Gain(np.array([[1.5], [-2.0], [0.0], [0.3]])), [1])),
        ("gain_matrix_5x5", lambda: one_block(Gain(np.random.default_rng(0).standard_normal((5, 5))), [5])),
        ("sigmoid", lambda: one_block(Sigmoid(), [4])),
        ("tanh", lambda: one_block(Tanh(), [4])),
    ]


APPROX = approx_cases()


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [c[1] for c in APPROX], ids=[c[0] for c in APPROX])
def test_approximate_blocks_are_close(make, dtype, batch):
    d = make()
    rng = np.random.default_rng(3 + (batch or 0))
    rc, ri = run_both(d.compile(dtype=dtype), feeds(rng, d, batch, scale=3.0))
    assert_close(rc, ri, dtype)


def left_to_right_matvec(K, u, dtype):
    """K·u for u (..., n), each dot product summed left to right from 0 in ``dtype``."""
    K = K.astype(dtype)
    u = u.astype(dtype)
    acc = np.zeros(u.shape[:-1] + (K.shape[0],), dtype=dtype)
    for j in range(K.shape[1]):
        acc = acc + K[:, j] * u[..., j:j + 1]
    return acc


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_gain_is_the_left_to_right_dot_product(dtype, batch):
    K = np.random.default_rng(1).standard_normal((3, 5))
    d = one_block(Gain(K), [5])
    u = signal(np.random.default_rng(2), T, batch, 5)
    y = d.compile(dtype=dtype).simulate({"u1": u}, backend="compiled")["y_y"]
    np.testing.assert_array_equal(y, left_to_right_matvec(K, u, dtype))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_tanh_at_large_inputs_and_zeros(dtype, batch):
    d = Diagram("nl")
    d.add("u", Inport(8)); d.add("s", Sigmoid()); d.add("t", Tanh()); d.add("ys", Outport()); d.add("yt", Outport())
    d.chain("u", "s", "ys"); d.chain("u", "t", "yt")
    special = np.array([800.0, -800.0, 0.0, -0.0, 40.0, -40.0, 1e-8, -1e-300])
    rng = np.random.default_rng(4)
    u = signal(rng, T, batch, 8, scale=5.0)
    even = (np.arange(T) % 2 == 0).reshape((T,) + (1,) * (u.ndim - 1))
    u = np.where(even, special, u)
    rc, ri = run_both(d.compile(dtype=dtype), {"u": u})
    assert_close(rc, ri, dtype)
    even_s, even_t = rc["ys"][::2], rc["yt"][::2]
    if even_s.ndim == 2:
        even_s, even_t = even_s[:, None, :], even_t[:, None, :]
    # exact limits and signed zeros
    assert np.all(even_s[..., 0] == 1.0) and np.all(even_s[..., 1] == 0.0)
    assert np.all(even_s[..., 2] == 0.5) and np.all(even_s[..., 3] == 0.5)
    assert np.all(even_t[..., 0] == 1.0) and np.all(even_t[..., 1] == -1.0)
    assert np.all(even_t[..., 2] == 0.0) and not np.any(np.signbit(even_t[..., 2]))
    assert np.all(even_t[..., 3] == 0.0) and np.all(np.signbit(even_t[..., 3]))
    assert np.all(even_t[..., 4] == 1.0) and np.all(even_t[..., 5] == -1.0)
    if dtype == "float64":
        assert np.all(even_t[..., 6] == 1e-8) and np.all(even_t[..., 7] == -1e-300)


# -- hand-computed difference equations ------------------------------------------------------
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_delay_chain_is_u_two_steps_back(dtype, batch):
    """z⁻¹ z⁻¹: y[0] = x0₂, y[1] = x0₁, y[k] = u[k−2]."""
    d = Diagram("zz")
    d.add("u", Inport(2)); d.add("z1", UnitDelay([3.0, 4.0])); d.add("z2", UnitDelay([-1.0, -2.0]))
    d.add("y", Outport())
    d.chain("u", "z1", "z2", "y")
    u = signal(np.random.default_rng(6), T, batch, 2)
    y = d.compile(dtype=dtype).simulate({"u": u}, backend="compiled")["y"]
    expected = np.empty_like(u)
    expected[0], expected[1], expected[2:] = [-1.0, -2.0], [3.0, 4.0], u[:-2]
    np.testing.assert_array_equal(y, expected.astype(dtype))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_accumulator_is_a_running_sum(dtype, batch):
    """y[k] = u[k] + y[k−1], y[−1] = x0, summed in the program's dtype."""
    u = signal(np.random.default_rng(7), T, batch, 1)
    y = accumulator(0.5).compile(dtype=dtype).simulate({"u": u}, backend="compiled")["y"]
    acc = np.full(u.shape[1:], 0.5, dtype=dtype)
    expected = []
    for uk in u.astype(dtype):
        acc = uk + acc
        expected.append(acc)
    np.testing.assert_array_equal(y, np.array(expected))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gain_feedback_is_first_order_iir(dtype):
    """y[k] = u[k] + K·y[k−1] (examples.gain_feedback), computed here with the same roundings."""
    K = 0.9
    u = signal(np.random.default_rng(9), 40, 4, 1)
    y = gain_feedback(K).compile(dtype=dtype).simulate({"u": u}, backend="compiled")["y"]
    prev = np.zeros(u.shape[1:], dtype=dtype)
    expected = []
    for uk in u.astype(dtype):
        prev = uk + np.asarray(K, dtype=dtype) * prev
        expected.append(prev)
    np.testing.assert_array_equal(y, np.array(expected))


def state_feedback(A, Bm, C) -> Diagram:
    """x[k+1] = A·x[k] + B·u[k], y[k] = C·x[k] + u[k]: matrix gains, a sum and a delay."""
    n, m = Bm.shape
    d = Diagram("ss")
    d.add("u", Inport(m)); d.add("A", Gain(A)); d.add("B", Gain(Bm)); d.add("C", Gain(C))
    d.add("s", Sum("++")); d.add("x", UnitDelay(np.zeros(n))); d.add("out", Sum("++")); d.add("y", Outport())
    d.chain("x", "A"); d.connect("A", "s.u1"); d.chain("u", "B"); d.connect("B", "s.u2"); d.chain("s", "x")
    d.chain("x", "C"); d.connect("C", "out.u1"); d.connect("u", "out.u2"); d.connect("out", "y")
    return d


@pytest.mark.parametrize("batch", BATCHES)
def test_state_space_loop_matches_the_recursion(batch):
    rng = np.random.default_rng(10)
    A = 0.4 * rng.standard_normal((3, 3)); Bm = rng.standard_normal((3, 2)); C = rng.standard_normal((2, 3))
    u = signal(rng, T, batch, 2)
    y = state_feedback(A, Bm, C).compile().simulate({"u": u}, backend="compiled")["y"]
    x = np.zeros(u.shape[1:-1] + (3,))
    expected = []
    for uk in u:
        expected.append(left_to_right_matvec(C, x, np.float64) + uk)
        x = left_to_right_matvec(A, x, np.float64) + left_to_right_matvec(Bm, uk, np.float64)
    np.testing.assert_array_equal(y, np.array(expected))


# -- threads ---------------------------------------------------------------------------------
def mixed_diagram() -> Diagram:
    """Every kind of op in one loop: matrix/vector/scalar gains, sum, product, σ, tanh, routing, delays."""
    rng = np.random.default_rng(12)
    d = Diagram("mixed")
    d.add("u", Inport(3)); d.add("K", Gain(0.5 * rng.standard_normal((4, 3))))
    d.add("z", UnitDelay([0.1, 0.2, 0.3, 0.4]))
    d.add("s", Sum("+-")); d.add("sig", Sigmoid()); d.add("th", Tanh()); d.add("p", Product(2))
    d.add("dm", Demux([1, 3], names=["a", "b"])); d.add("sel", Selector([2, 0, 1, 1]))
    d.add("v", Gain([1.0, -1.0, 0.5, 2.0]))
    d.add("m", Mux(2)); d.add("g", Gain(0.9)); d.add("y", Outport()); d.add("pr", Probe())
    d.chain("u", "K"); d.connect("K", "s.u1"); d.connect("z", "s.u2")
    d.chain("s", "sig"); d.chain("s", "th"); d.connect("sig", "p.u1"); d.connect("th", "p.u2")
    d.chain("p", "dm"); d.connect("dm.b", "sel"); d.chain("sel", "v")
    d.connect("dm.a", "m.u1"); d.connect("dm.b", "m.u2"); d.chain("m", "g")
    d.connect("v", "y"); d.connect("g", "z"); d.connect("th", "pr")
    return d


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [mixed_diagram,
                                  lambda: lstm_network(NetworkWeights.random(3, 4, 2, n_layers=2, seed=1))],
                         ids=["mixed", "lstm2"])
def test_result_does_not_depend_on_the_number_of_threads(make, dtype):
    d = make()
    program = d.compile(dtype=dtype)
    rng = np.random.default_rng(13)
    u = rng.standard_normal((25, 300, program.size("u", "y")))
    probes = [] if "pr" in program.probes else ["lstm1/c_sum.y", "lstm2/sig_f.y"]
    plan = plan_run(program, {"u": u}, probes=probes)
    runs = {threads: run_plan(program, plan, threads=threads) for threads in (1, 2, 3, 7)}
    for threads, trace in runs.items():
        assert trace.keys() == runs[1].keys() == plan.logs.keys()
        for name, arr in trace.items():
            assert arr.shape[:2] == (25, 300) and arr.dtype == np.dtype(dtype)
            assert np.array_equal(arr, runs[1][name]), (threads, name)
    # and every batch column equals that column run alone (chunk edges at 150 for 2 threads)
    for b in (0, 149, 150, 299):
        alone = run_plan(program, plan_run(program, {"u": u[:, b:b + 1]}, probes=probes), threads=1)
        for name, arr in alone.items():
            assert np.array_equal(arr[:, 0], runs[2][name][:, b]), (b, name)


def test_large_batch_through_simulate_equals_threads_1():
    program = mixed_diagram().compile()
    u = np.random.default_rng(14).standard_normal((10, 300, 3))
    res = program.simulate({"u": u}, backend="compiled")
    one = run_plan(program, plan_run(program, {"u": u}), threads=1)
    np.testing.assert_array_equal(res["y"], one["y"])
    np.testing.assert_array_equal(res["pr"], one["pr"])
    assert_close(res, program.simulate({"u": u}, backend="interpreter"), "float64")


# -- run arguments ---------------------------------------------------------------------------
def test_subsystem_port_probes_steps_and_odd_input_arrays():
    program = lstm_network(NetworkWeights.random(2, 3, 1, n_layers=2, seed=2)).compile()
    u = np.random.default_rng(15).standard_normal((8, 5, 2))
    probes = ["lstm1.h", "lstm1/h", "lstm2/c", "lstm1.x", "lstm2/x", "lstm2/c_delay.y", "lstm1/gates.u2"]
    rc, ri = run_both(program, {"u": u}, probes=probes, steps=6)
    assert_close(rc, ri, "float64")
    assert rc["y"].shape == (6, 5, 1) and rc["lstm1.x"].shape == (6, 5, 2)
    np.testing.assert_array_equal(rc["lstm1.x"], u[:6])
    # a non-contiguous view and integer samples are read like the same values in a fresh float array
    view = np.asfortranarray(u)[:, ::-1]
    np.testing.assert_array_equal(program.simulate({"u": view}, backend="compiled")["y"],
                                  program.simulate({"u": np.array(view)}, backend="compiled")["y"])
    ints = np.arange(24).reshape(4, 3, 2) % 3 - 1
    assert_close(*run_both(program, {"u": ints}), "float64")


def test_diagram_without_outputs_logs_only_what_is_probed():
    d = Diagram("no outputs")
    d.add("u", Inport(2)); d.add("g", Gain(2.0)); d.chain("u", "g")
    program = d.compile()
    rc, ri = run_both(program, np.ones((3, 2)))
    assert rc.signals == {} and ri.signals == {}
    rc, ri = run_both(program, np.ones((3, 2)), probes=["g.y"])
    assert_bit_identical(rc, ri)
    np.testing.assert_array_equal(rc["g.y"], np.full((3, 2), 2.0))


def test_a_program_runs_the_same_after_other_batch_sizes_and_dtypes():
    d = mixed_diagram()
    program = d.compile()
    rng = np.random.default_rng(16)
    u1, u2 = rng.standard_normal((12, 3)), rng.standard_normal((12, 200, 3))
    first = program.simulate({"u": u1}, backend="compiled")["y"]
    program.simulate({"u": u2}, backend="compiled")
    d.compile(dtype="float32").simulate({"u": u2}, backend="compiled")
    np.testing.assert_array_equal(program.simulate({"u": u1}, backend="compiled")["y"], first)
