"""bdsim export: the same diagrams simulated by bdsim 1.4 match blockloop (LSTM ≤ 1e-12, small
diagrams exactly by hand), the bdsim behaviours the exporter relies on still hold, and errors are clear."""

import contextlib
import doctest
import io
import json
import subprocess
import sys

import numpy as np
import pytest

bdsim = pytest.importorskip("bdsim", reason="bdsim not installed: pip install 'blockloop[bdsim]'")

import blockloop.interop.bdsim as bdsim_export  # noqa: E402
from blockloop import Diagram, ParameterError, SimulationError  # noqa: E402
from blockloop.blocks import (  # noqa: E402
    Block,
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
from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_network  # noqa: E402
from blockloop.diagrams.examples import accumulator  # noqa: E402
from blockloop.interop.bdsim import crosscheck_bdsim, simulate_bdsim, to_bdsim  # noqa: E402

RNG = np.random.default_rng(7)


def _diff_norm(a, b):
    d = np.asarray(a) - np.asarray(b)
    return float(np.linalg.norm(d.reshape(d.shape[0], -1), 2))


# -- LSTM ------------------------------------------------------------------------------------
def test_lstm_one_layer_matches_blockloop_to_1e12():
    net = lstm_network(NetworkWeights.random(ni=1, nn=5, no=1, seed=0))
    u = RNG.standard_normal((51, 1))
    ours = net.simulate({"u": u}, Ts=0.1)
    theirs = simulate_bdsim(net, {"u": u}, Ts=0.1)
    assert theirs["y"].shape == (51, 1)
    np.testing.assert_allclose(theirs.t, ours.t)
    assert _diff_norm(ours["y"], theirs["y"]) <= 1e-12
    # not trivially equal: the output moves by far more than the tolerance
    assert np.ptp(ours["y"]) > 1e-2


def test_lstm_two_layers_batch_of_two_rows_and_gate_probes():
    w = NetworkWeights.random(ni=2, nn=3, no=2, n_layers=2, seed=1)
    net = lstm_network(w)
    u = RNG.standard_normal((21, 2, 2))
    probes = ["lstm1/sig_f.y", "lstm2/c_sum.y", "lstm2/h_delay.y"]
    ours = net.simulate({"u": u}, Ts=0.1, probes=probes)
    theirs = simulate_bdsim(net, {"u": u}, Ts=0.1, probes=probes)
    assert theirs.batched and theirs["y"].shape == (21, 2, 2)
    for name in ["y", *probes]:
        assert _diff_norm(ours[name], theirs[name]) <= 1e-12, name
    # the two rows saw different inputs, so they differ; each matches its own blockloop row
    assert not np.allclose(theirs["y"][:, 0], theirs["y"][:, 1])


def test_lstm_per_row_initial_states_reach_bdsim():
    layer = LayerWeights(W=RNG.standard_normal((8, 1)), R=RNG.standard_normal((8, 2)), b=RNG.standard_normal(8))
    net = lstm_network(NetworkWeights(layers=(layer,), F=np.eye(2)))
    u = RNG.standard_normal((11, 2, 1))
    x0 = {"lstm1/h_delay": np.array([[0.5, -0.5], [0.0, 0.9]]), "lstm1/c_delay": np.array([1.0, -2.0])}
    ours = net.simulate({"u": u}, initial_states=x0)
    theirs = simulate_bdsim(net, {"u": u}, initial_states=x0)
    assert _diff_norm(ours["y"], theirs["y"]) <= 1e-12
    assert not np.allclose(theirs["y"][0, 0], theirs["y"][0, 1])


def test_crosscheck_bdsim_report():
    net = lstm_network(NetworkWeights.random(ni=1, nn=5, no=1))
    check = crosscheck_bdsim(net, RNG.standard_normal((31, 1)), Ts=0.1)
    assert check.comparison.ok and check.comparison.norm <= 1e-12
    assert check.runs == 1 and check.run_seconds > 0 and check.us_per_step > 0
    d = check.as_dict()
    assert {"norm", "max_abs", "tolerance", "ok", "run_seconds", "build_seconds", "us_per_step"} <= set(d)
    assert set(d["per_signal"]) == {"y"}


# -- small diagrams, checked by hand -----------------------------------------------------------
def test_accumulator_loop_by_hand():
    u = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    res = simulate_bdsim(accumulator(), {"u": u}, Ts=0.1)
    # y[k] = y[k−1] + u[k], y[−1] = 0: u[0] reaches the output at k = 0 and the state at k = 1
    assert res["y"].ravel().tolist() == [1.0, 3.0, 6.0, 10.0, 15.0]
    np.testing.assert_allclose(res.t, [0.0, 0.1, 0.2, 0.3, 0.4])


def test_accumulator_initial_condition_and_override():
    u = np.ones((3, 1))
    assert simulate_bdsim(accumulator(10.0), u)["y"].ravel().tolist() == [11.0, 12.0, 13.0]
    res = simulate_bdsim(accumulator(10.0), u, initial_states={"z": [-1.0]})
    assert res["y"].ravel().tolist() == [0.0, 1.0, 2.0]


def test_sum_with_minus_signs_by_hand():
    d = Diagram("signs")
    d.add("a", Inport(2))
    d.add("b", Inport(2))
    d.add("c", Constant([0.5, 0.25]))
    d.add("s", Sum("+--"))
    d.add("y", Outport())
    d.connect("a", "s.u1")
    d.connect("b", "s.u2")
    d.connect("c", "s.u3")
    d.connect("s", "y")
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[10.0, 20.0], [30.0, 40.0]])
    y = simulate_bdsim(d, {"a": a, "b": b})["y"]
    np.testing.assert_array_equal(y, [[-9.5, -18.25], [-27.5, -36.25]])


