"""``fit``: BPTT + MATLAB's Adam on diagram parameters — recovery, backends agree, bit-for-bit repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from blockloop.autodiff import fit, gradient
from blockloop.diagrams import NetworkWeights, lstm_network, state_space_diagram
from blockloop.diagrams.examples import gain_feedback
from blockloop.study.training import TrainingOptions

SS_PATHS = ["A.K", "B.K", "C.K", "D.K"]
TRUE_SS = (np.array([[0.6, 0.2], [-0.1, 0.5]]), np.array([[1.0], [0.5]]), np.array([[1.0, -0.5]]),
           np.array([[0.2]]))
# Not symmetric in the two states (a symmetric start keeps x1 = x2 and fits only a first-order model)
START_SS = (np.array([[0.2, 0.1], [0.0, 0.4]]), np.array([[0.5], [-0.3]]), np.array([[0.4, 0.7]]),
            np.array([[0.0]]))


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


# ----------------------------------------------------------------- recovery


@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
def test_fit_recovers_the_gain_of_a_first_order_feedback_loop(backend):
    p = gain_feedback(0.5).compile()  # y[k] = u[k] + K·y[k−1]
    u = np.random.default_rng(0).standard_normal((60, 2, 1))
    y = p.with_parameters({"g.K": 0.8}).simulate(u)["y"]
    res = fit(p, u, y, ["g.K"], TrainingOptions(lr0=0.05, epochs=150, l2=0.0), backend=backend)
    assert res.backend == backend
    assert float(res.values["g.K"]) == pytest.approx(0.8, abs=1e-3)
    assert float(res.initial["g.K"]) == 0.5
    assert res.final_loss < 1e-5 * res.loss[0]
    assert float(p.parameters(["g.K"])["g.K"]) == 0.5  # the program itself is not changed
    assert float(res.program.parameters(["g.K"])["g.K"]) == float(res.values["g.K"])


def _ss_data(steps=100, seed=0):
    u = np.random.default_rng(seed).standard_normal((steps, 1))
    return u, state_space_diagram(TRUE_SS).compile().simulate(u)["y"]


def test_state_space_builder_names_its_parameters():
    p = state_space_diagram(START_SS).compile()
    assert set(p.parameters()) == {"A.K", "B.K", "C.K", "D.K", "x_delay.x0"}
    assert p.outputs == ("y", "x")


def test_fit_identifies_a_state_space_system():
    u, y = _ss_data()
    p = state_space_diagram(START_SS).compile()
    opts = TrainingOptions(lr0=0.02, epochs=600, l2=0.0, drop_factor=0.5, drop_period=200)
    res = fit(p, u, {"y": y}, SS_PATHS, opts)
    assert res.backend == "compiled"
    assert res.final_loss < res.loss[0] / 100
    assert res.final_loss < res.loss[0] / 1e5  # in fact far better: the model class contains the data's system
    # a state-space model is identifiable only up to a change of coordinates: compare invariants
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(res.values["A.K"])),
                               np.sort_complex(np.linalg.eigvals(TRUE_SS[0])), atol=2e-2)
    assert float(res.values["D.K"][0, 0]) == pytest.approx(0.2, abs=1e-3)
    y_fit = res.program.simulate(u)["y"]
    assert np.sqrt(np.mean((y_fit - y) ** 2)) < 1e-2 * np.sqrt(np.mean(y**2))
    # final_loss is the loss of the returned values
    assert res.final_loss == pytest.approx(gradient(p, u, {"y": y}, res.values).loss, rel=1e-12)


def test_fit_result_bookkeeping():
    u, y = _ss_data(30)
    p = state_space_diagram(START_SS).compile()
    opts = TrainingOptions(lr0=0.01, epochs=25, l2=1e-4, drop_factor=0.5, drop_period=10, verbose_every=10)
    rows = []
    res = fit(p, u, {"y": y}, SS_PATHS, opts, on_log=rows.append)
    assert res.loss.shape == res.lr.shape == (25,)
    np.testing.assert_array_equal(res.lr, [opts.lr(e) for e in range(1, 26)])
    assert [r.epoch for r in res.log] == [1, 10, 20, 25] and rows == res.log
    assert res.loss[0] == pytest.approx(gradient(p, u, {"y": y}, SS_PATHS).loss, rel=1e-14)
    assert all(res.values[q].shape == p.parameters([q])[q].shape for q in SS_PATHS)


def test_fit_from_given_start_values():
    u, y = _ss_data(40)
    p = state_space_diagram(TRUE_SS).compile()  # the program holds the answer; the start does not
    start = dict(zip(SS_PATHS, START_SS, strict=True))
    a = fit(p, u, {"y": y}, start, TrainingOptions(lr0=0.01, epochs=10, l2=0.0))
    b = fit(state_space_diagram(START_SS).compile(), u, {"y": y}, SS_PATHS, TrainingOptions(lr0=0.01, epochs=10,
                                                                                             l2=0.0))
    np.testing.assert_array_equal(a.loss, b.loss)
    assert a.loss[0] > 0.1


# ----------------------------------------------------------------- backends agree, runs repeat


def _lstm_case():
    w = NetworkWeights.random(2, 3, 1, n_layers=2, seed=4)
    w = NetworkWeights(layers=w.layers, F=w.F - 0.5, F_bias=np.array([0.1]))
    rng = np.random.default_rng(5)
    u = rng.standard_normal((20, 3, 2))
    y = np.sin(np.cumsum(u[..., :1], axis=0))
    paths = [f"lstm{k}/{q}" for k in (1, 2) for q in ("W.K", "R.K", "b.value")] + ["F.K", "F_bias.value"]
    return lstm_network(w).compile(), u, {"y": y}, paths


def _ss_case():
    u, y = _ss_data(50)
    return state_space_diagram(START_SS).compile(), u, {"y": y}, SS_PATHS


CASES = {"state space": _ss_case, "two-layer LSTM": _lstm_case}


@pytest.mark.parametrize("case", list(CASES))
def test_interpreter_and_compiled_fit_follow_the_same_trajectory(case):
    program, u, y, paths = CASES[case]()
    opts = TrainingOptions(lr0=0.01, epochs=20, grad_threshold=1.0)
    a = fit(program, u, y, paths, opts, backend="compiled")
    b = fit(program, u, y, paths, opts, backend="interpreter")
    assert (a.backend, b.backend) == ("compiled", "interpreter")
    assert rel(a.loss, b.loss) <= 1e-10
    assert np.all(np.abs(a.loss - b.loss) <= 1e-10 * np.abs(b.loss))
    assert a.final_loss == pytest.approx(b.final_loss, rel=1e-10)
    for q in paths:
        assert rel(a.values[q], b.values[q]) <= 1e-10, q
    assert a.loss[-1] < a.loss[0]




def test_interpreter_and_compiled_fit_agree_when_training_initial_states():
    program, u, y, paths = _ss_case()
    program = program.with_parameters({"x_delay.x0": [0.5, -0.5]})
    opts = TrainingOptions(lr0=0.01, epochs=5)
    a = fit(program, u, y, paths + ["x_delay.x0"], opts, backend="compiled")
    b = fit(program, u, y, paths + ["x_delay.x0"], opts, backend="interpreter")
    assert rel(a.loss, b.loss) <= 1e-10


@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
@pytest.mark.parametrize("case", list(CASES))
def test_fit_is_bit_for_bit_repeatable(backend, case):
    program, u, y, paths = CASES[case]()
    opts = TrainingOptions(lr0=0.01, epochs=15 if backend == "compiled" else 5, grad_threshold=1.0)
    a = fit(program, u, y, paths, opts, backend=backend)
    b = fit(program, u, y, paths, opts, backend=backend)
    assert np.array_equal(a.loss, b.loss)
    assert a.final_loss == b.final_loss
    assert all(np.array_equal(a.values[q], b.values[q]) for q in paths)
