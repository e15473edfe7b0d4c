"""The LSTM diagram against torch.nn.LSTM: shapes, layers, batches, precisions, and a property test."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.interop.torch import crosscheck, from_torch, matlab_norm, to_torch, torch_forward  # noqa: E402


def test_reference_case_both_precisions():
    w = NetworkWeights.random(ni=4, nn=3, no=2)
    rep = crosscheck(w, np.random.default_rng(0).standard_normal((51, 4)), Ts=0.1)
    assert rep.comparisons["float64"].norm <= 1e-12
    assert rep.comparisons["float32"].norm <= 5e-6
    # the reference's own setup (double diagram vs single library) gave 5.8e-7; ours is the same order
    assert 1e-8 < rep.comparisons["reference_setup"].norm < 5e-6
    assert rep.ok


@pytest.mark.parametrize("ni, nn, no, layers, batch", [(1, 5, 1, 1, None), (3, 2, 4, 2, None), (2, 3, 2, 3, 5),
                                                       (4, 3, 2, 1, 8)])
def test_shapes_layers_and_batches(ni, nn, no, layers, batch):
    w = NetworkWeights.random(ni, nn, no, n_layers=layers, seed=ni + nn)
    shape = (25, ni) if batch is None else (25, batch, ni)
    rep = crosscheck(w, np.random.default_rng(1).standard_normal(shape))
    assert rep.comparisons["float64"].norm <= 1e-12, rep.as_dict()
    assert rep.comparisons["float32"].norm <= 5e-6, rep.as_dict()


def test_per_gate_signals_agree():
    w = NetworkWeights.random(ni=2, nn=3, no=1, n_layers=2, seed=3)
    rep = crosscheck(w, np.random.default_rng(2).standard_normal((20, 2)), per_gate=True, per_step=True)
    per = rep.comparisons["float64"].per_signal
    assert {"lstm1/sig_i.y", "lstm2/sig_o.y", "lstm2/c_sum.y", "lstm1/h_prod.y"} <= set(per)
    assert max(d["norm"] for d in per.values()) <= 1e-12
    assert len(rep.comparisons["float64"].per_step) == 20


def test_from_torch_sums_the_two_biases():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True, dtype=torch.float64)
    linear = torch.nn.Linear(4, 2, dtype=torch.float64)
    w = from_torch(lstm, linear)
    np.testing.assert_allclose(w.layers[1].b, (lstm.bias_ih_l1 + lstm.bias_hh_l1).detach().numpy())
    u = np.random.default_rng(0).standard_normal((12, 3))
    with torch.no_grad():
        expected = linear(lstm(torch.from_numpy(u)[None])[0])[0].numpy()
    np.testing.assert_allclose(lstm_network(w).simulate({"u": u})["y"], expected, atol=1e-13)


def test_to_torch_puts_the_bias_in_bias_ih():
    w = NetworkWeights.random(ni=1, nn=2, no=1)
    lstm, linear, (h0, c0) = to_torch(w)
    np.testing.assert_array_equal(lstm.bias_ih_l0.detach().numpy(), w.layers[0].b)
    assert not lstm.bias_hh_l0.detach().numpy().any()
    assert tuple(h0.shape) == (1, 1, 2)


def test_matlab_norm_is_the_largest_singular_value():
    d = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert matlab_norm(d) == pytest.approx(4.0)


@settings(max_examples=25, deadline=None)
@given(
    ni=st.integers(1, 4), nn=st.integers(1, 5), no=st.integers(1, 3), layers=st.integers(1, 2),
    batch=st.one_of(st.none(), st.integers(1, 3)), steps=st.integers(1, 12), seed=st.integers(0, 10_000),
    scale=st.floats(0.1, 3.0),
)
def test_property_diagram_equals_torch(ni, nn, no, layers, batch, steps, seed, scale):
    w = NetworkWeights.random(ni, nn, no, n_layers=layers, seed=seed)
    rng = np.random.default_rng(seed)
    shape = (steps, ni) if batch is None else (steps, batch, ni)
    u = scale * rng.standard_normal(shape)
    y = lstm_network(w).simulate({"u": u})["y"]
    np.testing.assert_allclose(y, torch_forward(w, u, "float64"), rtol=0, atol=1e-12)


def test_from_torch_rejects_other_modules():
    from blockloop.errors import ParameterError

    with pytest.raises(ParameterError, match="expected a torch.nn.LSTM, got GRU"):
        from_torch(torch.nn.GRU(2, 3))
    with pytest.raises(ParameterError, match="expected a torch.nn.Linear"):
        from_torch(torch.nn.LSTM(2, 3), torch.nn.ReLU())
