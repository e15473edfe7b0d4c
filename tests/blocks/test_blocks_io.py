"""Inport, Outport, FromArray, Probe inside diagrams."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import FromArray, Gain, Inport, Outport, Probe
from blockloop.errors import ParameterError


def test_from_array_plays_its_rows_and_probe_logs():
    d = Diagram()
    d.add("src", FromArray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    d.add("g", Gain(2.0))
    d.add("p", Probe())
    d.chain("src", "g", "p")
    r = d.simulate()
    np.testing.assert_array_equal(r["p"], [[2, 4], [6, 8], [10, 12]])
    assert list(r.t) == [0.0, 1.0, 2.0]


def test_from_array_bad_shape():
    with pytest.raises(ParameterError, match="FromArray data"):
        FromArray(np.zeros((0, 2)))
    with pytest.raises(ParameterError, match="FromArray data"):
        FromArray(np.zeros((2, 2, 2, 2)))


def test_inport_and_outport_name_the_diagram_ports():
    d = Diagram()
    d.add("u", Inport(2))
    d.add("y", Outport())
    d.connect("u", "y")
    assert d.inputs == ("u",) and d.outputs == ("y",)
    r = d.simulate({"u": np.arange(6.0).reshape(3, 2)}, Ts=0.5)
    np.testing.assert_array_equal(r["y"], np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(r.t, [0.0, 0.5, 1.0])


def test_inport_size_must_be_positive():
    with pytest.raises(ParameterError, match="Inport size"):
        Inport(0)
