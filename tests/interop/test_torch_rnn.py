"""Elman RNN and GRU diagrams against PyTorch's nn.RNN / nn.GRU (+ nn.Linear): outputs to ≤ 1e-12 in
float64 over random shapes (hypothesis), weight conversion both ways, the GRU's reset-gate placement by
hand, and BPTT gradients against torch autograd on both backends."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from blockloop.autodiff import gradient  # noqa: E402
from blockloop.diagrams import (  # noqa: E402
    GRULayerWeights,
    GRUNetworkWeights,
    RNNNetworkWeights,
    gru_network,
    rnn_network,
)
from blockloop.engine import feedback_loops  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.interop.torch_rnn import crosscheck, from_torch, to_torch, torch_forward  # noqa: E402

WEIGHTS = {"rnn": RNNNetworkWeights, "gru": GRUNetworkWeights}


def _weights(cell, ni, nn, no, layers, seed):
    """Random weights scaled up (×2, so tanh and σ leave their linear range) with a nonzero h0."""
    w = WEIGHTS[cell].random(ni, nn, no, n_layers=layers, seed=seed)
    rng = np.random.default_rng(seed + 1)
    scaled = []
    for layer in w.layers:
        fields = {k: 2 * v for k, v in vars(layer).items() if k != "h0"}
        scaled.append(type(layer)(**fields, h0=rng.uniform(-0.9, 0.9, nn)))
    return WEIGHTS[cell](layers=tuple(scaled), F=w.F, F_bias=w.F_bias)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell=st.sampled_from(["rnn", "gru"]), ni=st.integers(1, 4), nn=st.integers(1, 5), no=st.integers(1, 3),
       layers=st.integers(1, 3), batch=st.one_of(st.none(), st.integers(1, 4)), steps=st.integers(1, 25),
       seed=st.integers(0, 2**16), backend=st.sampled_from(["compiled", "interpreter"]))
def test_diagram_equals_pytorch_float64(cell, ni, nn, no, layers, batch, steps, seed, backend):
    w = _weights(cell, ni, nn, no, layers, seed)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((steps, ni) if batch is None else (steps, batch, ni))
    h0 = {f"{cell}1/h_delay": rng.uniform(-1, 1, nn if batch is None else (batch, nn))}  # per-run, per sequence
    rep = crosscheck(w, u, initial_states=h0, backend=backend)
    y = rep.results["diagram"]["float64"]["y"]
    assert y.shape == ((steps, no) if batch is None else (steps, batch, no))
    assert rep.comparisons["float64"].max_abs <= 1e-12, rep.comparisons["float64"]
    assert rep.comparisons["float32"].max_abs <= 5e-6


def test_weight_conversion_both_ways():
    torch.manual_seed(0)
    for module in (torch.nn.GRU(3, 4, num_layers=2, batch_first=True, dtype=torch.float64),
                   torch.nn.RNN(3, 4, num_layers=2, batch_first=True, dtype=torch.float64)):
        linear = torch.nn.Linear(4, 2, dtype=torch.float64)
        h0 = torch.randn(2, 1, 4, dtype=torch.float64)
        w = from_torch(module, linear, h0)
        back, lin2, h0_back = to_torch(w)
        np.testing.assert_array_equal(h0_back.numpy(), h0.numpy())
        np.testing.assert_array_equal(lin2.weight.detach().numpy(), linear.weight.detach().numpy())
        for k in range(2):
            for name in ("weight_ih", "weight_hh"):
                np.testing.assert_array_equal(getattr(back, f"{name}_l{k}").detach().numpy(),
                                              getattr(module, f"{name}_l{k}").detach().numpy())
            b_in = getattr(module, f"bias_ih_l{k}").detach().numpy()
            b_hh = getattr(module, f"bias_hh_l{k}").detach().numpy()
            if isinstance(module, torch.nn.GRU):           # both biases kept exactly
                np.testing.assert_array_equal(getattr(back, f"bias_hh_l{k}").detach().numpy(), b_hh)
                np.testing.assert_array_equal(getattr(back, f"bias_ih_l{k}").detach().numpy(), b_in)
            else:                                          # summed into bias_ih
                np.testing.assert_array_equal(getattr(back, f"bias_ih_l{k}").detach().numpy(), b_in + b_hh)
        # and the converted module runs like the original (h0 from the module's own argument)
        x = torch.randn(1, 20, 3, dtype=torch.float64)
        with torch.no_grad():
            ref = linear(module(x, h0)[0]).numpy()[0]
        diagram = (gru_network if isinstance(module, torch.nn.GRU) else rnn_network)(w)
        assert np.abs(diagram.simulate({"u": x.numpy()[0]})["y"] - ref).max() <= 1e-12


def test_gru_reset_gate_multiplies_after_the_recurrent_product_by_hand():
    """One unit, one input, hand-computed: n = tanh(a_n + r·(R_n·h + b_hn)), h' = (1 − z)·n + z·h."""
    W, R = np.array([[0.3], [-0.2], [0.5]]), np.array([[0.7], [0.4], [-1.1]])
    b_ih, b_hh = np.array([0.1, -0.3, 0.2]), np.array([-0.2, 0.05, 0.6])
    h0, x = 0.8, [1.5, -0.5]
    w = GRUNetworkWeights(layers=(GRULayerWeights(W=W, R=R, b_ih=b_ih, b_hh=b_hh, h0=[h0]),), F=[[1.0]])
    y = gru_network(w).simulate({"u": np.array(x)[:, None]})["y"].ravel()
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, expected, other = h0, [], h0
    for xk in x:
        r = sig(W[0, 0] * xk + b_ih[0] + R[0, 0] * h + b_hh[0])
        z = sig(W[1, 0] * xk + b_ih[1] + R[1, 0] * h + b_hh[1])
        n = np.tanh(W[2, 0] * xk + b_ih[2] + r * (R[2, 0] * h + b_hh[2]))
        h = (1 - z) * n + z * h
        expected.append(h)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)
    # the other convention (r ⊙ h before the product, as in the original GRU paper) gives other numbers
    rr = sig(W[0, 0] * x[0] + b_ih[0] + R[0, 0] * other + b_hh[0])
    zz = sig(W[1, 0] * x[0] + b_ih[1] + R[1, 0] * other + b_hh[1])
    nn_ = np.tanh(W[2, 0] * x[0] + b_ih[2] + R[2, 0] * (rr * other) + b_hh[2])
    assert abs((1 - zz) * nn_ + zz * other - y[0]) > 1e-3


