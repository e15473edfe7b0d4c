"""DOT text for diagrams: parses with pydot, has the clusters, nodes, edges and colours expected."""

from __future__ import annotations

import pytest

from blockloop import BlockloopError, Diagram, ParameterError, flatten
from blockloop.blocks import Gain, Inport, Outport
from blockloop.diagrams.examples import algebraic_loop, delay_line, small_lstm, wrapped
from blockloop.viz import dot as dotmod
from blockloop.viz.dot import dot_program, render_dot, to_dot
from blockloop.viz.style import DELAY_FILL, ROLE_COLORS, highlighted_wires

pydot = pytest.importorskip("pydot")
# pydot's parser uses pyparsing names that newer pyparsing deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")

INNER, OUTER = ROLE_COLORS["inner"], ROLE_COLORS["outer"]
needs_dot = pytest.mark.skipif(dot_program() is None, reason="Graphviz 'dot' is not installed "
                               "(apt-get install graphviz); the DOT text tests still run")


def parse(text: str):
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    return graphs[0]


def unq(s: str) -> str:
    return s.strip('"')


def nodes_of(graph) -> dict:
    return {unq(n.get_name()): n for n in graph.get_nodes() if unq(n.get_name()) not in ("node", "edge", "graph")}


def edge_key(e) -> tuple[str, str]:
    return unq(e.get_source().split('":')[0] + '"'), unq(e.get_destination().split('":')[0] + '"')


def test_lstm_dot_has_cluster_nodes_and_edges():
    d = small_lstm()
    flat = flatten(d)
    g = parse(to_dot(d))
    assert unq(g.get_name()) == "lstm_net"
    (cluster,) = g.get_subgraphs()
    assert unq(cluster.get_name()) == "cluster_lstm1"
    assert set(nodes_of(g)) == {"u", "F", "y"}
    inside = nodes_of(cluster)
    assert set(inside) == {n for n in flat.nodes if n.startswith("lstm1/")} and len(inside) == 16
    edges = g.get_edges()
    assert len(edges) == flat.number_of_edges() == 23
    assert {edge_key(e) for e in edges} == {(a, b) for a, b in flat.edges()}


def test_delays_are_distinct_boxes():
    cluster = parse(to_dot(small_lstm())).get_subgraphs()[0]
    for name in ("lstm1/c_delay", "lstm1/h_delay"):
        attrs = nodes_of(cluster)[name].get_attributes()
        assert unq(attrs["fillcolor"]) == DELAY_FILL and "z⁻¹" in attrs["label"] and "bold" in attrs["style"]
    assert unq(nodes_of(cluster)["lstm1/sig_f"].get_attributes()["fillcolor"]) != DELAY_FILL


def colours(text: str) -> dict[tuple[str, str], str]:
    return {edge_key(e): unq(e.get_attributes().get("color", "")) for e in parse(text).get_edges()}


def test_loop_wires_are_coloured_by_role():
    col = colours(to_dot(small_lstm()))
    assert col[("lstm1/c_sum", "lstm1/c_delay")] == INNER
    assert col[("lstm1/c_delay", "lstm1/f_c")] == INNER
    assert col[("lstm1/f_c", "lstm1/c_sum")] == f"{OUTER}:{INNER}"  # on both loops
    assert col[("lstm1/h_delay", "lstm1/R")] == OUTER
    assert col[("lstm1/sig_o", "lstm1/h_prod")] == OUTER
    assert col[("u", "lstm1/W")] == "" and col[("lstm1/h_prod", "F")] == ""
    assert sum(c == OUTER for c in col.values()) == 15 and sum(c == INNER for c in col.values()) == 2


@pytest.mark.parametrize("highlight, inner, outer", [("inner", 3, 0), ("outer", 0, 16), ("none", 0, 0)])
def test_highlight_picks_roles(highlight, inner, outer):
    col = colours(to_dot(small_lstm(), highlight=highlight))
    assert sum(INNER in c for c in col.values()) == inner
    assert sum(OUTER in c for c in col.values()) == outer


