"""Approximation error of the computed-weight LSTM, the sweep, the plots and ``blockloop approx``."""

import doctest
import json

import numpy as np
import pytest

from blockloop.cli import main
from blockloop.errors import ParameterError
from blockloop.study import approx
from blockloop.study.approx import (
    approximate,
    approximation_error,
    format_sweep,
    plot_response,
    plot_sweep,
    simulate_linear,
    simulate_lstm,
    sweep,
    validation_input,
)
from blockloop.study.lstm_from_ss import lstm_weights_from_ss
from blockloop.study.systems import random_stable_system, reference_system

PNG = b"\x89PNG\r\n\x1a\n"


def test_small_state_realization_reproduces_the_system_to_1e_5():
    """51 steps, scl = 1e-3, β = 100: states whitened to std 0.1 (ten times smaller than the input)."""
    run = approximate(realization="unit_covariance", state_std=0.1, scl=1e-3, beta=100.0, steps=51)
    assert run.error_norm <= 1e-5
    assert run.y.shape == run.z.shape == (51, 1)
    assert np.max(np.abs(run.y)) > 5  # a real signal, not a trivially small one


def test_error_depends_on_the_realization():
    """Same system, same input: the larger the states, the larger the tanh error (seed 0, 51 steps)."""
    errors = {name: approximate(realization=name).error_norm
              for name in ("as_given", "matlab", "balanced", "unit_covariance")}
    assert errors["unit_covariance"] < errors["balanced"] < errors["matlab"] < errors["as_given"]
    assert errors["unit_covariance"] < 1e-3 and errors["as_given"] > 1.0


@pytest.mark.parametrize("realization", ["as_given", "balanced", "matlab"])
def test_error_falls_with_scl_like_scl_squared(realization):
    rows = sweep(scls=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5), betas=(100.0,), realizations=(realization,))
    errors = [r["error_norm"] for r in rows]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False))
    # tanh(v) ≈ v − v³/3: once in the linear range, error ∝ scl²: 100× per decade
    assert 50 < errors[-2] / errors[-1] < 200


def test_error_falls_with_beta_until_the_tanh_error_dominates():
    rows = sweep(scls=(1e-4,), betas=(2.0, 5.0, 10.0, 20.0, 100.0), realizations=("balanced",))
    errors = [r["error_norm"] for r in rows]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False))
    assert errors[0] > 10 and errors[-1] < 1e-3


def test_units_n_variant_trades_off_the_direct_path():
    """Nn = n puts C·A⁻¹·B (0.0861 here) in place of D = 0: an error of about 0.0861·norm(u)."""
    run = approximate(units="n", realization="unit_covariance", state_std=0.1)
    expected = 0.0861 * np.linalg.norm(run.u)
    assert run.error_norm == pytest.approx(expected, rel=0.05)


def test_approximation_error_matches_simulations_and_mimo_works():
    sys = random_stable_system(3, 2, 2, seed=11)
    w, _ = lstm_weights_from_ss(sys, realization="balanced", scl=1e-4)
    u = validation_input(2, 40, seed=3)
    y, z = simulate_linear(sys, u), simulate_lstm(w, u, 0.01)
    assert y.shape == z.shape == (40, 2)
    err = approximation_error(sys, w, u)
    assert err == pytest.approx(np.linalg.norm(y - z, 2))
    assert err < 1e-4


def test_diagram_agrees_with_nn_lstm():
    pytest.importorskip("torch")
    run = approximate(realization="matlab", crosscheck=True)
    assert run.torch_diff < 1e-10


def test_input_shape_errors():
    sys = reference_system()
    w, _ = lstm_weights_from_ss(sys)
    with pytest.raises(ParameterError, match=r"simulate_linear u: expected shape \(T, 1\)"):
        simulate_linear(sys, np.zeros((5, 2)))
    with pytest.raises(ParameterError, match=r"simulate_lstm u: expected shape \(T, 1\)"):
        simulate_lstm(w, np.zeros((2, 5, 1)))
    with pytest.raises(ParameterError, match="NaN"):
        simulate_linear(sys, [0.0, np.nan])
    with pytest.raises(ParameterError, match="engine: expected 'diagram' or 'torch'"):
        simulate_lstm(w, np.zeros((5, 1)), engine="jax")
    with pytest.raises(ParameterError, match="steps: expected a positive integer"):
        validation_input(1, 0)


def test_simulate_linear_starts_from_zero_state():
    y = simulate_linear(reference_system(), np.ones((4, 1)))
    assert y[0, 0] == 0.0  # D = 0 and x0 = 0
    assert y[1, 0] == pytest.approx(float((reference_system().C @ reference_system().B)[0, 0]))


def test_sweep_table_and_plots(tmp_path):
    rows = sweep(scls=(1e-2, 1e-3), betas=(10.0, 100.0), realizations=("as_given", "balanced"))
    assert len(rows) == 8
    assert set(rows[0]) == {"realization", "units", "scl", "beta", "error_norm", "max_hidden", "max_hidden_expected"}
    text = format_sweep(rows)
    assert text.splitlines()[0].split()[:4] == ["realization", "units", "scl", "beta"] and len(text.splitlines()) == 9
    plot_sweep(rows, tmp_path / "sweep.png")
    plot_response(approximate(), tmp_path / "response.png")
    for name in ("sweep.png", "response.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_cli_json_keys(capsys):
    assert main(["approx", "--json", "--realization", "matlab"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"W", "R", "b", "F", "error_norm", "dcgain", "zeros", "poles"} <= set(out)
    assert np.array(out["W"]).shape == (20, 1) and np.array(out["R"]).shape == (20, 5)
    assert np.array(out["F"]).shape == (1, 5) and len(out["b"]) == 20
    np.testing.assert_allclose(out["F"][0], [325.4911, -78.8823, 18.4092, 212.6357, -86.0996], atol=5e-5)
    assert round(out["dcgain"][0][0], 4) == 7.5351
    assert sorted(round(re, 4) for re, im in out["zeros"]) == [-3.5168, -0.2599, 0.9608]
    assert all(len(p) == 2 for p in out["poles"]) and out["realization"] == "matlab"
    assert out["error_norm"] < 1.0


def test_cli_text_system_file_sweep_and_plot(tmp_path, capsys):
    sys = random_stable_system(2, 1, 1, seed=2)
    path = tmp_path / "plant.json"
    path.write_text(json.dumps({"A": sys.A.tolist(), "B": sys.B.tolist(), "C": sys.C.tolist(),
                                "D": sys.D.tolist(), "Ts": 0.1}))
    plot = tmp_path / "sweep.png"
    assert main(["approx", "--system", str(path), "--realization", "balanced", "--sweep",
                 "--plot", str(plot), "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "realization: balanced" in out and "norm(y - z) over 20 steps" in out and "matlab" in out
    assert plot.read_bytes()[:8] == PNG


def test_cli_bad_system_file(tmp_path, capsys):
    path = tmp_path / "plant.json"
    path.write_text(json.dumps({"A": [[0.5]], "B": [[1.0]], "C": [[1.0]]}))
    assert main(["approx", "--system", str(path)]) == 2
    err = capsys.readouterr().err
    assert "blockloop approx: error:" in err and "plant.json" in err and "missing field(s) D" in err


def test_docstring_examples():
    failures, tried = doctest.testmod(approx)
    assert tried > 0 and failures == 0
