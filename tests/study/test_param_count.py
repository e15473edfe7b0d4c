"""Parameter counts of stacked LSTM layers, checked against actual weight arrays and nn.LSTM."""

import numpy as np
import pytest

from blockloop.diagrams import NetworkWeights
from blockloop.errors import ParameterError
from blockloop.study.params import lstm_parameter_counts, parameter_table, reference_example


@pytest.mark.parametrize(("ni", "units", "no"), [(1, [5], 1), (3, [4, 4], 2), (7, [100, 100], None)])
def test_counts_match_the_weight_arrays(ni, units, no):
    rows = lstm_parameter_counts(ni, units, no)
    n_in = ni
    for row, nn in zip(rows, units, strict=False):
        assert row["total"] == 4 * nn * (n_in + nn + 1)
        assert (row["W"], row["R"], row["b"]) == (4 * nn * n_in, 4 * nn * nn, 4 * nn)
        n_in = nn
    if len(set(units)) == 1 and units[0] <= 10:
        w = NetworkWeights.random(ni, units[0], no or 1, n_layers=len(units))
        sizes = [layer.W.size + layer.R.size + layer.b.size for layer in w.layers]
        assert sizes == [r["total"] for r in rows[:len(units)]]
        if no is not None:
            assert rows[-1]["total"] == w.F.size + no  # FC weight and bias


def test_counts_match_torch_lstm_minus_the_second_bias():
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 6, num_layers=2)
    torch_total = sum(p.numel() for p in lstm.parameters())
    ours = sum(r["total"] for r in lstm_parameter_counts(3, [6, 6]))
    assert torch_total == ours + 2 * 4 * 6  # PyTorch keeps bias_hh as well


def test_reference_example_is_r1_plus_w2_plus_r2():
    ex = reference_example()
    assert ex["counted"] == 120000 == ex["published"]
    assert ex["terms"] == {"R1": 40000, "W2": 40000, "R2": 40000}
    assert ex["left_out"] == {"W1": 400, "b1": 400, "b2": 400}
    assert ex["all_lstm_parameters"] == 120000 + 400 + 800


def test_table_has_header_rows_and_sums():
    table = parameter_table(lstm_parameter_counts(1, [5], 1))
    assert table[0][0] == "layer" and len(table) == 4
    assert table[-1][0] == "sum" and table[-1][-1] == str(140 + 6)
    assert np.all([len(r) == len(table[0]) for r in table])


@pytest.mark.parametrize(("args", "match"), [((0, [5]), "ni"), ((1, []), "at least one"), ((1, [5, 0]), r"units\[1\]"),
                                             ((1, [5], 0), "no"), ((1, [2.5]), "units")])
def test_bad_sizes_are_rejected(args, match):
    with pytest.raises(ParameterError, match=match):
        lstm_parameter_counts(*args)
