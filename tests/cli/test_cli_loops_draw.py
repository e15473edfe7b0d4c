"""``blockloop loops`` and ``blockloop draw`` through ``blockloop.cli.main``."""

from __future__ import annotations

import json

import pytest

from blockloop.cli import main
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.diagrams.examples import algebraic_loop
from blockloop.viz import dot as dotmod
from blockloop.viz.dot import dot_program

PNG = b"\x89PNG\r\n\x1a\n"
# pydot's parser uses pyparsing names that newer pyparsing deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")


def run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_loops_json_lists_the_five_lstm_loops(capsys):
    status, out, _ = run(capsys, "loops", "lstm", "--json")
    assert status == 0
    loops = json.loads(out)
    assert [(lp["family"], lp["role"], len(lp["blocks"])) for lp in loops] == [
        ("lstm1/c_delay", "inner", 3), ("lstm1/h_delay", "outer", 6), ("lstm1/h_delay", "outer", 9),
        ("lstm1/h_delay", "outer", 9), ("lstm1/h_delay", "outer", 9)]
    assert loops[0]["blocks"] == ["lstm1/c_delay", "lstm1/f_c", "lstm1/c_sum"]
    assert loops[0]["delays"] == ["lstm1/c_delay"] and loops[0]["label"] == "inner (cell)"


def test_loops_table_for_two_layers(capsys):
    status, out, _ = run(capsys, "loops", "lstm", "--layers", "2", "--nn", "2")
    assert status == 0
    assert "10 loops in 4 families, 2 strongly connected components" in out
    assert out.count("inner (cell) — family lstm") == 2 and "family lstm2/h_delay" in out
    assert "c_delay → f_c → c_sum → c_delay" in out


def test_loops_max_loops_says_the_list_is_incomplete(capsys):
    status, out, _ = run(capsys, "loops", "lstm", "--max-loops", "3")
    assert status == 0 and "incomplete" in out and "3 loops" in out


def test_loops_reads_a_saved_diagram_file(capsys, tmp_path):
    io = pytest.importorskip("blockloop.io")
    path = tmp_path / "net.json"
    io.save_diagram(lstm_network(NetworkWeights.random(4, 3, 2)), path)
    status, out, _ = run(capsys, "loops", str(path), "--json")
    assert status == 0 and len(json.loads(out)) == 5
    status, _, err = run(capsys, "loops", str(path), "--layers", "2")
    assert status == 2 and "--layers only shape the built-in lstm/gru/rnn networks" in err


def test_loops_of_an_algebraic_diagram_file(capsys, tmp_path):
    io = pytest.importorskip("blockloop.io")
    io.save_diagram(algebraic_loop(), tmp_path / "alg.json")
    status, out, _ = run(capsys, "loops", str(tmp_path / "alg.json"))
    assert status == 0 and "algebraic (no delay)" in out and "NO delay" in out and "s → g → s" in out


def test_unknown_diagram_and_bad_shape_exit_2(capsys):
    status, _, err = run(capsys, "loops", "no_such.json")
    assert status == 2 and "neither a built-in network (lstm, gru, rnn) nor an existing diagram file" in err
    status, _, err = run(capsys, "loops", "lstm", "--nn", "0")
    assert status == 2 and "--nn: expected a positive integer" in err


def test_draw_dot_file_parses(capsys, tmp_path):
    pydot = pytest.importorskip("pydot")
    out_file = tmp_path / "x.dot"
    status, out, _ = run(capsys, "draw", "lstm", "--out", str(out_file), "--highlight", "inner")
    assert status == 0 and "as Graphviz DOT text" in out
    (graph,) = pydot.graph_from_dot_data(out_file.read_text())
    assert [s.get_name().strip('"') for s in graph.get_subgraphs()] == ["cluster_lstm1"]


def test_draw_png_with_matplotlib_by_default_even_without_graphviz(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: None)
    out_file = tmp_path / "x.png"
    status, out, _ = run(capsys, "draw", "lstm", "--out", str(out_file), "--layers", "2")
    assert status == 0 and out.strip().endswith("with matplotlib")
    assert out_file.read_bytes().startswith(PNG)
    status, _, err = run(capsys, "draw", "lstm", "--out", str(tmp_path / "y.svg"), "--renderer", "dot")
    assert status == 2 and "Graphviz 'dot' is not installed" in err


def test_draw_forced_mpl_svg_and_bad_suffix(capsys, tmp_path):
    status, out, _ = run(capsys, "draw", "lstm", "-o", str(tmp_path / "x.svg"), "--renderer", "mpl", "--no-sizes")
    assert status == 0 and out.strip().endswith("with matplotlib")
    assert "<svg" in (tmp_path / "x.svg").read_text()
    status, _, err = run(capsys, "draw", "lstm", "--out", str(tmp_path / "x.gif"))
    assert status == 2 and ".dot, .svg, .png, .pdf" in err


@pytest.mark.skipif(dot_program() is None, reason="Graphviz 'dot' is not installed (apt-get install graphviz)")
def test_draw_png_with_graphviz(capsys, tmp_path):
    status, out, _ = run(capsys, "draw", "lstm", "--out", str(tmp_path / "x.png"), "--renderer", "dot")
    assert status == 0 and "with Graphviz" in out
    assert (tmp_path / "x.png").read_bytes().startswith(PNG)
