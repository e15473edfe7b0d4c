"""Review findings on the compiled backend, autodiff and the seeds study: bad calls get typed errors,
user lowerings are checked before any kernel runs, parameters are read-only (all fixed)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.autodiff import fit, gradient
from blockloop.blocks import Block, Inport, Lowering, Outport
from blockloop.diagrams.examples import gain_feedback
from blockloop.engine.simulate import simulate
from blockloop.errors import BlockloopError

pytest.importorskip("numba")



def _run_isolated(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def _fb():
    p = gain_feedback().compile()
    u = np.random.default_rng(0).standard_normal((30, 1))
    return p, u, p.with_parameters({"g.K": 0.8}).simulate(u)["y"]


def _opts(**kw):
    from blockloop.study.training import TrainingOptions

    return TrainingOptions(**{"lr0": 0.05, "epochs": 5, "l2": 0.0, **kw})


_USER_BLOCK = """
import numpy as np, warnings
from blockloop import Diagram
from blockloop.blocks import Block, Inport, Outport, Lowering
class Relu(Block):
    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)
    def params(self): return {}
    def output_sizes(self, s): return {"y": s.get("u")}
    def output(self, u, x): return (np.maximum(u[0], 0),)
    def lowering(self): return LOWERING
d = Diagram("r"); d.add("u", Inport(3)); d.add("m", Relu()); d.add("y", Outport()); d.chain("u", "m", "y")
p = d.compile()
u = np.array([[2.0, 1.0, -1.0], [0.5, -2.0, 3.0]])
"""


# -- crashes -----------------------------------------------------------------------------------
def test_user_lowering_select_out_of_range_does_not_crash():
    r = _run_isolated(_USER_BLOCK + """
LOWERING = Lowering("select", ints=(10**12,))
try:
    p.simulate(u, backend="compiled")
except Exception as exc:
    from blockloop.errors import BlockloopError
    assert isinstance(exc, BlockloopError), repr(exc)
""")
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])


def test_mutated_selector_indices_do_not_crash():
    r = _run_isolated("""
import numpy as np
from blockloop import Diagram
from blockloop.blocks import Inport, Outport, Selector
d = Diagram("s"); d.add("u", Inport(3)); d.add("sel", Selector([0, 1])); d.add("y", Outport()); d.chain("u", "sel", "y")
p = d.compile()
try:
    p.blocks["sel"].indices[0] = 10**12
except ValueError:
    pass  # read-only parameters would be a fix
try:
    p.simulate(np.ones((3, 3)), backend="compiled")
except Exception as exc:
    from blockloop.errors import BlockloopError
    assert isinstance(exc, BlockloopError), repr(exc)
""")
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])


# -- silently wrong numbers ----------------------------------------------------------------------
def _user_program(lowering):
    class Relu(Block):
        def __init__(self):
            self.inputs, self.outputs = ("u",), ("y",)

        def params(self):
            return {}

        def output_sizes(self, s):
            return {"y": s.get("u")}

        def output(self, u, x):
            return (np.maximum(u[0], 0),)

        def lowering(self):
            return lowering

    d = Diagram("r")
    d.add("u", Inport(3))
    d.add("m", Relu())
    d.add("y", Outport())
    d.chain("u", "m", "y")
    return d.compile(), np.array([[2.0, 1.0, -1.0], [0.5, -2.0, 3.0]])


def _same_as_interpreter_or_typed(p, u):
    ref = simulate(p, u, backend="interpreter")["y"]
    try:
        got = simulate(p, u, backend="compiled")["y"]
    except BlockloopError:
        return
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_user_lowering_unknown_op_is_not_silently_dropped():
    _same_as_interpreter_or_typed(*_user_program(Lowering("relu")))


def test_user_lowering_short_params_is_rejected():
    _same_as_interpreter_or_typed(*_user_program(Lowering("gain_matrix", np.ones(1))))


def test_parameter_mutation_is_prevented_or_seen_by_compiled():
    p, u, _ = _fb()
    simulate(p, u, backend="compiled")
    try:
        p.blocks["g"].K[()] = 0.9
    except ValueError:
        return  # read-only parameters: fine
    np.testing.assert_allclose(simulate(p, u, backend="compiled")["y"], simulate(p, u, backend="interpreter")["y"])


def test_fit_weights_string_is_one_path():
    p, u, y = _fb()
    o = _opts(l2=0.5, epochs=20)
    one = fit(p, u, y, ["g.K"], o, weights="g.K").values["g.K"]
    assert one == fit(p, u, y, ["g.K"], o, weights=["g.K"]).values["g.K"]


def test_fit_unknown_weight_path_rejected():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="nope"):
        fit(p, u, y, ["g.K"], _opts(), weights=["nope.K"])


def test_gradient_complex_target_rejected():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="target"):
        gradient(p, u, y + 1j, ["g.K"])


def test_fit_complex_target_rejected():
    p, u, y = _fb()
    with pytest.raises(BlockloopError):
        fit(p, u, y + 1j, ["g.K"], _opts())


def test_parameter_value_string_rejected():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="g.K"):
        gradient(p, u, y, {"g.K": "0.5"})


def test_parameter_value_bool_rejected():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="g.K"):
        p.with_parameters({"g.K": True})


def test_simulate_steps_bool_rejected():
    p, u, _ = _fb()
    with pytest.raises(BlockloopError, match="steps"):
        simulate(p, u, steps=True)


def test_run_seeds_non_integer_seed_rejected():
    from blockloop.study.seeds import run_seeds

    with pytest.raises(BlockloopError, match="seed"):
        run_seeds([1.5], epochs=1, runs=("from_computed",))


def test_fit_huge_epochs_does_not_hang():
    try:
        r = _run_isolated("""
