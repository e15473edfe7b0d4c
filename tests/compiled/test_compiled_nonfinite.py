"""check_finite on the compiled backend: an overflow no logged signal shows is still reported, at its origin."""

import numpy as np
import pytest

pytest.importorskip("numba")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import Gain, Inport, Outport, Tanh, UnitDelay  # noqa: E402
from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402
from blockloop.errors import NonFiniteError  # noqa: E402


def squashed(through_delay: bool = False) -> Diagram:
    """u → ×1e200 → ×1e200 (→ z⁻¹) → tanh → y: u = 1 makes g2 = 1e400 = inf, and y = tanh(inf) = 1."""
    d = Diagram("squashed")
    d.add("u", Inport(1))
    d.add("g1", Gain(1e200))
    d.add("g2", Gain(1e200))
    d.add("t", Tanh())
    d.add("y", Outport())
    d.chain("u", "g1", "g2")
    if through_delay:
        d.add("z", UnitDelay(0.0))
        d.chain("g2", "z", "t")
    else:
        d.chain("g2", "t")
    d.chain("t", "y")
    return d


def _error(program, u, backend):
    with pytest.raises(NonFiniteError) as err:
        program.simulate({"u": u}, Ts=0.5, backend=backend)
    return err.value


@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
def test_an_overflow_squashed_by_tanh_is_reported_where_it_happened(backend):
    u = np.array([0.0, 0.0, 1.0, 1.0]).reshape(4, 1)
    err = _error(squashed().compile(), u, backend)
    assert (err.block, err.port, err.step) == ("g2", "y", 2)
    assert "signal 'g2.y' (Gain) became non-finite at step 2, element 0 (value inf)" in str(err)


def test_both_backends_word_it_the_same():
    u = np.array([0.0, 0.0, 1.0, 1.0]).reshape(4, 1)
    program = squashed().compile()
    assert str(_error(program, u, "compiled")) == str(_error(program, u, "interpreter"))


def test_without_the_check_the_run_returns_the_squashed_output():
    u = np.array([0.0, 0.0, 1.0, 1.0]).reshape(4, 1)
    res = squashed().compile().simulate({"u": u}, backend="compiled", check_finite=False)
    np.testing.assert_array_equal(res["y"].ravel(), [0.0, 0.0, 1.0, 1.0])  # tanh(0), tanh(0), tanh(inf)…


def test_an_overflow_that_only_reaches_the_final_state_is_reported():
    u = np.array([0.0, 0.0, 0.0, 1.0]).reshape(4, 1)  # g2 = inf at the last step: only z's next state sees it
    err = _error(squashed(through_delay=True).compile(), u, "compiled")
    assert (err.block, err.step) == ("g2", 3)


@pytest.mark.parametrize("batch", [3, 300])  # 300: two threads' chunks, the overflow in the second
def test_the_first_sequence_with_the_overflow_is_named(batch):
    u = np.zeros((4, batch, 1))
    u[2, batch - 2, 0] = 1.0
    u[3, batch - 1, 0] = 1.0  # later step: not the first
    program = squashed().compile()
    err = _error(program, u, "compiled")
    assert (err.block, err.step) == ("g2", 2)
    assert f"sequence {batch - 2}," in str(err)
    assert str(err) == str(_error(program, u, "interpreter"))


def test_a_large_but_finite_lstm_run_raises_nothing():
    w = NetworkWeights.random(ni=2, nn=4, no=1)
    u = np.random.default_rng(1).standard_normal((200, 2)) * 1e150  # σ and tanh saturate, nothing overflows
    res = lstm_network(w).compile().simulate({"u": u}, backend="compiled")
    assert np.all(np.isfinite(res["y"]))


@pytest.mark.parametrize(("function", "u", "domain"), [("log", -1.0, "log of a value ≤ 0"),
                                                       ("sqrt", -4.0, "sqrt of a negative value"),
                                                       ("reciprocal", 0.0, "1/0")])
def test_math_function_out_of_domain_is_not_reported_as_an_overflow(function, u, domain):
    from blockloop.blocks import MathFunction

    d = Diagram("domain")
    d.add("u", Inport(1)); d.add("f", MathFunction(function)); d.add("y", Outport())
    d.chain("u", "f", "y")
    messages = []
    for backend in ("interpreter", "compiled"):
        with pytest.raises(NonFiniteError) as info:
            d.simulate({"u": np.array([[1.0], [u]])}, backend=backend)
        messages.append(str(info.value))
        assert info.value.step == 1 and info.value.block == "f"
    assert messages[0] == messages[1]
    assert f"domain of {function} ({domain})" in messages[0] and "Saturation" in messages[0]
    assert "check gains" not in messages[0]
