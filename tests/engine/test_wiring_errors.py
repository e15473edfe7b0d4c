"""Bad input gets a clear error naming the block and port, never a deep numpy traceback."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Constant, Gain, Inport, Outport, Sum
from blockloop.diagrams.examples import gain_feedback
from blockloop.errors import NonFiniteError, SimulationError, SizeMismatchError, WiringError


def small():
    d = Diagram("small")
    d.add("u", Inport(2)); d.add("K", Gain(np.ones((3, 2)))); d.add("y", Outport())
    return d


def test_unknown_block_suggests_close_names():
    d = small()
    with pytest.raises(WiringError, match="no block named 'k'.*did you mean 'K'"):
        d.connect("k.y", "y")


def test_unknown_port_lists_the_ports():
    d = small()
    with pytest.raises(WiringError, match="block 'K' \\(Gain\\) has no output port 'out'; its outputs are: y"):
        d.connect("K.out", "y")
    with pytest.raises(WiringError, match="'u' is an input"):
        d.connect("K.u", "y")


def test_doubly_connected_input_names_existing_driver():
    d = small()
    d.connect("u", "K")
    d.add("v", Inport(2))
    with pytest.raises(WiringError, match="input 'K.u' is already driven by 'u.y'"):
        d.connect("v", "K")


def test_size_mismatch_at_connect_names_both_ends():
    d = small()
    d.add("c", Constant([1.0, 2.0, 3.0]))
    with pytest.raises(SizeMismatchError, match="'c.y' has size 3 but 'K.u' expects size 2"):
        d.connect("c", "K")


def test_size_mismatch_found_at_compile():
    d = Diagram()
    d.add("a", Constant([1.0, 2.0])); d.add("b", Constant([1.0, 2.0, 3.0]))
    d.add("s", Sum("++")); d.add("y", Outport())
    d.connect("a", "s.u1"); d.connect("b", "s.u2"); d.connect("s", "y")
    with pytest.raises(SizeMismatchError, match="block 's' \\(Sum\\)"):
        d.compile()


def test_unconnected_input_is_named():
    d = small()
    d.connect("u", "K")
    with pytest.raises(WiringError, match="input 'y.u' \\(Outport\\) is not connected"):
        d.compile()


def test_ambiguous_handle_asks_for_a_port():
    d = Diagram()
    d.add("s", Sum("++"))
    d.add("c", Constant([1.0]))
    with pytest.raises(WiringError, match="has 2 input ports"):
        d.connect("c", "s")


def test_duplicate_and_invalid_block_names():
    d = small()
    with pytest.raises(WiringError, match="already has a block named 'K'"):
        d.add("K", Gain(1.0))
    with pytest.raises(WiringError, match="invalid block name"):
        d.add("a.b", Gain(1.0))


def test_empty_time_grid_and_missing_steps():
    d = small(); d.chain("u", "K", "y")
    with pytest.raises(SimulationError, match="empty time grid"):
        d.simulate({"u": np.zeros((3, 2))}, steps=0)
    with pytest.raises(SimulationError, match="expected shape \\(T, 2\\)"):
        d.simulate({"u": np.zeros((3, 5))})
    with pytest.raises(SimulationError, match="no data"):
        d.simulate({})
    c = Diagram(); c.add("c", Constant([1.0])); c.add("y", Outport()); c.connect("c", "y")
    with pytest.raises(SimulationError, match="pass steps=T"):
        c.simulate()


def test_non_finite_inputs_and_weights_error_by_default_with_opt_out():
    d = small(); d.chain("u", "K", "y")
    u = np.zeros((4, 2)); u[2, 1] = np.nan
    with pytest.raises(NonFiniteError, match="input 'u' has a non-finite value at step 2"):
        d.simulate({"u": u})
    y = d.simulate({"u": u}, check_finite=False)["y"]
    assert np.isnan(y[2]).all() and np.isfinite(y[[0, 1, 3]]).all()
    bad = Diagram(); bad.add("u", Inport(2)); bad.add("K", Gain([[1.0, np.inf]])); bad.add("y", Outport())
    bad.chain("u", "K", "y")
    with pytest.raises(NonFiniteError, match="block 'K' \\(Gain\\) parameter 'K' has a non-finite value"):
        bad.compile()
    assert bad.compile(check_finite=False) is not None


@pytest.mark.parametrize("backend", ["interpreter", "auto"])
def test_signal_that_blows_up_is_reported(backend):
    # y[0] = 1, g[0] = 1e300, y[1] = 1 + 1e300, g[1] = 1e600 = inf: the gain overflows first, at step 1
    d = gain_feedback(1e300)
    with pytest.raises(NonFiniteError, match=r"signal 'g\.y' \(Gain\) became non-finite at step 1, element 0"):
        d.simulate({"u": np.ones((5, 1))}, Ts=0.1, backend=backend)


def test_unknown_probe_and_input_names():
    d = small(); d.chain("u", "K", "y")
    with pytest.raises(SimulationError, match="no block 'Q'"):
        d.simulate({"u": np.zeros((2, 2))}, probes=["Q.y"])
    with pytest.raises(SimulationError, match="no diagram input named \\['v'\\]"):
        d.simulate({"u": np.zeros((2, 2)), "v": np.zeros((2, 2))})
    with pytest.raises(SimulationError, match="batch sizes disagree"):
        _two_inputs().simulate({"a": np.zeros((2, 3, 1)), "b": np.zeros((2, 4, 1))})


def _two_inputs():
    d = Diagram()
    d.add("a", Inport(1)); d.add("b", Inport(1)); d.add("s", Sum("++")); d.add("y", Outport())
    d.connect("a", "s.u1"); d.connect("b", "s.u2"); d.connect("s", "y")
    return d
