"""Fused sibling σ/tanh (blockloop.compiled.fusion): which blocks fuse, and that fusing changes no bit."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from test_mathfn import wide_set  # noqa: E402 - pytest puts this folder on sys.path

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import Demux, Gain, Inport, Outport, Product, Sigmoid, Tanh  # noqa: E402
from blockloop.compiled import lowering as lowering_module  # noqa: E402
from blockloop.compiled import mathfn  # noqa: E402
from blockloop.compiled.fusion import activation_groups  # noqa: E402
from blockloop.compiled.lowering import lower, trusted_lowering  # noqa: E402
from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.engine import gradient  # noqa: E402


@numba.njit(error_model="numpy")
def _fused_all(x, is_tanh):
    y = np.empty_like(x)
    for i in range(x.size):
        y[i] = mathfn.sigmoid_or_tanh(x[i], is_tanh)
    return y


@numba.njit(error_model="numpy")
def _separate_all(x, is_tanh):
    y = np.empty_like(x)
    for i in range(x.size):
        y[i] = mathfn.tanh(x[i]) if is_tanh else mathfn.sigmoid(x[i])
    return y


def _groups(program):
    return activation_groups(program, {n: trusted_lowering(b) for n, b in program.blocks.items()})


def _mixed_demux() -> Diagram:
    """u (8) → Demux [2, 1, 2, 3] → [σ, Gain, tanh, tanh] → products → y: only the last two fuse."""
    d = Diagram("mixed")
    d.add("u", Inport(8))
    d.add("split", Demux([2, 1, 2, 3]))
    d.add("a", Sigmoid())
    d.add("k", Gain(2.0))
    d.add("b", Tanh())
    d.add("c", Tanh())
    d.add("ab", Product(2))
    d.add("y1", Outport())
    d.add("y2", Outport())
    d.add("y3", Outport())
    d.connect("u", "split")
    for port, block in zip(("y1", "y2", "y3", "y4"), ("a", "k", "b", "c"), strict=True):
        d.connect(f"split.{port}", block)
    d.connect("a", "ab.u1")
    d.connect("b", "ab.u2")
    d.connect("ab", "y1")
    d.connect("k", "y2")
    d.connect("c", "y3")
    return d


@pytest.mark.parametrize("subset", list(wide_set()))
def test_fused_kernel_is_bit_for_bit_sigmoid_and_tanh(subset):
    x = np.concatenate([wide_set()[subset], [0.0, -0.0, np.inf, -np.inf, np.nan]])
    for is_tanh in (False, True):
        got, want = _fused_all(x, is_tanh), _separate_all(x, is_tanh)
        assert np.array_equal(got.view(np.int64), want.view(np.int64)), (subset, is_tanh)


def test_the_lstm_gates_fuse_in_gate_order():
    program = lstm_network(NetworkWeights.random(ni=2, nn=3, no=1)).compile()
    assert _groups(program) == [["lstm1/sig_i", "lstm1/sig_f", "lstm1/tanh_g", "lstm1/sig_o"]]
    low = lower(program)
    assert "lstm1/sig_i+lstm1/sig_f+lstm1/tanh_g+lstm1/sig_o" in low.op_blocks
    assert len(low.op_blocks) == 10  # 13 ops, of which 4 became 1
    rows = [low.rows[(f"lstm1/{b}", "y")][0] for b in ("sig_i", "sig_f", "tanh_g", "sig_o")]
    assert np.diff(rows).tolist() == [3, 3, 3]  # consecutive, Nn = 3 rows each


def test_only_consecutive_demux_outputs_feeding_activations_fuse():
    assert _groups(_mixed_demux().compile()) == [["b", "c"]]


@pytest.mark.parametrize("batch", [1, 3])
def test_fusing_changes_no_bit_of_outputs_or_gradients(batch, monkeypatch):
    rng = np.random.default_rng(5)
    w = NetworkWeights.random(ni=2, nn=4, no=2, n_layers=2)
    u = rng.standard_normal((30, batch, 2)) * 3
    target = rng.standard_normal((30, batch, 2))
    params = ["lstm1/W.K", "lstm1/R.K", "lstm2/R.K", "F.K"]

    def run():
        program = lstm_network(w).compile()  # a new program: a new lowering
        sim = program.simulate({"u": u}, backend="compiled", probes=["lstm1/tanh_g.y", "lstm2/sig_o.y"])
        grad = gradient(program, {"u": u}, {"y": target}, params, backend="compiled")
        return sim, grad

    fused_sim, fused_grad = run()
    monkeypatch.setattr(lowering_module, "activation_groups", lambda program, lowerings: [])
    plain_sim, plain_grad = run()
    for name in ("y", "lstm1/tanh_g.y", "lstm2/sig_o.y"):
        assert np.array_equal(fused_sim[name], plain_sim[name]), name
    assert fused_grad.loss == plain_grad.loss
    for path in params:
        assert np.array_equal(fused_grad.grads[path], plain_grad.grads[path]), path


def test_mixed_demux_matches_the_hand_computed_values():
    u = np.linspace(-3, 3, 8 * 4).reshape(4, 8)
    res = _mixed_demux().compile().simulate({"u": u}, backend="compiled")
    sigmoid = 1 / (1 + np.exp(-u[:, 0:2]))
    np.testing.assert_allclose(res["y1"], sigmoid * np.tanh(u[:, 3:5]), rtol=1e-15, atol=1e-16)
    np.testing.assert_array_equal(res["y2"], 2.0 * u[:, 2:3])
    np.testing.assert_allclose(res["y3"], np.tanh(u[:, 5:8]), rtol=1e-15, atol=1e-16)
