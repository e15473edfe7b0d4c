"""Cotangent aliasing (blockloop.compiled.aliasing): which sums are skipped, and that no gradient changes."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("numba")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import Constant, Demux, Gain, Inport, Outport, Probe, Product, Sum, Tanh, UnitDelay  # noqa: E402
from blockloop.compiled import aliasing  # noqa: E402
from blockloop.compiled import tape as tape_module  # noqa: E402
from blockloop.compiled.tape import Tape  # noqa: E402
from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.engine import gradient  # noqa: E402
from blockloop.engine.simulate import plan_run  # noqa: E402


def _tape(program, inputs, targets=("y",)):
    return Tape(program, plan_run(program, inputs, probes=[t for t in targets if t != "y"] or None), list(targets))


def _skipped(tape) -> set[str]:
    return {tape.low.op_blocks[o] for o, (_, skip) in enumerate(tape.g_rows) if skip}


def _reads_from(tape, block: str) -> int:
    o = tape.low.op_blocks.index(block)
    return int(tape.g_rows[o, 0])


def _with_bias(weights: NetworkWeights) -> NetworkWeights:
    return dataclasses.replace(weights, F_bias=np.full(weights.F.shape[0], 0.25))


def test_the_lstm_sums_are_skipped_and_their_inputs_read_the_sum_rows():
    program = lstm_network(_with_bias(NetworkWeights.random(ni=2, nn=3, no=1, n_layers=2))).compile()
    tape = _tape(program, {"u": np.zeros((4, 2))})
    assert _skipped(tape) == {"lstm1/gates", "lstm1/c_sum", "lstm2/gates", "lstm2/c_sum", "fc"}
    for layer in ("lstm1", "lstm2"):
        gates = tape.low.rows[(f"{layer}/gates", "y")][0]
        assert _reads_from(tape, f"{layer}/W") == _reads_from(tape, f"{layer}/R") == gates
        cell = tape.low.rows[(f"{layer}/c_sum", "y")][0]
        assert _reads_from(tape, f"{layer}/f_c") == _reads_from(tape, f"{layer}/i_g") == cell
    bias_rows = {int(row): int(grow) for row, _, grow in tape.const_rows}
    assert bias_rows[tape.low.rows[("lstm1/b", "y")][0]] == tape.low.rows[("lstm1/gates", "y")][0]


def _sum_of(signs: str, feeds) -> Diagram:
    """x → gains a, b → Sum(signs) → y, with ``feeds`` extra wiring for the case under test."""
    d = Diagram("s")
    d.add("x", Inport(2))
    d.add("a", Gain(1.5))
    d.add("b", Gain(-0.5))
    d.add("s", Sum(signs))
    d.add("y", Outport())
    d.connect("x", "a")
    d.connect("x", "b")
    d.connect("a", "s.u1")
    d.connect("b", "s.u2")
    d.connect("s", "y")
    feeds(d)
    return d


CASES = {
    "plain": ("++", lambda d: None, True),
    "a minus sign": ("+-", lambda d: None, False),
    "an input read twice": ("++", lambda d: (d.add("t", Tanh()), d.connect("a", "t"), d.add("y2", Outport()),
                                            d.connect("t", "y2")), False),
    "an input into a delay": ("++", lambda d: (d.add("z", UnitDelay(0.0)), d.connect("a", "z"), d.add("y2", Outport()),
                                              d.connect("z", "y2")), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_which_sums_alias(case):
    signs, feeds, aliased = CASES[case]
    program = _sum_of(signs, feeds).compile()
    tape = _tape(program, {"x": np.zeros((3, 2))})
    assert (_skipped(tape) == {"s"}) is aliased


def test_a_loss_target_keeps_its_own_rows():
    program = _sum_of("++", lambda d: None).compile()
    tape = _tape(program, {"x": np.zeros((3, 2))}, targets=("y", "a.y"))
    assert _skipped(tape) == set()


def test_a_demux_view_and_a_state_are_not_aliased():
    d = Diagram("v")
    d.add("x", Inport(4))
    d.add("split", Demux([2, 2]))
    d.add("z", UnitDelay(0.0))
    d.add("s", Sum("++"))
    d.add("t", Sum("++"))
    d.add("y", Outport())
    d.add("y2", Outport())
    d.connect("x", "split")
    d.connect("split.y1", "s.u1")
    d.connect("split.y2", "s.u2")
    d.connect("s", "z")
    d.connect("z", "t.u1")
    d.connect("s", "t.u2")
    d.connect("t", "y")
    d.connect("split.y1", "y2")
    tape = _tape(d.compile(), {"x": np.zeros((3, 4))})
    assert _skipped(tape) == set()


def test_nested_sums_chain_to_the_outer_rows():
    d = Diagram("n")
    d.add("x", Inport(3))
    d.add("a", Gain(2.0))
    d.add("b", Gain(3.0))
    d.add("c", Constant([1.0, 2.0, 3.0]))
    d.add("inner", Sum("++"))
    d.add("outer", Sum("++"))
    d.add("y", Outport())
    d.connect("x", "a")
    d.connect("x", "b")
    d.connect("a", "inner.u1")
    d.connect("b", "inner.u2")
    d.connect("inner", "outer.u1")
    d.connect("c", "outer.u2")
    d.connect("outer", "y")
    tape = _tape(d.compile(), {"x": np.zeros((3, 3))})
    outer = tape.low.rows[("outer", "y")][0]
    assert _skipped(tape) == {"inner", "outer"}
    assert _reads_from(tape, "a") == _reads_from(tape, "b") == outer
    assert int(tape.const_rows[0, 2]) == outer


def _unaliased(low, program, cotan_rows):
    g_rows, const_rows = aliasing.cotangent_rows(low, program, cotan_rows)
    g_rows[:, 0], g_rows[:, 1], const_rows[:, 2] = low.code[:, 1], 0, const_rows[:, 0]
    return g_rows, const_rows


def _feedback_mix() -> Diagram:
    """Sums everywhere: aliased ones (gains → sum, constant + product), a skipped nested one, a
    minus sign, a loop through a delay, a probe on a sum input."""
    d = Diagram("mix")
    d.add("x", Inport(3))
    d.add("k1", Gain(np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6], [0.2, 0.1, 0.7]])))
    d.add("k2", Gain(0.8))
    d.add("bias", Constant([0.1, -0.2, 0.3]))
    d.add("pre", Sum("+++"))
    d.add("act", Tanh())
    d.add("z", UnitDelay(0.0))
    d.add("fb", Gain(0.5))
    d.add("p", Product(2))
    d.add("diff", Sum("+-"))
    d.add("probe", Probe())
    d.add("y", Outport())
    d.connect("x", "k1")
    d.connect("z", "k2")
    d.connect("k1", "pre.u1")
    d.connect("k2", "pre.u2")
    d.connect("bias", "pre.u3")
    d.connect("pre", "act")
    d.connect("act", "z")
    d.connect("act", "fb")
    d.connect("fb", "p.u1")
    d.connect("x", "p.u2")
    d.connect("p", "diff.u1")
    d.connect("act", "diff.u2")
    d.connect("diff", "y")
    d.connect("fb", "probe")
    return d


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("which", ["lstm", "mix"])
def test_gradients_are_bit_for_bit_those_without_aliasing(which, batch, monkeypatch):
    rng = np.random.default_rng(3)
    if which == "lstm":
        program = lstm_network(_with_bias(NetworkWeights.random(ni=2, nn=4, no=2, n_layers=2))).compile()
        inputs, n_out = {"u": rng.standard_normal((40, batch, 2))}, 2
        params = ["lstm1/W.K", "lstm1/R.K", "lstm1/b.value", "lstm2/R.K", "F.K", "F_bias.value", "lstm1/c_delay.x0"]
    else:
        program = _feedback_mix().compile()
        inputs, n_out = {"x": rng.standard_normal((40, batch, 3))}, 3
        params = ["k1.K", "k2.K", "bias.value", "fb.K", "z.x0"]
    assert set(params) <= set(program.parameters())
    targets = {"y": rng.standard_normal((40, batch, n_out))}
    with_aliasing = gradient(program, inputs, targets, params, backend="compiled")
    assert _skipped(_tape(program, inputs)), "the case must alias something"
    monkeypatch.setattr(tape_module, "cotangent_rows", _unaliased)
    without = gradient(program, inputs, targets, params, backend="compiled")
    assert with_aliasing.loss == without.loss
    for path in params:
        assert np.array_equal(with_aliasing.grads[path], without.grads[path]), path


def test_whole_epochs_are_bit_for_bit_those_without_aliasing(monkeypatch):
    """The fused epochs (fit_kernel.fit_epochs) pass the aliasing to the reverse sweep too."""
    from blockloop.autodiff import fit
    from blockloop.study.training import TrainingOptions

    rng = np.random.default_rng(5)
    w = NetworkWeights.random(2, 3, 1, n_layers=2, seed=4)
    program = lstm_network(dataclasses.replace(w, F_bias=np.array([0.1]))).compile()
    u = rng.standard_normal((30, 2, 2))
    y = {"y": np.sin(np.cumsum(u[..., :1], axis=0))}
    paths = [f"lstm{k}/{q}" for k in (1, 2) for q in ("W.K", "R.K", "b.value")] + ["F.K", "F_bias.value"]
    opts = TrainingOptions(lr0=0.01, epochs=25, grad_threshold=1.0)
    assert _skipped(_tape(program, {"u": u}))
    a = fit(program, u, y, paths, opts, backend="compiled")
    monkeypatch.setattr(tape_module, "cotangent_rows", _unaliased)
    b = fit(program, u, y, paths, opts, backend="compiled")
    assert np.array_equal(a.loss, b.loss)
    assert all(np.array_equal(a.values[q], b.values[q]) for q in paths)
