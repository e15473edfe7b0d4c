"""simulate(backend=...): the names accepted, what "auto" picks, and the fallback for blocks it cannot compile."""

import warnings

import numpy as np
import pytest

import blockloop.compiled.backend
from blockloop import Diagram
from blockloop.blocks import Block, Gain, Inport, Outport, Sum, UnitDelay
from blockloop.compiled import uncompiled_blocks
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.diagrams.examples import accumulator, gain_feedback
from blockloop.engine import interpreter
from blockloop.engine.backends import BACKENDS, BackendFallbackWarning, select_backend
from blockloop.errors import SimulationError


@pytest.mark.parametrize("backend", ["nonsense", "Compiled", "", None, 3])
def test_unknown_backend_is_a_simulation_error_naming_the_choices(backend):
    u = np.ones((3, 1))
    for target in (accumulator(), accumulator().compile()):
        with pytest.raises(SimulationError, match="backend: expected one of 'auto', 'compiled', 'interpreter'") as err:
            target.simulate({"u": u}, backend=backend)
        assert repr(backend) in str(err.value)
    assert BACKENDS == ("auto", "compiled", "interpreter")


def test_auto_picks_the_compiled_loop_when_numba_is_installed():
    pytest.importorskip("numba")
    program = accumulator().compile()
    assert select_backend(program, "auto") is blockloop.compiled.backend.run_plan
    assert select_backend(program, "compiled") is blockloop.compiled.backend.run_plan
    assert select_backend(program, "interpreter") is interpreter.run_plan


@pytest.mark.parametrize("make", [accumulator, gain_feedback,
                                  lambda: lstm_network(NetworkWeights.random(2, 3, 2, n_layers=2))],
                         ids=["accumulator", "gain_feedback", "lstm"])
def test_auto_gives_the_compiled_numbers_for_library_diagrams(make):
    program = make().compile()
    n = program.size("u", "y")
    u = np.random.default_rng(0).standard_normal((15, 4, n))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        auto = program.simulate({"u": u}, backend="auto")
        compiled = program.simulate({"u": u}, backend="compiled")
        default = program.simulate({"u": u})
    np.testing.assert_array_equal(auto["y"], compiled["y"])
    np.testing.assert_array_equal(default["y"], compiled["y"])


def test_readme_example_on_the_compiled_backend():
    d = Diagram("leaky integrator")                     # y[k] = u[k] + 0.9·y[k−1]
    for name, block in [("u", Inport(1)), ("s", Sum("++")), ("a", Gain(0.9)), ("z", UnitDelay(0.0)), ("y", Outport())]:
        d.add(name, block)
    d.connect("u", "s.u1"); d.connect("s", "z"); d.connect("z", "a"); d.connect("a", "s.u2"); d.connect("s", "y")
    result = d.simulate({"u": np.ones((50, 1))}, Ts=0.01, backend="compiled")
    np.testing.assert_array_equal(result.t[:3], [0.0, 0.01, 0.02])
    np.testing.assert_array_equal(result["y"][:3].ravel(), [1.0, 1.0 + 0.9 * 1.0, 1.0 + 0.9 * (1.0 + 0.9 * 1.0)])
    assert str(result["y"][:3].ravel()) == "[1.   1.9  2.71]"
    np.testing.assert_array_equal(result["y"], d.simulate({"u": np.ones((50, 1))}, Ts=0.01, backend="interpreter")["y"])


# -- blocks the compiled loop must not run ---------------------------------------------------
class Doubler(Gain):
    """A user's Gain whose output rule differs from Gain's: y = 2·K·u."""

    def output(self, u, x):
        return (2.0 * self.K * u[0],)


class Square(Block):
    """A user's block with no compiled rule: y = u²."""

    def __init__(self):
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def infer_input_sizes(self, out_sizes):
        return {"u": out_sizes.get("y")}

    def output(self, u, x):
        return (u[0] * u[0],)


class LeakyDelay(UnitDelay):
    """A user's UnitDelay with another update rule: x[k+1] = u[k]/2."""

    def update(self, u, x):
        return 0.5 * u[0]


class PlainGain(Gain):
    """A subclass that changes no rule: the compiled loop may run it."""


def with_block(block) -> Diagram:
    d = Diagram("custom")
    d.add("u", Inport(2)); d.add("s", Sum("++")); d.add("b", block); d.add("z", UnitDelay(0.0)); d.add("y", Outport())
    d.connect("u", "s.u1"); d.connect("z", "s.u2"); d.chain("s", "b", "y"); d.chain("b", "z")
    return d


