"""An LSTM layer with peephole connections (ONNX's ``P`` input), drawn from library blocks.

Per step k, with z = W·x[k] + R·h[k−1] + b split into i, f, g, o as in :mod:`.lstm`::

    i = σ(z_i + p_i ⊙ c[k−1])      f = σ(z_f + p_f ⊙ c[k−1])      g = tanh(z_g)
    c[k] = f ⊙ c[k−1] + i ⊙ g
    o = σ(z_o + p_o ⊙ c[k])         (the output gate looks at the new cell)
    h[k] = o ⊙ tanh(c[k])

This is ONNX's LSTM with peepholes (and the Gers–Schmidhuber–Cummins "peephole" LSTM). The
subsystem has the blocks of :func:`~blockloop.diagrams.lstm.lstm_layer` plus three elementwise
gains ``p_i``, ``p_f``, ``p_o`` and three sums ``zi``, ``zf``, ``zo`` in front of the gate
nonlinearities. The output gate now depends on c[k] through a direct-feedthrough path
(``c_sum → p_o → zo → sig_o → h_prod``), which is not a loop: c[k] does not depend on o.
"""

from __future__ import annotations

import numpy as np

from ..blocks.base import as_float_array
from ..engine import Diagram
from ..errors import NonFiniteError, ParameterError
from .lstm import build_lstm_layer
from .weights import LayerWeights

__all__ = ["lstm_peephole_layer"]


def lstm_peephole_layer(weights: LayerWeights, p_i, p_f, p_o, name: str = "lstm") -> Diagram:
    """One LSTM layer with peepholes as a subsystem: input ``x`` (Ni), outputs ``h`` and ``c`` (Nn each).

    Parameters
    ----------
    weights : W (4·Nn, Ni), R (4·Nn, Nn), b (4·Nn,), gates stacked i, f, g, o; h0, c0 (Nn,)
    p_i, p_f, p_o : (Nn,) peephole weights of the input, forget and output gates

    Examples
    --------
    >>> import numpy as np
    >>> w = LayerWeights(W=np.ones((4, 1)), R=np.zeros((4, 1)), b=np.zeros(4))
    >>> lstm_peephole_layer(w, [0.1], [0.2], [0.3]).inputs
    ('x',)
    """
    if not isinstance(weights, LayerWeights):
        raise ParameterError(f"lstm_peephole_layer weights: expected a LayerWeights, got {type(weights).__name__}")
    nn = weights.nn
    peep = {}
    for key, value in (("p_i", p_i), ("p_f", p_f), ("p_o", p_o)):
        arr = as_float_array(value, key)
        if arr.ndim <= 2 and arr.size == nn:
            arr = arr.reshape(nn)  # a scalar when Nn = 1, or a column vector
        if arr.shape != (nn,):
            raise ParameterError(f"{key}: expected shape ({nn},) (Nn = {nn}), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise NonFiniteError(f"LSTM peephole {key} has non-finite values")
        peep[key] = arr
    return build_lstm_layer(weights, name, peep)
