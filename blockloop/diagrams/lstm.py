"""The LSTM layer drawn as explicit feedback, and a network builder.

Per layer, at step k (⊙ is the elementwise product, σ the logistic sigmoid)::

    z[k] = W·x[k] + R·h[k−1] + b              (gates sum; h[−1] = h0)
    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
    c[k] = f ⊙ c[k−1] + i ⊙ g                 (inner loop, closed by c_delay; c[−1] = c0)
    h[k] = o ⊙ tanh(c[k])                     (outer loop, closed by h_delay)

Block names inside a layer subsystem, usable as probes ``"lstm1/<name>.y"``: ``W``, ``R``,
``b``, ``gates``, ``split`` (outputs i, f, g, o), ``sig_i``, ``sig_f``, ``tanh_g``,
``sig_o``, ``f_c``, ``i_g``, ``c_sum``, ``tanh_c``, ``h_prod``, ``c_delay``, ``h_delay``.
"""

from __future__ import annotations

from ..blocks import Constant, Demux, Gain, Inport, Outport, Product, Sigmoid, Sum, Tanh, UnitDelay
from ..engine import Diagram
from ..errors import ParameterError
from .weights import GATES, LayerWeights, NetworkWeights

__all__ = ["lstm_layer", "lstm_network"]


def lstm_layer(weights: LayerWeights, name: str = "lstm") -> Diagram:
    """One LSTM layer as a subsystem: input ``x`` (Ni), outputs ``h`` and ``c`` (Nn each).

    Examples
    --------
    >>> import numpy as np
    >>> layer = lstm_layer(LayerWeights(W=np.ones((4, 1)), R=np.zeros((4, 1)), b=np.zeros(4)))
    >>> layer.inputs, layer.outputs
    (('x',), ('h', 'c'))
    """
    if not isinstance(weights, LayerWeights):
        raise ParameterError(f"lstm_layer weights: expected a LayerWeights, got {type(weights).__name__}")
    return build_lstm_layer(weights, name)


def build_lstm_layer(weights: LayerWeights, name: str, peepholes: dict | None = None) -> Diagram:
    """The layer subsystem of :func:`lstm_layer`; with ``peepholes`` that of the peephole LSTM.

    ``peepholes``: checked (Nn,) arrays ``p_i``, ``p_f``, ``p_o``, which add the elementwise gains
    of the same names and the sums ``zi``, ``zf``, ``zo`` in front of ``sig_i``, ``sig_f`` and
    ``sig_o`` (see :mod:`.lstm_peephole`); None for the plain layer.
    """
    nn = weights.nn
    d = Diagram(name)
    d.add("x", Inport(weights.ni))
    d.add("W", Gain(weights.W))
    d.add("R", Gain(weights.R))
    d.add("b", Constant(weights.b))
    d.add("gates", Sum("+++"))
    d.add("split", Demux([nn] * 4, names=GATES))
    if peepholes is not None:
        for key in ("p_i", "p_f", "p_o"):
            d.add(key, Gain(peepholes[key]))
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
    if peepholes is None:
        for gate, act in zip(GATES, ("sig_i", "sig_f", "tanh_g", "sig_o"), strict=True):
            d.connect(f"split.{gate}", act)
    else:  # peepholes: i and f see c[k−1], o sees c[k]
        d.connect("c_delay", "p_i")
        d.connect("c_delay", "p_f")
        d.connect("c_sum", "p_o")
        for gate, peephole, z, act in (("i", "p_i", "zi", "sig_i"), ("f", "p_f", "zf", "sig_f"),
                                       ("o", "p_o", "zo", "sig_o")):
            d.connect(f"split.{gate}", f"{z}.u1")
            d.connect(peephole, f"{z}.u2")
            d.connect(z, act)
        d.connect("split.g", "tanh_g")
    # inner (cell) loop: c → c_delay → f⊙c → c_sum → c
    d.connect("sig_f", "f_c.u1")
    d.connect("c_delay", "f_c.u2")
    d.connect("sig_i", "i_g.u1")
    d.connect("tanh_g", "i_g.u2")
    d.connect("f_c", "c_sum.u1")
    d.connect("i_g", "c_sum.u2")
    d.chain("c_sum", "c_delay")
    # outer (hidden) loop: h → h_delay → R → gates → … → h
    d.chain("c_sum", "tanh_c")
    d.connect("sig_o", "h_prod.u1")
    d.connect("tanh_c", "h_prod.u2")
    d.chain("h_prod", "h_delay", "R")
    d.connect("h_prod", "h")
    d.connect("c_sum", "c")
    return d


def lstm_network(weights: NetworkWeights, name: str = "lstm_net") -> Diagram:
    """Stacked LSTM layers ``lstm1 … lstmL`` followed by the fully connected gain ``F``.

    Ports: input ``u`` (Ni), output ``y`` (No), ``y = F·h_L (+ F_bias)``.

    Examples
    --------
    >>> import numpy as np
    >>> net = lstm_network(NetworkWeights.random(ni=4, nn=3, no=2))
    >>> u = np.random.default_rng(0).standard_normal((51, 4))
    >>> net.simulate({"u": u}, Ts=0.1)["y"].shape
    (51, 2)
    """
    if not isinstance(weights, NetworkWeights):
        raise ParameterError(f"lstm_network weights: expected a NetworkWeights, got {type(weights).__name__}")
    d = Diagram(name)
    d.add("u", Inport(weights.ni))
    source = "u"
    for k, layer in enumerate(weights.layers, start=1):
        d.add(f"lstm{k}", lstm_layer(layer, name=f"lstm{k}"))
        d.connect(source, f"lstm{k}.x")
        source = f"lstm{k}.h"
    d.add("F", Gain(weights.F))
    d.connect(source, "F")
    if weights.F_bias is not None:
        d.add("F_bias", Constant(weights.F_bias))
        d.add("fc", Sum("++"))
        d.connect("F", "fc.u1")
        d.connect("F_bias", "fc.u2")
        source = "fc"
    else:
        source = "F"
    d.add("y", Outport())
    d.connect(source, "y")
    return d