def test_highlighted_wires_counts_by_hand():
    from blockloop.engine.loops import feedback_loops

    marks = highlighted_wires(feedback_loops(small_lstm()), "all")
    assert len(marks) == 18  # 15 outer only, 2 inner only, 1 on both
    assert marks[("lstm1/f_c", "y", "lstm1/c_sum", "u1")] == ("outer", "inner")
    with pytest.raises(ParameterError, match="highlight"):
        highlighted_wires(feedback_loops(small_lstm()), "cells")


def test_wire_labels_give_sizes_and_demux_ports():
    g = parse(to_dot(small_lstm()))
    by_key = {edge_key(e): e for e in g.get_edges()}
    assert unq(by_key[("u", "lstm1/W")].get_attributes()["label"]) == "4"
    assert unq(by_key[("lstm1/W", "lstm1/gates")].get_attributes()["label"]) == "12"
    assert unq(by_key[("F", "y")].get_attributes()["label"]) == "2"
    tails = {e.get_source() for e in g.get_edges() if "split" in e.get_source()}
    assert tails == {f'"lstm1/split":"{p}":e' for p in "ifgo"}
    assert not any("label" in e.get_attributes() for e in parse(to_dot(small_lstm(), sizes=False)).get_edges())


def test_stacked_layers_get_one_cluster_each():
    names = [unq(s.get_name()) for s in parse(to_dot(small_lstm(layers=2))).get_subgraphs()]
    assert names == ["cluster_lstm1", "cluster_lstm2"]


def test_nested_subsystems_nest_clusters_and_odd_names_are_quoted():
    inner = Diagram("inner")
    inner.add("x", Inport(1))
    inner.add('g"\\', Gain(2.0))
    inner.add("o", Outport())
    inner.chain("x", 'g"\\', "o")
    mid = wrapped(inner, "mid", block="in", ports=("x", "o"))
    top = wrapped(mid, 'top "q"')
    g = parse(to_dot(top))
    (m,) = g.get_subgraphs()
    (mi,) = m.get_subgraphs()
    assert unq(m.get_name()) == "cluster_m" and unq(mi.get_name()) == "cluster_m/in"
    assert list(nodes_of(mi)) == ['m/in/g\\"\\\\']
    assert len(g.get_edges()) == 2


def test_algebraic_loop_and_loop_free_diagrams_draw():
    text = to_dot(algebraic_loop())
    col = colours(text)
    assert col[("s", "g")] == col[("g", "s")] == ROLE_COLORS["algebraic"]
    assert "algebraic (no delay)" in text
    signs = {edge_key(e): unq(e.get_attributes().get("headlabel", "")) for e in parse(text).get_edges()}
    assert signs[("u", "s")] == "+" and signs[("g", "s")] == "−"
    chain = delay_line()
    assert set(colours(to_dot(chain)).values()) == {""}


def test_bad_highlight_is_rejected():
    with pytest.raises(ParameterError, match="inner, outer"):
        to_dot(small_lstm(), highlight="both")


def test_render_without_graphviz_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: None)
    with pytest.raises(BlockloopError, match="apt-get install graphviz"):
        render_dot("digraph { a -> b }", "svg")
    with pytest.raises(ParameterError, match="svg, png, pdf"):
        render_dot("digraph { a -> b }", "gif")


@needs_dot
def test_render_svg_and_png_with_graphviz():
    text = to_dot(small_lstm())
    svg = render_dot(text, "svg").decode()
    assert "<svg" in svg and "lstm1/c_delay" in svg
    assert render_dot(text, "png").startswith(b"\x89PNG\r\n\x1a\n")


@needs_dot
def test_render_reports_dot_errors():
    with pytest.raises(BlockloopError, match="failed"):
        render_dot("digraph { a -> }", "svg")
