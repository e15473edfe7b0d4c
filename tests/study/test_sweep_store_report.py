"""The SQLite store and the report, on outcomes written by hand (no Dask, no training)."""

import doctest
import json
import sqlite3

import pytest

from blockloop.cli import main
from blockloop.errors import ParameterError
from blockloop.study.sweep import report as sweep_report
from blockloop.study.sweep import store as sweep_store
from blockloop.study.sweep.config import canonical_json, config_hash, normalize_run
from blockloop.study.sweep.report import summarize, write_report
from blockloop.study.sweep.store import SweepStore


def outcome(status="completed", **metrics):
    return {"status": status, "error": None if status == "completed" else f"{status} on purpose",
            "metrics": metrics, "worker": "tcp://w:1", "wall_s": 0.5}


def test_docstring_examples():
    for module in (sweep_store, sweep_report):
        failures, tried = doctest.testmod(module)
        assert tried >= 1 and failures == 0


def test_one_row_per_configuration_with_its_canonical_json_and_hash(tmp_path):
    cfg = normalize_run({"seed": 2, "lr0": 3e-4})
    with SweepStore(tmp_path / "s.sqlite") as store:
        store.put(cfg, outcome(final_loss=0.25, best_loss=0.125, near_linear=True,
                               rel_dist={"i": 0.0, "g": 0.5}))
        store.put(cfg, outcome(final_loss=99.0))                    # the same run again: kept once, unchanged
        (row,) = store.rows()
    assert row["hash"] == config_hash(cfg) and row["config"] == cfg
    assert (row["seed"], row["lr0"], row["init"], row["status"]) == (2, 3e-4, "computed", "completed")
    assert (row["final_loss"], row["best_loss"], row["near_linear"]) == (0.25, 0.125, True)
    assert row["metrics"]["rel_dist"] == {"i": 0.0, "g": 0.5} and row["worker"] == "tcp://w:1"
    # plain SQL sees the same row, and the stored text is the canonical JSON
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("SELECT config, final_loss FROM runs").fetchall() == [(canonical_json(cfg), 0.25)]


def test_a_failed_row_is_replaced_by_the_rerun_and_nan_is_stored_as_null(tmp_path):
    cfg = normalize_run({"seed": 1})
    with SweepStore(tmp_path / "s.sqlite") as store:
        store.put(cfg, outcome("failed"))
        assert store.count() == {"completed": 0, "diverged": 0, "failed": 1}
        store.put(cfg, outcome("diverged", start_max_rel_dist=0.0, final_loss=float("nan")))
        assert store.count() == {"completed": 0, "diverged": 1, "failed": 0}
        (row,) = store.rows()
    assert row["final_loss"] is None and row["error"] == "diverged on purpose"
    assert row["metrics"] == {"start_max_rel_dist": 0.0, "final_loss": None}
    with pytest.raises(ParameterError, match="status"):
        SweepStore(tmp_path / "s.sqlite").put(cfg, outcome("lost"))


