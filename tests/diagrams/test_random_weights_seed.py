"""NetworkWeights.random names a bad seed instead of failing inside numpy."""

import pytest

from blockloop.diagrams import NetworkWeights
from blockloop.errors import ParameterError


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", None])
def test_bad_seed_is_a_parameter_error(seed):
    with pytest.raises(ParameterError, match="seed: expected an integer from 0 to 2\\*\\*32 - 1"):
        NetworkWeights.random(4, 3, 2, seed=seed)


def test_largest_seed_is_accepted():
    assert NetworkWeights.random(1, 1, 1, seed=2**32 - 1).layers[0].W.shape == (4, 1)