def test_loops_are_drawn_through_the_one_delay():
    rnn = feedback_loops(rnn_network(RNNNetworkWeights.random(2, 3, 1)))
    gru = feedback_loops(gru_network(GRUNetworkWeights.random(2, 3, 1)))
    assert [(f.name, len(f.loops)) for f in rnn.families] == [("rnn1/h_delay", 1)]
    # h → R → c → split_c → {r, z, n paths} … → h_sum, and the leak h_delay → h_minus_n → z_h → h_sum
    assert [f.name for f in gru.families] == ["gru1/h_delay"] and len(gru.families[0].loops) == 6


def test_refusals():
    with pytest.raises(ParameterError, match="relu"):
        from_torch(torch.nn.RNN(2, 3, nonlinearity="relu"))
    with pytest.raises(ParameterError, match="bidirectional"):
        from_torch(torch.nn.GRU(2, 3, bidirectional=True))
    with pytest.raises(ParameterError, match="nn.RNN or torch.nn.GRU"):
        from_torch(torch.nn.LSTM(2, 3))
    with pytest.raises(ParameterError, match=r"R: expected shape \(3·Nn, Nn\)"):
        GRULayerWeights(W=np.ones((3, 1)), R=np.ones((2, 1)), b_ih=np.zeros(3), b_hh=np.zeros(3))
    with pytest.raises(ParameterError, match="initial_states: no delay"):
        torch_forward(RNNNetworkWeights.random(1, 2, 1), np.zeros((3, 1)), initial_states={"lstm1/h_delay": [0, 0]})


def _torch_grads(cell, w, u, h0, target):
    """Half-MSE loss Σ err²/(2·B·T) and its gradients by torch autograd, keyed like the diagram's paths."""
    module, linear, _ = to_torch(w)
    x = torch.from_numpy(np.moveaxis(u, 0, 1).copy())
    h0_t = torch.from_numpy(np.array(h0[None])).requires_grad_(True)
    y = linear(module(x, h0_t)[0])
    B, T = u.shape[1], u.shape[0]
    loss = ((y - torch.from_numpy(np.moveaxis(target, 0, 1).copy())) ** 2).sum() / (2 * B * T)
    loss.backward()
    g = {f"{cell}1/W.K": module.weight_ih_l0.grad, f"{cell}1/R.K": module.weight_hh_l0.grad,
         "F.K": linear.weight.grad, "F_bias.value": linear.bias.grad}
    if cell == "gru":
        g[f"{cell}1/b_ih.value"], g[f"{cell}1/b_hh.value"] = module.bias_ih_l0.grad, module.bias_hh_l0.grad
    else:
        g[f"{cell}1/b.value"] = module.bias_ih_l0.grad  # b = bias_ih + bias_hh: the same gradient
    return float(loss.detach()), {k: v.numpy() for k, v in g.items()}, h0_t.grad.numpy()[0]


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
def test_gradients_equal_torch_autograd(cell, backend):
    w = _weights(cell, 2, 3, 2, 1, seed=4)
    rng = np.random.default_rng(9)
    u, target = rng.standard_normal((30, 4, 2)), rng.standard_normal((30, 4, 2))
    h0 = np.broadcast_to(w.layers[0].h0, (4, 3))       # the weights' nonzero h0, shared by the batch
    ref_loss, ref, ref_h0 = _torch_grads(cell, w, u, h0, target)
    ref[f"{cell}1/h_delay.x0"] = ref_h0.sum(axis=0)     # a shared x0's gradient is the batch sum of torch's
    program = (gru_network if cell == "gru" else rnn_network)(w).compile()
    r = gradient(program, {"u": u}, {"y": target}, list(ref), backend=backend)
    assert abs(r.loss - ref_loss) <= 1e-14 * abs(ref_loss)
    for path, g in ref.items():
        assert np.abs(r.grads[path] - g).max() <= 1e-12 * max(1.0, np.abs(g).max()), path
