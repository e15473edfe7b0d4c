"""Feedback-loop analysis: loop families of the LSTM, subsystems, stacking, algebraic loops, caps."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from blockloop import AlgebraicLoopError, Diagram, ParameterError, compile_diagram, flatten
from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.diagrams import LayerWeights, lstm_layer
from blockloop.diagrams.examples import accumulator, algebraic_loop, small_lstm, wrapped
from blockloop.engine.loops import dependency_graph, feedback_loops

CELL = ("lstm1/c_delay", "lstm1/f_c", "lstm1/c_sum")
# The four hidden loops, by hand: h_delay → R → gates → split, then one per gate back to h_prod.
GATE_TAIL = ("lstm1/c_sum", "lstm1/tanh_c", "lstm1/h_prod")
HIDDEN = {
    ("lstm1/h_delay", "lstm1/R", "lstm1/gates", "lstm1/split", "lstm1/sig_o", "lstm1/h_prod"),
    ("lstm1/h_delay", "lstm1/R", "lstm1/gates", "lstm1/split", "lstm1/sig_f", "lstm1/f_c") + GATE_TAIL,
    ("lstm1/h_delay", "lstm1/R", "lstm1/gates", "lstm1/split", "lstm1/tanh_g", "lstm1/i_g") + GATE_TAIL,
    ("lstm1/h_delay", "lstm1/R", "lstm1/gates", "lstm1/split", "lstm1/sig_i", "lstm1/i_g") + GATE_TAIL,
}


def nested() -> Diagram:
    """u → m[x → s(+−) → k → acc[s ↺ z] → o], with m/z feeding acc's output back to m/s."""
    mid = Diagram("mid")
    mid.add("x", Inport(1))
    mid.add("s", Sum("+-"))
    mid.add("k", Gain(0.5))
    mid.add("acc", accumulator())
    mid.add("z", UnitDelay(0.0))
    mid.add("o", Outport())
    mid.connect("x", "s.u1")
    mid.connect("s", "k")
    mid.connect("k", "acc.u")
    mid.connect("acc.y", "z")
    mid.connect("z", "s.u2")
    mid.connect("acc.y", "o")
    return wrapped(mid, "nested")


def test_lstm_has_one_inner_cell_loop_and_four_outer_hidden_loops():
    report = feedback_loops(small_lstm(), names={"c_delay": "cell", "h_delay": "hidden"})
    assert [(f.name, f.role, f.label, len(f.loops)) for f in report.families] == [
        ("lstm1/c_delay", "inner", "inner (cell)", 1),
        ("lstm1/h_delay", "outer", "outer (hidden)", 4),
    ]
    cell = report.family("lstm1/c_delay").loops[0]
    assert cell.blocks == CELL
    assert cell.ports == ("lstm1/c_delay.y", "lstm1/f_c.u2", "lstm1/f_c.y", "lstm1/c_sum.u1", "lstm1/c_sum.y",
                          "lstm1/c_delay.u")
    assert cell.delays == ("lstm1/c_delay",)
    hidden = report.family("lstm1/h_delay")
    assert {lp.blocks for lp in hidden.loops} == HIDDEN
    assert all(lp.delays == ("lstm1/h_delay",) for lp in hidden.loops)
    assert set(hidden.blocks) == set().union(*HIDDEN)
    assert "lstm1/c_delay" not in hidden.blocks and "lstm1/W" not in hidden.blocks
    assert {lp.scc for lp in report} == {0}  # the two loops share f_c and c_sum
    assert len(report) == 5 and not report.truncated


def test_default_labels_name_the_delay_and_describe_reads_the_loop():
    report = feedback_loops(small_lstm())
    assert [f.label for f in report.families] == ["inner (c_delay)", "outer (h_delay)"]
    texts = [lp.describe(strip="lstm1/") for lp in report]
    assert texts[0] == "c_delay → f_c → c_sum → c_delay"
    assert "h_delay → R → gates → split.o → sig_o → h_prod → h_delay" in texts


def test_a_single_layer_subsystem_on_its_own():
    rng = np.random.default_rng(1)
    layer = lstm_layer(LayerWeights(W=rng.random((8, 1)), R=rng.random((8, 2)), b=np.zeros(8)), name="L")
    report = feedback_loops(layer)
    assert [(f.name, f.role) for f in report.families] == [("c_delay", "inner"), ("h_delay", "outer")]
    assert report.family("c_delay").loops[0].blocks == ("c_delay", "f_c", "c_sum")


def test_diagram_without_loops_has_none():
    d = Diagram("chain")
    d.add("u", Inport(2))
    d.add("g", Gain([[1.0, 2.0]]))
    d.add("z", UnitDelay(0.0))  # a delay that closes no loop
    d.add("y", Outport())
    d.chain("u", "g", "z", "y")
    report = feedback_loops(d)
    assert len(report) == 0 and report.families == () and list(report) == []


