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

from ..blocks import Constant, Demux, Gain, Inport, Outport, Product, Sigmoid, Sum, Tanh, UnitDelay
from ..blocks.base import as_float_array
from ..engine import Diagram
from ..errors import NonFiniteError, ParameterError
from .weights import GATES, LayerWeights

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
    d = Diagram(name)
    d.add("x", Inport(weights.ni))
    d.add("W", Gain(weights.W))
    d.add("R", Gain(weights.R))
    d.add("b", Constant(weights.b))
    d.add("gates", Sum("+++"))
    d.add("split", Demux([nn] * 4, names=GATES))
    for key in ("p_i", "p_f", "p_o"):
        d.add(key, Gain(peep[key]))
    for key in ("zi", "zf", "zo"):
        d.add(key, Sum("++"))
    d.add("sig_i", Sigmoid())
    d.add("sig_f", Sigmoid())
    d.add("tanh_g", Tanh())
    d.add("sig_o", Sigmoid())
    d.add("f_c", Product(2))
    d.add("i_g", Product(2))
    d.add("c_sum", Sum("++"))
    d.add("tanh_c", Tanh())
    d.add("h_prod", Product(2))
    d.add("c_delay", UnitDelay(weights.c0))
    d.add("h_delay", UnitDelay(weights.h0))
    d.add("h", Outport())
    d.add("c", Outport())

    d.chain("x", "W")
    d.connect("W", "gates.u1")
    d.connect("R", "gates.u2")
    d.connect("b", "gates.u3")
    d.connect("gates", "split")
    # peepholes: i and f see c[k−1], o sees c[k]
    d.connect("c_delay", "p_i")
    d.connect("c_delay", "p_f")
    d.connect("c_sum", "p_o")
    for gate, peephole, z, act in (("i", "p_i", "zi", "sig_i"), ("f", "p_f", "zf", "sig_f"),
                                   ("o", "p_o", "zo", "sig_o")):
        d.connect(f"split.{gate}", f"{z}.u1")
        d.connect(peephole, f"{z}.u2")
        d.connect(z, act)
    d.connect("split.g", "tanh_g")
    d.connect("sig_f", "f_c.u1")
    d.connect("c_delay", "f_c.u2")
    d.connect("sig_i", "i_g.u1")
    d.connect("tanh_g", "i_g.u2")
    d.connect("f_c", "c_sum.u1")
    d.connect("i_g", "c_sum.u2")
    d.chain("c_sum", "c_delay")
    d.chain("c_sum", "tanh_c")
    d.connect("sig_o", "h_prod.u1")
    d.connect("tanh_c", "h_prod.u2")
    d.chain("h_prod", "h_delay", "R")
    d.connect("h_prod", "h")
    d.connect("c_sum", "c")
    return d
