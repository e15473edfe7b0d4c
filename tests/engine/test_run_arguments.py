"""Odd arguments to compile/simulate get a blockloop error naming the argument, not a numpy traceback."""

import numpy as np
import pytest

from blockloop.diagrams.examples import accumulator
from blockloop.errors import ParameterError, SimulationError


@pytest.mark.parametrize("Ts", [0, -0.1, float("nan"), float("inf"), "fast"])  # None: the default (1 s)
def test_sample_time_must_be_positive_and_finite(Ts):
    with pytest.raises(SimulationError, match="Ts: expected a positive"):
        accumulator().simulate({"u": np.ones((3, 1))}, Ts=Ts)


def test_sample_time_accepts_numpy_numbers():
    res = accumulator().simulate({"u": np.ones((3, 1))}, Ts=np.float32(0.5))
    assert res.Ts == 0.5 and res.t.tolist() == [0.0, 0.5, 1.0]


def test_empty_batch_is_rejected_by_name():
    with pytest.raises(SimulationError, match=r"input 'u'.*batch of 0"):
        accumulator().simulate({"u": np.ones((3, 0, 1))})
    with pytest.raises(SimulationError, match=r"initial state of 'z'.*batch of 0"):
        accumulator().simulate({"u": np.ones((3, 1))}, initial_states={"z": np.ones((0, 1))})


def test_probes_none_means_no_probes_and_a_non_string_probe_is_named():
    res = accumulator().simulate({"u": np.ones((3, 1))}, probes=None)
    assert list(res.probes) == []
    with pytest.raises(SimulationError, match="probe 3: expected a 'block.port' string"):
        accumulator().simulate({"u": np.ones((3, 1))}, probes=[3])


def test_unknown_dtype_is_a_parameter_error():
    with pytest.raises(ParameterError, match="dtype: expected float64 or float32, got 'bogus'"):
        accumulator().compile(dtype="bogus")
