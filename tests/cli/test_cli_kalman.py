"""``blockloop kalman``: end to end (a shortened run, and the real ``--quick`` when slow tests run), and bad inputs."""

import json

import numpy as np
import pytest

from blockloop.cli import main
from blockloop.diagrams import LinearGaussianModel, steady_state
from blockloop.errors import ParameterError

KEYS = {"kf_vs_library_max_abs", "mse", "eig_true", "eig_rnn", "eig_gru", "eig_lstm"}


def _check(out: dict, folder) -> None:
    assert KEYS <= set(out)
    assert {"kalman", "rnn", "gru", "lstm"} <= set(out["mse"])
    assert out["kf_vs_library_max_abs"] is None or out["kf_vs_library_max_abs"] <= 1e-10
    # the Kalman filter is the optimum: its held-out MSE is near trace(S)/p (sampling error), and the
    # untrained RNN with the computed Kalman weights (tanh kept linear) gives the same predictions
    first = out["systems"][0]
    assert abs(out["mse"]["kalman"] / first["mse_theory"] - 1) < 0.5
    assert abs(out["mse_ratio"]["rnn_kalman_computed"] - 1) < 1e-2
    n = first["n"]
    assert len(out["eig_true"]) == n and len(out["eig_rnn"]) == n and len(out["eig_lstm"]) == 2 * n
    assert np.allclose(sorted(abs(complex(*e)) for e in out["eig_true"]),
                       sorted(abs(complex(*e)) for e in first["eig_true"]))
    for name in ("report.md", "report.html", "results.json", "kalman_traces.png", "kalman_rnn_scl.png",
                 "kalman_eig_reference.png", "kalman_mse_random.png"):
        assert (folder / name).is_file(), name
    assert "What matches and what does not" in (folder / "report.md").read_text()
    assert json.loads((folder / "results.json").read_text())["systems"][1]["name"] == "random"


def test_kalman_short_run_json(tmp_path, capsys):
    assert main(["kalman", "--quick", "--steps", "120", "--epochs", "15", "--json", "--out", str(tmp_path)]) == 0
    _check(json.loads(capsys.readouterr().out), tmp_path)


@pytest.mark.slow
def test_kalman_quick_end_to_end(tmp_path, capsys):
    import time

    t0 = time.perf_counter()
    assert main(["kalman", "--quick", "--json", "--out", str(tmp_path)]) == 0
    assert time.perf_counter() - t0 < 60
    out = json.loads(capsys.readouterr().out)
    _check(out, tmp_path)
    assert out["mse_ratio"]["rnn_kalman_init"] < 1.1  # fine-tuning from the filter stays near the optimum


def test_system_file_with_noise_fields(tmp_path):
    """--system FILE: A, B, C, D, Ts and the optional Q and R (the model the command builds from it)."""
    from blockloop.study.kalman_experiment import load_model

    sysfile = tmp_path / "plant.json"
    sysfile.write_text(json.dumps({"A": [[0.8, 0.1], [0.0, 0.5]], "B": [[1.0], [0.3]], "C": [[1.0, 1.0]],
                                   "D": [[0.0]], "Ts": 0.1, "Q": [[0.1, 0.0], [0.0, 0.1]], "R": [[0.2]]}))
    m = load_model(sysfile)                                          # in balanced coordinates
    assert m.R.tolist() == [[0.2]] and m.Ts == 0.1
    assert sorted(np.abs(np.linalg.eigvals(m.A))) == pytest.approx([0.5, 0.8])
    # Q moved with the states: the innovation covariance (coordinate-free) is that of the model as given
    given = LinearGaussianModel(A=[[0.8, 0.1], [0.0, 0.5]], B=[[1.0], [0.3]], H=[[1.0, 1.0]], D=[[0.0]],
                                Q=0.1 * np.eye(2), R=[[0.2]])
    assert steady_state(m).S == pytest.approx(steady_state(given).S, rel=1e-10)
    continuous = tmp_path / "c.json"
    continuous.write_text(json.dumps({"A": [[-1.0]], "B": [[1.0]], "C": [[1.0]], "D": [[0.0]], "Ts": 0}))
    with pytest.raises(ParameterError, match="continuous-time"):
        load_model(continuous)


@pytest.mark.parametrize("argv, message", [
    (["--steps", "20"], "steps: expected more than"),
    (["--system", "no/such.json"], "no such system file"),
])
def test_bad_inputs_are_clean_errors(tmp_path, capsys, argv, message):
    assert main(["kalman", "--quick", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_bad_noise_in_the_file_names_the_matrix(tmp_path, capsys):
    sysfile = tmp_path / "bad.json"
    sysfile.write_text(json.dumps({"A": [[0.5]], "B": [[1.0]], "C": [[1.0]], "D": [[0.0]], "Ts": 1,
                                   "Q": [[-1.0]]}))
    assert main(["kalman", "--system", str(sysfile), "--quick", "--out", str(tmp_path)]) == 2
    assert "Q: not positive semi-definite" in capsys.readouterr().err
