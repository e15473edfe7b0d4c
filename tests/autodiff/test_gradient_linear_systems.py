"""The stateful linear blocks' adjoints against central finite differences, on both reverse sweeps.

Alone (every parameter, the initial state, and the input through a gain in front), and in
feedback loops closed by the block alone (no UnitDelay: a state space with D = 0, a transfer
function with num[0] = 0, a forward-Euler integrator), where the gradient must follow the
state through the loop. A structural zero (D = 0, num[0] = 0) cannot be perturbed (that changes
the schedule), so it is left out of the finite differences; its gradient is 0, and training
leaves it at 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_gradient_finite_differences import BACKENDS, check, rng_data, single_block, targets_for

from blockloop import Diagram
from blockloop.autodiff import gradient
from blockloop.blocks import (
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    Gain,
    Inport,
    Outport,
    Sum,
)

A = np.array([[0.5, 0.2], [-0.1, 0.7]])
B = np.array([[1.0, 0.0], [0.5, -2.0]])
C = np.array([[1.0, -1.0], [0.25, 0.5], [0.0, 3.0]])
D = np.array([[0.3, 0.1], [0.2, -0.4], [-1.0, 0.5]])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("B_", [None, 3], ids=["unbatched", "batch3"])
def test_state_space_alone(backend, B_):
    d, pre = single_block(DiscreteStateSpace(A, B, C, D, x0=[0.5, -1.0]), [2])
    program = d.compile()
    inputs = rng_data(7, B_, {"x1": 2})
    check(program, inputs, targets_for(program, inputs),
          ["blk.A", "blk.B", "blk.C", "blk.D", "blk.x0"] + pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num,den", [([0.5, 0.2, 0.1], [2.0, -0.4, 0.3]), ([1.0, -1.0, 0.25], [0.8, 0.3])],
                         ids=["biquad", "long num"])
def test_transfer_function_alone(backend, num, den):
    d, pre = single_block(DiscreteTransferFunction(num, den, x0=[0.2, -0.1]), [1])
    program = d.compile()
    inputs = rng_data(8, 3, {"x1": 1})
    check(program, inputs, targets_for(program, inputs), ["blk.num", "blk.den", "blk.x0"] + pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["forward", "backward"])
def test_integrator_alone(backend, method):
    d, pre = single_block(DiscreteIntegrator(K=1.5, Ts=0.2, method=method, x0=[0.3, -0.7]), [2])
    program = d.compile()
    inputs = rng_data(6, 2, {"x1": 2})
    check(program, inputs, targets_for(program, inputs), ["blk.K", "blk.x0"] + pre, backend)


def loop(block) -> Diagram:
    """r → k (gain) → e = k·r − y → block → y, fed back with no delay."""
    d = Diagram("loop")
    d.add("r", Inport(1)); d.add("k", Gain(0.8)); d.add("e", Sum("+-")); d.add("blk", block); d.add("y", Outport())
    d.chain("r", "k")
    d.connect("k", "e.u1"); d.connect("blk", "e.u2"); d.connect("e", "blk"); d.connect("blk", "y")
    return d


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["state space", "transfer function", "integrator"])
def test_feedback_loop_closed_only_by_the_block(backend, case):
    block, paths = {
        "state space": (DiscreteStateSpace([[0.9, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.5]], x0=[0.2, 0.1]),
                        ["blk.A", "blk.B", "blk.C", "blk.x0"]),
        "transfer function": (DiscreteTransferFunction([0.0, 0.5, 0.2], [1.0, -0.5, 0.1], x0=[0.1, 0.0]),
                              ["blk.den", "blk.x0"]),
        "integrator": (DiscreteIntegrator(K=0.7, Ts=0.5, x0=0.3), ["blk.K", "blk.x0"]),
    }[case]
    program = loop(block).compile()
    inputs = rng_data(12, 2, {"r": 1}, seed=4)
    check(program, inputs, targets_for(program, inputs), paths + ["k.K"], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_structural_zeros_get_no_gradient_and_training_keeps_them(backend):
    """D = 0 and num[0] = 0 decide the schedule: their gradient is 0, so fit leaves them at 0."""
    from blockloop.autodiff.train import fit
    from blockloop.study.training import TrainingOptions

    d = Diagram("two")
    d.add("u", Inport(2)); d.add("ss", DiscreteStateSpace(A, B, C[:1])); d.add("tf", DiscreteTransferFunction(
        [0.0, 0.5, 0.2], [1.0, -0.6, 0.08])); d.add("y", Outport())
    d.chain("u", "ss", "tf", "y")
    program = d.compile()
    inputs = rng_data(30, None, {"u": 2}, seed=6)
    targets = targets_for(program, inputs)
    res = gradient(program, inputs, targets, ["ss.D", "ss.C", "tf.num", "tf.den"], backend=backend)
    assert np.all(res.grads["ss.D"] == 0) and res.grads["tf.num"][0] == 0
    assert np.all(res.grads["ss.C"] != 0) and np.all(res.grads["tf.num"][1:] != 0)
    fitted = fit(program, inputs, targets, ["ss.D", "ss.C", "tf.num", "tf.den"], TrainingOptions(epochs=5),
                 backend=backend)
    assert np.all(fitted.program.parameters(["ss.D"])["ss.D"] == 0)
    assert fitted.program.parameters(["tf.num"])["tf.num"][0] == 0
