"""The Function block: a user callable with declared sizes and feedthrough, for experiments.

It runs on the interpreter only (the compiled backend falls back with a warning), ``gradient``
refuses it, and saving it is refused (a diagram file never carries code).
"""

import warnings

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.autodiff import gradient
from blockloop.blocks import Function, Gain, Inport, Outport, Sum
from blockloop.engine.backends import BackendFallbackWarning
from blockloop.errors import AlgebraicLoopError, DifferentiationError, ParameterError, SimulationError
from blockloop.io import save_diagram


def square_diagram():
    d = Diagram("f")
    d.add("u", Inport(2)); d.add("k", Gain([1.0, 2.0])); d.add("f", Function(lambda a: a ** 2 + 1, 2, 2))
    d.add("y", Outport())
    d.chain("u", "k", "f", "y")
    return d


def test_runs_on_the_interpreter_with_a_batch():
    u = np.random.default_rng(0).standard_normal((5, 3, 2))
    y = square_diagram().simulate({"u": u}, backend="interpreter")["y"]
    np.testing.assert_allclose(y, (u * [1.0, 2.0]) ** 2 + 1, rtol=1e-15)


def test_compiled_backend_falls_back_and_gradient_refuses_it():
    program = square_diagram().compile()
    u = np.ones((4, 2))
    with pytest.warns(BackendFallbackWarning, match="Function has no compiled rule"):
        y = program.simulate({"u": u})["y"]
    np.testing.assert_allclose(y, [[2.0, 5.0]] * 4)
    for backend in ("auto", "interpreter"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BackendFallbackWarning)
            with pytest.raises(DifferentiationError, match=r"block 'f' \(Function\) declares no adjoint"):
                gradient(program, {"u": u}, np.zeros((4, 2)), ["k.K"], backend=backend)


def test_saving_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="a diagram file never carries code"):
        save_diagram(square_diagram(), tmp_path / "f.json")
    assert not (tmp_path / "f.json").exists()


def test_declared_feedthrough_closes_a_loop():
    """Two outputs: y1 = 2·x (no feedthrough: x comes from outside), y2 = u + x; loop y1 → g → u.

    A pure function of the outside input x for y1, so the loop y1 → g → u → y2 is not algebraic.
    """
    fn = Function(lambda u, x: (2 * x, u + x), [1, 1], [1, 1],
                  feedthrough=[("u2", "y1"), ("u1", "y2"), ("u2", "y2")])
    d = Diagram("loop")
    d.add("x", Inport(1)); d.add("f", fn); d.add("g", Gain(0.5)); d.add("y", Outport())
    d.connect("x", "f.u2"); d.connect("f.y1", "g"); d.connect("g", "f.u1"); d.connect("f.y2", "y")
    x = np.arange(1.0, 5.0)[:, None]
    np.testing.assert_allclose(d.simulate({"x": x}, backend="interpreter")["y"], 0.5 * 2 * x + x)
    d2 = Diagram("loop")  # declaring y2 independent of nothing: the same wiring through y2 is algebraic
    d2.add("x", Inport(1)); d2.add("f", Function(lambda u, x: (2 * x, u + x), [1, 1], [1, 1])); d2.add("g", Gain(0.5))
    d2.connect("x", "f.u2"); d2.connect("f.y2", "g"); d2.connect("g", "f.u1")
    with pytest.raises(AlgebraicLoopError, match="f.u1 → f.y2"):
        d2.compile()


def test_no_feedthrough_input_gets_zeros():
    seen = []

    def fn(u):
        seen.append(u.copy())
        return np.full_like(u, 3.0)

    d = Diagram("acc")
    d.add("s", Sum("++")); d.add("f", Function(fn, 1, 1, feedthrough=False)); d.add("c", Inport(1))
    d.add("y", Outport())
    d.connect("c", "s.u1"); d.connect("f", "s.u2"); d.connect("s", "f"); d.connect("s", "y")
    y = d.simulate({"c": np.ones((3, 1))}, backend="interpreter")["y"]
    np.testing.assert_allclose(y, 4.0)
    assert all(np.all(v == 0) for v in seen)


def test_bad_declarations_and_results_are_errors():
    with pytest.raises(ParameterError, match="expected a callable"):
        Function(3.0)
    with pytest.raises(ParameterError, match="not an \\(input, output\\) pair"):
        Function(abs, 1, 1, feedthrough=[("u", "z")])
    with pytest.raises(ParameterError, match="in_sizes"):
        Function(abs, 0)
    d = Diagram("bad")
    d.add("u", Inport(2)); d.add("f", Function(lambda a: a[:, :1], 2, 2)); d.add("y", Outport())
    d.chain("u", "f", "y")
    with pytest.raises(SimulationError, match=r"output y has shape \(1, 1\); expected \(1, 2\)"):
        d.simulate({"u": np.ones((2, 2))}, backend="interpreter")
