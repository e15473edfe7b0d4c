"""Compile and simulate: structure apart from run state, batch and dtype flow, probes, subsystems."""

import numpy as np
import pytest

from blockloop import Diagram, compile_diagram
from blockloop.blocks import Constant, Gain, Inport, Mux, Outport, Product, Sum, UnitDelay
from blockloop.engine import flatten


def pipeline() -> Diagram:
    d = Diagram("pipe")
    d.add("u", Inport(2))
    d.add("K", Gain([[1.0, 2.0], [0.0, -1.0]]))
    d.add("c", Constant([0.5, 0.5]))
    d.add("p", Product(2))
    d.add("z", UnitDelay([1.0, -1.0]))
    d.add("s", Sum("+-"))
    d.add("y", Outport())
    d.chain("u", "K")
    d.connect("K", "p.u1"); d.connect("c", "p.u2")
    d.connect("p", "s.u1"); d.connect("z", "s.u2")
    d.chain("s", "z")
    d.connect("s", "y")
    return d


def hand(u: np.ndarray) -> np.ndarray:
    """y[k] = 0.5⊙(K u[k]) − z[k], z[k+1] = y[k], z[0] = [1, −1]."""
    K = np.array([[1.0, 2.0], [0.0, -1.0]])
    z = np.array([1.0, -1.0])
    out = []
    for uk in u:
        y = 0.5 * (K @ uk) - z
        out.append(y)
        z = y
    return np.array(out)


def test_matches_hand_computed_difference_equation():
    u = np.random.default_rng(0).standard_normal((20, 2))
    np.testing.assert_allclose(pipeline().simulate({"u": u})["y"], hand(u), atol=1e-14)


def test_compile_twice_and_simulate_twice_are_identical():
    d = pipeline()
    u = np.random.default_rng(1).standard_normal((15, 2))
    p1, p2 = compile_diagram(d), compile_diagram(d)
    assert p1 is not p2 and p1.order == p2.order
    a, b, c = p1.simulate({"u": u}), p1.simulate({"u": u}), p2.simulate({"u": u})
    np.testing.assert_array_equal(a["y"], b["y"])
    np.testing.assert_array_equal(a["y"], c["y"])


def test_schedule_is_topological_along_feedthrough():
    order = pipeline().compile().order
    assert order.index("K") < order.index("p") < order.index("s") < order.index("y")


def test_batch_dimension_flows_through_every_block():
    rng = np.random.default_rng(2)
    u = rng.standard_normal((10, 4, 2))
    r = pipeline().simulate({"u": u}, probes=["p.y", "z"])
    assert r.batched and r["y"].shape == (10, 4, 2) and r["p.y"].shape == (10, 4, 2)
    for b in range(4):
        np.testing.assert_allclose(r["y"][:, b], hand(u[:, b]), atol=1e-14)


def test_float32_program_keeps_every_signal_float32():
    u = np.random.default_rng(3).standard_normal((6, 2))
    prog = pipeline().compile(dtype=np.float32)
    assert all(arr.dtype == np.float32 for b in prog.blocks.values() for arr in b.arrays().values())
    r = prog.simulate({"u": u}, probes=["K.y", "p.y", "z.y", "s.y"])
    assert all(v.dtype == np.float32 for v in r.signals.values())
    np.testing.assert_allclose(r["y"], hand(u), rtol=1e-5, atol=1e-5)


def test_probe_of_an_input_port_logs_its_driver():
    r = pipeline().simulate({"u": np.ones((3, 2))}, probes=["s.u2"])
    np.testing.assert_array_equal(r["s.u2"][0], [1.0, -1.0])


def test_steps_and_time_vector():
    r = pipeline().simulate({"u": np.ones((8, 2))}, steps=5, Ts=0.25)
    np.testing.assert_allclose(r.t, [0, 0.25, 0.5, 0.75, 1.0])
    assert r["y"].shape == (5, 2)


def test_subsystem_is_flattened_with_path_names():
    inner = Diagram("inner")
    inner.add("a", Inport()); inner.add("b", Inport()); inner.add("m", Mux(2)); inner.add("o", Outport())
    inner.connect("a", "m.u1"); inner.connect("b", "m.u2"); inner.connect("m", "o")
    top = Diagram("top")
    top.add("u", Inport(1)); top.add("v", Inport(2)); top.add("sub", inner); top.add("y", Outport())
    top.connect("u", "sub.a"); top.connect("v", "sub.b"); top.connect("sub.o", "y")
    flat = flatten(top)
    assert set(flat.nodes) == {"u", "v", "sub/m", "y"}
    assert flat.nodes["sub/m"]["subsystem"] == "sub"
    r = top.simulate({"u": [[1.0]], "v": [[2.0, 3.0]]})
    np.testing.assert_array_equal(r["y"], [[1.0, 2.0, 3.0]])


def test_unconnected_subsystem_port_is_named():
    inner = Diagram("inner")
    inner.add("a", Inport(1)); inner.add("o", Outport()); inner.connect("a", "o")
    top = Diagram("top")
    top.add("sub", inner); top.add("y", Outport()); top.connect("sub.o", "y")
    with pytest.raises(Exception, match="subsystem input 'sub.a' is not connected"):
        top.compile()


def test_size_is_inferred_through_a_loop_from_a_matrix_gain():
    d = Diagram()
    d.add("u", Inport(3)); d.add("s", Sum("++")); d.add("z", UnitDelay(0.0)); d.add("A", Gain(0.5 * np.eye(3)))
    d.add("y", Outport())
    d.connect("u", "s.u1"); d.chain("z", "A"); d.connect("A", "s.u2"); d.chain("s", "z"); d.connect("s", "y")
    prog = d.compile()
    assert prog.states[0].size == 3
