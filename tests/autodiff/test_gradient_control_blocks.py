"""The control blocks' adjoints against central finite differences, on both reverse sweeps.

Inputs are random normal (seeded), so no input sits on a kink: there the loss is smooth in every
gain and central differences measure the one-sided derivative the adjoint uses. The subgradients
at the kinks themselves are checked by hand in tests/blocks/test_blocks_control.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_gradient_finite_differences import BACKENDS, check, rng_data, single_block, targets_for

from blockloop import Diagram
from blockloop.blocks import (
    Abs,
    DeadZone,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Outport,
    Product,
    Pulse,
    Saturation,
    Sine,
    Step,
    Sum,
    Switch,
    UnitDelay,
)


def away_from_kinks(inputs, kinks, margin=1e-3):
    """Every input at least ``margin`` away from every value in ``kinks`` (so no difference crosses one)."""
    for x in inputs.values():
        for k in kinks:
            assert np.min(np.abs(x - k)) > margin


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("block", [Saturation(-0.7, 0.8), DeadZone(-0.4, 0.3), Abs()],
                         ids=["saturation", "dead_zone", "abs"])
@pytest.mark.parametrize("B", [None, 3], ids=["unbatched", "batch3"])
def test_piecewise_linear(backend, block, B):
    d, pre = single_block(block, [4])
    program = d.compile()
    inputs = rng_data(6, B, {"x1": 4}, seed=11)
    res = check(program, inputs, targets_for(program, inputs), pre, backend)
    u = program.simulate(inputs, probes=["blk.u"], backend="interpreter")["blk.u"]
    away_from_kinks({"u": u}, [-0.7, 0.8, -0.4, 0.3, 0.0])
    assert np.all(res.grads["k1.K"] != 0)  # some elements inside and some outside: every gain gets a share


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function", ["exp", "log", "sqrt", "sin", "cos", "square", "reciprocal"])
def test_math_function(backend, function):
    """x > 0 → positive elementwise gain → f → y (so log, sqrt and 1/u stay in their domain)."""
    d = Diagram("f")
    d.add("x", Inport(3)); d.add("k", Gain([0.6, 1.1, 1.7])); d.add("f", MathFunction(function)); d.add("y", Outport())
    d.chain("x", "k", "f", "y")
    program = d.compile()
    inputs = {"x": np.abs(rng_data(5, 2, {"x": 3}, seed=12)["x"]) + 0.3}
    check(program, inputs, targets_for(program, inputs), ["k.K"], backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function", ["min", "max"])
@pytest.mark.parametrize("n_inputs", [2, 3])
def test_min_max(backend, function, n_inputs):
    d, pre = single_block(MinMax(function, n_inputs), [3] * n_inputs)
    program = d.compile()
    inputs = rng_data(6, 3, {f"x{j}": 3 for j in range(1, n_inputs + 1)}, seed=13)
    res = check(program, inputs, targets_for(program, inputs), pre, backend)
    assert all(np.any(res.grads[p] != 0) for p in pre)  # each input is selected somewhere


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("criterion", [">=", ">", "!=0"])
def test_switch(backend, criterion):
    d, pre = single_block(Switch(0.2, criterion), [3, 3, 3])
    program = d.compile()
    inputs = rng_data(6, 3, {"x1": 3, "x2": 3, "x3": 3}, seed=14)
    res = check(program, inputs, targets_for(program, inputs), pre, backend)
    assert np.all(res.grads["k2.K"] == 0)  # the control gets no gradient
    if criterion != "!=0":  # random controls are never exactly 0: "!=0" always passes u1
        assert np.any(res.grads["k1.K"] != 0) and np.any(res.grads["k3.K"] != 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 3, 2), (1, 4, 3), (3, 1, 1)], ids=["2x3x2", "1x4x3", "3x1x1"])
def test_matrix_product(backend, shape):
    m, k, n = shape
    d, pre = single_block(MatrixProduct(m, k, n), [m * k, k * n])
    program = d.compile()
    inputs = rng_data(4, 3, {"x1": m * k, "x2": k * n}, seed=15)
    check(program, inputs, targets_for(program, inputs), pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matrix_product_of_a_signal_with_itself(backend):
    """Y = U·U (one 2×2 signal into both inputs): the two shares add up."""
    d = Diagram("square")
    d.add("x", Inport(4)); d.add("k", Gain([0.5, -1.2, 0.9, 1.4])); d.add("p", MatrixProduct(2, 2, 2))
    d.add("y", Outport())
    d.chain("x", "k"); d.connect("k", "p.u1"); d.connect("k", "p.u2"); d.connect("p", "y")
    program = d.compile()
    inputs = rng_data(4, 2, {"x": 4}, seed=16)
    check(program, inputs, targets_for(program, inputs), ["k.K"], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sources_in_a_loop_with_a_saturation(backend):
    """Sine ⊙ (k·x) + Step − Pulse → saturation → z⁻¹ fed back: gradients flow past the sources."""
    d = Diagram("loop")
    d.add("x", Inport(1)); d.add("k", Gain(0.8)); d.add("sn", Sine(1.0, 0.1, 0.2)); d.add("p", Product(2))
    d.add("st", Step(3, 0.0, 0.4)); d.add("pl", Pulse(0.3, 4, 1, 1)); d.add("s", Sum("++-+"))
    d.add("sat", Saturation(-0.9, 0.9)); d.add("z", UnitDelay(0.1)); d.add("g", Gain(0.5)); d.add("y", Outport())
    d.chain("x", "k"); d.connect("k", "p.u1"); d.connect("sn", "p.u2"); d.connect("p", "s.u1")
    d.connect("st", "s.u2"); d.connect("pl", "s.u3"); d.connect("g", "s.u4"); d.chain("s", "sat", "z", "g")
    d.connect("sat", "y")
    program = d.compile()
    inputs = rng_data(10, 2, {"x": 1}, seed=17)
    check(program, inputs, targets_for(program, inputs), ["k.K", "g.K", "z.x0"], backend)