def test_square_matrix_gain_premultiplies_by_hand():
    d = Diagram("square")
    d.add("u", Inport(2))
    d.add("K", Gain([[1.0, 2.0], [0.0, 1.0]]))
    d.add("y", Outport())
    d.chain("u", "K", "y")
    y = simulate_bdsim(d, {"u": [[1.0, 2.0], [3.0, -1.0]]})["y"]
    np.testing.assert_array_equal(y, [[5.0, 2.0], [1.0, -1.0]])  # K·u; u·K would give [1, 4], [3, 5]


def test_product_of_three_inputs_is_elementwise_by_hand():
    d = Diagram("prod3")
    for name in ("a", "b", "c"):
        d.add(name, Inport(3))
    d.add("p", Product(3))
    d.add("y", Outport())
    for i, name in enumerate(("a", "b", "c"), start=1):
        d.connect(name, f"p.u{i}")
    d.connect("p", "y")
    inputs = {"a": [[1.0, 2.0, 3.0]], "b": [[4.0, 5.0, 6.0]], "c": [[-1.0, 0.5, 2.0]]}
    y = simulate_bdsim(d, inputs)["y"]
    np.testing.assert_array_equal(y, [[-4.0, 5.0, 36.0]])  # a dot product would give one number


def test_demux_mux_selector_by_hand():
    d = Diagram("routing")
    d.add("u", Inport(4))
    d.add("split", Demux([1, 3], names=["head", "tail"]))
    d.add("pick", Selector([2, 0, 0]))
    d.add("join", Mux(2))
    d.add("y", Outport())
    d.add("tail", Probe())
    d.connect("u", "split")
    d.connect("split.tail", "pick")
    d.connect("split.tail", "tail")
    d.connect("split.head", "join.u1")
    d.connect("pick", "join.u2")
    d.connect("join", "y")
    res = simulate_bdsim(d, {"u": [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]})
    np.testing.assert_array_equal(res["y"], [[1.0, 4.0, 2.0, 2.0], [5.0, 8.0, 6.0, 6.0]])
    np.testing.assert_array_equal(res.probes["tail"], [[2.0, 3.0, 4.0], [6.0, 7.0, 8.0]])


