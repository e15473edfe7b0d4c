"""One plot style for signal and loss plots: axis labels with units, held-sample stairs, difference panels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from blockloop.viz.plot_style import DIFF_LABEL, STEP_LABEL, stairs, time_label  # noqa: E402


def _steps_post(ax) -> bool:
    lines = ax.get_lines()
    return bool(lines) and all(line.get_drawstyle() == "steps-post" for line in lines)


def test_time_label_and_stairs_hold_the_last_sample():
    from matplotlib.figure import Figure

    assert time_label(0.25) == "t = k·Ts [s], Ts = 0.25 s" and time_label(None) == STEP_LABEL
    ax = Figure().add_subplot()
    (line,) = stairs(ax, np.arange(4) * 0.5, np.array([1.0, 2.0, 3.0, 4.0]), 0.5)
    x, y = line.get_data()
    assert x[-1] == 2.0 and y[-1] == 4.0 and line.get_drawstyle() == "steps-post"  # the last sample held to T·Ts


def test_study_response_and_validation_are_comparisons_with_an_error_panel(tmp_path):
    from blockloop.study.approx import approximate, plot_response
    from blockloop.study.validate import ValidationCase, plot_validation

    run = approximate(steps=21)
    fig = plot_response(run, tmp_path / "resp.png")
    top, bottom = fig.axes
    assert (tmp_path / "resp.png").stat().st_size > 0
    assert top.get_ylabel() == "y" and bottom.get_ylabel() == DIFF_LABEL
    assert bottom.get_xlabel() == time_label(run.info["Ts"])
    assert _steps_post(top) and _steps_post(bottom)
    assert "norm(net − true)" in fig.get_suptitle()

    t = np.arange(10) * 0.1
    case = ValidationCase("v", 2.0, t, np.zeros((10, 1)), np.sin(t)[:, None], np.sin(t)[:, None] + 1e-3, 1e-3, 1e-3)
    fig = plot_validation(case, tmp_path / "val.png")
    top, bottom = fig.axes
    assert bottom.get_xlabel() == "t = k·Ts [s], Ts = 0.1 s" and bottom.get_ylabel() == DIFF_LABEL
    assert "(input ×2)" in fig.get_suptitle() and _steps_post(top)


def test_loss_curves_label_their_axes(tmp_path):
    from blockloop.study.training_log import plot_loss_curves

    fig = plot_loss_curves({"run 1": np.geomspace(1.0, 1e-3, 50)}, tmp_path / "loss.png",
                           published={"run 1": [(10, 0.1)]})
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("epoch") and ax.get_ylabel() == "loss (half-MSE per step)"
    assert ax.get_yscale() == "log" and (tmp_path / "loss.png").stat().st_size > 0


@pytest.mark.parametrize("Ts, xlabel", [(0.1, "t = k·Ts [s], Ts = 0.1 s"), (None, STEP_LABEL)])
def test_kalman_traces_have_signals_predictions_and_an_error_panel(tmp_path, Ts, xlabel):
    from blockloop.study.kalman_report import plot_traces

    rng = np.random.default_rng(0)
    T = 30
    traces = {"x": rng.standard_normal((T + 1, 2)), "z": rng.standard_normal((T + 1, 1)),
              "target": rng.standard_normal((T, 1)), "kalman": rng.standard_normal((T, 1)),
              "rnn": rng.standard_normal((T, 1))}
    fig = plot_traces(traces, Ts, tmp_path / "tr.png", steps=20)
    state, pred, err = fig.axes
    assert state.get_ylabel() == "state x₁" and pred.get_ylabel() == "one-step prediction"
    assert err.get_ylabel() == "prediction − target" and err.get_xlabel() == xlabel
    assert len(err.get_lines()) == 2 and _steps_post(err) and _steps_post(state)
    np.testing.assert_allclose(err.get_lines()[0].get_ydata()[:20], traces["kalman"][:20, 0] - traces["target"][:20, 0])
