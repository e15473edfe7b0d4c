"""The LSTM diagram against a hand-written recurrence, weights conventions and shape errors."""

import numpy as np
import pytest

from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_layer, lstm_network, matlab_rand
from blockloop.errors import ParameterError


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_by_hand(W, R, b, h0, c0, F, u):
    """The textbook recurrence, one step at a time, gate order i, f, g, o."""
    nn = R.shape[1]
    h, c, ys = h0.copy(), c0.copy(), []
    for x in u:
        z = W @ x + R @ h + b
        i, f, g, o = sigmoid(z[:nn]), sigmoid(z[nn:2 * nn]), np.tanh(z[2 * nn:3 * nn]), sigmoid(z[3 * nn:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(F @ h)
    return np.array(ys)


def test_matlab_rand_reproduces_rng0():
    rand = matlab_rand(0)
    np.testing.assert_allclose(rand(3, 1).ravel(), [0.8147, 0.9058, 0.1270], atol=5e-5)
    # column-major fill: rand(2, 2) after those three draws takes draws 4..7 column by column
    rand2 = matlab_rand(0)
    draws = rand2(7, 1).ravel()
    np.testing.assert_array_equal(matlab_rand(0)(3, 1).ravel(), draws[:3])
    m = matlab_rand(0); m(3, 1)
    np.testing.assert_array_equal(m(2, 2), [[draws[3], draws[5]], [draws[4], draws[6]]])


def test_reference_case_matches_the_recurrence():
    w = NetworkWeights.random(ni=4, nn=3, no=2)
    L = w.layers[0]
    u = np.random.default_rng(0).standard_normal((51, 4))
    y = lstm_network(w).simulate({"u": u}, Ts=0.1)["y"]
    np.testing.assert_allclose(y, lstm_by_hand(L.W, L.R, L.b, L.h0, L.c0, w.F, u), rtol=0, atol=1e-13)


def test_two_layers_match_two_recurrences():
    w = NetworkWeights.random(ni=2, nn=4, no=1, n_layers=2, seed=7)
    u = np.random.default_rng(1).standard_normal((30, 2))
    l1, l2 = w.layers
    h1 = lstm_by_hand(l1.W, l1.R, l1.b, l1.h0, l1.c0, np.eye(4), u)
    y = lstm_by_hand(l2.W, l2.R, l2.b, l2.h0, l2.c0, w.F, h1)
    np.testing.assert_allclose(lstm_network(w).simulate({"u": u})["y"], y, atol=1e-13)


def test_gate_probes_and_both_delays():
    w = NetworkWeights.random(ni=1, nn=2, no=1)
    L = w.layers[0]
    u = np.array([[0.3], [-0.2]])
    r = lstm_network(w).simulate({"u": u}, probes=["lstm1/sig_f.y", "lstm1/h_delay.y", "lstm1/c_delay.y"])
    z0 = L.W @ u[0] + L.R @ L.h0 + L.b
    np.testing.assert_allclose(r["lstm1/sig_f.y"][0], sigmoid(z0[2:4]), atol=1e-15)
    np.testing.assert_array_equal(r["lstm1/h_delay.y"][0], L.h0)  # y[0] of a delay is its x0
    np.testing.assert_array_equal(r["lstm1/c_delay.y"][0], L.c0)


def test_layer_subsystem_ports():
    layer = lstm_layer(LayerWeights(W=np.ones((8, 3)), R=np.zeros((8, 2)), b=np.zeros(8)))
    assert layer.inputs == ("x",) and layer.outputs == ("h", "c")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(W=np.ones((12, 4)), R=np.ones((12, 4)), b=np.ones(12)),
         "R: expected shape \\(4·Nn, Nn\\), got shape \\(12, 4\\)"),
        (dict(W=np.ones((10, 4)), R=np.ones((12, 3)), b=np.ones(12)),
         "W: expected shape \\(12, Ni\\).*got shape \\(10, 4\\)"),
        (dict(W=np.ones((12, 4)), R=np.ones((12, 3)), b=np.ones(11)),
         "b: expected shape \\(12,\\).*got shape \\(11,\\)"),
        (dict(W=np.ones((12, 4)), R=np.ones((12, 3)), b=np.ones(12), h0=np.ones(4)), "h0: expected shape \\(3,\\)"),
    ],
)
def test_wrong_weight_shapes_name_the_argument(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        LayerWeights(**kwargs)


def test_network_shape_errors():
    l1 = LayerWeights(W=np.ones((12, 4)), R=np.ones((12, 3)), b=np.ones(12))
    l2 = LayerWeights(W=np.ones((8, 5)), R=np.ones((8, 2)), b=np.ones(8))
    with pytest.raises(ParameterError, match="layer 2 W: expected shape \\(8, 3\\)"):
        NetworkWeights(layers=(l1, l2), F=np.ones((1, 2)))
    with pytest.raises(ParameterError, match="F: expected shape \\(No, 3\\)"):
        NetworkWeights(layers=(l1,), F=np.ones((2, 4)))


def test_non_finite_weights_rejected_unless_allowed():
    W = np.ones((4, 1)); W[0, 0] = np.nan
    with pytest.raises(Exception, match="non-finite"):
        LayerWeights(W=W, R=np.zeros((4, 1)), b=np.zeros(4))
    assert LayerWeights(W=W, R=np.zeros((4, 1)), b=np.zeros(4), check_finite=False).nn == 1


def test_batched_initial_states_per_row():
    w = NetworkWeights.random(ni=1, nn=2, no=1)
    L = w.layers[0]
    u = np.random.default_rng(4).standard_normal((10, 3, 1))
    h0 = np.random.default_rng(5).random((3, 2))
    r = lstm_network(w).simulate({"u": u}, initial_states={"lstm1/h_delay": h0})
    for b in range(3):
        expected = lstm_by_hand(L.W, L.R, L.b, h0[b], L.c0, w.F, u[:, b])
        np.testing.assert_allclose(r["y"][:, b], expected, atol=1e-13)
