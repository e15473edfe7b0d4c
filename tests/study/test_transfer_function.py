"""zpk gain, zeros and relative degree of SISO systems (issue 10, section 4), against hand-computed values.

The issue's system: A = [[0.9, 0.1], [0, 0.8]], B = [[0], [1]], C = [[1, 0]], D = 0. By hand,
(zI − A)⁻¹·B = [0.1; z − 0.9] / ((z − 0.9)(z − 0.8)), so G(z) = 0.1 / ((z − 0.9)(z − 0.8)):
gain 0.1, no zeros, poles 0.9 and 0.8, relative degree 2 (C·B = 0, C·A·B = 0.1), DC gain
0.1 / (0.1 · 0.2) = 5.
"""

import json

import control
import numpy as np
import pytest

from blockloop.cli import main
from blockloop.study.readback import zpk_string
from blockloop.study.systems import relative_degree, siso_transfer_function, system_facts

TS = 0.01
ISSUE = ([[0.9, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.0]], [[0.0]])


def issue_system():
    return control.ss(*ISSUE, TS)


def rotated(sys, seed=0):
    """The same system in random orthogonal coordinates: C·B is then rounding noise, not an exact 0."""
    T, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((sys.nstates, sys.nstates)))
    return control.ss(T.T @ sys.A @ T, T.T @ sys.B, sys.C @ T, sys.D, sys.dt)


def test_issue_system_gain_zeros_poles():
    facts = system_facts(issue_system())
    assert facts["zpk_gain"] == pytest.approx(0.1, rel=1e-14)
    assert facts["zeros"].size == 0
    np.testing.assert_allclose(np.sort(facts["poles"].real), [0.8, 0.9], atol=1e-14)
    assert facts["dcgain"][0, 0] == pytest.approx(5.0, rel=1e-13)
    assert relative_degree(issue_system()) == 2


def test_noise_in_other_coordinates_is_not_a_zero_or_a_gain():
    sys = rotated(issue_system())
    assert abs(float((sys.C @ sys.B)[0, 0])) < 1e-15  # C·B is noise of the rotation, not exactly 0
    assert relative_degree(sys) == 2
    num, den = siso_transfer_function(sys)
    assert num.size == 1 and num[0] == pytest.approx(0.1, rel=1e-12)
    np.testing.assert_allclose(den, [1.0, -1.7, 0.72], atol=1e-12)  # (z − 0.9)(z − 0.8)
    assert system_facts(sys)["zeros"].size == 0


def test_direct_feedthrough_gain_and_zero():
    """G = 3 + 2/(z − 0.5) = (3z + 0.5)/(z − 0.5): gain 3, zero −1/6, relative degree 0."""
    facts = system_facts(control.ss([[0.5]], [[1.0]], [[2.0]], [[3.0]], TS))
    assert facts["zpk_gain"] == pytest.approx(3.0, rel=1e-14)
    np.testing.assert_allclose(facts["zeros"], [-1 / 6], atol=1e-14)


def test_chain_relative_degree_three():
    """A chain of three first-order lags: back-substituting (zI − A)·x = B gives
    G = 1/((z − 0.5)(z − 0.6)(z − 0.7)); C·B = C·A·B = 0, C·A²·B = 1."""
    A = [[0.5, 1.0, 0.0], [0.0, 0.6, 1.0], [0.0, 0.0, 0.7]]
    sys = control.ss(A, [[0.0], [0.0], [1.0]], [[1.0, 0.0, 0.0]], 0.0, TS)
    assert relative_degree(sys) == 3
    facts = system_facts(sys)
    assert facts["zpk_gain"] == 1.0 and facts["zeros"].size == 0
    top, bottom = zpk_string(sys).split(" / ")
    assert top == "1" and sorted(bottom.strip("()").split(") (")) == ["z-0.5", "z-0.6", "z-0.7"]


def test_zero_transfer_function():
    sys = control.ss(ISSUE[0], ISSUE[1], [[0.0, 0.0]], 0.0, TS)
    assert relative_degree(sys) is None
    assert siso_transfer_function(sys)[0].size == 0
    facts = system_facts(sys)
    assert facts["zpk_gain"] == 0.0 and facts["zeros"].size == 0
    assert zpk_string(sys) == "0"


def test_readback_zpk_string_of_the_issue_system():
    assert zpk_string(rotated(issue_system(), seed=3)) == "0.1 / ((z-0.8) (z-0.9))"


@pytest.fixture
def issue_file(tmp_path):
    path = tmp_path / "plant.json"
    A, B, C, D = ISSUE
    path.write_text(json.dumps({"A": A, "B": B, "C": C, "D": D, "Ts": TS}))
    return path


def test_cli_approx_prints_gain_and_no_zeros(issue_file, capsys):
    assert main(["approx", "--system", str(issue_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "zpk gain: 0.1" in lines and "zeros: none" in lines
    assert main(["approx", "--system", str(issue_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["zpk_gain"] == pytest.approx(0.1, rel=1e-14) and out["zeros"] == []
    assert sorted(re for re, im in out["poles"]) == pytest.approx([0.8, 0.9], abs=1e-14)
