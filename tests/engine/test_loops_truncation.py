"""``max_loops`` truncation keeps every family and its role, and the CLI says so once (issue 10, section 4).

The LSTM layer's loops, by hand (see README "See the feedback loops"): the cell loop
c_delay → f_c → c_sum (3 blocks) and four hidden loops through h_delay, the shortest via the
output gate: h_delay → R → gates → split.o → sig_o → h_prod (6 blocks).
"""

import logging

from blockloop.cli import main
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.diagrams.examples import algebraic_loop
from blockloop.engine import feedback_loops

CELL = ("lstm1/c_delay", "lstm1/f_c", "lstm1/c_sum")
HIDDEN_SHORTEST = ("lstm1/h_delay", "lstm1/R", "lstm1/gates", "lstm1/split", "lstm1/sig_o", "lstm1/h_prod")


def lstm():
    return lstm_network(NetworkWeights.random(4, 3, 2))


def test_two_loops_show_both_families_with_their_roles():
    report = feedback_loops(lstm(), max_loops=2)
    assert report.truncated and len(report) == 2
    assert [(f.name, f.role, len(f.loops)) for f in report.families] == [
        ("lstm1/c_delay", "inner", 1), ("lstm1/h_delay", "outer", 1)]
    assert [lp.blocks for lp in report] == [CELL, HIDDEN_SHORTEST]


def test_one_loop_keeps_the_role_it_has_in_the_full_list():
    full = {f.name: f.role for f in feedback_loops(lstm()).families}
    (family,) = feedback_loops(lstm(), max_loops=1).families
    assert family.role == full[family.name]


def test_two_layers_four_loops_one_per_family():
    report = feedback_loops(lstm_network(NetworkWeights.random(4, 3, 2, n_layers=2)), max_loops=4)
    assert [(f.name, f.role) for f in report.families] == [
        ("lstm1/c_delay", "inner"), ("lstm1/h_delay", "outer"), ("lstm2/c_delay", "inner"), ("lstm2/h_delay", "outer")]


def test_an_algebraic_loop_is_never_truncated_away():
    report = feedback_loops(algebraic_loop(), max_loops=1)
    assert [lp.describe() for lp in report] == ["s → g → s"] and not report.truncated


def test_full_list_unchanged_when_max_loops_is_large_enough():
    report = feedback_loops(lstm(), max_loops=5)
    assert not report.truncated and len(report) == 5
    assert [(f.name, f.role, len(f.loops)) for f in report.families] == [
        ("lstm1/c_delay", "inner", 1), ("lstm1/h_delay", "outer", 4)]


def test_cli_text_says_it_once_and_lists_the_inner_loop(capsys, caplog):
    with caplog.at_level(logging.WARNING):
        assert main(["loops", "lstm", "--max-loops", "2"]) == 0
    out, err = capsys.readouterr()
    assert (out + err + caplog.text).count("incomplete") == 1
    assert "inner (cell)" in out and "c_delay → f_c → c_sum → c_delay" in out
    assert "h_delay → R → gates → split.o → sig_o → h_prod → h_delay" in out


def test_cli_json_keeps_one_warning(capsys, caplog):
    with caplog.at_level(logging.WARNING):
        assert main(["loops", "lstm", "--max-loops", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "incomplete" not in out and (err + caplog.text).count("incomplete") == 1
