"""bdsim export of the control blocks: bdsim 1.4 simulates the same diagrams to the same numbers.

Saturation is bdsim's CLIP; Abs, DeadZone, Switch, MinMax, MathFunction and MatrixProduct are
FUNCTION blocks running plain numpy expressions (written independently of the blocks' rules);
Step, Ramp, Sine and Pulse are held tables of their samples (bdsim's STEP, RAMP and WAVEFORM are
continuous-time and declare events between the clock ticks).
"""

import numpy as np
import pytest

pytest.importorskip("bdsim", reason="bdsim not installed: pip install 'blockloop[bdsim]'")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import (  # noqa: E402
    Abs,
    DeadZone,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Pulse,
    Ramp,
    Saturation,
    Sine,
    Step,
    Sum,
    Switch,
    UnitDelay,
)
from blockloop.interop.bdsim import simulate_bdsim  # noqa: E402


def control_loop() -> Diagram:
    """A 2-vector feedback loop through every control block, driven by u and the four sources."""
    d = Diagram("control")
    d.add("u", Inport(2)); d.add("st", Step(3, 0.0, 0.5)); d.add("rp", Ramp(0.1, 2, -0.3))
    d.add("sn", Sine(0.8, 0.15, 0.4)); d.add("pl", Pulse(1.0, 4, 2, 1))
    d.add("ref", Mux(2)); d.connect("st", "ref.u1"); d.connect("sn", "ref.u2")
    d.add("e", Sum("++-")); d.connect("u", "e.u1"); d.connect("ref", "e.u2")
    d.add("z", UnitDelay([0.2, -0.1])); d.connect("z", "e.u3")
    d.add("sat", Saturation(-0.6, 0.6)); d.add("dz", DeadZone(-0.05, 0.1)); d.add("ab", Abs())
    d.chain("e", "sat", "dz", "ab")
    d.add("pr", Mux(2)); d.connect("rp", "pr.u1"); d.connect("pl", "pr.u2")
    d.add("sw", Switch(0.2, ">=")); d.connect("dz", "sw.u1"); d.connect("pr", "sw.control"); d.connect("sat", "sw.u2")
    d.add("mm", MinMax("min", 3)); d.connect("sw", "mm.u1"); d.connect("ab", "mm.u2"); d.connect("e", "mm.u3")
    d.add("ex", MathFunction("exp")); d.add("sq", MathFunction("sqrt")); d.chain("mm", "ex"); d.chain("ab", "sq")
    d.add("mp", MatrixProduct(2, 1, 2)); d.connect("sat", "mp.u1"); d.connect("sq", "mp.u2")  # outer product
    d.add("k", Gain([[0.3, 0.1, 0.0, -0.2], [0.0, 0.2, 0.4, 0.1]])); d.chain("mp", "k", "z")
    d.add("y", Outport()); d.connect("k", "y"); d.add("yex", Outport()); d.connect("ex", "yex")
    return d


def test_the_control_loop_matches_blockloop():
    d = control_loop()
    u = np.random.default_rng(2).standard_normal((30, 2))
    ours = d.simulate({"u": u}, Ts=0.1, probes=["st", "rp", "sn", "pl", "sw", "mm", "dz"])
    theirs = simulate_bdsim(d, {"u": u}, Ts=0.1, probes=["st", "rp", "sn", "pl", "sw", "mm", "dz"])
    for name in ("st", "rp", "sn", "pl"):  # the same samples
        np.testing.assert_array_equal(theirs[name], ours[name], err_msg=name)
    for name in ("sw", "mm", "dz", "y", "yex"):  # the loop holds exp, √ and matrix products (BLAS in bdsim)
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert np.any(ours["sw"] != ours["dz"]) and np.any(ours["dz"] == 0)  # both branches, the zone hit


@pytest.mark.parametrize("function", ["exp", "log", "sqrt", "sin", "cos", "square", "reciprocal"])
def test_math_functions_on_size_one_signals(function):
    d = Diagram("f")
    d.add("u", Inport(1)); d.add("f", MathFunction(function)); d.add("y", Outport()); d.chain("u", "f", "y")
    u = np.linspace(0.2, 3.0, 6)[:, None]
    np.testing.assert_allclose(simulate_bdsim(d, {"u": u})["y"], d.simulate({"u": u})["y"], rtol=1e-14)
