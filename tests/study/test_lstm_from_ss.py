"""LSTM weights from (A, B, C, D): layout, the reference's printed numbers, realizations, errors."""

import doctest

import control
import numpy as np
import pytest

from blockloop.errors import ParameterError
from blockloop.study import lstm_from_ss
from blockloop.study.approx import simulate_lstm
from blockloop.study.lstm_from_ss import lstm_weights_from_ss
from blockloop.study.realizations import REALIZATIONS, matlab_ss, realize, state_covariance
from blockloop.study.systems import random_stable_system, reference_system

# The reference's printout (MATLAB's ss(c2d(zpk(...)))): R(2Nn+1:3Nn,1:4)' = A', W_g/scl = [B; 1], F.
PUBLISHED_A = np.array([[0.9128, 1.0000, 0, 0], [-0.0021, 0.9128, -0.3945, 2.5522],
                        [0, 0, 0.8602, 1.0000], [0, 0, -0.2208, 0.8602]])
PUBLISHED_B = np.array([0, 0.3104, 0, 0.5201])
PUBLISHED_F = np.array([325.4911, -78.8823, 18.4092, 212.6357, -86.0996])


def _blocks(M, nn):
    return {g: M[k * nn:(k + 1) * nn] for k, g in enumerate("ifgo")}


@pytest.mark.parametrize("units", ["n+m", "n"])
def test_weight_layout_follows_the_construction(units):
    sys = random_stable_system(3, 2, 2, seed=5)
    scl, beta = 1e-2, 50.0
    w, info = lstm_weights_from_ss(sys, units=units, scl=scl, beta=beta)
    layer = w.layers[0]
    n, m = 3, 2
    nn = n + m if units == "n+m" else n
    assert info["nn"] == nn and layer.W.shape == (4 * nn, m) and layer.R.shape == (4 * nn, nn)
    W, R, b = _blocks(layer.W, nn), _blocks(layer.R, nn), _blocks(layer.b, nn)
    for gate in "ifo":
        assert not W[gate].any() and not R[gate].any()
    np.testing.assert_array_equal(b["i"], beta)
    np.testing.assert_array_equal(b["o"], beta)
    np.testing.assert_array_equal(b["f"], -beta)
    assert not b["g"].any() and not layer.h0.any() and not layer.c0.any()
    np.testing.assert_array_equal(R["g"][:n, :n], sys.A)
    assert not R["g"][n:].any() and not R["g"][:, n:].any()
    CAi = sys.C @ np.linalg.inv(sys.A)
    if units == "n+m":
        np.testing.assert_allclose(W["g"], scl * np.vstack([sys.B, np.eye(m)]), rtol=0, atol=1e-15)
        F = np.hstack([CAi, sys.D - CAi @ sys.B]) / scl
    else:
        np.testing.assert_allclose(W["g"], scl * sys.B, rtol=0, atol=1e-15)
        F = CAi / scl
    np.testing.assert_allclose(w.F, F, rtol=1e-12, atol=1e-12)
    assert w.F_bias is None


def test_matlab_realization_reproduces_the_reference_printout():
    w, info = lstm_weights_from_ss(reference_system(), realization="matlab")
    layer, nn = w.layers[0], 5
    R_g, W_g = _blocks(layer.R, nn)["g"], _blocks(layer.W, nn)["g"]
    # printed to 4 decimals: agreement within rounding (≤ 5e-5)
    np.testing.assert_allclose(R_g[:4, :4], PUBLISHED_A, rtol=0, atol=5e-5)
    np.testing.assert_allclose(W_g[:4, 0] / 1e-3, PUBLISHED_B, rtol=0, atol=5e-5)
    assert W_g[4, 0] == 1e-3
    np.testing.assert_allclose(w.F[0], PUBLISHED_F, rtol=0, atol=5e-5)
    assert info["realization"] == "matlab"


def test_matlab_ss_is_the_same_system_and_refuses_mimo():
    sys = reference_system()
    ml = matlab_ss(sys)
    assert np.isclose(control.dcgain(ml), control.dcgain(sys), rtol=1e-10)
    for k in range(8):  # Markov parameters C·A^k·B
        np.testing.assert_allclose(ml.C @ np.linalg.matrix_power(ml.A, k) @ ml.B,
                                   sys.C @ np.linalg.matrix_power(sys.A, k) @ sys.B, rtol=1e-9, atol=1e-12)
    with pytest.raises(ParameterError, match="needs a SISO system"):
        matlab_ss(random_stable_system(2, 2, 1))
    with pytest.raises(ParameterError, match="transfer function is zero"):
        matlab_ss(control.ss([[0.5]], [[0.0]], [[1.0]], 0, 0.1))


