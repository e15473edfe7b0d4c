"""Small example diagrams: a running sum, first-order feedback, an algebraic loop, a delay line.

Each builder returns a fresh :class:`~blockloop.Diagram` and its docstring gives the difference
equation it implements (k = 0, 1, … is the step); ``tests/diagrams/test_examples.py`` checks each
equation against a simulation. Block names are part of the contract (``"z"`` is the delay,
``"s"`` the sum, ``"u"``/``"y"`` the ports), so they are handy for trying probes, loop reports
and pictures:

>>> from blockloop.diagrams.examples import accumulator
>>> accumulator().simulate({"u": [[1.0], [2.0], [3.0]]})["y"].ravel().tolist()
[1.0, 3.0, 6.0]
"""

from __future__ import annotations

from ..blocks import Gain, Inport, Outport, Sum, UnitDelay
from ..engine import Diagram
from .lstm import lstm_network
from .weights import NetworkWeights

__all__ = ["accumulator", "algebraic_loop", "delay_line", "gain_feedback", "small_lstm", "wrapped"]


def accumulator(x0=0.0, *, state_output: bool = False, name: str = "acc") -> Diagram:
    """Running sum: u → s(++) → y, with s → z → s.u2 closing the loop through a unit delay.

    y[k] = u[k] + z[k], z[k+1] = y[k], z[0] = x0  ⇒  y[k] = x0 + Σ_{j≤k} u[j].

    Blocks ``u`` (Inport, size 1), ``s`` (Sum "++"), ``z`` (UnitDelay(x0)), ``y`` (Outport).
    With ``state_output`` a second Outport ``x`` (added before ``y``) carries the state:
    x[k] = z[k].
    """
    d = Diagram(name)
    d.add("u", Inport(1))
    d.add("s", Sum("++"))
    d.add("z", UnitDelay(x0))
    if state_output:
        d.add("x", Outport())
    d.add("y", Outport())
    d.connect("u", "s.u1")
    d.connect("z", "s.u2")
    d.connect("s", "z")
    d.connect("s", "y")
    if state_output:
        d.connect("z", "x")
    return d


def algebraic_loop() -> Diagram:
    """An algebraic loop (no delay): u → s(+−) → g(0.5) → y, with g → s.u2.

    y[k] = 0.5·(u[k] − y[k]) — the output depends on itself within the step (solved: y = u/3),
    so ``compile`` rejects the diagram with AlgebraicLoopError. Blocks ``u``, ``s``, ``g``, ``y``;
    diagram name ``"alg"``.
    """
    d = Diagram("alg")
    d.add("u", Inport(1))
    d.add("s", Sum("+-"))
    d.add("g", Gain(0.5))
    d.add("y", Outport())
    d.connect("u", "s.u1")
    d.connect("s", "g")
    d.connect("g", "s.u2")
    d.connect("g", "y")
    return d


def gain_feedback(K=0.5, *, delay: bool = True) -> Diagram:
    """First-order feedback: u → s(++) → y, with s → g(K) [→ z] → s.u2.

    With ``delay``: y[k] = u[k] + K·y[k−1], y[−1] = 0 (a stable first-order IIR for |K| < 1).
    Without: y[k] = u[k] + K·y[k], an algebraic loop that ``compile`` rejects.
    Blocks ``u``, ``s``, ``g``, ``y`` [, ``z`` (UnitDelay(0.0))]; diagram name ``"fb"``.
    """
    d = Diagram("fb")
    d.add("u", Inport(1))
    d.add("s", Sum("++"))
    d.add("g", Gain(K))
    d.add("y", Outport())
    d.connect("u", "s.u1")
    d.connect("s", "g")
    d.connect("s", "y")
    if delay:
        d.add("z", UnitDelay(0.0))
        d.chain("g", "z")
        d.connect("z", "s.u2")
    else:
        d.connect("g", "s.u2")
    return d


def delay_line(x0=0.0) -> Diagram:
    """A lone unit delay closing no loop: u → z → y.

    y[k] = z[k], z[k+1] = u[k], z[0] = x0  ⇒  y = x0, u[0], u[1], …
    Blocks ``u`` (Inport, size 1), ``z``, ``y``; diagram name ``"chain"``.
    """
    d = Diagram("chain")
    d.add("u", Inport(1))
    d.add("z", UnitDelay(x0))
    d.add("y", Outport())
    d.chain("u", "z", "y")
    return d


def wrapped(subsystem: Diagram, name: str, *, block: str = "m", ports: tuple[str, str] = ("u", "y")) -> Diagram:
    """``subsystem`` (Inport ``x``, Outport ``o``) as block ``block`` between a size-1 Inport and an Outport.

    y[k] = subsystem(u)[k]: the wrapper adds no dynamics. ``ports`` names the new Inport and
    Outport (default ``u`` and ``y``); ``name`` is the new diagram's name.
    """
    src, dst = ports
    d = Diagram(name)
    d.add(src, Inport(1))
    d.add(block, subsystem)
    d.add(dst, Outport())
    d.connect(src, f"{block}.x")
    d.connect(f"{block}.o", dst)
    return d


def small_lstm(layers: int = 1) -> Diagram:
    """``lstm_network`` with Ni = 4, Nn = 3, No = 2 and ``NetworkWeights.random(..., seed=0)``.

    Per layer ℓ (input x = u for ℓ = 1, else h of layer ℓ−1; gates i, f, g, o from
    z[k] = W·x[k] + R·h[k−1] + b):
    c[k] = σ(f)⊙c[k−1] + σ(i)⊙tanh(g), h[k] = σ(o)⊙tanh(c[k]); then y[k] = F·h_L[k].
    Subsystems ``lstm1 … lstmL`` hold the delays ``c_delay`` and ``h_delay``.
    """
    return lstm_network(NetworkWeights.random(4, 3, 2, n_layers=layers, seed=0))
