"""The Kalman predictor as an Elman RNN (computed weights), and the linearisation used by the experiment."""

import numpy as np
import pytest

from blockloop.diagrams import (
    LinearGaussianModel,
    RNNNetworkWeights,
    gru_network,
    lgssm_diagram,
    lstm_network,
    rnn_network,
    steady_state,
)
from blockloop.errors import ParameterError
from blockloop.study.kalman_experiment import KalmanConfig, _start, experiment_model, state_jacobian
from blockloop.study.kalman_rnn import kalman_prediction, kalman_rnn_weights, prediction_task, scl_sweep

MODEL = LinearGaussianModel(A=[[0.9, 0.2, 0.0], [-0.3, 0.8, 0.1], [0.0, 0.0, 0.5]], B=[[1.0], [0.5], [0.2]],
                            H=[[1.0, 0.0, 0.5]], D=[[0.4]], Q=0.2 * np.eye(3), R=[[0.3]])


def _data(T=400, seed=0):
    u = np.random.default_rng(seed).standard_normal((T, 1))
    res = lgssm_diagram(MODEL, seed=seed + 3).simulate({"u": u})
    return u, res["z"], res["x"]


def test_prediction_task_and_the_kalman_answer_by_hand():
    u, z, _ = _data(T=50)
    v, y = prediction_task(MODEL, u, z)
    assert v.shape == (49, 2) and y.shape == (49, 1)
    np.testing.assert_array_equal(v[:, 0], u[:-1, 0])
    np.testing.assert_array_equal(y[:, 0], z[1:, 0] - 0.4 * u[1:, 0])
    # the predictor recursion written out: x̂[k+1|k] = A x̂ + B u + L (z − H x̂ − D u)
    L = steady_state(MODEL).L
    xh, ref = np.zeros(3), []
    for k in range(49):
        xh = MODEL.A @ xh + MODEL.B @ u[k] + L @ (z[k] - MODEL.H @ xh - MODEL.D @ u[k])
        ref.append(MODEL.H @ xh)
    np.testing.assert_allclose(kalman_prediction(MODEL, u, z), np.array(ref), rtol=0, atol=1e-12)


def test_computed_rnn_reproduces_the_filter_and_the_error_falls_like_scl_squared():
    u, z, _ = _data()
    rows = {r["scl"]: r for r in scl_sweep(MODEL, u, z, scls=(1e-2, 1e-3, 1e-4, 1e-6))}
    # tanh(s) = s − s³/3: the relative error of the hidden state is ~ s²/3, so ×100 per decade of scl
    assert 60 < rows[1e-2]["error_norm"] / rows[1e-3]["error_norm"] < 140
    assert 60 < rows[1e-3]["error_norm"] / rows[1e-4]["error_norm"] < 140
    assert rows[1e-6]["relative"] < 1e-10
    assert rows[1e-6]["max_hidden"] < 1e-4


def test_computed_weights_by_hand_and_on_scaled_data():
    ss = steady_state(MODEL)
    w = kalman_rnn_weights(MODEL, scl=0.01)
    layer = w.layers[0]
    np.testing.assert_allclose(layer.R, MODEL.A - ss.L @ MODEL.H, rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.W, 0.01 * np.hstack([MODEL.B - ss.L @ MODEL.D, ss.L]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(w.F, MODEL.H / 0.01, rtol=0, atol=1e-12)
    # scaled inputs and outputs: the same predictions in scaled units
    u, z, _ = _data(T=100)
    v, _ = prediction_task(MODEL, u, z)
    si, so = np.array([2.0, 3.0]), np.array([5.0])
    plain = rnn_network(w).simulate({"u": v})["y"]
    scaled = rnn_network(kalman_rnn_weights(MODEL, 0.01, in_scale=si, out_scale=so)).simulate({"u": v / si})["y"]
    np.testing.assert_allclose(scaled * so, plain, rtol=1e-12, atol=1e-12)
    with pytest.raises(ParameterError, match="scl"):
        kalman_rnn_weights(MODEL, scl=0.0)


def test_jacobian_of_the_computed_rnn_is_a_minus_lh():
    """At h = 0, tanh' = 1: ∂h[k]/∂h[k−1] = R = A − L·H and ∂h/∂v = W exactly."""
    ss = steady_state(MODEL)
    w = kalman_rnn_weights(MODEL, scl=0.1)
    J, G, fd = state_jacobian(rnn_network(w).compile(), "rnn", {"rnn1/h_delay": np.zeros(3)}, np.zeros(2))
    np.testing.assert_allclose(J, MODEL.A - ss.L @ MODEL.H, rtol=0, atol=1e-14)
    np.testing.assert_allclose(G, w.layers[0].W, rtol=0, atol=1e-8)
    assert fd < 1e-8
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(J)), np.sort_complex(ss.poles), atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_jacobian_from_the_diagram_equals_finite_differences_off_equilibrium(cell):
    rng = np.random.default_rng(1)
    weights = _start(cell, 2, 3, 1, seed=5)
    build = {"rnn": rnn_network, "gru": gru_network, "lstm": lstm_network}[cell]
    program = build(weights).compile()
    state = {f"{cell}1/h_delay": rng.uniform(-0.8, 0.8, 3)}
    if cell == "lstm":
        state["lstm1/c_delay"] = rng.uniform(-1.5, 1.5, 3)
    J, G, fd = state_jacobian(program, cell, state, rng.standard_normal(2))
    assert J.shape == ((6, 6) if cell == "lstm" else (3, 3)) and G.shape[1] == 2
    assert fd < 1e-8 * max(1.0, np.abs(J).max())


def test_rnn_jacobian_by_hand():
    w = RNNNetworkWeights.random(2, 3, 1, seed=2)
    layer = w.layers[0]
    h_prev, v = np.array([0.3, -0.5, 0.9]), np.array([0.7, -1.2])
    J, G, _ = state_jacobian(rnn_network(w).compile(), "rnn", {"rnn1/h_delay": h_prev}, v, check=False)
    h = np.tanh(layer.W @ v + layer.R @ h_prev + layer.b)
    np.testing.assert_allclose(J, (1 - h**2)[:, None] * layer.R, rtol=0, atol=1e-14)
    np.testing.assert_allclose(G, (1 - h**2)[:, None] * layer.W, rtol=0, atol=1e-8)


def test_experiment_model_defaults_and_bad_settings():
    from blockloop.study.systems import random_stable_system

    sys = random_stable_system(3, seed=4)
    m = experiment_model(sys, process_std=0.5, noise_ratio=0.3)
    np.testing.assert_allclose(m.Q, 0.25 * m.B @ m.B.T, atol=1e-12)
    np.testing.assert_allclose(np.sort(np.abs(np.linalg.eigvals(m.A))), np.sort(np.abs(sys.poles())), atol=1e-9)
    assert m.R.shape == (1, 1) and m.R[0, 0] > 0
    with pytest.raises(ParameterError, match="steps"):
        KalmanConfig(steps=40)
    with pytest.raises(ParameterError, match="epochs"):
        KalmanConfig(epochs=0)
