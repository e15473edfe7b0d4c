"""``blockloop crosscheck`` prints both precisions and exits 0 when tolerances hold."""

import json

import pytest

pytest.importorskip("torch")

from blockloop.cli import main  # noqa: E402


def test_crosscheck_json(capsys):
    assert main(["crosscheck", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["float64"]["norm"] <= 1e-12 and out["float32"]["norm"] <= 5e-6
    assert {"norm", "max_abs"} <= set(out["float32"])
    assert out["shapes"]["steps"] == 51


def test_crosscheck_table_with_layers_and_batch(capsys):
    assert main(["crosscheck", "--layers", "2", "--batch", "3", "--steps", "20", "--per-gate"]) == 0
    text = capsys.readouterr().out
    assert "float64 vs float64" in text and "lstm2/sig_f.y" in text


def test_bad_sizes_give_a_clean_error(capsys):
    assert main(["crosscheck", "--nn", "0"]) == 2
    assert "nn: expected a positive integer" in capsys.readouterr().err