def test_size_one_signals_through_gains_selector_and_nonlinearities():
    """A size-1 ZOH outputs a Python float in bdsim; every block fed by one must still work."""
    d = Diagram("scalars")
    d.add("src", FromArray(np.array([[0.5], [-1.0], [2.0], [0.0]])))
    d.add("z", UnitDelay(0.25))
    d.add("k", Gain(2.0))
    d.add("kv", Gain([3.0]))
    d.add("km", Gain([[1.0], [-1.0]]))
    d.add("sel", Selector([0, 0]))
    d.add("mix", Gain([[1.0, 0.5, 0.0, 0.0, 2.0, 1.0], [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]]))
    d.add("cat", Mux(4))
    d.add("sig", Sigmoid())
    d.add("th", Tanh())
    d.add("y", Outport())
    d.chain("src", "z", "k")
    d.connect("z", "kv")
    d.connect("z", "km")
    d.connect("z", "sel")
    d.connect("k", "sig")
    d.connect("kv", "th")
    for i, src in enumerate(("km", "sel", "sig", "th"), start=1):
        d.connect(src, f"cat.u{i}")
    d.chain("cat", "mix", "y")
    ours = d.simulate(steps=4)
    theirs = simulate_bdsim(d, steps=4)
    assert _diff_norm(ours["y"], theirs["y"]) <= 1e-14
    z = np.array([0.25, 0.5, -1.0, 2.0])  # the delayed source, by hand
    sig, th = 1 / (1 + np.exp(-2 * z)), np.tanh(3 * z)
    by_hand = np.stack([z - 0.5 * z + 2 * sig + th, -z + z + z], axis=1)
    np.testing.assert_allclose(theirs["y"], by_hand, rtol=0, atol=1e-15)


def test_batched_fromarray_runs_one_simulation_per_row():
    d = Diagram("fromarray")
    d.add("src", FromArray(np.arange(12.0).reshape(3, 2, 2)))
    d.add("g", Gain([[1.0, 1.0]]))
    d.add("y", Outport())
    d.chain("src", "g", "y")
    res = simulate_bdsim(d)
    assert res["y"].shape == (3, 2, 1)
    np.testing.assert_array_equal(res["y"][:, :, 0], [[1.0, 5.0], [9.0, 13.0], [17.0, 21.0]])


def test_model_runs_twice_identically_and_leaves_no_global_clock():
    before = len(bdsim.components.clocklist)
    model = to_bdsim(accumulator(), np.ones((4, 1)), Ts=0.5)
    assert len(bdsim.components.clocklist) == before
    assert set(model.blocks) == {"u", "s", "z", "y"} and model.t_final == pytest.approx(1.75)
    first, second = model.run()["y"], model.run()["y"]
    np.testing.assert_array_equal(first, second)
    assert first.ravel().tolist() == [1.0, 2.0, 3.0, 4.0]


# -- errors ----------------------------------------------------------------------------------
class Doubler(Block):
    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def output(self, u, x):
        return (2 * u[0],)


class MyGain(Gain):
    """A subclass may change the math, so it must not be exported as a plain GAIN."""


@pytest.mark.parametrize("block", [Doubler(), MyGain(2.0)], ids=["custom", "subclass"])
def test_unsupported_block_type_is_named(block):
    d = Diagram("custom")
    d.add("u", Inport(1))
    d.add("odd", block)
    d.add("y", Outport())
    d.chain("u", "odd", "y")
    with pytest.raises(ParameterError, match=r"block 'odd' \((Doubler|MyGain)\) has no bdsim counterpart"):
        to_bdsim(d, np.ones((2, 1)))


def test_batched_to_bdsim_needs_a_row():
    u = np.ones((3, 2, 1))
    with pytest.raises(ParameterError, match="batch of 2 rows.*row=0…1.*simulate_bdsim"):
        to_bdsim(accumulator(), u)
    assert to_bdsim(accumulator(), u, row=1).run()["y"].ravel().tolist() == [1.0, 2.0, 3.0]


def test_bad_sample_time_and_float32_program():
    with pytest.raises(ParameterError, match="Ts: bdsim needs a finite sample time"):
        simulate_bdsim(accumulator(), np.ones((2, 1)), Ts=1e-7)
    with pytest.raises(ParameterError, match="float32; bdsim computes in float64"):
        simulate_bdsim(accumulator().compile(dtype="float32"), np.ones((2, 1)))


