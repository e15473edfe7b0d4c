"""The example diagrams implement the difference equations their docstrings state."""

import numpy as np
import pytest
from scipy.signal import lfilter

from blockloop import AlgebraicLoopError, Diagram, compile_diagram
from blockloop.blocks import Inport, Outport, UnitDelay
from blockloop.diagrams.examples import accumulator, algebraic_loop, delay_line, gain_feedback, small_lstm, wrapped

U = np.array([[1.0], [-2.0], [0.5], [4.0], [3.0]])


def test_accumulator_is_a_running_sum_from_x0():
    np.testing.assert_allclose(accumulator(10.0).simulate({"u": U})["y"].ravel(), 10.0 + np.cumsum(U))
    r = accumulator(10.0, state_output=True).simulate({"u": U})
    np.testing.assert_allclose(r["x"].ravel(), 10.0 + np.concatenate([[0.0], np.cumsum(U)[:-1]]))
    assert list(accumulator(state_output=True).blocks) == ["u", "s", "z", "x", "y"]


def test_gain_feedback_is_a_first_order_iir_or_an_algebraic_loop():
    y = gain_feedback(-0.8).simulate({"u": U})["y"].ravel()
    np.testing.assert_allclose(y, lfilter([1.0], [1.0, 0.8], U.ravel()), rtol=0, atol=1e-12)
    with pytest.raises(AlgebraicLoopError):
        compile_diagram(gain_feedback(delay=False))


def test_algebraic_loop_is_rejected():
    with pytest.raises(AlgebraicLoopError, match="algebraic loop"):
        compile_diagram(algebraic_loop())


def test_delay_line_shifts_by_one_step():
    np.testing.assert_array_equal(delay_line(7.0).simulate({"u": U})["y"].ravel(), [7.0, *U.ravel()[:-1]])


def test_wrapped_passes_the_subsystem_through():
    inner = Diagram("inner")
    inner.add("x", Inport(1)); inner.add("z", UnitDelay(3.0)); inner.add("o", Outport())
    inner.chain("x", "z", "o")
    top = wrapped(wrapped(inner, "mid", block="in", ports=("x", "o")), "top")
    assert list(top.blocks) == ["u", "m", "y"] and list(top.block("m").blocks) == ["x", "in", "o"]
    np.testing.assert_array_equal(top.simulate({"u": U})["y"].ravel(), [3.0, *U.ravel()[:-1]])


def test_builders_return_fresh_diagrams():
    assert accumulator() is not accumulator()
    a = small_lstm(layers=2)
    a.add("extra", delay_line())
    assert "extra" not in small_lstm(layers=2).blocks and list(small_lstm(2).blocks)[1:3] == ["lstm1", "lstm2"]
