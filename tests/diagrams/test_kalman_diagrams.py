"""Kalman filters as diagrams: against pykalman (an independent library) with a control input, against
python-control's dlqe, steady state vs time-varying, when u[k] enters, optimality, and bad models."""

import warnings

import numpy as np
import pytest

from blockloop import Diagram, gradient
from blockloop.blocks import Gain, Inport, Outport
from blockloop.blocks.kalman import KalmanFilter
from blockloop.diagrams import (
    LinearGaussianModel,
    kalman_filter_diagram,
    kalman_predictor_diagram,
    kalman_time_varying_diagram,
    lgssm_diagram,
    steady_state,
)
from blockloop.engine.backends import BackendFallbackWarning
from blockloop.errors import DifferentiationError, ParameterError

pykalman = pytest.importorskip("pykalman")
control = pytest.importorskip("control")


def _models():
    rng = np.random.default_rng(11)
    two = LinearGaussianModel(A=[[0.9, 0.2], [-0.3, 0.8]], B=[[1.0], [0.5]], H=[[1.0, 0.0]], D=[[0.3]],
                              Q=[[0.1, 0.02], [0.02, 0.05]], R=[[0.4]], x0=[0.5, -0.2], P0=2 * np.eye(2))
    # 3 states, 2 inputs, 2 measurements, an unstable but detectable mode, singular Q
    A3 = np.array([[1.02, 0.1, 0.0], [0.0, 0.7, 0.3], [0.0, -0.3, 0.7]])
    G = rng.standard_normal((3, 2))
    three = LinearGaussianModel(A=A3, B=rng.standard_normal((3, 2)), H=rng.standard_normal((2, 3)),
                                D=rng.standard_normal((2, 2)), Q=G @ G.T, R=[[0.5, 0.1], [0.1, 0.3]],
                                x0=[1.0, 0.0, -1.0], P0=np.diag([1.0, 2.0, 0.5]))
    # the study's plant, ZOH at 0.01 s, with process noise on every state
    from blockloop.study.systems import reference_system

    ref = reference_system()
    n = ref.A.shape[0]
    plant = LinearGaussianModel(A=ref.A, B=ref.B, H=ref.C, D=ref.D, Q=1e-2 * np.eye(n), R=[[0.05]])
    return {"two": two, "three": three, "reference": plant}


MODELS = _models()


def pykalman_run(model, u, z, P0=None):
    """pykalman's filtered means x̂[k|k] and the predictions x̂[k|k−1] (x̂[k+1|k] = A·x̂[k|k] + B·u[k])."""
    kf = pykalman.KalmanFilter(
        transition_matrices=model.A, observation_matrices=model.H, transition_covariance=model.Q,
        observation_covariance=model.R, transition_offsets=u[:-1] @ model.B.T, observation_offsets=u @ model.D.T,
        initial_state_mean=model.x0, initial_state_covariance=model.P0 if P0 is None else P0)
    filt, _ = kf.filter(z)
    pred = np.vstack([model.x0[None], filt[:-1] @ model.A.T + u[:-1] @ model.B.T])
    return filt, pred


