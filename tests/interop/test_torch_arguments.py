"""torch_forward/to_torch take the same inputs as the diagram and name bad ones (no torch tracebacks)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402
from blockloop.interop.torch import crosscheck, to_torch, torch_forward  # noqa: E402


def test_one_dimensional_input_for_one_input_unit_like_the_diagram():
    w = NetworkWeights.random(1, 3, 1)
    u = np.random.default_rng(0).standard_normal(6)
    np.testing.assert_allclose(torch_forward(w, u), lstm_network(w).simulate({"u": u})["y"], atol=1e-12)
    assert crosscheck(w, u, per_gate=True).ok


@pytest.mark.parametrize("u, match", [
    (np.ones((5, 3)), r"u: expected shape \(T, 4\) or \(T, B, 4\), got \(5, 3\)"),
    (np.ones(5), r"u: expected shape \(T, 4\) or \(T, B, 4\), got \(5,\)"),
    (np.ones((0, 4)), r"u: expected shape .* with T ≥ 1 and B ≥ 1, got \(0, 4\)"),
    (np.ones((5, 0, 4)), r"u: expected shape .* with T ≥ 1 and B ≥ 1, got \(5, 0, 4\)"),
])
def test_wrong_input_shape_is_named(u, match):
    with pytest.raises(ParameterError, match=match):
        torch_forward(NetworkWeights.random(4, 3, 2), u)


@pytest.mark.parametrize("dtype", ["float16", "bogus"])
def test_unknown_dtype_is_named(dtype):
    with pytest.raises(ParameterError, match="dtype: expected float64 or float32"):
        to_torch(NetworkWeights.random(4, 3, 2), dtype)


def test_bad_initial_state_keys_and_shapes_are_named():
    w = NetworkWeights.random(4, 3, 2)
    u = np.ones((5, 4))
    with pytest.raises(ParameterError, match="initial_states: no delay 'foo'.*lstm1/h_delay, lstm1/c_delay"):
        torch_forward(w, u, initial_states={"foo": 1.0})
    with pytest.raises(ParameterError, match=r"initial state of 'lstm1/h_delay': expected shape \(3,\) or \(1, 3\)"):
        torch_forward(w, u, initial_states={"lstm1/h_delay": np.ones(4)})
