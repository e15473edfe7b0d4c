"""Read-back of the linear system from LSTM weights, gate-change table, zpk printing, validation."""

import numpy as np
import pytest

from blockloop.diagrams import GATES, LayerWeights, NetworkWeights
from blockloop.errors import ParameterError
from blockloop.study.lstm_from_ss import lstm_weights_from_ss
from blockloop.study.published import SYSTEM
from blockloop.study.readback import gate_changes, readback, system_facts, zpk_string
from blockloop.study.systems import random_stable_system, reference_system

control = pytest.importorskip("control")


@pytest.mark.parametrize("realization", ["as_given", "matlab", "balanced", "unit_covariance"])
def test_untrained_n_plus_m_weights_read_back_the_original_system(realization):
    weights, info = lstm_weights_from_ss(reference_system(), units="n+m", realization=realization)
    sys = info["system"]  # the realized system whose A, B, C, D the weights hold
    rb = readback(weights, info["scl"], info["Ts"]).system
    n, m = sys.B.shape
    # Nn = n + m states: Ann = blkdiag(A, 0), Bnn = [B; I], Cnn = [C, 0], Dnn = D
    np.testing.assert_allclose(rb.A[:n, :n], sys.A, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rb.A[n:, :], 0.0)
    np.testing.assert_array_equal(rb.A[:, n:], 0.0)
    np.testing.assert_allclose(rb.B[:n], sys.B, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rb.B[n:], np.eye(m), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rb.C[:, :n], sys.C, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rb.D, sys.D, rtol=0, atol=1e-12)
    assert rb.dt == 0.01
    assert float(rb.dcgain()) == pytest.approx(float(sys.dcgain()), rel=1e-12)
    for z in (np.exp(0.3j), -0.5, 2.0 + 1.0j):  # same transfer function at a few points
        assert complex(rb(z)) == pytest.approx(complex(sys(z)), rel=1e-10)


def test_untrained_weights_facts_match_the_published_system():
    weights, info = lstm_weights_from_ss(reference_system(), realization="matlab")
    facts = readback(weights, info["scl"], info["Ts"]).facts()
    assert facts["dcgain"] == pytest.approx(SYSTEM["dcgain"], abs=5e-5)
    assert facts["D"] == [[0.0]]
    assert facts["states"] == 5 and facts["max_abs_b_g"] == 0.0 and facts["F_bias"] == [0.0]
    # the extra (input-copy) state adds a pole at 0; the finite poles are the system's
    poles = [complex(*p) for p in facts["poles"] if abs(complex(*p)) > 1e-9]
    # compare the printed quadratic factors' coefficients (their roots are ill-conditioned at 4 digits)
    published = np.polymul([1, -1.826, 0.8353], [1, -1.72, 0.9608])
    np.testing.assert_allclose(np.poly(poles).real, published, atol=1e-3)


def test_n_units_variant_reads_back_c_a_inv_b_as_feedthrough():
    sys = random_stable_system(3, 2, 2, seed=4)
    weights, info = lstm_weights_from_ss(sys, units="n")
    rb = readback(weights, info["scl"], info["Ts"]).system
    np.testing.assert_allclose(rb.A, sys.A, atol=1e-12)
    np.testing.assert_allclose(rb.C, sys.C, atol=1e-12)
    np.testing.assert_allclose(rb.D, sys.C @ np.linalg.solve(sys.A, sys.B), atol=1e-12)
    assert not np.allclose(rb.D, sys.D)


def test_readback_uses_scl_and_ignores_but_reports_offsets():
    weights, info = lstm_weights_from_ss(reference_system(), realization="matlab", scl=1e-2)
    layer = weights.layers[0]
    b = layer.b.copy()
    b[2 * layer.nn] = 0.5  # a cell-gate bias
    moved = NetworkWeights(layers=(LayerWeights(W=layer.W, R=layer.R, b=b),), F=weights.F, F_bias=[0.25])
    rb = readback(moved, 1e-2, 0.01)
    assert rb.facts()["max_abs_b_g"] == 0.5 and rb.facts()["F_bias"] == [0.25]
    assert float(rb.system.dcgain()) == pytest.approx(7.5351136, abs=1e-6)
    wrong = readback(moved, 1e-3, 0.01)  # Bnn ×10, Cnn ×1/10: D and the gain change
    assert float(wrong.system.dcgain()) == pytest.approx(float(rb.system.dcgain()), rel=1e-9)
    np.testing.assert_allclose(wrong.system.B, 10 * rb.system.B)


def test_readback_rejects_stacked_layers_and_bad_arguments():
    two = NetworkWeights.random(1, 3, 1, n_layers=2)
    with pytest.raises(ParameterError, match="one-layer"):
        readback(two, 1e-3, 0.01)
    with pytest.raises(ParameterError, match="scl"):
        readback(NetworkWeights.random(1, 3, 1), 0.0, 0.01)


def test_gate_changes_finds_the_moved_block():
    weights, _ = lstm_weights_from_ss(reference_system(), realization="matlab")
    layer = weights.layers[0]
    assert all(v == 0.0 for g in GATES for v in gate_changes(weights, weights)[g].values())
    R = layer.R.copy()
    R[3 * layer.nn + 1, 2] += 0.25  # output-gate recurrent weight
    after = NetworkWeights(layers=(LayerWeights(W=layer.W, R=R, b=layer.b),), F=weights.F + 0.5, F_bias=[-0.1])
    changes = gate_changes(weights, after)
    assert changes["o"] == {"W": 0.0, "R": 0.25, "b": 0.0}
    assert changes["g"]["R"] == 0.0 and changes["F"] == 0.5 and changes["F_bias"] == pytest.approx(0.1)
    with pytest.raises(ParameterError, match="shapes differ"):
        gate_changes(weights, NetworkWeights.random(1, 3, 1))


def test_zpk_string_has_the_published_factors():
    text = zpk_string(reference_system())
    gain, rest = text.split(" ", 1)
    assert gain == "0.078673"
    num, den = rest.split(" / ")
    assert sorted(num.split()) == sorted("(z+3.517) (z-0.9608) (z+0.2599)".split())
    assert sorted(den.strip("()").split(") (")) == sorted(["z^2 - 1.826z + 0.8353", "z^2 - 1.72z + 0.9608"])


def test_system_facts_of_a_mimo_system_are_json_ready():
    facts = system_facts(random_stable_system(3, 2, 2, seed=1))
    assert np.asarray(facts["dcgain"]).shape == (2, 2)
    assert all(len(p) == 2 for p in facts["poles"]) and len(facts["zeros"]) <= 3


def test_validation_scales_and_measures_the_error():
    from blockloop.study.approx import validation_input
    from blockloop.study.validate import validate

    sys = reference_system()
    weights, _ = lstm_weights_from_ss(sys, realization="unit_covariance")
    u = validation_input(1, 51, seed=2)
    one, three = validate(weights, sys, u)
    assert one.scale == 1.0 and three.scale == 3.0
    np.testing.assert_allclose(three.u, 3 * u)
    np.testing.assert_allclose(three.y_true, 3 * one.y_true, rtol=1e-12, atol=1e-12)  # the system is linear
    assert one.diff_norm < 1e-3 and three.diff_norm > one.diff_norm
    assert one.diff_norm == pytest.approx(np.linalg.norm(one.y_true - one.y_net))
    with pytest.raises(ParameterError, match="columns"):
        validate(weights, sys, np.zeros((5, 2)))
