"""Flax (JAX, CPU) LSTM cells → blockloop: weights read from Flax's own initialization, checked by running Flax.

The reference is always Flax's forward pass of a model Flax built (``nn.RNN(nn.LSTMCell)`` stacks with
a ``Dense``, linen; and ``nnx.LSTMCell``), never blockloop's export run back.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
flax = pytest.importorskip("flax")

import flax.linen as nn  # noqa: E402

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.interop.jax import crosscheck_flax, flax_forward, from_flax, to_flax  # noqa: E402


class Stack(nn.Module):
    """Two Flax LSTM layers (time-major) and a Dense head, with Flax's default initializers."""

    units: tuple = (4, 3)
    no: int = 2
    dtype: str = "float32"
    cell: type = nn.LSTMCell

    @nn.compact
    def __call__(self, x):
        for n in self.units:
            x = nn.RNN(self.cell(n, param_dtype=self.dtype, dtype=self.dtype), time_major=True)(x)
        return nn.Dense(self.no, param_dtype=self.dtype, dtype=self.dtype,
                        bias_init=nn.initializers.normal(1.0))(x)


def flax_params_and_output(model, u, dtype):
    with jax.enable_x64(dtype == "float64"):
        x = jax.numpy.asarray(u.astype(dtype))
        params = model.init(jax.random.key(0), x)["params"]
        # Flax zero-initializes the hidden biases: give them values so the bias path is checked too
        params = jax.tree_util.tree_map_with_path(
            lambda path, v: v + 0.3 * jax.numpy.arange(v.shape[0], dtype=v.dtype) / v.shape[0]
            if path[-1].key == "bias" else v, params)
        y = np.asarray(model.apply({"params": params}, x), dtype=np.float64)
        params = jax.tree_util.tree_map(lambda v: np.asarray(v, dtype=np.float64), params)
    return params, y


def weights_of(params, cell):
    names = sorted((k for k in params if k.startswith(cell.__name__)), key=lambda k: int(k.rsplit("_", 1)[1]))
    assert len(names) == 2, sorted(params)                  # nn.RNN names its params after the cell
    return from_flax([params[k] for k in names], params["Dense_0"])


@pytest.mark.parametrize("cell, dtype, tol", [
    (nn.LSTMCell, "float64", 1e-12),
    pytest.param(nn.OptimizedLSTMCell, "float32", 5e-6, marks=pytest.mark.slow),  # ~15 s of JAX compiling
])
def test_flax_linen_stack_against_the_diagram(cell, dtype, tol):
    u = np.random.default_rng(0).standard_normal((40, 3, 2))             # (T, B, Ni), time-major
    params, y_flax = flax_params_and_output(Stack(cell=cell, dtype=dtype), u, dtype)
    w = weights_of(params, cell)
    y = lstm_network(w).compile(dtype=dtype).simulate({"u": u})["y"]
    assert np.abs(y - y_flax).max() <= tol


def test_nnx_cell():
    from flax import nnx

    cell = nnx.LSTMCell(2, 3, rngs=nnx.Rngs(0))
    cell.hi.bias.set_value(cell.hi.bias.get_value() + 0.5)
    u = np.random.default_rng(1).standard_normal((25, 2))
    carry = cell.initialize_carry((1, 2), nnx.Rngs(1))
    hs = []
    for t in range(len(u)):
        carry, h = cell(carry, jax.numpy.asarray(u[t:t + 1], dtype="float32"))
        hs.append(np.asarray(h[0], dtype=np.float64))
    w = from_flax(cell)
    y = lstm_network(w).compile(dtype="float32").simulate({"u": u})["y"]
    assert np.abs(y - np.array(hs)).max() <= 5e-6


def test_carry_order_is_c_then_h():
    """Nonzero initial states: flax_forward passes (c0, h0); swapping them would change y (checked)."""
    w = NetworkWeights.random(ni=2, nn=3, no=1, seed=2)
    u = np.random.default_rng(2).standard_normal((10, 2))
    y = lstm_network(w).simulate({"u": u})["y"]
    assert np.abs(flax_forward(w, u, "float64") - y).max() <= 1e-12
    layer = w.layers[0]
    swapped = NetworkWeights(layers=(type(layer)(W=layer.W, R=layer.R, b=layer.b, h0=layer.c0, c0=layer.h0),), F=w.F)
    assert np.abs(flax_forward(swapped, u, "float64") - y).max() > 1e-3


def test_to_flax_round_trip_and_crosscheck():
    w = NetworkWeights.random(ni=3, nn=4, no=2, n_layers=2, seed=5)
    cells, dense = to_flax(w, "float64")
    back = from_flax(cells, dense, h0=[layer.h0 for layer in w.layers], c0=[layer.c0 for layer in w.layers])
    for a, b in zip(back.layers, w.layers, strict=True):
        for key in ("W", "R", "b", "h0", "c0"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    rep = crosscheck_flax(w, np.random.default_rng(3).standard_normal((30, 2, 3)))
    d = rep.as_dict()
    assert d["ok"] and d["float64"]["norm"] <= 1e-12 and d["float32"]["norm"] <= 5e-6
    assert "cpu" in d["shapes"]["runtime"]
    assert not jax.config.jax_enable_x64                     # the float64 run left JAX's global setting alone


def test_bad_params():
    with pytest.raises(ParameterError, match="need"):
        from_flax({"ii": {"kernel": np.zeros((2, 3))}})
