"""Sweep files (blockloop.study.sweep.config): expansion, normalization, hashing and errors that name the key.

No Dask here (the docs check runs three 5-epoch trainings): every expectation is counted or written out by hand.
"""

import doctest
import json
from pathlib import Path

import pytest

from blockloop.cli import main
from blockloop.errors import ConfigError
from blockloop.study.sweep import config as sweep_config
from blockloop.study.sweep.config import (
    FIELDS,
    canonical_json,
    config_hash,
    demo_config_path,
    load_config,
    normalize_run,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_docstring_examples():
    failures, tried = doctest.testmod(sweep_config)
    assert tried >= 4 and failures == 0


def test_a_grid_is_the_product_in_order_last_field_fastest():
    plan = parse_config({"base": {"epochs": 5}, "grid": {"init": ["computed", "random"], "seed": [0, 1]}})
    assert [(r["init"], r["seed"], r["epochs"]) for r in plan.runs] == [
        ("computed", 0, 5), ("computed", 1, 5), ("random", 0, 5), ("random", 1, 5)]
    assert plan.duplicates == 0 and len(set(plan.hashes)) == 4


def test_defaults_are_the_published_runs_options_per_init():
    computed = normalize_run({})
    assert (computed["init"], computed["lr0"], computed["drop_factor"], computed["drop_period"],
            computed["grad_threshold"]) == ("computed", 1e-4, 0.99, 100, 1.0)
    random = normalize_run({"init": "random"})
    assert (random["lr0"], random["drop_factor"], random["drop_period"]) == (0.04, 0.98, 100)
    assert (computed["epochs"], computed["steps"], computed["units"], computed["realization"], computed["scl"],
            computed["beta"]) == (1000, 1001, "n+m", "matlab", 1e-3, 100.0)
    assert set(computed) == set(FIELDS)
    assert normalize_run({"grad_threshold": "none"})["grad_threshold"] is None


def test_noise_belongs_to_perturbed_starts_only_and_repeats_are_counted_not_kept():
    # 2 inits × 2 noises = 4 points: "computed" ignores noise (2 points → 1 run), "perturbed" keeps both;
    # the explicit run repeats perturbed 0.1, and "perturbed" with noise 0 is the computed run again.
    plan = parse_config({"grid": {"init": ["computed", "perturbed"], "noise": [0.01, 0.1]},
                         "runs": [{"init": "perturbed", "noise": 0.1}, {"init": "perturbed", "noise": 0}]})
    assert [(r["init"], r["noise"], r["noise_kind"]) for r in plan.runs] == [
        ("computed", 0.0, None), ("perturbed", 0.01, "relative"), ("perturbed", 0.1, "relative")]
    assert plan.duplicates == 3


def test_canonical_json_and_hash_do_not_depend_on_key_order_or_int_vs_float():
    a = normalize_run({"seed": 3, "lr0": 1, "init": "computed"})
    b = normalize_run({"init": "computed", "lr0": 1.0, "seed": 3})
    assert canonical_json(a) == canonical_json(b) and config_hash(a) == config_hash(b)
    assert '"lr0":1.0' in canonical_json(a) and " " not in canonical_json(a)
    assert json.loads(canonical_json(a)) == a
    assert len(config_hash(a)) == 64 and int(config_hash(a), 16) >= 0
    assert config_hash(a) != config_hash(normalize_run({"seed": 4, "lr0": 1}))


def test_the_demo_sweep_has_34_distinct_runs_and_11_repeats():
    # grid 1: 2 inits × 4 noises × 3 seeds = 24 points; its 12 "computed" points are 3 runs (9 repeats).
    # grid 2: 3 random runs. grid 3: 3 lr0 × 3 drop factors × 2 seeds = 18 computed runs, of which
    # lr0 1e-4 / drop 0.99 (seeds 0 and 1) repeat grid 1's computed runs (2 repeats).
    plan = load_config(demo_config_path())
    inits = [r["init"] for r in plan.runs]
    assert (len(plan), plan.duplicates) == (34, 11)
    assert (inits.count("computed"), inits.count("perturbed"), inits.count("random")) == (19, 12, 3)
    assert plan.name == "demo" and all(r["epochs"] == 2000 for r in plan.runs)


def test_toml_and_json_files_give_the_same_runs(tmp_path):
    toml = write(tmp_path, "s.toml", 'name = "t"\n[base]\nepochs = 7\n[grid]\nseed = [0, 1]\nlr0 = [1e-4, 1e-3]\n')
    js = write(tmp_path, "s.json", json.dumps({"name": "t", "base": {"epochs": 7},
                                               "grid": {"seed": [0, 1], "lr0": [1e-4, 1e-3]}}))
    a, b = load_config(toml), load_config(js)
    assert a.hashes == b.hashes and len(a) == 4 and a.name == "t"


@pytest.mark.parametrize("text, key, words", [
    ('grids = 1', "grids", "unknown key 'grids'"),
    ('epochs = 3', "epochs", "run fields go under"),
    ('[grid]\nlr = [0.1]', "grid.lr", "unknown key 'lr'"),
    ('[[runs]]\nseed = 1\n[[runs]]\nepoch = 3', "runs[1].epoch", "unknown key 'epoch'"),
    ('[grid]\ndrop_factor = [0.99, 1.5]', "grid.drop_factor[1]", "out of range"),
    ('[base]\nepochs = "100"', "base.epochs", "expected an integer"),
    ('[base]\nepochs = 10.5', "base.epochs", "expected an integer"),
    ('[grid]\nseed = [0, -1]', "grid.seed[1]", "out of range"),
    ('[grid]\ninit = ["computed", "warm"]', "grid.init[1]", "expected one of"),
    ('[base]\nsteps = 2000', "base.steps", "out of range"),
    ('[base]\nlr0 = true', "base.lr0", "expected a number"),
    ('[base]\nlr0 = 0', "base.lr0", "out of range"),
    ('[grid]\nseed = []', "grid.seed", "empty list"),
    ('retries = 11', "retries", "out of range"),
    ('retries = 1.5', "retries", "expected an integer"),
    ('base = 3', "base", "expected a table"),
])
def test_a_bad_key_type_or_range_is_a_config_error_naming_the_key(tmp_path, text, key, words):
    path = write(tmp_path, "bad.toml", text + "\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.key == key and exc.value.path == str(path)
    assert str(exc.value).startswith(f"{path}: {key}: ") and words in str(exc.value)


def test_json_specific_errors(tmp_path):
    with pytest.raises(ConfigError, match="given twice"):
        load_config(write(tmp_path, "dup.json", '{"base": {"seed": 1, "seed": 2}}'))
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(write(tmp_path, "broken.json", '{"base": '))
    with pytest.raises(ConfigError, match=r"base\.lr0: expected a finite number"):
        load_config(write(tmp_path, "nan.json", '{"base": {"lr0": NaN}}'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "broken.toml", "[base\n"))
    with pytest.raises(ConfigError, match="expected a .toml or .json file"):
        load_config(write(tmp_path, "s.yaml", "base: {}"))
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "missing.toml")


def test_cli_reports_a_config_error_with_the_key_and_exit_status_2(tmp_path, capsys):
    path = write(tmp_path, "bad.toml", "[grid]\nlr0 = [1e-4, -1.0]\n")
    assert main(["sweep", str(path), "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "grid.lr0[1]" in err and "out of range" in err
    assert not (tmp_path / "s.sqlite").exists()  # nothing was started


def test_cli_needs_a_config_or_demo_but_not_both(tmp_path, capsys):
    assert main(["sweep"]) == 2
    assert "--demo" in capsys.readouterr().err
    path = write(tmp_path, "s.toml", "[base]\nepochs = 1\n")
    assert main(["sweep", str(path), "--demo"]) == 2


def test_docs_sweeps_toml_example_is_a_valid_sweep_and_its_python_blocks_print_what_they_say(tmp_path):
    from markdown_examples import code_blocks, run_python_blocks  # tests/markdown_examples.py

    doc = ROOT / "docs" / "sweeps.md"
    (block,) = code_blocks(doc, "toml")
    plan = load_config(write(tmp_path, "basin.toml", block.code))
    # grid 1: computed (4 seeds) + perturbed 4 noises × 4 seeds; grid 2: 3 × 3 (lr0 1e-4 / 0.99 repeats
    # grid 1's computed seed 0); one explicit random run
    assert (len(plan), plan.duplicates) == (4 + 16 + 8 + 1, 12 + 1)
    printed = {}

    def keep(label):
        return lambda ns, out: printed.__setitem__(label, out.splitlines())

    run_python_blocks(doc, tmp_path, {"plan = parse_config(": keep("plan"), "out = run_trial(": keep("trial"),
                                      "SweepStore(": keep("store"), "write_report(": keep("report")})
    assert printed["plan"][0] == "6 2"
    assert printed["plan"][1].startswith("perturbed 0.001 0.0001 ")
    status, _, near_linear, _, dist_i = printed["trial"][0].split()
    assert (status, near_linear, dist_i) == ("completed", "True", "0.0")
    assert printed["store"] == ["[('computed', 0.0, 0, 'completed'), ('computed', 0.0, 1, 'completed'), "
                                "('perturbed', 0.001, 0, 'completed')]"]
    assert printed["report"] == ["['final_loss_hist.png', 'basin.png'] 1.0"]


def test_dask_and_matplotlib_are_imported_only_when_a_sweep_runs_or_a_report_is_drawn():
    import subprocess
    import sys

    code = ("import contextlib, io, sys, blockloop, blockloop.cli, blockloop.study.sweep.config, "
            "blockloop.study.sweep.store, blockloop.study.sweep.runner, blockloop.study.sweep.report\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    blockloop.cli.main(['sweep', '--help'])\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', 'matplotlib', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_cli_workers_and_scheduler_do_not_go_together(tmp_path, capsys):
    path = write(tmp_path, "s.toml", "[base]\nepochs = 1\n")
    assert main(["sweep", str(path), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--workers sizes the embedded cluster" in capsys.readouterr().err
