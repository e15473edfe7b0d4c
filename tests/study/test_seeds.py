"""blockloop.study.seeds and ``blockloop seeds``: the two trainings over several seeds, summarized."""

import json

import pytest

from blockloop.cli import main
from blockloop.cli.seeds import parse_seeds
from blockloop.errors import ParameterError
from blockloop.study.seeds import VARIANTS, run_seeds, summarize


def test_parse_seeds_takes_ranges_and_lists():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("1,4,7-8") == [1, 4, 7, 8]
    import argparse

    for bad in ("", "a", "-1", "3-x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_seeds(bad)


def test_rows_and_summary_for_two_seeds_and_a_variant():
    rows = run_seeds([0, 1], epochs=3, variant="no_clipping")
    assert [(r.seed, r.run) for r in rows] == [(0, "from_computed"), (0, "from_random"),
                                               (1, "from_computed"), (1, "from_random")]
    assert all(r.variant == "no_clipping" and r.last_loss > 0 and r.wall_s > 0 for r in rows)
    table = summarize(rows)["no_clipping"]
    run1 = table["from_computed"]["last_loss"]
    assert run1["min"] <= run1["median"] <= run1["max"] and run1["published"] == 0.031
    assert table["from_random"]["dcgain"]["published"] is None


def test_the_same_seed_gives_the_same_numbers():
    a = run_seeds([2], epochs=3, runs=("from_random",))
    b = run_seeds([2], epochs=3, runs=("from_random",))
    assert a[0].last_loss == b[0].last_loss and a[0].dcgain == b[0].dcgain


def test_bad_variant_or_run_is_a_parameter_error():
    with pytest.raises(ParameterError, match="variant"):
        run_seeds([0], epochs=1, variant="warp")
    with pytest.raises(ParameterError, match="runs"):
        run_seeds([0], epochs=1, runs=("from_nowhere",))
    assert set(VARIANTS) >= {"reference", "float32", "no_clipping"}


def test_cli_prints_json_and_writes_every_run(tmp_path, capsys):
    out = tmp_path / "seeds.json"
    assert main(["seeds", "--seeds", "0", "--epochs", "2", "--run", "from_random", "--json", "--no-progress",
                 "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary) == ["reference"] and list(summary["reference"]) == ["from_random"]
    assert len(json.loads(out.read_text())["runs"]) == 1