def test_opening_something_that_is_not_a_store(tmp_path):
    with pytest.raises(ParameterError, match="no such file"):
        SweepStore(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    (tmp_path / "text.sqlite").write_text("hello, I am not a database" * 100)
    with pytest.raises(ParameterError, match="not a sweep store"):
        SweepStore(tmp_path / "text.sqlite", readonly=True)
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    with pytest.raises(ParameterError, match="not a sweep store"):
        SweepStore(tmp_path / "other.sqlite", readonly=True)


def hand_made_sweep(path):
    """Eleven runs whose report numbers are easy to count (near = max_rel_dist ≤ 0.1, the default)."""
    def put(store, fields, status="completed", **m):
        cfg = normalize_run({"epochs": 10, **fields})
        m.setdefault("start_max_rel_dist", fields.get("noise", 0.0))
        store.put(cfg, outcome(status, **m))

    with SweepStore(path) as s:
        s.set_meta("name", "hand")
        common = {"final_loss": 0.1, "best_loss": 0.05, "near_linear": True, "dcgain": 8.0, "pole_error": 0.01}
        put(s, {"seed": 0}, **{**common, "max_rel_dist": 0.05})                          # near
        put(s, {"seed": 1}, **{**common, "max_rel_dist": 0.2, "final_loss": 0.3})       # not near
        put(s, {"seed": 0, "lr0": 3e-4}, **{**common, "max_rel_dist": 0.08, "final_loss": 1.0})  # heat map only
        for seed, dist in ((0, 0.05), (1, 0.08)):                                        # noise 0.01: 2 of 2 near
            put(s, {"init": "perturbed", "noise": 0.01, "seed": seed}, **{**common, "max_rel_dist": dist})
        put(s, {"init": "perturbed", "noise": 0.1, "seed": 0}, **{**common, "max_rel_dist": 0.3})  # 0 of 2
        put(s, {"init": "perturbed", "noise": 0.1, "seed": 1}, "diverged")
        put(s, {"init": "random", "seed": 0}, final_loss=2.0, best_loss=1.0, max_rel_dist=1.5, near_linear=False)
        put(s, {"init": "random", "seed": 1}, final_loss=4.0, best_loss=2.0, max_rel_dist=1.4, near_linear=False)
        put(s, {"init": "random", "seed": 2}, "diverged")
        put(s, {"init": "random", "seed": 3}, "failed")


def test_summary_counts_fractions_basin_width_and_heat_map(tmp_path):
    hand_made_sweep(tmp_path / "s.sqlite")
    with SweepStore(tmp_path / "s.sqlite", readonly=True) as store:
        s = summarize(store.rows())
    assert s["counts"] == {"completed": 8, "diverged": 2, "failed": 1} and s["runs"] == 11
    c, p, r = s["by_init"]["computed"], s["by_init"]["perturbed"], s["by_init"]["random"]
    assert (c["runs"], c["near"], c["near_fraction"]) == (3, 2, 2 / 3)
    assert (p["runs"], p["near"], p["near_fraction"], p["diverged"]) == (4, 2, 0.5, 1)
    assert (r["runs"], r["near"], r["near_fraction"], r["failed"]) == (4, 0, 0.0, 1)   # failed: not counted
    assert r["final_loss"] == {"median": 3.0, "min": 2.0, "max": 4.0} and r["near_linear_fraction"] == 0.0
    basin = s["basin"]["relative"]
    # noise 0 = the computed runs trained like the perturbed ones (lr0 1e-4, not the 3e-4 one)
    assert [(e["noise"], e["runs"], e["near_fraction"]) for e in basin["rows"]] == [
        (0.0, 2, 0.5), (0.01, 2, 1.0), (0.1, 2, 0.0)]
    assert basin["width"] == 0.01
    heat = s["heatmap"]["computed"]
    assert heat["lr0"] == [1e-4, 3e-4] and heat["drop_factor"] == [0.99]
    assert [(x["lr0"], x["runs"], x["final_loss_median"]) for x in heat["cells"]] == [(1e-4, 2, 0.2), (3e-4, 1, 1.0)]
    assert len(s["failed"]) == 1 and s["failed"][0]["error"] == "failed on purpose"
    assert summarize([], 0.5)["runs"] == 0
    with pytest.raises(ParameterError, match="near_tol"):
        summarize([], near_tol=-1)


def test_the_report_renders_markdown_html_figures_and_json(tmp_path, capsys):
    hand_made_sweep(tmp_path / "s.sqlite")
    assert main(["sweep-report", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "rep"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    out = tmp_path / "rep"
    assert printed["figures"] == ["final_loss_hist.png", "basin.png", "lr_drop_heatmap.png"]
    for name in printed["figures"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert md.startswith("# Sweep hand") and "basin width (largest size with at least half" in md
    assert "= 0.01." in md and "| computed | 3 | 3 | 0 | 0 |" in md and "failed on purpose" in md
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<img src="basin.png"' in html
    assert json.loads((out / "summary.json").read_text())["basin"]["relative"]["width"] == 0.01
    # a tighter tolerance: nothing within 0.01, so no basin width
    write_report(tmp_path / "s.sqlite", tmp_path / "tight", near_tol=0.01)
    assert json.loads((tmp_path / "tight" / "summary.json").read_text())["basin"]["relative"]["width"] is None


def test_report_of_a_missing_store_is_an_error(tmp_path, capsys):
    assert main(["sweep-report", str(tmp_path / "nope.sqlite"), "--out", str(tmp_path / "r")]) == 2
    assert "no such file" in capsys.readouterr().err
