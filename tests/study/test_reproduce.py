"""``blockloop reproduce --quick`` end to end: report, results.json with published values, figures."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("torch")

from blockloop.cli import main  # noqa: E402
from blockloop.study.reproduce import QUICK_EPOCHS, RESULT_KEYS  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["reproduce", "--quick", "--out", str(out), "--no-progress"])
    return status, out, stdout.getvalue()


def test_quick_run_exits_cleanly_and_prints_logs_and_summary(study):
    status, _, text = study
    assert status == 0
    assert text.count("Epoch\tIteration\tTime Elapsed (hh:mm:ss)") == 2
    assert re.search(rf"^{QUICK_EPOCHS}\t{QUICK_EPOCHS}\t00:00:\d\d\t", text, re.M)
    assert "DC gain 7.5351 (published 7.5351)" in text


def test_results_json_has_every_section_and_published_values(study):
    _, out, _ = study
    res = json.loads((out / "results.json").read_text())
    assert set(res) == set(RESULT_KEYS)
    assert res["config"]["epochs"] == QUICK_EPOCHS
    assert res["system"]["dcgain"]["published"] == 7.5351
    assert res["system"]["dcgain"]["value"] == pytest.approx(7.5351, abs=5e-5)
    assert res["system"]["D"] == {"value": 0.0, "published": 0.0}
    c = res["computed_weights"]
    assert c["F"]["value"][0] == pytest.approx(c["F"]["published"][0], abs=1e-4)  # the reference's F
    assert c["error_norm"]["value"] < 1.0 and c["diagram_vs_torch_float64"] < 1e-10
    assert set(c["error_norm_by_realization"]) == {"as_given", "matlab", "balanced", "unit_covariance"}
    assert res["crosscheck"]["float64"]["ok"] is True
    assert len(res["sweep"]["rows"]) >= 20
    for name in ("from_computed", "from_random"):
        run = res["training"][name]
        assert run["epochs"] == QUICK_EPOCHS and len(run["log"]) == 2
        assert run["initial_loss"]["published"] in (1.2e-3, 30.3)
        assert run["last_logged_loss"]["published"] is None  # published only for 10 000 epochs
        assert [v["scale"] for v in run["validation"]] == [1.0, 3.0]
        assert run["us_per_epoch"] > 0
    rb = res["training"]["from_computed"]["readback"]
    assert set(rb) >= {"dcgain", "D", "zpk", "poles", "zeros"}
    assert res["training"]["from_computed"]["gate_changes_vs_computed"]["i"] == {"W": 0.0, "R": 0.0, "b": 0.0}
    assert res["parameters"]["reference_example"]["counted"] == 120000
    assert res["timing"]["matlab_s_per_run"] == 45.0


def test_results_json_holds_the_full_loss_curve(study):
    _, out, _ = study
    res = json.loads((out / "results.json").read_text())
    for name in ("from_computed", "from_random"):
        run = res["training"][name]
        curve = run["loss_curve"]
        assert len(curve) == QUICK_EPOCHS and all(isinstance(v, float) for v in curve)
        # the curve's first and last entries are the logged epoch-1 and last-epoch losses, to 7 digits
        assert curve[0] == pytest.approx(run["initial_loss"]["value"], rel=1e-6)
        assert curve[-1] == pytest.approx(run["last_logged_loss"]["value"], rel=1e-6)
        assert {e["epoch"]: e["loss"] for e in run["log"]}[1] == pytest.approx(curve[0], rel=1e-6)


def test_loss_curve_rounds_to_seven_digits_and_maps_nan_to_null():
    from blockloop.study.reproduce import _jsonable, _loss_curve

    assert _loss_curve(np.array([1.2345678912, 30.3, 1e-20 / 3])) == [1.234568, 30.3, 3.333333e-21]
    assert json.dumps(_jsonable(_loss_curve([np.nan, 2.0]))) == "[null, 2.0]"


def test_report_files_reference_existing_figures(study):
    _, out, _ = study
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(figures) == 9  # response, sweep, loss curves, 3 networks × (u, 3u)
    for name in figures:
        assert (out / name).stat().st_size > 5000, name
        assert f'src="{name}"' in html
    for heading in ("## The linear system", "## LSTM with computed weights", "## Training as trainNetwork did it",
                    "## Parameter count of stacked LSTM layers"):
        assert heading in md
    assert "7.5351" in md and "120000" in md and "<table>" in html


def test_report_rebuilds_from_results_json(study):
    from blockloop.study.reproduce_report import build_report

    _, out, _ = study
    rebuilt = build_report(json.loads((out / "results.json").read_text())).to_markdown()
    assert rebuilt == (out / "report.md").read_text()


def test_bad_arguments_give_a_clean_error(tmp_path, capsys):
    assert main(["reproduce", "--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    assert "epochs" in capsys.readouterr().err


@pytest.mark.slow
def test_full_study_matches_the_published_statistics(tmp_path):
    """Two 10 000-epoch runs (about half a minute): the endpoints land where MATLAB's did, statistically.

    Over seeds 0–9 (diagram trainer, float64; see test_seeds_study_matches_the_readme) run 1's last
    loss ranged 0.0048–0.071 (published 0.031) and the read-back DC gain 7.67–10.1 (published
    8.3344); run 2's last loss 0.037–0.254 (published 0.025).
    """
    from blockloop.study.reproduce import StudyConfig, run_study

    res = run_study(StudyConfig(out=tmp_path, epochs=10000, seed=0))
    run1, run2 = res["training"]["from_computed"], res["training"]["from_random"]
    assert run1["min_loss"] == run1["initial_loss"]["value"]  # the computed weights are the best point seen
    assert 1 / 3 < run1["last_logged_loss"]["value"] / run1["last_logged_loss"]["published"] < 3
    assert abs(run1["readback"]["dcgain"]["value"] / 8.3344 - 1) < 0.25
    assert abs(run1["readback"]["D"]["value"]) < 0.03
    # saturated gates stay put: σ'(±100) ≈ 4e-44, so the forget gate moves by ~1e-41 in float64 (0 in float32)
    assert max(run1["gate_changes_vs_computed"]["f"].values()) < 1e-30
    assert run2["last_logged_loss"]["value"] < run2["initial_loss"]["value"] / 50
    assert run2["last_logged_loss"]["value"] / run2["last_logged_loss"]["published"] < 10


@pytest.mark.slow
def test_seeds_study_matches_the_readme():
    """The README's seeds 0–9 table (20 runs of 10 000 epochs: about 5 minutes on 2 cores)."""
    import statistics

    from blockloop.study.seeds import run_seeds

    rows = run_seeds(range(10))
    run1 = [r for r in rows if r.run == "from_computed"]
    run2 = [r for r in rows if r.run == "from_random"]
    loss1, dc1, loss2 = ([r.last_loss for r in run1], [r.dcgain for r in run1], [r.last_loss for r in run2])
    assert min(loss1) < 0.031 < max(loss1) and 0.02 < statistics.median(loss1) < 0.06  # README: 0.036 [0.0048, 0.071]
    assert min(dc1) < 8.3344 < max(dc1) and abs(statistics.median(dc1) / 8.20 - 1) < 0.05
    assert min(loss2) > 0.025 and 0.1 < statistics.median(loss2) < 0.3  # README: 0.195 [0.037, 0.254]
