"""A diagram's optional sample time Ts: validated, saved in diagram files (schema 2), used by simulations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport, UnitDelay
from blockloop.cli import main
from blockloop.errors import DiagramFileError, ParameterError, SimulationError
from blockloop.io import load_diagram, save_diagram


def _gain(Ts=None, name="g"):
    d = Diagram(name, Ts=Ts)
    d.add("u", Inport(1))
    d.add("k", Gain(2.0))
    d.add("y", Outport())
    d.chain("u", "k", "y")
    return d


U = np.ones((4, 1))


def test_default_is_none_and_a_run_steps_one_second():
    d = _gain()
    assert d.Ts is None
    res = d.simulate({"u": U})
    assert res.Ts == 1.0 and res.time.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_the_diagram_sample_time_drives_every_run_unless_overridden():
    d = _gain(Ts=0.25)
    assert d.simulate({"u": U}).t.tolist() == [0.0, 0.25, 0.5, 0.75]
    program = d.compile()
    assert program.simulate({"u": U}).Ts == 0.25  # kept through compile
    assert program.with_parameters({}).simulate({"u": U}).Ts == 0.25
    assert d.simulate({"u": U}, Ts=2.0).t.tolist() == [0.0, 2.0, 4.0, 6.0]  # an explicit Ts wins
    d.Ts = None
    assert d.simulate({"u": U}).Ts == 1.0


def test_only_the_top_level_sample_time_counts():
    top = Diagram("top")
    top.add("u", Inport(1))
    top.add("sub", _gain(Ts=0.5, name="sub"))
    top.add("y", Outport())
    top.chain("u", "sub", "y")
    assert top.simulate({"u": U}).Ts == 1.0
    top.Ts = 0.1
    assert top.simulate({"u": U}).Ts == 0.1


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "0.1", True, [0.1]])
def test_bad_sample_times_are_refused_by_name(bad):
    with pytest.raises(ParameterError, match="diagram 'g' Ts: expected a finite sample time > 0 in seconds"):
        _gain(Ts=bad)
    d = _gain()
    with pytest.raises(ParameterError, match="Ts"):
        d.Ts = bad
    assert d.Ts is None


def test_saved_and_loaded_with_schema_2_and_old_files_still_load(tmp_path):
    d = _gain(Ts=0.01)
    p = save_diagram(d, tmp_path / "g.json")
    doc = json.loads(p.read_text())
    assert doc["sample_time"] == 0.01 and doc["schema_version"] == 2
    back = load_diagram(p)
    assert back.Ts == 0.01 and back.simulate({"u": U}).t[1] == 0.01
    # without a sample time the file is exactly a schema-1 file, readable by older blockloop
    q = save_diagram(_gain(), tmp_path / "old.json")
    old = json.loads(q.read_text())
    assert old["schema_version"] == 1 and "sample_time" not in old
    assert load_diagram(q).Ts is None


def test_subsystem_sample_time_round_trips(tmp_path):
    top = Diagram("top")
    top.add("u", Inport(1))
    top.add("sub", _gain(Ts=0.5, name="sub"))
    top.add("z", UnitDelay(0.0))
    top.add("y", Outport())
    top.chain("u", "sub", "z", "y")
    p = save_diagram(top, tmp_path / "t.json")
    assert json.loads(p.read_text())["schema_version"] == 2
    back = load_diagram(p)
    assert back.Ts is None and back.blocks["sub"].Ts == 0.5


@pytest.mark.parametrize("value, message", [(-0.1, "expected a finite sample time > 0"),
                                            ("fast", "expected a sample time in seconds (a number > 0), got a string"),
                                            (True, "got true/false")])
def test_a_bad_sample_time_in_a_file_names_the_field(tmp_path, value, message):
    p = save_diagram(_gain(Ts=0.1), tmp_path / "g.json")
    doc = json.loads(p.read_text())
    doc["sample_time"] = value
    p.write_text(json.dumps(doc))
    with pytest.raises(DiagramFileError, match="sample_time") as info:
        load_diagram(p)
    assert message in str(info.value)


def test_result_time_pandas_and_plot_labels(tmp_path):
    pytest.importorskip("pandas")
    res = _gain(Ts=0.5).simulate({"u": U})
    frame = res.to_pandas()
    assert frame.index.name == "t" and frame.index.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert frame.attrs == {"Ts": 0.5, "time_unit": "s"}
    pytest.importorskip("matplotlib")
    fig = res.plot(file=tmp_path / "r.png")
    assert fig.axes[-1].get_xlabel() == "t = k·Ts [s], Ts = 0.5 s"


def test_cli_simulate_uses_the_file_sample_time(tmp_path, capsys):
    p = save_diagram(_gain(Ts=0.1), tmp_path / "g.json")
    np.save(tmp_path / "u.npy", U)
    assert main(["simulate", str(p), "--input", str(tmp_path / "u.npy")]) == 0
    assert "Ts = 0.1 s" in capsys.readouterr().out
    assert main(["simulate", str(p), "--input", str(tmp_path / "u.npy"), "--ts", "2"]) == 0
    assert "Ts = 2 s" in capsys.readouterr().out


@pytest.mark.parametrize("huge", [10**400, -(10**400)])
def test_an_int_too_large_for_a_float_is_refused_by_name_not_an_overflow(tmp_path, huge):
    """Regression: float(10**400) raised a bare OverflowError from Diagram(Ts=), simulate(Ts=) and a file."""
    with pytest.raises(ParameterError, match="diagram 'g' Ts: expected a finite sample time > 0"):
        _gain(Ts=huge)
    with pytest.raises(SimulationError, match="Ts: expected a positive sample time"):
        _gain().simulate({"u": U}, Ts=huge)
    p = save_diagram(_gain(Ts=0.1), tmp_path / "g.json")
    doc = json.loads(p.read_text())
    doc["sample_time"] = huge
    p.write_text(json.dumps(doc))
    with pytest.raises(DiagramFileError, match="g.json: sample_time: diagram 'g' Ts: expected a finite sample"):
        load_diagram(p)


def test_an_int_sample_time_is_kept_as_written_and_other_numbers_are_refused(tmp_path):
    """Regression: a file's ``"sample_time": 2`` was written back as 2.0; a Decimal was read as a float."""
    from decimal import Decimal

    d = _gain(Ts=2)
    assert d.Ts == 2 and type(d.Ts) is int and d.simulate({"u": U}).t.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert type(_gain(Ts=np.int64(3)).Ts) is int and type(_gain(Ts=np.float64(0.5)).Ts) is float
    back = load_diagram(save_diagram(d, tmp_path / "g.json"))
    assert json.loads((tmp_path / "g.json").read_text())["sample_time"] == 2 and type(back.Ts) is int
    with pytest.raises(ParameterError, match="got Decimal"):
        _gain(Ts=Decimal("0.5"))


def test_a_sample_time_too_large_for_the_run_names_where_it_came_from():
    with pytest.raises(SimulationError, match=r"Ts \(the diagram's sample time, Diagram.Ts or a file's sample_time\)"
                                              r": 1e\+308 s × 3 steps overflows"):
        _gain(Ts=1e308).simulate({"u": U})
    with pytest.raises(SimulationError, match=r"^Ts: 1e\+308 s × 3 steps overflows"):
        _gain().simulate({"u": U}, Ts=1e308)
