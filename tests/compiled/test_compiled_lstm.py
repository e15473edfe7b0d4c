"""The LSTM network on the compiled backend against torch.nn.LSTM + nn.Linear and against the interpreter."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.interop.torch import to_torch, torch_forward  # noqa: E402

NI, NN, NO = 3, 4, 2


def run(weights, u, dtype="float64", backend="compiled", **kwargs):
    return lstm_network(weights).compile(dtype=dtype).simulate({"u": u}, Ts=0.1, backend=backend, **kwargs)


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("batch", [5, 300])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_compiled_lstm_equals_torch_float64(layers, batch):
    w = NetworkWeights.random(NI, NN, NO, n_layers=layers, seed=layers)
    assert all(np.any(layer.h0 != 0) and np.any(layer.c0 != 0) for layer in w.layers)  # nonzero h0/c0
    u = np.random.default_rng(layers).standard_normal((30, batch, NI))
    y = run(w, u)["y"]
    assert y.shape == (30, batch, NO) and y.dtype == np.float64
    assert max_diff(y, torch_forward(w, u, "float64")) <= 1e-12


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_compiled_lstm_with_per_run_initial_states_equals_torch(layers):
    w = NetworkWeights.random(NI, NN, NO, n_layers=layers, seed=10 + layers)
    rng = np.random.default_rng(20 + layers)
    B = 6
    u = rng.standard_normal((25, B, NI))
    states = {f"lstm{k}/{d}": rng.uniform(-1, 1, (B, NN)) for k in range(1, layers + 1) for d in ("h_delay", "c_delay")}
    y = run(w, u, initial_states=states)["y"]
    assert max_diff(y, torch_forward(w, u, "float64", initial_states=states)) <= 1e-12


def test_compiled_lstm_without_batch_axis_equals_torch_by_hand():
    """Unbatched (T, Ni) input, against nn.LSTM and nn.Linear called directly with the weights' h0/c0."""
    w = NetworkWeights.random(NI, NN, NO, n_layers=2, seed=4)
    u = np.random.default_rng(4).standard_normal((40, NI))
    y = run(w, u)["y"]
    assert y.shape == (40, NO)
    lstm, linear, (h0, c0) = to_torch(w, "float64")
    with torch.no_grad():
        h, _ = lstm(torch.from_numpy(u)[None], (h0, c0))
        expected = linear(h)[0].numpy()
    assert max_diff(y, expected) <= 1e-12


@pytest.mark.parametrize("batch", [None, 4, 300])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_compiled_lstm_equals_interpreter(layers, batch):
    w = NetworkWeights.random(NI, NN, NO, n_layers=layers, seed=30 + layers)
    shape = (20, NI) if batch is None else (20, batch, NI)
    u = 2.0 * np.random.default_rng(layers).standard_normal(shape)
    probes = [f"lstm{k}/{b}.y" for k in range(1, layers + 1) for b in ("sig_i", "tanh_g", "c_sum", "h_prod")]
    rc = run(w, u, probes=probes)
    ri = run(w, u, backend="interpreter", probes=probes)
    assert list(rc.signals) == list(ri.signals)
    for name in ri.signals:
        assert rc[name].shape == ri[name].shape and rc[name].dtype == ri[name].dtype
        assert max_diff(rc[name], ri[name]) <= 1e-12, name


@pytest.mark.parametrize("layers", [1, 3])
def test_compiled_lstm_float32_equals_torch_float32(layers):
    w = NetworkWeights.random(NI, NN, NO, n_layers=layers, seed=7)
    u = np.random.default_rng(7).standard_normal((30, 8, NI))
    y = run(w, u, dtype="float32")["y"]
    assert y.dtype == np.float32
    assert max_diff(y, torch_forward(w, u, "float32")) <= 5e-6
    assert max_diff(y, run(w, u, dtype="float32", backend="interpreter")["y"]) <= 5e-6
