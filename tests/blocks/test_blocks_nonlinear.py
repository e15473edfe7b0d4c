"""Sigmoid and Tanh: hand values, extremes without overflow, dtype preserved."""

import math
import warnings

import numpy as np

from blockloop.blocks import Sigmoid, Tanh


def test_sigmoid_values():
    u = np.array([[0.0, 1.0, -2.0]])
    y = Sigmoid().output([u], None)[0]
    expected = [0.5, 1 / (1 + math.exp(-1)), 1 / (1 + math.exp(2))]
    np.testing.assert_allclose(y[0], expected, rtol=0, atol=1e-15)


def test_sigmoid_saturates_without_overflow_warnings():
    u = np.array([[-1000.0, 1000.0, 100.0, -100.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = Sigmoid().output([u], None)[0]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[0, :2], [0.0, 1.0])


def test_tanh_values_and_dtype():
    u = np.array([[0.0, 0.5, -3.0]], dtype=np.float32)
    y = Tanh().output([u], None)[0]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[0], [0.0, math.tanh(0.5), math.tanh(-3.0)], rtol=1e-6)


def test_pointwise_blocks_feed_through_and_keep_size():
    for block in (Sigmoid(), Tanh()):
        assert block.feedthrough() == {("u", "y")}
        assert block.output_sizes({"u": 7}) == {"y": 7}
        assert not block.has_state
