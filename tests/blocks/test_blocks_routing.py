"""Mux, Demux, Selector."""

import numpy as np
import pytest

from blockloop.blocks import Demux, Mux, Selector
from blockloop.errors import ParameterError, SizeMismatchError


def test_mux_concatenates_in_port_order():
    y = Mux(3).output([np.array([[1.0]]), np.array([[2.0, 3.0]]), np.array([[4.0]])], None)[0]
    np.testing.assert_array_equal(y, [[1, 2, 3, 4]])
    assert Mux(2).output_sizes({"u1": 1, "u2": 2}) == {"y": 3}
    assert Mux(2).output_sizes({"u1": 1, "u2": None}) == {"y": None}


def test_demux_splits_by_sizes_with_names():
    d = Demux([1, 2, 1], names=["a", "b", "c"])
    assert d.outputs == ("a", "b", "c")
    a, b, c = d.output([np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])], None)
    np.testing.assert_array_equal(a, [[1], [5]])
    np.testing.assert_array_equal(b, [[2, 3], [6, 7]])
    np.testing.assert_array_equal(c, [[4], [8]])
    assert d.declared_input_sizes() == {"u": 4}


def test_demux_default_names_and_bad_arguments():
    assert Demux([2, 2]).outputs == ("y1", "y2")
    with pytest.raises(ParameterError, match="sizes"):
        Demux([2, 0])
    with pytest.raises(ParameterError, match="names"):
        Demux([1, 1], names=["a"])


def test_selector_picks_zero_based_indices():
    y = Selector([2, 0, 2]).output([np.array([[10.0, 20.0, 30.0]])], None)[0]
    np.testing.assert_array_equal(y, [[30, 10, 30]])


def test_selector_index_out_of_range_is_a_size_error():
    with pytest.raises(SizeMismatchError, match="indices go up to 5"):
        Selector([5]).output_sizes({"u": 3})
    with pytest.raises(ParameterError):
        Selector([-1])
    with pytest.raises(ParameterError):
        Selector([0.5])