@pytest.mark.parametrize("bad", [True, "0.5", 10**400, float("nan")])
def test_a_sample_time_that_is_not_a_number_is_refused(bad):
    """Regression: Ts=True was run as 1 s, "0.5" as 0.5 s, and 10**400 raised a bare OverflowError."""
    with pytest.raises(ParameterError, match="^Ts: expected a finite sample time > 0 in seconds"):
        simulate_bdsim(accumulator(), np.ones((2, 1)), Ts=bad)
    with pytest.raises(ParameterError, match="^Ts: expected a finite sample time > 0 in seconds"):
        to_bdsim(accumulator(), np.ones((2, 1)), Ts=bad)


def test_input_errors_are_blockloops():
    with pytest.raises(SimulationError, match=r"input 'u': expected shape \(T, 1\)"):
        simulate_bdsim(accumulator(), np.ones((2, 3)))


# -- the bdsim 1.4 behaviours the exporter works around -----------------------------------------
def _run_bdsim(build, T):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sim = bdsim.BDSim(banner=False, sysargs=False, graphics=False, animation=False, progress=False,
                          quiet=True, toolboxes=False)
        bd = sim.blockdiagram()
        watch = build(bd)
        bd.compile()
        return sim.run(bd, T=T, watch=watch)


def test_bdsim_clock_without_offset_loses_the_first_input():
    def build(bd):
        clock = bd.clock(1.0)
        src = bd.INTERPOLATE(x=[0.0, 1.0, 2.0, 3.0], y=[[1.0], [2.0], [3.0], [3.0]], time=True, kind="previous")
        s, z = bd.SUM("++"), bd.ZOH(clock, x0=0.0)
        bd.connect(src, s[0])
        bd.connect(z, s[1])
        bd.connect(s, z)
        return [s[0]]

    out = _run_bdsim(build, T=2.0)
    np.testing.assert_allclose(out.t, [0.0, 1.0, 2.0])
    assert np.asarray(out.y).ravel().tolist() == [1.0, 2.0, 5.0]  # u[0] = 1 never reached the ZOH


def test_bdsim_prod_and_gain_are_matrix_products_on_vectors():
    def build(bd):
        a, b = bd.CONSTANT(np.array([1.0, 2.0])), bd.CONSTANT(np.array([3.0, 4.0]))
        prod, gain = bd.PROD("**"), bd.GAIN(np.array([[1.0, 2.0], [0.0, 1.0]]))
        bd.connect(a, prod[0])
        bd.connect(b, prod[1])
        bd.connect(a, gain)
        return [prod[0], gain[0]]

    out = _run_bdsim(build, T=0.1)
    assert np.asarray(out.y)[0].tolist() == [11.0, 1.0, 4.0]  # a·b, then aᵀK (not K·a = [5, 2])


def test_bdsim_function_rejects_a_ufunc():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        bd = bdsim.BDSim(banner=False, sysargs=False, graphics=False, progress=False, quiet=True).blockdiagram()
        with pytest.raises(Exception, match="failed to create block Function"):
            bd.FUNCTION(np.tanh, nin=1)


# -- command line ----------------------------------------------------------------------------
def test_cli_crosscheck_against_bdsim(capsys):
    pytest.importorskip("torch")
    from blockloop.cli import main

    assert main(["crosscheck", "--against", "bdsim", "--json", "--steps", "21", "--batch", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bdsim"]["norm"] <= 1e-12 and out["bdsim"]["runs"] == 2 and out["ok"] is True
    assert main(["crosscheck", "--against", "bdsim", "--steps", "11"]) == 0
    text = capsys.readouterr().out
    assert "blockloop vs bdsim" in text and "µs/step" in text


# -- docs and imports ------------------------------------------------------------------------
def test_docstring_examples_run():
    failures, tried = doctest.testmod(bdsim_export)
    assert tried >= 3 and failures == 0


def test_importing_the_exporter_does_not_import_bdsim_or_torch():
    code = "import sys, blockloop.interop.bdsim; print('bdsim' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