def test_lone_loop_is_outer():
    report = feedback_loops(accumulator())
    assert [(lp.blocks, lp.role, lp.family) for lp in report] == [(("z", "s"), "outer", "z")]


def test_loops_through_subsystems_use_paths_and_nest():
    report = feedback_loops(nested())
    assert [(f.name, f.role) for f in report.families] == [("m/acc/z", "inner"), ("m/z", "outer")]
    outer = report.family("m/z").loops[0]
    assert outer.blocks == ("m/z", "m/s", "m/k", "m/acc/s")
    assert outer.ports == ("m/z.y", "m/s.u2", "m/s.y", "m/k.u", "m/k.y", "m/acc/s.u1", "m/acc/s.y", "m/z.u")
    assert report.family("m/acc/z").loops[0].blocks == ("m/acc/z", "m/acc/s")


def test_stacked_layers_have_separate_families_and_components():
    report = feedback_loops(small_lstm(layers=2))
    assert [(f.name, f.role, f.scc, len(f.loops)) for f in report.families] == [
        ("lstm1/c_delay", "inner", 0, 1), ("lstm1/h_delay", "outer", 0, 4),
        ("lstm2/c_delay", "inner", 1, 1), ("lstm2/h_delay", "outer", 1, 4),
    ]
    for lp in report:
        layer = lp.family.split("/")[0] + "/"
        assert all(b.startswith(layer) for b in lp.blocks)


def test_algebraic_loop_is_reported_although_compile_rejects_it():
    d = algebraic_loop()
    with pytest.raises(AlgebraicLoopError):
        compile_diagram(d)
    report = feedback_loops(d)
    assert [lp.as_dict() for lp in report] == [{
        "blocks": ["s", "g"], "ports": ["s.y", "g.u", "g.y", "s.u2"], "delays": [], "family": "algebraic",
        "scc": 0, "role": "algebraic", "label": "algebraic (no delay)"}]
    assert report[0].is_algebraic


def test_a_loop_through_two_delays_belongs_to_both():
    d = Diagram("two")
    d.add("u", Inport(1))
    d.add("s", Sum("++"))
    d.add("z1", UnitDelay(0.0))
    d.add("z2", UnitDelay(0.0))
    d.add("y", Outport())
    d.connect("u", "s.u1")
    d.chain("s", "z1", "z2")
    d.connect("z2", "s.u2")
    d.connect("s", "y")
    (loop,) = feedback_loops(d)
    assert loop.delays == ("z1", "z2") and loop.family == "z1+z2"
    assert loop.blocks == ("z1", "z2", "s")
    compile_diagram(d)  # a loop with delays compiles


def test_max_loops_caps_the_enumeration_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="blockloop.engine.loops"):
        report = feedback_loops(small_lstm(), max_loops=2)
    assert report.truncated and len(report) == 2 and report.max_loops == 2
    assert "max_loops=2" in caplog.text and "incomplete" in caplog.text
    assert not feedback_loops(small_lstm(), max_loops=5).truncated


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_max_loops_must_be_a_positive_integer(bad):
    with pytest.raises(ParameterError, match="max_loops"):
        feedback_loops(small_lstm(), max_loops=bad)


def test_accepts_flattened_graph_and_program_but_not_other_things():
    d = small_lstm()
    expected = [lp.ports for lp in feedback_loops(d)]
    assert [lp.ports for lp in feedback_loops(flatten(d))] == expected
    assert [lp.ports for lp in feedback_loops(compile_diagram(d))] == expected
    with pytest.raises(ParameterError, match="expected a Diagram"):
        feedback_loops("lstm")


def test_unknown_family_lists_the_families():
    with pytest.raises(KeyError, match="lstm1/c_delay"):
        feedback_loops(small_lstm()).family("lstm1/x_delay")


def test_report_is_json_ready_and_deterministic():
    a = feedback_loops(small_lstm(layers=2)).as_dict()
    b = feedback_loops(small_lstm(layers=2)).as_dict()
    assert a == b
    assert json.loads(json.dumps(a)) == a
    assert [f["n_loops"] for f in a["families"]] == [1, 4, 1, 4]


def test_dependency_graph_adds_delay_hops_only_through_stateful_blocks():
    g = dependency_graph(flatten(small_lstm()))
    kinds = {}
    for _, _, kind in g.edges(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds["delay"] == 2  # c_delay and h_delay
    assert g.edges[("lstm1/c_delay", "in", "u"), ("lstm1/c_delay", "out", "y")]["kind"] == "delay"
    assert g.edges[("lstm1/sig_f", "in", "u"), ("lstm1/sig_f", "out", "y")]["kind"] == "feedthrough"
