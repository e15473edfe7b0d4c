"""The docstring examples of the layer variants the ONNX importer builds (peephole LSTM, reset-first GRU) run."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["blockloop.diagrams.lstm_peephole", "blockloop.diagrams.gru_reset_before"])
def test_docstring_examples(name):
    failures, tried = doctest.testmod(importlib.import_module(name))
    assert tried > 0 and failures == 0


def test_variants_compile_without_algebraic_loops_and_keep_their_loops():
    import numpy as np

    from blockloop.diagrams import GRULayerWeights, LayerWeights
    from blockloop.diagrams.gru_reset_before import gru_reset_before_layer
    from blockloop.diagrams.lstm_peephole import lstm_peephole_layer
    from blockloop.engine import feedback_loops

    rng = np.random.default_rng(0)
    lstm = lstm_peephole_layer(LayerWeights(W=rng.random((8, 1)), R=rng.random((8, 2)), b=rng.random(8)),
                               [0.1, 0.2], [0.3, 0.4], [0.5, 0.6])
    gru = gru_reset_before_layer(GRULayerWeights(W=rng.random((6, 1)), R=rng.random((6, 2)), b_ih=rng.random(6),
                                                 b_hh=rng.random(6)))
    for d in (lstm, gru):
        d.compile()
    assert {f.name for f in feedback_loops(lstm).families} == {"c_delay", "h_delay"}
    assert {f.name for f in feedback_loops(gru).families} == {"h_delay"}
