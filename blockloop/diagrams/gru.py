"""The GRU layer drawn as explicit feedback, its weights, and a network builder.

Per layer, at step k — PyTorch's ``nn.GRU`` exactly, gate rows stacked r, z, n as in
``weight_ih_l{k}``/``weight_hh_l{k}``::

    a = W·x[k] + b_ih,   c = R·h[k−1] + b_hh          (input and hidden pre-activations, split r, z, n)
    r = σ(a_r + c_r),   z = σ(a_z + c_z)
    n = tanh(a_n + r ⊙ c_n)                          (the reset gate multiplies AFTER the recurrent
                                                     product R_n·h, whose bias b_hn it includes)
    h[k] = n + z ⊙ (h[k−1] − n)   = (1 − z) ⊙ n + z ⊙ h[k−1]

(the first form is PyTorch's CPU kernel's order of operations). Because r multiplies R_n·h + b_hn,
the two biases cannot be merged for the n gate; both are kept for every gate.

Block names inside a layer subsystem (probes ``"gru1/<name>.y"``): ``W``, ``b_ih``, ``a``
(W·x + b_ih), ``split_a``, ``R``, ``b_hh``, ``c`` (R·h + b_hh), ``split_c``, ``r_sum``, ``z_sum``,
``sig_r``, ``sig_z``, ``r_cn`` (r ⊙ c_n), ``n_sum``, ``tanh_n``, ``h_minus_n``, ``z_h``, ``h_sum``,
``h_delay``. Loops, all closed by h_delay: through R and each gate, and the leak
h_delay → h_minus_n → z_h → h_sum → h_delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blocks import Constant, Demux, Gain, Inport, Outport, Product, Sigmoid, Sum, Tanh, UnitDelay
from ..engine import Diagram
from .rnn import StackedNetworkWeights, stack
from .weights import _check, _check_finite, initial_state, recurrent_matrices

__all__ = ["GRU_GATES", "GRULayerWeights", "GRUNetworkWeights", "gru_layer", "gru_network"]

GRU_GATES = ("r", "z", "n")


@dataclass(frozen=True)
class GRULayerWeights:
    """Weights and initial state of one GRU layer (Nn units, Ni inputs), PyTorch's layout.

    Parameters
    ----------
    W : (3·Nn, Ni) input weights [W_r; W_z; W_n] (``weight_ih_l{k}``)
    R : (3·Nn, Nn) recurrent weights [R_r; R_z; R_n] (``weight_hh_l{k}``)
    b_ih, b_hh : (3·Nn,) input and hidden biases (``bias_ih_l{k}``, ``bias_hh_l{k}``)
    h0 : (Nn,) initial hidden state (zeros by default)
    """

    W: np.ndarray
    R: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    h0: np.ndarray | None = None

    def __post_init__(self):
        W, R, nn = recurrent_matrices(self.W, self.R, 3)
        fields = {"R": R, "W": W, "b_ih": _check(self.b_ih, "b_ih", (3 * nn,), f"3·Nn with Nn = {nn}"),
                  "b_hh": _check(self.b_hh, "b_hh", (3 * nn,), f"3·Nn with Nn = {nn}"),
                  "h0": initial_state(self.h0, "h0", nn)}
        _check_finite(fields, "GRU weight")
        for key, val in fields.items():
            object.__setattr__(self, key, val)

    @property
    def ni(self) -> int:
        return self.W.shape[1]

    @property
    def nn(self) -> int:
        return self.R.shape[1]


@dataclass(frozen=True)
class GRUNetworkWeights(StackedNetworkWeights):
    """Stacked GRU layers (:class:`GRULayerWeights`) followed by the fully connected gain."""

    LAYER = GRULayerWeights

    @classmethod
    def random_layer(cls, draw, n_in: int, nn: int) -> GRULayerWeights:
        return GRULayerWeights(W=draw(3 * nn, n_in, nn), R=draw(3 * nn, nn, nn), b_ih=draw(3 * nn, None, nn),
                               b_hh=draw(3 * nn, None, nn))


def gru_layer(weights: GRULayerWeights, name: str = "gru") -> Diagram:
    """One GRU layer as a subsystem: input ``x`` (Ni), output ``h`` (Nn).

    Examples
    --------
    >>> w = GRULayerWeights(W=np.ones((3, 1)), R=np.zeros((3, 1)), b_ih=np.zeros(3), b_hh=np.zeros(3))
    >>> gru_layer(w).inputs, gru_layer(w).outputs
    (('x',), ('h',))
    """
    nn = weights.nn
    d = Diagram(name)
    d.add("x", Inport(weights.ni))
    d.add("W", Gain(weights.W))
    d.add("b_ih", Constant(weights.b_ih))
    d.add("a", Sum("++"))
    d.add("split_a", Demux([nn] * 3, names=GRU_GATES))
    d.add("R", Gain(weights.R))
    d.add("b_hh", Constant(weights.b_hh))
    d.add("c", Sum("++"))
    d.add("split_c", Demux([nn] * 3, names=GRU_GATES))
    d.add("r_sum", Sum("++"))
    d.add("z_sum", Sum("++"))
    d.add("sig_r", Sigmoid())
    d.add("sig_z", Sigmoid())
    d.add("r_cn", Product(2))
    d.add("n_sum", Sum("++"))
    d.add("tanh_n", Tanh())
    d.add("h_minus_n", Sum("+-"))
    d.add("z_h", Product(2))
    d.add("h_sum", Sum("++"))
    d.add("h_delay", UnitDelay(weights.h0))
    d.add("h", Outport())

    d.chain("x", "W")
    d.connect("W", "a.u1")
    d.connect("b_ih", "a.u2")
    d.chain("a", "split_a")
    d.connect("R", "c.u1")
    d.connect("b_hh", "c.u2")
    d.chain("c", "split_c")
    for gate in ("r", "z"):
        d.connect(f"split_c.{gate}", f"{gate}_sum.u1")  # hidden part first: PyTorch adds hgates + igates
        d.connect(f"split_a.{gate}", f"{gate}_sum.u2")
        d.chain(f"{gate}_sum", f"sig_{gate}")
    d.connect("split_a.n", "n_sum.u1")
    d.connect("sig_r", "r_cn.u1")
    d.connect("split_c.n", "r_cn.u2")                 # r multiplies R_n·h + b_hn (after the product)
    d.connect("r_cn", "n_sum.u2")
    d.chain("n_sum", "tanh_n")
    d.connect("h_delay", "h_minus_n.u1")              # the leak loop: h − n, times z, plus n
    d.connect("tanh_n", "h_minus_n.u2")
    d.connect("h_minus_n", "z_h.u1")
    d.connect("sig_z", "z_h.u2")
    d.connect("z_h", "h_sum.u1")
    d.connect("tanh_n", "h_sum.u2")
    # the hidden loop: h → h_delay → R → c → … → h_sum → h
    d.chain("h_sum", "h_delay", "R")
    d.connect("h_sum", "h")
    return d


def gru_network(weights: GRUNetworkWeights, name: str = "gru_net") -> Diagram:
    """Stacked GRU layers ``gru1 … gruL`` and the fully connected gain ``F``.

    Ports: input ``u`` (Ni), output ``y`` (No). Trainable paths: ``gru{k}/W.K``, ``gru{k}/R.K``,
    ``gru{k}/b_ih.value``, ``gru{k}/b_hh.value``, ``F.K``, ``F_bias.value``; initial states
    ``gru{k}/h_delay``.

    Examples
    --------
    >>> net = gru_network(GRUNetworkWeights.random(ni=2, nn=3, no=1))
    >>> net.simulate({"u": np.zeros((5, 2))})["y"].shape
    (5, 1)
    """
    return stack(weights, gru_layer, "gru", name)