def expected(u, rule, update=lambda v: v):
    """y[k] = rule(u[k] + x[k]), x[k+1] = update(y[k]), x[0] = 0."""
    x = np.zeros(u.shape[1:])
    out = []
    for uk in u:
        y = rule(uk + x)
        out.append(y)
        x = update(y)
    return np.array(out)


CUSTOM = [
    ("Doubler", lambda: with_block(Doubler(0.3)), lambda v: 0.6 * v, lambda v: v),
    ("Square", lambda: with_block(Square()), lambda v: v * v, lambda v: v),
]


@pytest.mark.parametrize("backend", ["compiled", "auto"])
@pytest.mark.parametrize("type_name, make, rule, update", CUSTOM, ids=[c[0] for c in CUSTOM])
def test_blocks_without_a_trusted_rule_fall_back_to_the_interpreter(type_name, make, rule, update, backend):
    d = make()
    u = 0.3 * np.random.default_rng(1).standard_normal((12, 2))
    assert uncompiled_blocks(d.compile()) == {"b": f"block type {type_name} has no compiled rule"}
    with pytest.warns(BackendFallbackWarning, match=rf"block type {type_name} has no compiled rule \(e.g. 'b'\)"):
        res = d.simulate({"u": u}, backend=backend)
    np.testing.assert_array_equal(res["y"], d.simulate({"u": u}, backend="interpreter")["y"])
    np.testing.assert_allclose(res["y"], expected(u, rule, update), rtol=1e-14, atol=1e-15)


def test_subclass_overriding_update_falls_back():
    d = Diagram("leaky")
    d.add("u", Inport(1)); d.add("s", Sum("++")); d.add("z", LeakyDelay(0.0)); d.add("y", Outport())
    d.connect("u", "s.u1"); d.connect("z", "s.u2"); d.chain("s", "z"); d.connect("s", "y")
    u = np.ones((5, 1))
    with pytest.warns(BackendFallbackWarning, match="LeakyDelay"):
        y = d.simulate({"u": u}, backend="compiled")["y"].ravel()
    # y[k] = 1 + x[k], x[k+1] = y[k]/2
    np.testing.assert_array_equal(y, [1.0, 1.5, 1.75, 1.875, 1.9375])


def test_fallback_names_every_uncompiled_type_once_and_in_a_subsystem():
    inner = with_block(Doubler(0.5))
    d = Diagram("outer")
    d.add("u", Inport(2)); d.add("sub", inner); d.add("sq", Square()); d.add("sq2", Square()); d.add("y", Outport())
    d.chain("u", "sub")
    d.connect("sub.y", "sq"); d.chain("sq", "sq2", "y")
    program = d.compile()
    assert {k: v.split()[2] for k, v in uncompiled_blocks(program).items()} == {"sub/b": "Doubler", "sq": "Square",
                                                                               "sq2": "Square"}
    with pytest.warns(BackendFallbackWarning) as record:
        program.simulate({"u": np.ones((4, 2))}, backend="compiled")
    messages = [str(w.message) for w in record if issubclass(w.category, BackendFallbackWarning)]
    assert len(messages) == 1
    assert "Doubler has no compiled rule (e.g. 'sub/b')" in messages[0]
    assert "Square has no compiled rule (e.g. 'sq')" in messages[0]


def test_interpreter_backend_never_warns_and_plain_subclass_runs_compiled():
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        with_block(Doubler(0.3)).simulate({"u": np.ones((3, 2))}, backend="interpreter")
        d = with_block(PlainGain(0.3))
        assert uncompiled_blocks(d.compile()) == {}
        u = np.random.default_rng(2).standard_normal((10, 2))
        np.testing.assert_array_equal(d.simulate({"u": u}, backend="compiled")["y"],
                                      with_block(Gain(0.3)).simulate({"u": u}, backend="compiled")["y"])


def test_fallback_warning_points_at_the_callers_line_from_program_simulate():
    program = with_block(Doubler(0.3)).compile()
    with pytest.warns(BackendFallbackWarning) as record:
        program.simulate({"u": np.ones((3, 2))}, backend="compiled")
    assert record[0].filename == __file__


@pytest.mark.parametrize("entry", ["Diagram.simulate", "blockloop.simulate"])
def test_fallback_warning_points_at_the_callers_line_from_other_entry_points(entry):
    import blockloop

    d = with_block(Doubler(0.3))
    with pytest.warns(BackendFallbackWarning) as record:
        if entry == "Diagram.simulate":
            d.simulate({"u": np.ones((3, 2))}, backend="compiled")
        else:
            blockloop.simulate(d.compile(), {"u": np.ones((3, 2))}, backend="compiled")
    assert record[0].filename == __file__
