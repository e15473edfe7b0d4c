"""What ``gradient`` (and ``fit``) refuse, and how they say it: typed errors that name the choices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.autodiff import fit, gradient
from blockloop.blocks import Block, FromArray, Gain, Inport, Outport, Selector, Sum, UnitDelay
from blockloop.diagrams.examples import gain_feedback
from blockloop.engine.backends import BackendFallbackWarning
from blockloop.errors import DifferentiationError, NonFiniteError, ParameterError, SimulationError
from blockloop.study.training import TrainingOptions

U = np.ones((3, 1))
T0 = np.zeros((3, 1))


@pytest.fixture
def fb():
    return gain_feedback(0.5).compile()  # blocks u, s, g, y, z; trainable z.x0, g.K


# ----------------------------------------------------------------- parameters


def test_unknown_block_names_every_trainable_parameter(fb):
    with pytest.raises(DifferentiationError, match=r"parameter 'nope\.K': no block 'nope'") as exc:
        gradient(fb, U, T0, ["nope.K"])
    assert "z.x0, g.K" in str(exc.value)


def test_unknown_parameter_of_a_block_names_its_parameters(fb):
    with pytest.raises(DifferentiationError, match=r"block 'g' \(Gain\) has no array parameter 'Q'.*\['K'\]"):
        gradient(fb, U, T0, ["g.Q"])


@pytest.mark.parametrize("path,block", [("s.signs", "Sum"), ("u.size", "Inport")])
def test_structure_is_not_a_trainable_array(fb, path, block):
    with pytest.raises(DifferentiationError, match=rf"\({block}\) has no array parameter .* are none"):
        gradient(fb, U, T0, [path])


def test_selector_indices_are_structure():
    d = Diagram("sel")
    d.add("u", Inport(3))
    d.add("sel", Selector([2, 0]))
    d.add("y", Outport())
    d.chain("u", "sel", "y")
    with pytest.raises(DifferentiationError, match="no array parameter 'indices'"):
        gradient(d.compile(), np.ones((2, 3)), np.zeros((2, 2)), ["sel.indices"])


def test_path_that_is_not_a_string(fb):
    with pytest.raises(DifferentiationError, match="expected 'block.param' strings"):
        gradient(fb, U, T0, [3])


def test_path_named_twice(fb):
    with pytest.raises(DifferentiationError, match="named twice"):
        gradient(fb, U, T0, ["g.K", "g.K"])


def test_fromarray_data_is_an_input_not_a_parameter():
    d = Diagram("fa")
    d.add("src", FromArray(np.arange(4.0)[:, None]))
    d.add("g", Gain(2.0))
    d.add("y", Outport())
    d.chain("src", "g", "y")
    p = d.compile()
    with pytest.raises(DifferentiationError, match="FromArray's data is an input, not a trainable parameter"):
        gradient(p, None, np.zeros((4, 1)), ["src.data"])
    assert list(p.parameters()) == ["g.K"]  # and it is not listed among the choices
    with pytest.raises(DifferentiationError, match="no block 'nope'; trainable parameters are g.K"):
        gradient(p, None, np.zeros((4, 1)), ["nope.x"])


def test_value_of_the_wrong_shape_or_not_finite(fb):
    with pytest.raises(ParameterError, match=r"expected shape \(\), got \(2,\)"):
        gradient(fb, U, T0, {"g.K": [1.0, 2.0]})
    with pytest.raises(NonFiniteError, match="'g.K' is not finite"):
        gradient(fb, U, T0, {"g.K": np.nan})


# ----------------------------------------------------------------- blocks without an adjoint


class Square(Block):
    """A user block with its own output rule and no adjoint."""

    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def output(self, u, x):
        return (u[0] ** 2,)


class SquareWithAdjoint(Square):
    def output_vjp(self, u, x, y, gy):
        return (2 * u[0] * gy[0],), None, {}


class Twice(Gain):
    """Overrides Gain's output but not its adjoint: Gain's adjoint would be wrong by a factor 2."""

    def output(self, u, x):
        return (2.0 * super().output(u, x)[0],)


class Halving(UnitDelay):
    """x[k+1] = u[k]/2: overrides the update rule, not update_vjp."""

    def update(self, u, x):
        return 0.5 * u[0]


class Inherits(Gain):
    """No override at all: Gain's adjoint is right for it."""