@pytest.mark.parametrize("seed", range(4))
def test_matlab_ss_on_random_siso_systems(seed):
    """Real and complex poles, with and without D: the cascade realizes the same transfer function."""
    sys = random_stable_system(5, 1, 1, seed=seed)
    ml = matlab_ss(sys)
    assert ml.nstates == 5
    np.testing.assert_allclose(ml.D, sys.D, rtol=1e-10)
    for k in range(10):
        np.testing.assert_allclose(ml.C @ np.linalg.matrix_power(ml.A, k) @ ml.B,
                                   sys.C @ np.linalg.matrix_power(sys.A, k) @ sys.B, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", REALIZATIONS)
def test_realizations_keep_the_transfer_function_and_report_T(name):
    sys = reference_system() if name == "matlab" else random_stable_system(4, 2, 3, seed=2)
    new, T = realize(sys, name)
    np.testing.assert_allclose(T @ new.A, sys.A @ T, atol=1e-9)  # x_given = T·z
    np.testing.assert_allclose(T @ new.B, sys.B, atol=1e-9)
    np.testing.assert_allclose(new.C, sys.C @ T, atol=1e-9)
    np.testing.assert_allclose(control.dcgain(new), control.dcgain(sys), rtol=1e-9)


def test_balanced_and_unit_covariance_gramians():
    sys = random_stable_system(4, 2, 3, seed=3)
    bal, _ = realize(sys, "balanced")
    Wc = control.dlyap(bal.A, bal.B @ bal.B.T)
    Wo = control.dlyap(bal.A.T, bal.C.T @ bal.C)
    np.testing.assert_allclose(Wc, Wo, atol=1e-9)
    np.testing.assert_allclose(Wc, np.diag(np.diag(Wc)), atol=1e-9)
    assert np.all(np.diff(np.diag(Wc)) <= 0)  # Hankel singular values, largest first
    white, _ = realize(sys, "unit_covariance")
    np.testing.assert_allclose(state_covariance(white), np.eye(4), atol=1e-9)
    small, _ = realize(sys, "unit_covariance", state_std=0.1)
    np.testing.assert_allclose(state_covariance(small), 0.01 * np.eye(4), atol=1e-11)


def test_realization_errors():
    unstable = control.ss([[1.2, 0], [0, 0.5]], [[1], [1]], [[1, 1]], 0, 0.1)
    with pytest.raises(ParameterError, match=r"not stable \(largest \|pole\| = 1.2"):
        realize(unstable, "balanced")
    uncontrollable = control.ss([[0.5, 0], [0, 0.3]], [[1], [0]], [[1, 1]], 0, 0.1)
    with pytest.raises(ParameterError, match="not minimal.*minimal_realization"):
        realize(uncontrollable, "unit_covariance")
    with pytest.raises(ParameterError, match="unknown name 'schur'"):
        realize(reference_system(), "schur")
    with pytest.raises(ParameterError, match="state_std applies to the 'unit_covariance'"):
        realize(reference_system(), "balanced", state_std=0.1)
    with pytest.raises(ParameterError, match="state_std: expected a positive number"):
        realize(reference_system(), "unit_covariance", state_std=-1)


def test_as_given_works_for_an_unstable_system():
    unstable = control.ss([[1.2, 0], [0, 0.5]], [[1], [1]], [[1, 1]], 0, 0.1)
    w, info = lstm_weights_from_ss(unstable)
    assert info["hidden_std"] is None and info["max_hidden_expected"] is None
    assert w.layers[0].nn == 3


def test_n_units_variant_static_gain_is_C_Ainv_B():
    """With Nn = n the direct feedthrough is C·A⁻¹·B: the response at k = 0 to u[0] = 1."""
    sys = random_stable_system(4, 2, 2, seed=9)
    u = np.zeros((3, 2))
    for j in range(2):
        u[:] = 0
        u[0, j] = 1.0
        for units, want in (("n", sys.C @ np.linalg.solve(sys.A, sys.B)), ("n+m", sys.D)):
            w, _ = lstm_weights_from_ss(sys, units=units, scl=1e-5, realization="unit_covariance")
            z0 = simulate_lstm(w, u, 0.01)[0]
            np.testing.assert_allclose(z0, want[:, j], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"units": "2n"}, "units: expected 'n\\+m'"),
    ({"scl": 0}, "scl: expected a positive finite number"),
    ({"scl": "big"}, "scl: expected a positive number"),
    ({"beta": float("inf")}, "beta: expected a positive finite number"),
    ({"realization": "jordan"}, "realization: unknown name 'jordan'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        lstm_weights_from_ss(reference_system(), **kwargs)


def test_singular_A_is_refused():
    sys = control.ss([[0.5, 0.0], [0.0, 0.0]], [[1.0], [1.0]], [[1.0, 1.0]], 0, 0.1)
    with pytest.raises(ParameterError, match=r"A is singular.*needs A⁻¹.*pole at z = 0"):
        lstm_weights_from_ss(sys)


def test_continuous_time_is_refused():
    with pytest.raises(ParameterError, match=r"continuous-time.*c2d"):
        lstm_weights_from_ss(control.ss([[-1.0]], [[1.0]], [[1.0]], 0))


def test_inconsistent_matrices_in_a_file_are_refused(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, A=np.eye(2) * 0.5, B=np.ones((3, 1)), C=np.ones((1, 2)), D=np.zeros((1, 1)), Ts=0.1)
    with pytest.raises(ParameterError, match=r"bad.npz: B must have n = 2 rows"):
        lstm_weights_from_ss(path)


def test_info_reports_realization_and_expected_state_size():
    sys = reference_system()
    sizes = {}
    for name in REALIZATIONS:
        _, info = lstm_weights_from_ss(sys, realization=name)
        assert {"realization", "system", "T", "scl", "beta", "units", "nn", "Ts", "hidden_std",
                "max_hidden_expected", "state_std"} <= set(info)
        assert info["realization"] == name and info["Ts"] == 0.01 and info["hidden_std"].shape == (5,)
        sizes[name] = info["max_hidden_expected"]
    # unit covariance: 3 · scl · 1 for every unit
    assert sizes["unit_covariance"] == pytest.approx(3e-3)
    assert sizes["unit_covariance"] < sizes["balanced"] < sizes["matlab"] < sizes["as_given"]


def test_docstring_examples():
    failures, tried = doctest.testmod(lstm_from_ss)
    assert tried > 0 and failures == 0
