"""bdsim export of the stateful linear systems: bdsim 1.4's LTI_SS_S simulates the same diagrams.

A PID-like loop around a state-space plant, closed without a UnitDelay (the plant has D = 0,
the integrator is forward Euler), with a transfer-function filter on the reference and
non-zero initial states, in a batch of two (one bdsim run per sequence).
"""

import numpy as np
import pytest

pytest.importorskip("bdsim", reason="bdsim not installed: pip install 'blockloop[bdsim]'")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import (  # noqa: E402
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    Gain,
    Inport,
    Outport,
    Sum,
)
from blockloop.interop.bdsim import simulate_bdsim  # noqa: E402


def loop() -> Diagram:
    d = Diagram("pi")
    d.add("r", Inport(1)); d.add("f", DiscreteTransferFunction([0.2, 0.1], [1.0, -0.7, 0.1], x0=[0.05, -0.02]))
    d.add("e", Sum("+-")); d.add("kp", Gain(0.8)); d.add("i", DiscreteIntegrator(K=0.5, Ts=0.1, x0=0.1))
    d.add("ib", DiscreteIntegrator(K=0.2, Ts=0.1, method="backward"))
    d.add("u", Sum("+++"))
    d.add("plant", DiscreteStateSpace([[0.9, 0.1], [-0.2, 0.8]], [[0.0], [0.1]], [[1.0, 0.0]], x0=[0.3, 0.0]))
    d.add("y", Outport())
    d.chain("r", "f"); d.connect("f", "e.u1"); d.connect("plant", "e.u2")
    d.chain("e", "kp"); d.chain("e", "i"); d.chain("e", "ib")
    d.connect("kp", "u.u1"); d.connect("i", "u.u2"); d.connect("ib", "u.u3"); d.chain("u", "plant")
    d.connect("plant", "y")
    return d


def test_the_loop_matches_blockloop():
    d = loop()
    r = np.random.default_rng(3).standard_normal((25, 2, 1))
    probes = ["f", "i", "ib"]
    ours = d.simulate({"r": r}, probes=probes)
    theirs = simulate_bdsim(d, {"r": r}, probes=probes)
    for name in ("y", *probes):
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert np.max(np.abs(ours["y"])) > 0.1


@pytest.mark.parametrize(("m", "p", "d"), [(2, 1, 0.0), (1, 2, 0.1), (2, 2, 0.1), (2, 2, 0.0)])
def test_vector_input_or_output_state_space_exports(m, p, d):
    # bdsim 1.4's LTI_SS_S has m scalar input ports and returns one vector for p declared outputs,
    # so a MIMO system failed to compile ("block G has an unconnected input", "Fatal failure")
    g = Diagram("mimo", Ts=0.02)
    g.add("u", Inport(m)); g.add("y", Outport())
    g.add("G", DiscreteStateSpace([[0.5, 0.2], [-0.1, 0.3]], np.arange(1.0, 2 * m + 1).reshape(2, m),
                                  np.arange(1.0, 2 * p + 1).reshape(p, 2), np.full((p, m), d), x0=[1.0, -0.5]))
    g.chain("u", "G", "y")
    u = np.random.default_rng(0).standard_normal((12, 3, m))
    ours, theirs = g.simulate({"u": u}), simulate_bdsim(g, {"u": u})
    np.testing.assert_allclose(theirs["y"], ours["y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(theirs.t, ours.t)       # the diagram's Ts, 0.02 s, on both
    assert theirs.Ts == 0.02


def test_vector_integrator_in_a_loop_exports():
    d = Diagram("vector loop")
    d.add("r", Inport(2)); d.add("e", Sum("+-")); d.add("k", Gain(0.5))
    d.add("i", DiscreteIntegrator(K=2.0, Ts=0.1, x0=[0.1, -0.1])); d.add("y", Outport())
    d.connect("r", "e.u1"); d.connect("i", "e.u2"); d.chain("e", "k", "i", "y")
    r = np.random.default_rng(1).standard_normal((15, 2))
    np.testing.assert_allclose(simulate_bdsim(d, r)["y"], d.simulate(r)["y"], rtol=1e-12, atol=1e-14)