def chain_through(block) -> Diagram:
    d = Diagram("user")
    d.add("u", Inport(1))
    d.add("k", Gain(1.5))
    d.add("blk", block)
    d.add("y", Outport())
    d.chain("u", "k", "blk", "y")
    return d


def _gradient(program, backend, params=("k.K",)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BackendFallbackWarning)
        return gradient(program, U, T0, list(params), backend=backend)


@pytest.mark.parametrize("backend", ["interpreter", "auto", "compiled"])
@pytest.mark.parametrize("block,type_name", [(Square(), "Square"), (Twice(0.5), "Twice"),
                                             (Halving(0.0), "Halving")])
def test_block_without_a_trusted_adjoint_is_named(backend, block, type_name):
    program = chain_through(block).compile()
    with pytest.raises(DifferentiationError, match=rf"block 'blk' \({type_name}\) declares no adjoint"):
        _gradient(program, backend)


def test_a_block_without_adjoint_is_refused_before_any_backend_is_chosen():
    """Both sweeps check adjoints first: no fallback warning, and no op is ever skipped silently."""
    program = chain_through(Square()).compile()
    for backend in ("auto", "compiled", "interpreter"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", BackendFallbackWarning)
            with pytest.raises(DifferentiationError, match="Square"):
                gradient(program, U, T0, ["k.K"], backend=backend)


def test_subclass_overriding_output_is_not_silently_given_its_parents_adjoint():
    """Twice: y = 2·K·u. Gain's adjoint would give half the true gradient; it must not run."""
    program = chain_through(Twice(0.5)).compile()
    assert program.simulate(U, backend="interpreter")["y"].ravel().tolist() == [1.5, 1.5, 1.5]
    for backend in ("interpreter", "auto"):
        with pytest.raises(DifferentiationError, match="Twice"):
            _gradient(program, backend, ["blk.K"])


def test_subclass_overriding_update_is_told_to_add_update_vjp():
    program = chain_through(Halving(0.0)).compile()
    with pytest.raises(DifferentiationError, match=r"\(update_vjp\)"):
        _gradient(program, "interpreter")


@pytest.mark.parametrize("backend", ["interpreter", "auto"])
def test_user_block_with_its_own_adjoint_is_differentiated(backend):
    program = chain_through(SquareWithAdjoint()).compile()
    u = np.array([[1.0], [2.0], [-1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BackendFallbackWarning)
        res = gradient(program, u, T0, ["k.K"], backend=backend)
    # y = (K u)², loss = Σ y²/(2T) = K⁴ Σ u⁴ / 6, ∂/∂K = 4 K³ Σ u⁴ / 6
    K = 1.5
    assert res.backend == "interpreter"
    assert res.loss == pytest.approx(K**4 * 18 / 6, rel=1e-14)
    assert float(res.grads["k.K"]) == pytest.approx(4 * K**3 * 18 / 6, rel=1e-14)


def test_subclass_without_overrides_keeps_the_compiled_adjoint():
    program = chain_through(Inherits(0.5)).compile()
    a = gradient(program, U, T0, ["k.K", "blk.K"], backend="auto")
    b = gradient(program, U, T0, ["k.K", "blk.K"], backend="interpreter")
    assert a.backend == "compiled"
    for p in ("k.K", "blk.K"):
        assert float(a.grads[p]) == pytest.approx(float(b.grads[p]), rel=1e-15)


# ----------------------------------------------------------------- x0 and initial_states


@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
def test_x0_with_initial_states_for_the_same_delay(fb, backend):
    with pytest.raises(DifferentiationError, match=r"parameter 'z\.x0': the initial state of 'z' is given per run"):
        gradient(fb, U, T0, ["z.x0"], initial_states={"z": [1.0]}, backend=backend)
    with pytest.raises(DifferentiationError, match="z.x0"):
        gradient(fb, U, T0, {"z.x0": [0.3], "g.K": 0.2}, initial_states={"z": [1.0]}, backend=backend)


def test_initial_states_of_another_delay_are_fine():
    d = Diagram("two")
    d.add("u", Inport(1))
    d.add("z1", UnitDelay(0.2))
    d.add("z2", UnitDelay(-0.1))
    d.add("s", Sum("++"))
    d.add("y", Outport())
    d.chain("u", "z1")
    d.connect("z1", "s.u1")
    d.connect("u", "z2")
    d.connect("z2", "s.u2")
    d.connect("s", "y")
    res = gradient(d.compile(), U, T0, ["z1.x0"], initial_states={"z2": [5.0]})
    # y[0] = x0₁ + 5 = 5.2, later y = 2: ∂loss/∂x0₁ = y[0]/T
    assert float(res.grads["z1.x0"][0]) == pytest.approx(5.2 / 3, rel=1e-14)


@pytest.mark.parametrize("backend", [
    "compiled",
    "interpreter"])
def test_fit_refuses_x0_with_initial_states_for_the_same_delay(fb, backend):
    with pytest.raises(DifferentiationError, match="z.x0"):
        fit(fb, U, T0, ["z.x0"], TrainingOptions(epochs=2), initial_states={"z": [1.0]}, backend=backend)


# ----------------------------------------------------------------- targets and loss


def test_target_of_the_wrong_shape_names_the_expected_one(fb):
    with pytest.raises(DifferentiationError, match=r"target 'y': expected shape \(3, 1\).*got \(4, 1\)"):
        gradient(fb, U, np.zeros((4, 1)), ["g.K"])
    u = np.ones((3, 2, 1))
    with pytest.raises(DifferentiationError, match=r"target 'y': expected shape \(3, 2, 1\).*got \(3, 1\)"):
        gradient(fb, u, np.zeros((3, 1)), ["g.K"])


def test_target_of_a_probe_with_the_wrong_shape(fb):
    with pytest.raises(DifferentiationError, match=r"target 's\.y': expected shape \(3, 1\)"):
        gradient(fb, U, {"s.y": np.zeros((3, 2))}, ["g.K"])


def test_target_that_is_not_numbers(fb):
    with pytest.raises(DifferentiationError, match="target 'y': expected an array of real numbers"):
        gradient(fb, U, {"y": [["a"], ["b"], ["c"]]}, ["g.K"])


def test_target_of_an_unknown_signal(fb):
    with pytest.raises(SimulationError, match="no block 'zz'"):
        gradient(fb, U, {"zz.y": T0}, ["g.K"])


def test_one_target_array_needs_one_output():
    from blockloop.diagrams.examples import accumulator

    p = accumulator(state_output=True).compile()
    with pytest.raises(DifferentiationError, match=r"has outputs \['x', 'y'\]; pass targets as a dict"):
        gradient(p, U, T0, ["z.x0"])
    with pytest.raises(DifferentiationError, match="at least one"):
        gradient(p, U, {}, ["z.x0"])


def test_unknown_loss_names_the_losses(fb):
    with pytest.raises(DifferentiationError, match=r"loss: expected one of \('half-mse', 'mse'\), got 'nope'"):
        gradient(fb, U, T0, ["g.K"], loss="nope")


def test_unknown_loss_in_fit_options():
    with pytest.raises(ParameterError, match="loss"):
        TrainingOptions(loss="nope")


def test_unknown_backend(fb):
    with pytest.raises(SimulationError, match="backend: expected one of"):
        gradient(fb, U, T0, ["g.K"], backend="gpu")


def test_non_finite_target_is_refused_unless_allowed(fb):
    target = T0.copy()
    target[1, 0] = np.inf
    with pytest.raises(NonFiniteError, match="target 'y' has a non-finite value at step 1"):
        gradient(fb, U, target, ["g.K"])
    assert gradient(fb, U, target, ["g.K"], check_finite=False).loss == np.inf
