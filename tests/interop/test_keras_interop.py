"""Keras 3 (torch backend) LSTM + Dense ⇄ blockloop: weights both ways, checked by running Keras itself.

The Keras side is always Keras' own forward pass (its LSTM loop on the torch backend, or the generic
LSTMCell path with ``use_cudnn=False``), on a model built and initialized by Keras — never
blockloop's conversion run backwards.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.interop.keras import crosscheck_keras, from_keras, keras_forward, to_keras  # noqa: E402

pytestmark = [pytest.mark.skipif(keras.backend.backend() != "torch", reason="these checks run Keras on torch"),
              # Keras 3.15's own variables warn under numpy 2 (their __array__ has no copy keyword)
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")]


def keras_model(ni=3, units=(4, 5), no=2, dtype="float64", seed=0, **lstm_kwargs):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((None, ni), dtype=dtype)]
    layers += [keras.layers.LSTM(n, return_sequences=True, dtype=dtype, bias_initializer="random_uniform",
                                 **lstm_kwargs) for n in units]
    layers.append(keras.layers.Dense(no, dtype=dtype, bias_initializer="random_normal"))
    return keras.Sequential(layers)


@pytest.mark.parametrize("use_cudnn", ["auto", False])
def test_from_keras_matches_keras(use_cudnn):
    model = keras_model(use_cudnn=use_cudnn)
    w = from_keras(model)
    assert [layer.nn for layer in w.layers] == [4, 5] and w.F.shape == (2, 5)
    u = np.random.default_rng(0).standard_normal((40, 3, 3))           # (T, B, Ni)
    x = np.swapaxes(u, 0, 1)                                           # Keras is batch-first
    y_keras = np.swapaxes(keras.ops.convert_to_numpy(model(x)), 0, 1)
    h_keras = np.swapaxes(keras.ops.convert_to_numpy(model.layers[1](model.layers[0](x))), 0, 1)
    res = lstm_network(w).simulate({"u": u}, probes=["lstm2/h_prod.y"])
    # Keras' float64 matmul runs in float32 off TensorFlow (see blockloop.interop.keras): the Dense head,
    # and the generic LSTMCell path (use_cudnn=False), round like float32; the default LSTM loop does not.
    h_tol = 1e-12 if use_cudnn == "auto" else 5e-7
    assert np.abs(res["lstm2/h_prod.y"] - h_keras).max() <= h_tol
    assert np.abs(res["y"] - y_keras).max() <= 5e-6


def test_keras_float64_matmul_is_float32_off_tensorflow():
    """The Keras behaviour the tolerances above allow for (if Keras changes it, tighten them)."""
    a = np.random.default_rng(0).random((20, 7))
    b = np.random.default_rng(1).random((7, 3))
    got = keras.ops.convert_to_numpy(keras.ops.matmul(keras.ops.convert_to_tensor(a, "float64"),
                                                      keras.ops.convert_to_tensor(b, "float64")))
    assert 1e-9 < np.abs(got - a @ b).max() < 1e-5


def test_unit_forget_bias_is_in_the_bias_vector():
    """Keras' unit_forget_bias initializes the f block of the bias to 1: the diagram's b_f row is exactly that."""
    keras.utils.set_random_seed(1)
    lstm = keras.layers.LSTM(3, return_sequences=True, unit_forget_bias=True, dtype="float64")
    lstm.build((None, None, 2))
    w = from_keras(lstm)
    np.testing.assert_array_equal(w.layers[0].gate("f", "b"), np.ones(3))
    np.testing.assert_array_equal(w.layers[0].gate("i", "b"), np.zeros(3))
    off = keras.layers.LSTM(3, return_sequences=True, unit_forget_bias=False, dtype="float64")
    off.build((None, None, 2))
    np.testing.assert_array_equal(from_keras(off).layers[0].b, np.zeros(12))


def test_no_bias_and_no_dense():
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((None, 2), dtype="float64"),
                              keras.layers.LSTM(3, return_sequences=True, use_bias=False, dtype="float64")])
    w = from_keras(model)
    assert not w.layers[0].b.any() and np.array_equal(w.F, np.eye(3))
    u = np.random.default_rng(1).standard_normal((15, 2))
    y_keras = keras.ops.convert_to_numpy(model(u[None]))[0]
    assert np.abs(lstm_network(w).simulate({"u": u})["y"] - y_keras).max() <= 1e-12


def test_to_keras_runs_like_pytorch_with_initial_states():
    """blockloop weights (nonzero h0, c0) → Keras layers → Keras forward, against PyTorch's nn.LSTM."""
    pytest.importorskip("torch")
    from blockloop.interop.torch import torch_forward

    w = NetworkWeights.random(ni=4, nn=3, no=2, n_layers=2)
    u = np.random.default_rng(2).standard_normal((51, 2, 4))
    identity = NetworkWeights(layers=w.layers, F=np.eye(3))                  # the LSTM stack's h, no head
    assert np.abs(keras_forward(w, u, "float64", head=False) - torch_forward(identity, u, "float64")).max() <= 1e-12
    assert np.abs(keras_forward(w, u, "float64") - torch_forward(w, u, "float64")).max() <= 5e-6   # Dense: see above
    assert np.abs(keras_forward(w, u, "float32") - torch_forward(w, u, "float32")).max() <= 5e-6


def test_round_trip_through_keras_layers_is_exact():
    w = NetworkWeights.random(ni=2, nn=4, no=3, n_layers=2, seed=3)
    lstms, dense, states = to_keras(w, "float64")
    back = from_keras(lstms, dense, h0=[s[0] for s in states], c0=[s[1] for s in states])
    for a, b in zip(back.layers, w.layers, strict=True):
        for key in ("W", "R", "b", "h0", "c0"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    np.testing.assert_array_equal(back.F, w.F)


def test_crosscheck_keras_report():
    rep = crosscheck_keras(keras_model(units=(3,)), np.random.default_rng(3).standard_normal((30, 3)))
    d = rep.as_dict()
    assert d["ok"] and d["float64"]["norm"] <= 1e-12 and 1e-10 < d["float32"]["norm"] <= 5e-6
    assert d["float64_head"]["norm"] <= 5e-6
    assert "keras 3." in d["shapes"]["runtime"]


@pytest.mark.parametrize("kwargs, words", [
    ({"recurrent_activation": "hard_sigmoid"}, "recurrent_activation='hard_sigmoid'"),
    ({"recurrent_activation": "tanh"}, "recurrent_activation='tanh' is not supported"),
    ({"activation": "relu"}, "activation='relu' is not supported"),
    ({"go_backwards": True}, "go_backwards=True"),
])
def test_unsupported_layers_are_refused(kwargs, words):
    model = keras_model(units=(3,), **kwargs)
    with pytest.raises(ParameterError, match=words.replace("(", r"\(").replace("+", r"\+")):
        from_keras(model)


def test_dense_with_an_activation_is_refused():
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(3, return_sequences=True),
                              keras.layers.Dense(2, activation="relu")])
    with pytest.raises(ParameterError, match="activation='relu'"):
        from_keras(model)
    with pytest.raises(ParameterError, match="LSTM layers then at most one Dense"):
        from_keras(keras.Sequential([keras.Input((None, 2)), keras.layers.Dense(3)]))
