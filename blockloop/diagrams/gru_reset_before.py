"""The GRU layer whose reset gate acts *before* the recurrent product (ONNX's default, Keras' ``reset_after=False``).

:func:`~blockloop.diagrams.gru.gru_layer` is PyTorch's GRU, where the reset gate multiplies
R_n·h + b_hn (ONNX ``linear_before_reset = 1``, Keras ``reset_after=True``). This is the other
GRU, the one of Cho et al. (2014) and of ONNX's ``GRU`` operator by default
(``linear_before_reset = 0``); per step k, with the same :class:`GRULayerWeights` (rows r, z, n)::

    a = W·x[k] + b_ih                                  (split r, z, n)
    r = σ(a_r + R_r·h[k−1] + b_hr),   z = σ(a_z + R_z·h[k−1] + b_hz)
    n = tanh(a_n + R_n·(r ⊙ h[k−1]) + b_hn)             (reset first, then the recurrent product)
    h[k] = n + z ⊙ (h[k−1] − n)  = (1 − z) ⊙ n + z ⊙ h[k−1]

Block names in the subsystem: ``W``, ``b_ih``, ``a``, ``split_a``, ``R_rz`` (rows r, z of R),
``b_hrz``, ``c``, ``split_c``, ``r_sum``, ``z_sum``, ``sig_r``, ``sig_z``, ``r_h`` (r ⊙ h),
``R_n``, ``b_hn``, ``n_sum``, ``tanh_n``, ``h_minus_n``, ``z_h``, ``h_sum``, ``h_delay``.
"""

from __future__ import annotations

from ..blocks import Constant, Demux, Gain, Inport, Outport, Product, Sigmoid, Sum, Tanh, UnitDelay
from ..engine import Diagram
from .gru import GRULayerWeights

__all__ = ["gru_reset_before_layer"]


def gru_reset_before_layer(weights: GRULayerWeights, name: str = "gru") -> Diagram:
    """One GRU layer with the reset gate applied to h before R_n: input ``x`` (Ni), output ``h`` (Nn).

    Examples
    --------
    >>> import numpy as np
    >>> w = GRULayerWeights(W=np.ones((3, 1)), R=np.zeros((3, 1)), b_ih=np.zeros(3), b_hh=np.zeros(3))
    >>> gru_reset_before_layer(w).outputs
    ('h',)
    """
    nn = weights.nn
    d = Diagram(name)
    d.add("x", Inport(weights.ni))
    d.add("W", Gain(weights.W))
    d.add("b_ih", Constant(weights.b_ih))
    d.add("a", Sum("++"))
    d.add("split_a", Demux([nn] * 3, names=("r", "z", "n")))
    d.add("R_rz", Gain(weights.R[:2 * nn]))
    d.add("b_hrz", Constant(weights.b_hh[:2 * nn]))
    d.add("c", Sum("++"))
    d.add("split_c", Demux([nn] * 2, names=("r", "z")))
    d.add("r_sum", Sum("++"))
    d.add("z_sum", Sum("++"))
    d.add("sig_r", Sigmoid())
    d.add("sig_z", Sigmoid())
    d.add("r_h", Product(2))
    d.add("R_n", Gain(weights.R[2 * nn:]))
    d.add("b_hn", Constant(weights.b_hh[2 * nn:]))
    d.add("n_sum", Sum("+++"))
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
    d.chain("h_delay", "R_rz")
    d.connect("R_rz", "c.u1")
    d.connect("b_hrz", "c.u2")
    d.chain("c", "split_c")
    for gate in ("r", "z"):
        d.connect(f"split_a.{gate}", f"{gate}_sum.u1")
        d.connect(f"split_c.{gate}", f"{gate}_sum.u2")
        d.chain(f"{gate}_sum", f"sig_{gate}")
    d.connect("sig_r", "r_h.u1")                      # reset first …
    d.connect("h_delay", "r_h.u2")
    d.chain("r_h", "R_n")                              # … then the recurrent product
    d.connect("split_a.n", "n_sum.u1")
    d.connect("R_n", "n_sum.u2")
    d.connect("b_hn", "n_sum.u3")
    d.chain("n_sum", "tanh_n")
    d.connect("h_delay", "h_minus_n.u1")
    d.connect("tanh_n", "h_minus_n.u2")
    d.connect("h_minus_n", "z_h.u1")
    d.connect("sig_z", "z_h.u2")
    d.connect("z_h", "h_sum.u1")
    d.connect("tanh_n", "h_sum.u2")
    d.chain("h_sum", "h_delay")
    d.connect("h_sum", "h")
    return d
