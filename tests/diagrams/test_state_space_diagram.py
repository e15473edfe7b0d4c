"""The state-space diagram (gains A, B, C, D, sums, a unit delay) against python-control."""

import doctest

import control
import numpy as np
import pytest

from blockloop.diagrams import state_space, state_space_diagram
from blockloop.errors import ParameterError
from blockloop.study.systems import random_stable_system, reference_system


def _lsim(sys, u, x0=None):
    t = np.arange(u.shape[0]) * sys.dt
    x0 = np.zeros(sys.nstates) if x0 is None else x0
    r = control.forced_response(sys, T=t, U=u.T, X0=x0, return_x=True, squeeze=False)
    return r.outputs.reshape(sys.noutputs, -1).T, r.states.T


@pytest.mark.parametrize("make", [reference_system, lambda: random_stable_system(5, 2, 3, seed=4)],
                         ids=["reference", "random_mimo"])
def test_matches_python_control_discrete_simulation(make):
    sys = make()
    u = np.random.default_rng(0).standard_normal((51, sys.ninputs))
    res = state_space_diagram(sys).simulate({"u": u}, Ts=sys.dt)
    y, x = _lsim(sys, u)
    assert np.max(np.abs(res["y"] - y)) <= 1e-12 * max(1.0, np.max(np.abs(y)))
    assert np.max(np.abs(res["x"] - x)) <= 1e-12 * max(1.0, np.max(np.abs(x)))
    np.testing.assert_allclose(res.t, np.arange(51) * sys.dt)


def test_initial_state_and_direct_feedthrough():
    sys = random_stable_system(3, 1, 2, seed=1)
    x0 = np.array([1.0, -2.0, 0.5])
    u = np.random.default_rng(1).standard_normal((20, 1))
    res = state_space_diagram(sys, x0=x0).simulate({"u": u}, Ts=sys.dt)
    y, _ = _lsim(sys, u, x0)
    np.testing.assert_allclose(res["y"], y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res["y"][0], sys.C @ x0 + sys.D @ u[0], rtol=0, atol=1e-14)


def test_tuple_input_and_blocks():
    d = state_space_diagram(([[0.5]], [[1.0]], [[2.0]], [[0.25]]), name="first_order")
    assert d.inputs == ("u",) and d.outputs == ("y", "x")
    assert {"A", "B", "C", "D", "x_next", "x_delay", "y_sum"} <= set(d.blocks)
    y = d.simulate({"u": np.ones((3, 1))})["y"].ravel()
    np.testing.assert_allclose(y, [0.25, 2.25, 3.25])


@pytest.mark.parametrize("mats, message", [
    (([[0.5, 0.1]], [[1.0]], [[1.0]], [[0.0]]), "A: expected a square"),
    (([[0.5]], [[1.0], [1.0]], [[1.0]], [[0.0]]), "B: expected 1 rows"),
    (([[0.5]], [[1.0]], [[1.0, 1.0]], [[0.0]]), "C: expected 1 columns"),
    (([[0.5]], [[1.0]], [[1.0]], [[0.0, 0.0]]), r"D: expected shape \(1, 1\)"),
    (([0.5], [[1.0]], [[1.0]], [[0.0]]), "A: expected a matrix"),
])
def test_shape_errors_name_the_matrix(mats, message):
    with pytest.raises(ParameterError, match=message):
        state_space_diagram(mats)


def test_other_errors():
    with pytest.raises(ParameterError, match="expected an object with A, B, C, D"):
        state_space_diagram("plant")
    with pytest.raises(ParameterError, match=r"x0: expected shape \(4,\)"):
        state_space_diagram(reference_system(), x0=[0.0, 1.0])


def test_docstring_examples():
    failures, tried = doctest.testmod(state_space)
    assert tried > 0 and failures == 0
