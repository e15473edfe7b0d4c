"""Constant, Gain, Sum, Product: values against hand computation, feedthrough, sizes."""

import numpy as np
import pytest

from blockloop.blocks import Constant, Gain, Product, Sum
from blockloop.errors import ParameterError, SizeMismatchError


def row(*v):
    return np.array([v], dtype=float)


def test_constant_outputs_value_and_has_no_inputs():
    c = Constant([1.5, -2.0])
    assert c.inputs == () and c.outputs == ("y",)
    np.testing.assert_array_equal(c.output((), None)[0], row(1.5, -2.0))
    assert c.output_sizes({}) == {"y": 2}


def test_scalar_gain_scales_any_size():
    g = Gain(3.0)
    np.testing.assert_array_equal(g.output([row(1, -2, 4)], None)[0], row(3, -6, 12))
    assert g.output_sizes({"u": 3}) == {"y": 3}
    assert g.feedthrough() == {("u", "y")}


def test_matrix_gain_is_K_times_u_for_each_batch_row():
    K = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    u = np.array([[1.0, 1.0], [2.0, -1.0]])  # batch of two column vectors
    y = Gain(K).output([u], None)[0]
    # hand: K·[1,1] = [3, 7, 11]; K·[2,-1] = [0, 2, 4]
    np.testing.assert_array_equal(y, [[3, 7, 11], [0, 2, 4]])
    assert Gain(K).declared_input_sizes() == {"u": 2}
    assert Gain(K).output_sizes({}) == {"y": 3}


def test_vector_gain_is_elementwise():
    y = Gain([2.0, -1.0, 0.5]).output([row(1, 2, 4)], None)[0]
    np.testing.assert_array_equal(y, row(2, -2, 2))


def test_gain_rejects_3d_K():
    with pytest.raises(ParameterError, match="Gain K"):
        Gain(np.ones((2, 2, 2)))


def test_sum_follows_sign_string():
    s = Sum("+-+")
    assert s.inputs == ("u1", "u2", "u3")
    y = s.output([row(1, 2), row(10, 20), row(100, 200)], None)[0]
    np.testing.assert_array_equal(y, row(1 - 10 + 100, 2 - 20 + 200))
    np.testing.assert_array_equal(Sum("-").output([row(3, -4)], None)[0], row(-3, 4))
    assert s.feedthrough() == {("u1", "y"), ("u2", "y"), ("u3", "y")}


@pytest.mark.parametrize("signs", ["", "+*", "++ ", 3])
def test_sum_rejects_bad_sign_strings(signs):
    with pytest.raises(ParameterError, match="Sum signs"):
        Sum(signs)


def test_sum_inputs_must_agree_in_size():
    with pytest.raises(SizeMismatchError, match="u1 has size 2, u2 has size 3"):
        Sum("++").output_sizes({"u1": 2, "u2": 3})


def test_product_is_elementwise_never_matrix():
    a, b, c = row(1, 2, 3), row(4, 5, 6), row(-1, 0.5, 2)
    y = Product(3).output([a, b, c], None)[0]
    np.testing.assert_array_equal(y, row(-4, 5, 36))
    # two (1, 3) rows: a matrix product would fail or give a scalar; elementwise keeps (1, 3)
    assert Product(2).output([a, b], None)[0].shape == (1, 3)


def test_params_rebuild_the_same_block():
    for block in (Constant([1, 2]), Gain(np.eye(2)), Sum("+-"), Product(3)):
        clone = type(block)(**block.params())
        assert clone.params().keys() == block.params().keys()
        for key, val in block.params().items():
            np.testing.assert_array_equal(clone.params()[key], val)


def test_astype_float32_keeps_float32():
    g = Gain(np.array([[1.0, 2.0]])).astype(np.float32)
    y = g.output([np.ones((1, 2), dtype=np.float32)], None)[0]
    assert y.dtype == np.float32
