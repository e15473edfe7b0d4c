"""Algebraic loops are rejected with the port path; loops closed by a delay compile."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.diagrams.examples import gain_feedback
from blockloop.errors import AlgebraicLoopError


def test_algebraic_loop_message_walks_the_ports_and_suggests_a_delay():
    with pytest.raises(AlgebraicLoopError) as info:
        gain_feedback(0.5, delay=False).compile()
    msg = str(info.value)
    assert "algebraic loop through blocks" in msg
    assert "g.y → s.u2 (wire)" in msg
    assert "s.u2 → s.y (feedthrough in 's')" in msg
    assert "s.y → g.u (wire)" in msg
    assert "Insert a UnitDelay on one of these wires" in msg
    blocks = {node[0] for node in info.value.cycle}
    assert blocks == {"s", "g"}


def test_delay_in_the_loop_breaks_it():
    y = gain_feedback(0.5, delay=True).simulate({"u": np.ones((4, 1))})["y"].ravel()
    # y[k] = 1 + 0.5·y[k−1], y[−1] = 0  → 1, 1.5, 1.75, 1.875
    np.testing.assert_allclose(y, [1.0, 1.5, 1.75, 1.875])


def gain_subsystem(delay: bool) -> Diagram:
    sub = Diagram("sub")
    sub.add("x", Inport()); sub.add("g", Gain(0.5)); sub.add("o", Outport())
    if delay:
        sub.add("z", UnitDelay(0.0)); sub.chain("x", "g", "z", "o")
    else:
        sub.chain("x", "g", "o")
    return sub


@pytest.mark.parametrize("delay", [False, True])
def test_loop_through_a_subsystem(delay):
    d = Diagram("top")
    d.add("u", Inport(1)); d.add("s", Sum("++")); d.add("sub", gain_subsystem(delay)); d.add("y", Outport())
    d.connect("u", "s.u1"); d.connect("s", "sub.x"); d.connect("sub.o", "s.u2"); d.connect("s", "y")
    if not delay:
        with pytest.raises(AlgebraicLoopError, match="sub/g") as info:
            d.compile()
        assert "sub/g.y → s.u2 (wire)" in str(info.value)
    else:
        y = d.simulate({"u": np.ones((3, 1))})["y"].ravel()
        np.testing.assert_allclose(y, [1.0, 1.5, 1.75])


def test_feedthrough_declared_per_block_type():
    assert UnitDelay().feedthrough() == frozenset()
    assert Gain(1.0).feedthrough() == {("u", "y")}


def test_feedthrough_of_a_state_space_follows_its_d():
    """A DiscreteStateSpace closes a loop alone when D = 0; with D ≠ 0 the loop is algebraic, named port by port."""
    from blockloop.blocks import DiscreteStateSpace

    def loop(D):
        d = Diagram("loop")
        d.add("r", Inport(1)); d.add("e", Sum("+-")); d.add("plant", DiscreteStateSpace(0.5, 1.0, 2.0, D=D))
        d.add("y", Outport())
        d.connect("r", "e.u1"); d.connect("plant", "e.u2"); d.connect("e", "plant"); d.connect("plant", "y")
        return d

    # D = 0: y[k] = 2 x[k], x[k+1] = 0.5 x[k] + (1 − y[k]) = −1.5 x[k] + 1 → x = 0, 1, −0.5, 1.75
    y = loop(0.0).simulate({"r": np.ones((4, 1))})["y"].ravel()
    np.testing.assert_allclose(y, [0.0, 2.0, -1.0, 3.5])
    with pytest.raises(AlgebraicLoopError) as info:
        loop(0.1).compile()
    msg = str(info.value)
    assert "plant.u → plant.y (feedthrough in 'plant')" in msg and "plant.y → e.u2 (wire)" in msg
    assert {node[0] for node in info.value.cycle} == {"plant", "e"}
