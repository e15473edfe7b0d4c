"""Diagrams the picture tests are checked on: recurrent networks, filters, loops, odd shapes."""

from __future__ import annotations

import numpy as np

from blockloop import Diagram
from blockloop.blocks import (
    DiscreteStateSpace,
    DiscreteTransferFunction,
    Gain,
    Inport,
    Outport,
    Saturation,
    Sum,
    UnitDelay,
)
from blockloop.diagrams import (
    GRUNetworkWeights,
    NetworkWeights,
    RNNNetworkWeights,
    gru_network,
    lstm_network,
    rnn_network,
    state_space_diagram,
)
from blockloop.diagrams.examples import accumulator, algebraic_loop, gain_feedback


def biquad() -> Diagram:
    """Direct form I biquad: y = b0·u + b1·u[k−1] + b2·u[k−2] − a1·y[k−1] − a2·y[k−2]."""
    d = Diagram("biquad")
    d.add("u", Inport(1))
    for name, k in [("b0", 0.2), ("b1", 0.4), ("b2", 0.2), ("a1", -0.5), ("a2", 0.25)]:
        d.add(name, Gain(k))
    for name in ("zu1", "zu2", "zy1", "zy2"):
        d.add(name, UnitDelay(0.0))
    d.add("s", Sum("+++--"))
    d.add("y", Outport())
    d.chain("u", "zu1", "zu2")
    d.connect("u", "b0")
    d.connect("zu1", "b1")
    d.connect("zu2", "b2")
    for k, g in enumerate(("b0", "b1", "b2", "a1", "a2"), start=1):
        d.connect(g, f"s.u{k}")
    d.chain("s", "zy1", "zy2")
    d.connect("zy1", "a1")
    d.connect("zy2", "a2")
    d.connect("s", "y")
    return d


def plant() -> Diagram:
    """First-order plant x[k+1] = 0.9·x[k] + 0.1·u[k], y = x (Inport ``u``, Outport ``y``)."""
    p = Diagram("plant")
    p.add("u", Inport(1))
    p.add("bu", Gain(0.1))
    p.add("s", Sum("++"))
    p.add("z", UnitDelay(0.0))
    p.add("a", Gain(0.9))
    p.add("y", Outport())
    p.chain("u", "bu", "s.u1")
    p.chain("s", "z", "a", "s.u2")
    p.connect("z", "y")
    return p


def pid_loop() -> Diagram:
    """A discrete PID controller around the plant subsystem, unit feedback (r − y)."""
    d = Diagram("pid")
    d.add("r", Inport(1))
    d.add("e", Sum("+-"))
    d.add("kp", Gain(2.0))
    d.add("ki", Gain(0.5))
    d.add("kd", Gain(0.1))
    d.add("i_sum", Sum("++"))
    d.add("i_z", UnitDelay(0.0))
    d.add("d_z", UnitDelay(0.0))
    d.add("d_sum", Sum("+-"))
    d.add("u", Sum("+++"))
    d.add("plant", plant())
    d.add("y", Outport())
    d.connect("r", "e.u1")
    d.connect("e", "kp")
    d.connect("e", "ki")
    d.chain("ki", "i_sum.u1")
    d.chain("i_sum", "i_z", "i_sum.u2")
    d.connect("e", "d_sum.u1")
    d.chain("e", "d_z", "d_sum.u2")
    d.chain("d_sum", "kd")
    d.connect("kp", "u.u1")
    d.connect("i_sum", "u.u2")
    d.connect("kd", "u.u3")
    d.connect("u", "plant.u")
    d.connect("plant.y", "e.u2")
    d.connect("plant.y", "y")
    return d


def five_input_sum() -> Diagram:
    d = Diagram("sum5")
    d.add("s", Sum("++-+-"))
    for k in range(1, 6):
        d.add(f"u{k}", Inport(1))
        d.connect(f"u{k}", f"s.u{k}")
    d.add("y", Outport())
    d.connect("s", "y")
    return d


def nested() -> Diagram:
    """Subsystems two deep: an accumulator inside ``inner`` inside ``outer``, next to a top-level gain."""
    inner = Diagram("inner")
    inner.add("x", Inport(1))
    inner.add("acc", accumulator())
    inner.add("o", Outport())
    inner.connect("x", "acc.u")
    inner.connect("acc.y", "o")
    outer = Diagram("outer")
    outer.add("x", Inport(1))
    outer.add("g", Gain(2.0))
    outer.add("inner", inner)
    outer.add("o", Outport())
    outer.chain("x", "g", "inner.x")
    outer.connect("inner.o", "o")
    d = Diagram("nested")
    d.add("u", Inport(1))
    d.add("outer", outer)
    d.add("k", Gain(3.0))
    d.add("s", Sum("+-"))
    d.add("y", Outport())
    d.connect("u", "outer.x")
    d.connect("u", "k")
    d.connect("outer.o", "s.u1")
    d.connect("k", "s.u2")
    d.connect("s", "y")
    return d


def nested_loop() -> Diagram:
    """A plant under a controller subsystem (a filter subsystem, a gain, a saturation) in a loop.

    Drawn at depth 1 it once ran the error wire into ``c/f`` 0.025 above the saturation's wire
    out to the plant, over a stretch of one channel: two signals that looked like one wire.
    """
    filt = Diagram("filter")
    filt.add("u", Inport(1))
    filt.add("H", DiscreteTransferFunction([0.2, 0.3, 0.1], [1.0, -1.1, 0.5]))
    filt.add("y", Outport())
    filt.chain("u", "H", "y")
    ctrl = Diagram("ctrl")
    ctrl.add("e", Inport(1))
    ctrl.add("f", filt)
    ctrl.add("K", Gain(2.0))
    ctrl.add("sat", Saturation(-1, 1))
    ctrl.add("u", Outport())
    ctrl.chain("e", "f", "K", "sat", "u")
    d = Diagram("nested_loop", Ts=0.01)
    d.add("r", Inport(1))
    d.add("err", Sum("+-"))
    d.add("c", ctrl)
    d.add("G", DiscreteStateSpace([[0.9]], [[0.1]], [[1.0]]))
    d.add("y", Outport())
    d.connect("r", "err.u1")
    d.connect("G", "err.u2")
    d.chain("err", "c", "G", "y")
    return d


def corpus() -> dict[str, Diagram]:
    """Name → diagram, at least ten of them."""
    ss = (np.array([[0.9, 0.1], [0.0, 0.8]]), np.array([[0.0], [1.0]]), np.array([[1.0, 0.0]]), np.array([[0.0]]))
    return {
        "lstm1": lstm_network(NetworkWeights.random(4, 3, 2, n_layers=1)),
        "lstm2": lstm_network(NetworkWeights.random(4, 3, 2, n_layers=2)),
        "lstm3": lstm_network(NetworkWeights.random(4, 3, 2, n_layers=3)),
        "gru": gru_network(GRUNetworkWeights.random(3, 2, 1)),
        "rnn2": rnn_network(RNNNetworkWeights.random(3, 2, 1, n_layers=2)),
        "biquad": biquad(),
        "pid": pid_loop(),
        "state_space": state_space_diagram(ss),
        "accumulator": accumulator(state_output=True),
        "sum5": five_input_sum(),
        "nested": nested(),
        "nested_loop": nested_loop(),
        "gain_feedback": gain_feedback(),
        "algebraic": algebraic_loop(),
    }
