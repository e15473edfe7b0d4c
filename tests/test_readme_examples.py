"""Every Python block of the README runs as written, and says what it prints; every shell command parses.

The blocks run in order in one namespace in a temporary folder (:mod:`markdown_examples`). The
checks below hold the numbers the README quotes as facts: the ones that are the same on every
machine (float64 results of numpy arithmetic, the study's published values) exactly as printed,
the rounding-level ones (diagram vs PyTorch or bdsim) against a bound, since the README says those
depend on the machine.
"""

import importlib.util
import re

import numpy as np
import pytest
from markdown_examples import ROOT, check_shell_block, code_blocks, run_python_blocks

README = ROOT / "README.md"
PNG = b"\x89PNG\r\n\x1a\n"


def lines(out: str) -> list[str]:
    return out.strip().splitlines()


def check_leaky_integrator(ns, out):
    # y[k] = u[k] + 0.9·y[k−1] with u = 1: 1, 1.9, 2.71
    assert out == "[0.   0.01 0.02] [1.   1.9  2.71]\n"
    np.testing.assert_allclose(ns["result"]["y"][:3, 0], [1.0, 1.9, 2.71], rtol=1e-15)


def check_result_export(ns, out):
    assert lines(out) == ["Result: T=50 steps, Ts=0.01 s", "  signal  kind    shape", "  y       output  (50, 1)",
                          "(50, 1) t ['y[0]']"]
    np.testing.assert_array_equal(ns["df"]["y[0]"].to_numpy(), ns["result"]["y"][:, 0])


def check_lstm_vs_torch(ns, out):
    check = ns["crosscheck"](ns["w"], ns["u"]).as_dict()
    assert check["float64"]["norm"] < 1e-14 and check["float32"]["norm"] < 5e-6  # rounding (README: machine-dependent)
    assert lines(out)[-1].startswith("{'norm': ")


def check_backends(ns, out):
    assert out == "True\n"
    assert np.abs(ns["fast"]["y"] - ns["ref"]["y"]).max() < 1e-12


def check_gradient(ns, out):
    r = ns["r"]
    assert r.grads["lstm1/R.K"].shape == (20, 5) and np.isfinite(r.loss) and r.loss > 0
    assert r.backend == ("compiled" if importlib.util.find_spec("numba") else "interpreter")


def check_fit(ns, out):
    res = ns["res"]
    assert round(float(res.loss[0]), 2) == 2.06 and res.final_loss < 1e-20  # README: 2.06 → below 1e-20
    poles = np.sort_complex(np.linalg.eigvals(res.values["A.K"]))
    # the true A = [[0.9, 0.2], [-0.2, 0.8]]: trace 1.7, det 0.76, eigenvalues 0.85 ± j·sqrt(0.76 − 0.85²)
    np.testing.assert_allclose(poles, [0.85 - 0.0375 ** 0.5 * 1j, 0.85 + 0.0375 ** 0.5 * 1j], atol=1e-8)


def check_loops(ns, out):
    assert lines(out) == ["[('lstm1/c_delay', 'inner (cell)', 1), ('lstm1/h_delay', 'outer (hidden)', 4)]"]
    assert open("net.png", "rb").read(8) == PNG


def check_scope(ns, out):
    assert open("scope.png", "rb").read(8) == PNG and open("cmp.png", "rb").read(8) == PNG
    assert np.abs(ns["res"]["y"] - ns["y_torch"]).max() < 1e-5  # float32 torch vs float64 diagram


def check_save_load(ns, out):
    from blockloop.diagrams import NetworkWeights, lstm_network

    u = np.random.default_rng(0).standard_normal((51, 4))
    original = lstm_network(NetworkWeights.random(4, 3, 2)).simulate({"u": u})["y"]
    assert np.array_equal(ns["net"].simulate({"u": u})["y"], original)  # "bit-for-bit the same simulation"


def check_bdsim(ns, out):
    assert float(lines(out)[-1]) < 1e-13  # rounding (README: ≈ 1e-15)
    assert ns["res"]["lstm1/sig_f.y"].shape == (51, 3)


REALIZATION_TABLE = {"as_given": "5.87", "matlab": "0.164", "balanced": "0.0177", "unit_covariance": "0.000893"}


def check_study_numbers(ns, out):
    got = lines(out)
    assert got[0] == "7.5351 0.078673"  # the reference's published DC gain and zpk gain
    assert got[1:5] == [f"{k} {v}" for k, v in REALIZATION_TABLE.items()]
    assert got[5] == "8.9e-06" and got[6] == "['0.16', '0.0016', '1.6e-05']"


