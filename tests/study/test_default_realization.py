"""One default realization for ``approx.approximate()``, ``approx.sweep()`` and ``blockloop approx`` (issue 10)."""

import json

import pytest

from blockloop.cli import main
from blockloop.study.approx import approximate, default_realization, sweep


def test_the_rule():
    assert default_realization() == "matlab"  # the reference system: the reference's own coordinates
    assert default_realization("plant.json") == "as_given"  # your system: your coordinates


def test_library_and_command_agree_on_the_reference_system(capsys):
    run = approximate()
    assert run.info["realization"] == "matlab"
    assert round(run.error_norm, 3) == 0.164  # README's table, row "matlab"
    assert main(["approx", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["realization"] == "matlab" and out["error_norm"] == run.error_norm
    assert [r["realization"] for r in sweep(scls=(1e-3,), betas=(100.0,))] == ["matlab"]


def test_library_and_command_agree_on_a_system_file(tmp_path, capsys):
    path = tmp_path / "first_order.json"
    path.write_text(json.dumps({"A": [[0.5]], "B": [[1.0]], "C": [[1.0]], "D": [[0.0]], "Ts": 0.1}))
    run = approximate(path)
    assert run.info["realization"] == "as_given"
    assert main(["approx", "--system", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["realization"] == "as_given" and out["error_norm"] == pytest.approx(run.error_norm, rel=0, abs=0)
