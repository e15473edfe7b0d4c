"""UnitDelay semantics: y[k] = x[k], x[k+1] = u[k], x[0] = x0 — alone and inside loops."""

import numpy as np
import pytest
from scipy.signal import lfilter

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.diagrams.examples import accumulator, delay_line


def test_delay_declares_no_feedthrough_and_has_state():
    z = UnitDelay([1.0, 2.0])
    assert z.feedthrough() == frozenset()
    assert z.has_state
    np.testing.assert_array_equal(z.initial_state(2), [1.0, 2.0])
    np.testing.assert_array_equal(UnitDelay(0.5).initial_state(3), [0.5, 0.5, 0.5])


def test_open_delay_shows_initial_condition_then_previous_input():
    d = delay_line(7.0)
    y = d.simulate({"u": [[1.0], [2.0], [3.0], [4.0]]})["y"].ravel()
    # y[0] = x0 = 7, then y[k] = u[k-1]
    np.testing.assert_array_equal(y, [7.0, 1.0, 2.0, 3.0])


def test_accumulator_inside_a_loop_sees_input_at_k0():
    u = np.array([[1.0], [2.0], [3.0], [4.0]])
    r = accumulator(10.0).simulate({"u": u}, probes=["z.y"])
    # the input at k = 0 reaches the state at the first update: z = [10, 11, 13, 16]
    np.testing.assert_array_equal(r["y"].ravel(), [11.0, 13.0, 16.0, 20.0])
    np.testing.assert_array_equal(r["z.y"].ravel(), [10.0, 11.0, 13.0, 16.0])


def second_order(a1, a2, b0, b1):
    """y[k] = b0·u[k] + b1·u[k−1] − a1·y[k−1] − a2·y[k−2] with two delays on y and one on u."""
    d = Diagram("iir2")
    d.add("u", Inport(1)); d.add("zu", UnitDelay(0.0))
    d.add("b0", Gain(b0)); d.add("b1", Gain(b1))
    d.add("z1", UnitDelay(0.0)); d.add("z2", UnitDelay(0.0))
    d.add("a1", Gain(a1)); d.add("a2", Gain(a2))
    d.add("s", Sum("++--")); d.add("y", Outport())
    d.connect("u", "b0"); d.chain("u", "zu", "b1")
    d.connect("b0", "s.u1"); d.connect("b1", "s.u2")
    d.chain("s", "z1", "z2")
    d.chain("z1", "a1"); d.chain("z2", "a2")
    d.connect("a1", "s.u3"); d.connect("a2", "s.u4")
    d.connect("s", "y")
    return d


def test_second_order_difference_equation_matches_lfilter():
    a1, a2, b0, b1 = -1.5, 0.7, 1.0, 0.5
    u = np.random.default_rng(3).standard_normal(200)
    y = second_order(a1, a2, b0, b1).simulate({"u": u})["y"].ravel()
    expected = lfilter([b0, b1], [1.0, a1, a2], u)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


def test_initial_state_override_per_run_and_batch():
    u = np.ones((3, 2, 1))  # batch of 2
    prog = accumulator().compile()
    r = prog.simulate({"u": u}, initial_states={"z": [[0.0], [100.0]]})
    np.testing.assert_array_equal(r["y"][:, :, 0], [[1, 101], [2, 102], [3, 103]])
    # the program's own x0 is untouched by the override
    np.testing.assert_array_equal(prog.simulate({"u": u[:, 0]})["y"].ravel(), [1, 2, 3])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_delay_keeps_dtype(dtype):
    r = accumulator(0.25).compile(dtype=dtype).simulate({"u": np.ones((4, 1))})
    assert r["y"].dtype == dtype