def check_onnx(ns, out):
    report = ns["report"]
    assert report.ok and report.comparisons["float64"].max_abs <= 1e-12  # README: "float64 ≈ 4e-16 … True"
    assert report.comparisons["float32"].max_abs <= 5e-6 and out.rstrip().endswith("True")


def check_kalman(ns, out):
    mse, trace_p = (float(v) for v in lines(out)[0].split())
    assert round(mse, 2) == 0.58 and round(trace_p, 2) == 0.56  # README: "0.58 0.56"
    assert 1e-6 < float(lines(out)[1]) < 5e-6  # README: "2e-6: tanh's s³/3 at scl = 1e-4"


def check_torch_file(ns, out):
    # README: the file's shapes, a passing crosscheck, and the scripted bare LSTM's identity head (No = Nn = 8)
    assert lines(out) == ["3 [8, 8] 1", "True", "8"]


def check_rate_limited_tracking(ns, out):
    # x[k+1] = x[k] + sat(r[k] − x[k]), r = 0 then 2, |sat| ≤ 0.5: steps of 0.5 until 2
    assert out == "[0.  0.  0.5 1.  1.5 2.  2. ]\n"


def check_pid_loop(ns, out):
    assert out == "overshoot 0.193, y[149] = 1.0007\n"
    y, ref = ns["y"], ns["ref"]
    assert np.max(np.abs(y - ref)) <= 1e-10 and np.max(np.abs(y - ref)) > 0  # two independent computations
    assert (ROOT / "README.md").exists() and open("pid_loop.png", "rb").read(8) == PNG


CHECKS = {
    'loop = Diagram("PID loop")': check_pid_loop,
    'd = Diagram("rate-limited tracking")': check_rate_limited_tracking,
    'd = Diagram("leaky integrator")': check_leaky_integrator,
    'result.save("leaky.npz")': check_result_export,
    'print(crosscheck(w, u).as_dict()["float64"])': check_lstm_vs_torch,
    'fast = program.simulate({"u": u}, backend="compiled")': check_backends,
    "r = blockloop.gradient(": check_gradient,
    "res = fit(": check_fit,
    "report = feedback_loops(net": check_loops,
    "plot_comparison(res, y_torch": check_scope,
    'net = load_diagram("net.json")': check_save_load,
    "crosscheck_bdsim(net, u": check_bdsim,
    "facts = system_facts(reference_system())": check_study_numbers,
    "report = crosscheck_onnx(to_onnx(w), u)": check_onnx,
    'w = load_torch_model("model.pt")': check_torch_file,
    "kf = kalman_predictor_diagram(model)": check_kalman,
}


def test_every_python_block_runs(tmp_path):
    report = run_python_blocks(README, tmp_path, CHECKS)
    assert not [w for w, why in report.skipped.items() if not why.startswith("needs the optional")], report.skipped
    assert len(report.skipped) <= 1, "skip markers are for exceptions: " + repr(report.skipped)
    if report.skipped:
        pytest.skip(f"ran {len(report.ran)} blocks and their checks; skipped {report.skipped}")
    assert report.checked == set(CHECKS)
    assert len(report.ran) == len(code_blocks(README, "python"))


def test_the_realization_table_quotes_the_checked_numbers():
    text = README.read_text(encoding="utf-8")
    for name, value in {**REALIZATION_TABLE, "unit_covariance": "8.9e-4"}.items():
        assert re.search(rf"^\| `{name}` .*\| {re.escape(value)} \|$", text, re.M), name
    assert re.search(r"^\| `unit_covariance --state-std 0.1` \| 8.9e-6 \|$", text, re.M)


def test_every_shell_command_parses():
    blocks = code_blocks(README, "bash", "sh", "shell", "console")
    commands = [cmd for block in blocks for cmd in check_shell_block(block)]
    # every sub-command appears at least once, and the four examples
    for name in ("reproduce", "seeds", "crosscheck", "approx", "loops", "draw", "simulate"):
        assert any(cmd.startswith(f"blockloop {name}") for cmd in commands), name
    assert sum(cmd.startswith("python examples/") for cmd in commands) == 4


def test_blocks_are_fenced_with_a_language():
    """A block without a language tag would escape both runners; only the layout tree may have none."""
    untagged = code_blocks(README, "")
    assert [b.code.splitlines()[0] for b in untagged] == ["blockloop/"]
