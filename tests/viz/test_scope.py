"""Scopes: stairs plots of results, comparison plots, and ``crosscheck --plot``."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.interop.torch import matlab_norm  # noqa: E402
from blockloop.viz.scope import LEGEND_MAX, plot_comparison, plot_result  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_ok(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


@pytest.fixture(scope="module")
def result():
    net = lstm_network(NetworkWeights.random(4, 3, 2))
    u = np.random.default_rng(0).standard_normal((51, 4))
    return net.simulate({"u": u}, Ts=0.1, probes=["lstm1/sig_f.y", "lstm1/gates.y"])


@pytest.fixture(scope="module")
def batched():
    net = lstm_network(NetworkWeights.random(4, 3, 2))
    return net.simulate({"u": np.random.default_rng(1).standard_normal((20, 3, 4))}, Ts=0.5)


def test_result_plot_draws_one_axes_per_signal(tmp_path, result):
    fig = result.plot(file=tmp_path / "scope.png")
    _png_ok(tmp_path / "scope.png")
    assert [a.get_title(loc="left") for a in fig.axes] == ["y", "lstm1/sig_f.y", "lstm1/gates.y (12 components)"]
    assert [len(a.get_lines()) for a in fig.axes] == [2, 3, 12]
    assert fig.axes[-1].get_xlabel() == "t = k·Ts [s], Ts = 0.1 s"
    assert [a.get_ylabel() for a in fig.axes] == ["y", "lstm1/sig_f.y", "lstm1/gates.y"]
    assert all(a.get_legend() is not None for a in fig.axes[:2]) and fig.axes[2].get_legend() is None
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["[0]", "[1]", "[2]"]
    assert "Ts = 0.1 s, T = 51 steps" in fig.get_suptitle()


def test_stairs_hold_each_sample_for_one_period(result):
    fig = plot_result(result, "y", ax=Figure())
    line = fig.axes[0].get_lines()[1]
    assert line.get_drawstyle() == "steps-post"
    x, y = line.get_xdata(), line.get_ydata()
    assert np.allclose(x[:-1], result.t) and x[-1] == pytest.approx(result.t[-1] + 0.1)
    assert np.array_equal(y[:-1], result["y"][:, 1]) and y[-1] == result["y"][-1, 1]


def test_batched_result_plots_the_chosen_row(batched):
    fig = plot_result(batched, ax=Figure(), batch=2)
    assert np.array_equal(fig.axes[0].get_lines()[0].get_ydata()[:-1], batched["y"][:, 2, 0])
    assert "batch row 2 of 3" in fig.get_suptitle()
    with pytest.raises(ParameterError, match="batch=3: signal 'y' has a batch of 3 rows"):
        plot_result(batched, ax=Figure(), batch=3)


def test_axes_arguments(result):
    fig = Figure()
    axes = fig.subplots(2, 1)
    assert plot_result(result, ["y", "lstm1/sig_f.y"], ax=axes) is fig
    assert len(axes[1].get_lines()) == 3
    with pytest.raises(ParameterError, match="3 axes are needed here, 2 given"):
        plot_result(result, ax=list(axes))
    with pytest.raises(KeyError, match="no logged signal 'z'"):
        plot_result(result, "z", ax=Figure())


def test_file_plots_do_not_touch_pyplot(tmp_path):
    code = ("import sys, numpy as np\n"
            "from blockloop.diagrams import NetworkWeights, lstm_network\n"
            "r = lstm_network(NetworkWeights.random(2, 2, 1)).simulate({'u': np.ones((5, 2))})\n"
            f"r.plot(file={str(tmp_path / 'a.png')!r})\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    _png_ok(tmp_path / "a.png")


def test_comparison_of_result_and_arrays(tmp_path, result):
    y = result["y"]
    other = y + 1e-7 * np.arange(y.size).reshape(y.shape) / y.size
    fig = plot_comparison(result, other, other.astype(np.float32), labels=("diagram", "b", "c"),
                          file=tmp_path / "cmp.png")
    _png_ok(tmp_path / "cmp.png")
    top, bottom = fig.axes
    assert len(top.get_lines()) == 3 * 2 and len(bottom.get_lines()) == 2 * 2
    assert bottom.get_yscale() == "log" and bottom.get_xlabel() == f"t = k·Ts [s], Ts = {result.Ts:g} s"
    assert top.get_ylabel() == "y" and bottom.get_ylabel() == "|difference|"
    assert f"norm(b − diagram) = {matlab_norm(other - y):.5g}" in fig.get_suptitle()
    assert "norm(c − diagram)" in fig.get_suptitle()
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == ["b", "c"]


def test_large_differences_stay_linear_and_identical_runs_say_so():
    y = np.sin(np.arange(30.0))[:, None]
    fig = plot_comparison(y, 0.5 * y, labels=("true", "net"), Ts=0.1, ax=Figure())
    assert fig.axes[1].get_yscale() == "linear"
    assert fig.get_suptitle() == f"signal: norm(net − true) = {matlab_norm(0.5 * y - y):.5g}"
    fig = plot_comparison(y, y.copy(), ax=Figure())
    assert "exactly 0" in fig.axes[1].texts[0].get_text() and fig.axes[1].get_xlabel() == "step k"


def test_many_components_use_the_max_difference():
    y = np.random.default_rng(0).standard_normal((10, LEGEND_MAX + 4))
    fig = plot_comparison(y, y + 1e-9, ax=Figure())
    assert len(fig.axes[1].get_lines()) == 1
    assert fig.axes[1].get_title(loc="left").startswith("max over components")


def test_comparison_rejects_mismatches(result):
    with pytest.raises(ParameterError, match=r"different shapes.*a \(51, 2\), b \(50, 2\)"):
        plot_comparison(result, result["y"][:50], ax=Figure())
    with pytest.raises(ParameterError, match="2 runs but 3 labels"):
        plot_comparison(result, result, labels=("a", "b", "c"), ax=Figure())


def test_crosscheck_plot(tmp_path, capsys):
    pytest.importorskip("torch")
    from blockloop.cli import main

    assert main(["crosscheck", "--steps", "21", "--plot", str(tmp_path / "xc.png")]) == 0
    _png_ok(tmp_path / "xc.png")
    assert f"wrote {tmp_path / 'xc.png'}" in capsys.readouterr().out
    assert main(["crosscheck", "--plot", str(tmp_path / "xc.txt")]) == 2
    assert "--plot" in capsys.readouterr().err and not (tmp_path / "xc.txt").exists()


def test_crosscheck_figure_has_both_difference_traces():
    pytest.importorskip("torch")
    from blockloop.cli.crosscheck import plot_crosscheck
    from blockloop.interop.torch import crosscheck

    w = NetworkWeights.random(4, 3, 2)
    report = crosscheck(w, np.random.default_rng(0).standard_normal((21, 2, 4)))
    fig = plot_crosscheck(report, None)
    texts = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert texts == ["torch float32", "torch float64"] and len(fig.axes[1].get_lines()) == 4
    assert "batch row 0 of 2" in fig.get_suptitle() and "norm(torch float32 − diagram float64)" in fig.get_suptitle()
    import matplotlib.pyplot as plt

    plt.close(fig)  # no file given: the figure came from pyplot


def test_docstring_examples():
    import doctest

    import blockloop.viz.scope as scope

    failures, tried = doctest.testmod(scope)
    assert tried > 0 and failures == 0
