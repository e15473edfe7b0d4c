"""A subsystem's ports after flattening: declared Inport sizes still hold, and the ports can be probed."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport
from blockloop.errors import SimulationError, SizeMismatchError


def doubler(in_size=None):
    sub = Diagram("doubler")
    sub.add("x", Inport(in_size)); sub.add("g", Gain(2.0)); sub.add("o", Outport())
    sub.chain("x", "g", "o")
    return sub


def outer(sub, top_size=None, nested=False):
    if nested:  # the sized subsystem sits one level deeper, behind a pass-through subsystem
        wrap = Diagram("wrap")
        wrap.add("a", Inport()); wrap.add("s", sub); wrap.add("b", Outport())
        wrap.connect("a", "s.x"); wrap.connect("s.o", "b")
        sub, port_in, port_out = wrap, "a", "b"
    else:
        port_in, port_out = "x", "o"
    top = Diagram("top")
    top.add("u", Inport(top_size)); top.add("s", sub); top.add("y", Outport())
    top.connect("u", f"s.{port_in}"); top.connect(f"s.{port_out}", "y")
    return top


@pytest.mark.parametrize("nested", [False, True])
def test_declared_size_of_a_subsystem_inport_is_checked(nested):
    top = outer(doubler(in_size=3), top_size=2, nested=nested)
    with pytest.raises(SizeMismatchError, match=r"subsystem input 's(/s)?\.x' is declared with size 3.*'u\.y'.*size 2"):
        top.compile()


@pytest.mark.parametrize("nested", [False, True])
def test_declared_size_of_a_subsystem_inport_is_used_for_inference(nested):
    top = outer(doubler(in_size=3), top_size=None, nested=nested)
    y = top.simulate({"u": np.ones((2, 3))})["y"]
    assert y.shape == (2, 3) and np.all(y == 2.0)


def test_subsystem_ports_can_be_probed():
    top = outer(doubler(), top_size=2)
    u = np.arange(6.0).reshape(3, 2)
    res = top.simulate({"u": u}, probes=["s.x", "s.o", "s/x", "s/o.u"])
    np.testing.assert_array_equal(res["s.x"], u)
    np.testing.assert_array_equal(res["s/x"], u)
    np.testing.assert_array_equal(res["s.o"], 2 * u)
    np.testing.assert_array_equal(res["s/o.u"], 2 * u)


def test_probe_of_an_unknown_subsystem_port_is_named():
    top = outer(doubler(), top_size=2)
    with pytest.raises(SimulationError, match="probe 's.nope'"):
        top.simulate({"u": np.ones((2, 2))}, probes=["s.nope"])