def data(model, T=300, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((T, model.m) if batch is None else (T, batch, model.m))
    res = lgssm_diagram(model, seed=seed + 100).simulate({"u": u})
    return u, res["z"], res["x"]


def run_tv(model, u, z, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BackendFallbackWarning)
        return kalman_time_varying_diagram(model).simulate({"u": u, "z": z}, **kwargs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_time_varying_filter_matches_pykalman(name):
    model = MODELS[name]
    u, z, _ = data(model)
    filt, pred = pykalman_run(model, u, z)
    res = run_tv(model, u, z)
    scale = max(1.0, np.abs(filt).max())
    assert np.abs(res["x_filt"] - filt).max() <= 1e-10 * scale
    assert np.abs(res["x_pred"] - pred).max() <= 1e-10 * scale
    np.testing.assert_allclose(res["z_pred"], pred @ model.H.T + u @ model.D.T, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("backend", ["interpreter", "compiled"])
def test_steady_state_forms_match_pykalman_started_at_the_riccati_covariance(name, backend):
    """From P0 = P (the DARE solution) the time-varying filter's gain is the steady-state one at every step."""
    model = MODELS[name]
    ss = steady_state(model)
    u, z, _ = data(model, seed=1)
    filt, pred = pykalman_run(model, u, z, P0=ss.P)
    scale = max(1.0, np.abs(filt).max())
    f = kalman_filter_diagram(model).simulate({"u": u, "z": z}, backend=backend)
    p = kalman_predictor_diagram(model).simulate({"u": u, "z": z}, backend=backend)
    assert np.abs(f["x_filt"] - filt).max() <= 1e-10 * scale
    assert np.abs(f["x_pred"] - pred).max() <= 1e-10 * scale
    assert np.abs(p["x_pred"] - pred).max() <= 1e-10 * scale
    np.testing.assert_allclose(p["e"], z - pred @ model.H.T - u @ model.D.T, rtol=0, atol=1e-10 * scale)


def test_gain_against_python_control_dlqe():
    for model in MODELS.values():
        ss = steady_state(model)
        L, P, _ = control.dlqe(model.A, np.eye(model.n), model.H, model.Q, model.R)
        scale = max(1.0, np.abs(ss.P).max())
        assert np.abs(np.asarray(L) - ss.L).max() <= 1e-10 * scale       # dlqe's gain is the predictor's, A·K
        assert np.abs(np.asarray(P) - ss.P).max() <= 1e-10 * scale
        assert np.abs(ss.L - model.A @ ss.K).max() <= 1e-12 * scale


def test_scalar_random_walk_by_hand():
    """x[k+1] = x[k] + w, z = x + v, q = r = 1: P = P − P²/(P + 1) + 1 ⇒ P² = P + 1, P = (1 + √5)/2."""
    ss = steady_state(LinearGaussianModel(A=1.0, B=0.0, H=1.0, D=0.0, Q=1.0, R=1.0))
    phi = (1 + 5**0.5) / 2
    assert abs(ss.P[0, 0] - phi) < 1e-12
    assert abs(ss.K[0, 0] - phi / (phi + 1)) < 1e-12
    assert abs(ss.P_filt[0, 0] - phi / (phi + 1)) < 1e-12      # (1 − K)·P = P/(P + 1)
    assert abs(ss.poles[0] - (1 - phi / (phi + 1))) < 1e-12


@pytest.mark.parametrize("name", sorted(MODELS))
def test_time_varying_converges_to_the_steady_state(name):
    model = MODELS[name]
    u, z, _ = data(model, T=600, seed=2)
    tv = run_tv(model, u, z)
    f = kalman_filter_diagram(model).simulate({"u": u, "z": z})
    scale = max(1.0, np.abs(f["x_filt"]).max())
    assert np.abs(tv["x_filt"][-100:] - f["x_filt"][-100:]).max() <= 1e-10 * scale
    assert np.abs(tv["x_filt"][:5] - f["x_filt"][:5]).max() > 1e-3  # they did start apart


def test_when_u_enters_by_hand():
    """Scalar model a = 0.5, b = 1, h = 1, d = 0.25; z ≡ 0, one unit input at k = 3.

    z_pred[3] = d = 0.25 and e[3] = −0.25 at once (feedthrough through D); x̂[3|2] is untouched;
    x̂[4|3] = b·1 + L·e[3] = 1 − 0.25·L; filter form: x̂[3|3] = K·e[3] = −0.25·K.
    """
    model = LinearGaussianModel(A=0.5, B=1.0, H=1.0, D=0.25, Q=1.0, R=1.0)
    ss = steady_state(model)
    K, L = float(ss.K[0, 0]), float(ss.L[0, 0])
    u = np.zeros((6, 1)); u[3] = 1.0
    z = np.zeros((6, 1))
    p = kalman_predictor_diagram(model).simulate({"u": u, "z": z})
    f = kalman_filter_diagram(model).simulate({"u": u, "z": z})
    tv = run_tv(model, u, z)
    for res in (p, f, tv):
        assert res["x_pred"][:4].ravel().tolist() == [0.0, 0.0, 0.0, 0.0]
        assert res["z_pred"][3, 0] == 0.25 and res["e"][3, 0] == -0.25
    assert abs(p["x_pred"][4, 0] - (1 - 0.25 * L)) < 1e-15
    assert abs(f["x_pred"][4, 0] - (1 - 0.25 * L)) < 1e-15
    assert abs(f["x_filt"][3, 0] + 0.25 * K) < 1e-15
    assert f["x_filt"][:3].ravel().tolist() == [0.0, 0.0, 0.0]


def _prediction_stats(model, gain_scale=1.0, B=64, T=400, burn=100):
    """Per-sequence MSE of x − x̂[k|k−1] and the innovations of the predictor with gain scale·L."""
    ss = steady_state(model)
    rng = np.random.default_rng(5)
    u = rng.standard_normal((T, B, model.m))
    sim = lgssm_diagram(model, seed=9).simulate({"u": u}, initial_states={"x_delay": np.zeros((B, model.n))})
    p = kalman_predictor_diagram(model, L=gain_scale * ss.L).simulate({"u": u, "z": sim["z"]})
    err = (sim["x"] - p["x_pred"])[burn:]
    return ss, np.sum(err**2, axis=2).mean(axis=0), p["e"][burn:]


@pytest.mark.parametrize("name", ["two", "three"])
def test_optimal_prediction_mse_is_the_riccati_trace_and_innovations_are_white(name):
    model = MODELS[name]
    ss, mse, e = _prediction_stats(model)
    se = mse.std(ddof=1) / np.sqrt(len(mse))       # sequences are independent
    assert abs(mse.mean() - np.trace(ss.P)) < 4 * se
    # innovations: covariance S, and no correlation between steps (lags 1 … 5), within sampling error
    N = e.shape[0] * e.shape[1]
    flat = e.reshape(-1, model.p)
    S_hat = flat.T @ flat / N
    se_S = np.sqrt((np.outer(np.diag(ss.S), np.diag(ss.S)) + ss.S**2) / N)
    assert np.all(np.abs(S_hat - ss.S) < 5 * se_S)
    w = e / np.sqrt(np.diag(ss.S))
    for lag in range(1, 6):
        r = np.mean(w[lag:] * w[:-lag], axis=(0, 1))
        assert np.all(np.abs(r) < 5 / np.sqrt(N)), (lag, r)


def test_a_wrong_gain_fails_the_optimality_checks():
    """The same checks catch a filter whose gain is 60 % too large (MSE ≈ 11 % above trace(P)): the MSE is
    many standard errors above the optimum, and its innovations are correlated (a 30 % error shows there too)."""
    ss, mse, e = _prediction_stats(MODELS["two"], gain_scale=1.6)
    se = mse.std(ddof=1) / np.sqrt(len(mse))
    assert mse.mean() - np.trace(ss.P) > 4 * se
    w = e / np.sqrt(np.diag(ss.S))
    N = e.shape[0] * e.shape[1]
    assert abs(np.mean(w[1:] * w[:-1])) > 5 / np.sqrt(N)
    _, _, e = _prediction_stats(MODELS["two"], gain_scale=1.3)
    w = e / np.sqrt(np.diag(ss.S))
    assert abs(np.mean(w[1:] * w[:-1])) > 5 / np.sqrt(N)


def test_batch_and_per_sequence_initial_states():
    model = MODELS["two"]
    u, z, _ = data(model, T=80, batch=3)
    x0 = np.array([[0.0, 0.0], [1.0, -1.0], [0.5, 0.5]])
    P0s = np.stack([np.eye(2), 3 * np.eye(2), np.diag([0.1, 4.0])])
    res = run_tv(model, u, z, initial_states={"kf": np.hstack([x0, P0s.reshape(3, -1)])})
    for b in range(3):
        m_b = LinearGaussianModel(**{**model.matrices(), "x0": x0[b], "P0": P0s[b]})
        filt, _ = pykalman_run(m_b, u[:, b], z[:, b])
        assert np.abs(res["x_filt"][:, b] - filt).max() <= 1e-10


def test_time_varying_block_runs_compiled_and_has_no_adjoint():
    model = MODELS["two"]
    u, z, _ = data(model, T=20)
    program = kalman_time_varying_diagram(model).compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # its compiled op runs: no fallback
        compiled = program.simulate({"u": u, "z": z}, backend="compiled")
    interpreted = program.simulate({"u": u, "z": z}, backend="interpreter")
    assert np.abs(compiled["x_filt"] - interpreted["x_filt"]).max() <= 1e-12
    # a trainable gain in front of the filter: no adjoint, on either sweep
    d2 = Diagram("g"); d2.add("u", Inport(1)); d2.add("z", Inport(1)); d2.add("g", Gain(1.0))
    d2.add("kf", KalmanFilter(**model.matrices())); d2.add("x_filt", Outport())
    d2.chain("u", "g", "kf.u"); d2.connect("z", "kf.z"); d2.connect("kf.x_filt", "x_filt")
    for backend in ("auto", "compiled", "interpreter"):
        with pytest.raises(DifferentiationError, match="KalmanFilter"):
            gradient(d2.compile(), {"u": u, "z": z}, {"x_filt": np.zeros((20, 2))}, ["g.K"], backend=backend)


def test_steady_state_diagrams_train_and_differentiate():
    """They are library blocks only: the gradient of the prediction error w.r.t. L equals finite differences."""
    model = MODELS["two"]
    u, z, x = data(model, T=60)
    program = kalman_predictor_diagram(model).compile()
    L0 = program.parameters(["L.K"])["L.K"]
    r = gradient(program, {"u": u, "z": z}, {"x_pred": x}, ["L.K"])

    def loss(L):
        y = program.with_parameters({"L.K": L}).simulate({"u": u, "z": z})["x_pred"]
        return np.sum((y - x) ** 2) / (2 * 60)

    h = 1e-6
    for i in range(2):
        dL = np.zeros_like(L0); dL[i, 0] = h
        assert abs((loss(L0 + dL) - loss(L0 - dL)) / (2 * h) - r.grads["L.K"][i, 0]) < 1e-6


@pytest.mark.parametrize("kwargs, match", [
    (dict(A=[[1.0, 0.0]]), "A: expected a square"),
    (dict(Q=[[1.0, 0.0], [0.0, -0.5]]), "Q: not positive semi-definite"),
    (dict(Q=[[1.0, 0.3], [0.0, 1.0]]), "Q: not symmetric"),
    (dict(R=[[0.0]]), "R: not positive definite"),
    (dict(D=[[1.0, 2.0]]), r"D: expected shape \(1, 1\)"),
    (dict(H=[[1.0, 0.0, 0.0]]), r"H: expected shape \(p, 2\)"),
    (dict(x0=[1.0]), "x0"),
])
def test_bad_models_name_the_matrix(kwargs, match):
    base = dict(A=np.eye(2) * 0.5, B=[[1.0], [0.0]], H=[[1.0, 0.0]], D=[[0.0]], Q=np.eye(2), R=[[1.0]])
    with pytest.raises(ParameterError, match=match):
        LinearGaussianModel(**{**base, **kwargs})


def test_undetectable_and_unstabilizable_models_get_clear_errors():
    unobserved_unstable = LinearGaussianModel(A=[[1.1, 0.0], [0.0, 0.5]], B=[[1.0], [1.0]], H=[[0.0, 1.0]],
                                              D=[[0.0]], Q=np.eye(2), R=[[1.0]])
    with pytest.raises(ParameterError, match=r"not detectable.*λ = 1\.1"):
        steady_state(unobserved_unstable)
    noiseless_walk = LinearGaussianModel(A=1.0, B=1.0, H=1.0, D=0.0, Q=0.0, R=1.0)
    with pytest.raises(ParameterError, match=r"not stabilizable.*λ = 1"):
        steady_state(noiseless_walk)
    # an unobservable *stable* mode is fine (detectable)
    steady_state(LinearGaussianModel(A=[[0.9, 0.0], [0.0, 0.5]], B=[[1.0], [1.0]], H=[[1.0, 0.0]], D=[[0.0]],
                                     Q=np.eye(2), R=[[1.0]]))
    with pytest.raises(ParameterError, match=r"gain L: expected shape \(2, 1\)"):
        kalman_predictor_diagram(MODELS["two"], L=np.ones((1, 2)))