import numpy as np
from blockloop.autodiff import fit
from blockloop.diagrams.examples import gain_feedback
from blockloop.errors import BlockloopError
from blockloop.study.training import TrainingOptions
p = gain_feedback().compile(); u = np.ones((10, 1))
try:
    fit(p, u, np.zeros((10, 1)), ["g.K"], TrainingOptions(lr0=1e12, epochs=10**10))
except BlockloopError:
    pass   # diverges at epoch 2 (or huge epochs rejected)
""", timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("fit(epochs=10**10) did not return within 30 s")
    assert r.returncode == 0, r.stderr[-500:]


def test_fit_and_gradient_with_no_params_are_typed_errors_on_both_backends():
    p, u, y = _fb()
    for backend in ("interpreter", "compiled"):
        with pytest.raises(BlockloopError, match="at least one"):
            fit(p, u, y, [], _opts(), backend=backend)
        with pytest.raises(BlockloopError, match="at least one"):
            gradient(p, u, y, [], backend=backend)


# -- bare exceptions -----------------------------------------------------------------------------
def _typed(fn):
    with pytest.raises(BlockloopError):
        fn()


def test_simulate_probes_int():
    p, u, _ = _fb()
    _typed(lambda: simulate(p, u, probes=5))


def test_simulate_initial_states_not_mapping():
    p, u, _ = _fb()
    _typed(lambda: simulate(p, u, initial_states=[1.0]))


def test_simulate_non_program():
    _typed(lambda: simulate(gain_feedback(), np.ones((3, 1))))


def test_gradient_params_none():
    p, u, y = _fb()
    _typed(lambda: gradient(p, u, y, None))


def test_fit_params_set_works_like_a_list():
    p, u, y = _fb()
    assert fit(p, u, y, {"g.K"}, _opts()).values["g.K"] == fit(p, u, y, ["g.K"], _opts()).values["g.K"]


def test_fit_params_none():
    p, u, y = _fb()
    _typed(lambda: fit(p, u, y, None, _opts()))


def test_fit_options_not_training_options():
    p, u, y = _fb()
    _typed(lambda: fit(p, u, y, ["g.K"], {"epochs": 3}))


def test_fit_bad_callbacks():
    p, u, y = _fb()
    _typed(lambda: fit(p, u, y, ["g.K"], _opts(), on_log=5))


@pytest.mark.parametrize("kw", [{"epochs": 2.5}, {"epochs": "5"}, {"epochs": True}, {"epochs": None},
                                {"lr0": "a"}, {"verbose_every": 2.5}, {"l2": "x"}])
def test_training_options_bad_values(kw):
    p, u, y = _fb()
    _typed(lambda: fit(p, u, y, ["g.K"], _opts(**kw)))


@pytest.mark.parametrize("kw", [{"seeds": [-1]}, {"seeds": ["a"]}, {"seeds": None}, {"epochs": 1.5},
                                {"runs": None}, {"variant": ["reference"]}])
def test_run_seeds_bad_arguments(kw):
    from blockloop.study.seeds import run_seeds

    args = {"seeds": [0], "epochs": 1, "runs": ("from_computed",), **kw}
    _typed(lambda: run_seeds(**args))


@pytest.mark.parametrize("lowering", [Lowering("delay"), Lowering("source"), Lowering("constant"), "tanh"])
def test_user_lowering_inconsistent_is_typed_or_falls_back(lowering):
    _same_as_interpreter_or_typed(*_user_program(lowering))


def test_cli_seeds_huge_range():
    r = _run_isolated("""
import sys
from blockloop.cli import main
sys.exit(main(["seeds", "--seeds", "0-99999999999", "--epochs", "1"]))
""", timeout=60)
    assert "Traceback" not in r.stderr and r.returncode == 2, r.stderr[-300:]


# -- message quality -----------------------------------------------------------------------------
def test_parameter_value_none_message():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="None"):
        p.with_parameters({"g.K": None})


def test_unknown_target_message_names_target():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="target"):
        gradient(p, u, {"nope": y}, ["g.K"])


def test_fit_interpreter_divergence_names_epoch():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="epoch"):
        fit(p, u, y, ["g.K"], _opts(lr0=1e6, epochs=50), backend="interpreter")


def test_non_finite_target_is_named():
    p, u, y = _fb()
    with pytest.raises(BlockloopError, match="target 'y' has a non-finite value"):
        fit(p, u, np.full_like(y, np.nan), ["g.K"], _opts(), backend="interpreter")


def test_cli_seeds_reversed_range_message():
    import argparse

    from blockloop.cli.seeds import parse_seeds

    with pytest.raises(argparse.ArgumentTypeError, match="empty|order|ascending|9-0 selects"):
        parse_seeds("9-0")
