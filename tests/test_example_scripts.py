"""The scripts in ``examples/`` run, print what they promise and write only into their ``--out`` folder."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(name: str, tmp_path: Path, *args: str) -> tuple[str, Path]:
    """Run ``examples/name`` from an empty working folder with ``--out``; return stdout and the out folder."""
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--out", str(out), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(cwd.iterdir()) == [], "an example wrote outside its --out folder"
    return proc.stdout, out


def test_the_folder_holds_the_four_examples():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "linear_system_study.py", "lstm_loops.py", "pid_loop.py", "torch_model_check.py"]


def test_pid_loop(tmp_path):
    out, folder = run_example("pid_loop.py", tmp_path)
    assert "diagram vs hand-written loop: max |difference| = 0.0e+00" in out
    # the integral action: y → 1; y[0] = 0 (the plant's delay), y[1] = 0.1·u[0] = 0.1·(Kp + Ki·Ts + Kd/Ts)·1 = 0.26
    assert out.splitlines()[0].startswith("y at t = 0, 1, 2, 5, 14.9 s: [0.0, ")
    assert "loop family i_z (inner): 1 loop(s)" in out and "loop family x_z (outer): 4 loop(s)" in out
    assert (folder / "pid_step.png").read_bytes()[:8] == PNG


def test_pid_diagram_first_steps():
    spec = importlib.util.spec_from_file_location("pid_loop", EXAMPLES / "pid_loop.py")
    pid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pid)
    y = pid.pid_loop().simulate({"r": [[1.0]] * 3}, Ts=pid.TS)["y"][:, 0]
    # by hand: y0 = 0; u0 = 2·1 + 0.1·1 + 0.5·1 = 2.6, y1 = 0.1·2.6 = 0.26
    assert y[0] == 0.0 and y[1] == pytest.approx(0.26, rel=1e-15)


def test_lstm_loops(tmp_path):
    out, folder = run_example("lstm_loops.py", tmp_path)
    assert "inner (cell): 1 loop(s) closed by lstm1/c_delay" in out
    assert "outer (hidden): 4 loop(s) closed by lstm1/h_delay" in out
    assert "    c_delay → f_c → c_sum → c_delay" in out
    assert (folder / "lstm.dot").read_text().startswith("digraph")
    assert (folder / "lstm.png").read_bytes()[:8] == PNG


def test_torch_model_check(tmp_path):
    pytest.importorskip("torch")
    out, folder = run_example("torch_model_check.py", tmp_path)
    diff = float(out.split("diagram vs your model (float64): max |difference| = ")[1].split()[0])
    assert diff < 1e-12
    assert (folder / "model.json").is_file() and (folder / "model.npz").is_file()


def test_linear_system_study(tmp_path):
    out, folder = run_example("linear_system_study.py", tmp_path, "--epochs", "3")
    assert out.splitlines()[0] == "plant: DC gain 7.5351, zpk gain 0.078673, zeros [-3.5168, -0.2599, 0.9608]"
    assert "realization matlab           norm(y - z) = 0.164" in out
    assert "F = [[325.49, -78.88, 18.41, 212.64, -86.1]]" in out  # the reference's printed F
    assert (folder / "approx_response.png").read_bytes()[:8] == PNG
