"""Non-finite values anywhere in a run (interpreter), float32 overflow, sizes and the smaller items of issue 9."""

from __future__ import annotations

import numpy as np
import pytest

from blockloop.blocks import Block, Demux, Gain, Inport, Mux, Outport, Sum, Tanh, UnitDelay
from blockloop.diagrams import LayerWeights, lstm_layer, state_space_diagram
from blockloop.diagrams.examples import accumulator
from blockloop.engine import Diagram
from blockloop.errors import NonFiniteError, ParameterError, SimulationError, SizeMismatchError


def _chain(*blocks, size=1):
    d = Diagram("chain")
    d.add("u", Inport(size))
    names = ["u"]
    for i, b in enumerate(blocks):
        d.add(f"b{i}", b)
        d.connect(names[-1], f"b{i}")
        names.append(f"b{i}")
    d.add("y", Outport())
    d.connect(names[-1], "y")
    return d


# -- item 5: every signal and state is covered ---------------------------------------------------------
def test_an_overflow_that_no_logged_signal_shows_is_reported_where_it_happened():
    d = _chain(Gain(1e200), Gain(1e200), Tanh())  # y = tanh(inf) = 1 looks fine
    u = np.ones((4, 1))
    with pytest.raises(NonFiniteError) as err:
        d.simulate({"u": u}, Ts=0.5, backend="interpreter")
    assert str(err.value).startswith("signal 'b1.y' (Gain) became non-finite at step 0, element 0 (value inf)")
    assert str(err.value).endswith("(t = 0 s)")
    assert (err.value.block, err.value.port, err.value.step) == ("b1", "y", 0)
    y = d.simulate({"u": u}, backend="interpreter", check_finite=False)["y"]
    assert y.ravel().tolist() == [1.0] * 4  # the same run, unchecked, hides it


def test_the_first_step_and_the_batch_row_are_named():
    d = _chain(Gain(1e300), Gain(1e7), Tanh())
    u = np.ones((5, 3, 1))
    u[3, 2, 0] = 100.0  # only sequence 2, at step 3, overflows in b1
    with pytest.raises(NonFiniteError, match=r"signal 'b1\.y' \(Gain\) became non-finite at step 3, sequence 2, "
                                             r"element 0 \(value inf\).*\(t = 0\.3 s\)"):
        d.simulate({"u": u}, Ts=0.1, backend="interpreter")


def test_a_matrix_gain_on_a_large_batch_is_checked_though_blas_threads_raise_no_flag():
    K = np.full((3, 2), 100.0)
    d = _chain(Gain(K), Tanh(), size=2)
    u = np.ones((2, 4096, 2))
    u[1, -1, :] = 1e307
    with pytest.raises(NonFiniteError, match=r"signal 'b0\.y' \(Gain\) became non-finite at step 1, sequence 4095"):
        d.simulate({"u": u}, backend="interpreter")


class _Where(Block):
    """A user block that makes an inf without any floating-point flag (no arithmetic)."""

    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def output(self, u, x):
        return (np.where(u[0] > 2.0, np.inf, u[0]),)


class _NaiveSigmoid(_Where):
    """1 / (1 + exp(−u)): exp overflows for u = −1000 (a flag) but the result, 0, is finite."""

    def output(self, u, x):
        return (1.0 / (1.0 + np.exp(-u[0])),)


def test_a_user_block_is_checked_explicitly_and_an_intermediate_overflow_is_not_an_error():
    with pytest.raises(NonFiniteError, match=r"signal 'b0\.y' \(_Where\) became non-finite at step 2"):
        _chain(_Where(), Tanh()).simulate({"u": [[1.0], [2.0], [3.0]]}, backend="interpreter")
    y = _chain(_NaiveSigmoid()).simulate({"u": [[-1000.0], [0.0]]}, backend="interpreter")["y"]
    assert y.ravel().tolist() == [0.0, 0.5]


def test_a_state_that_overflows_is_reported_at_the_sum_that_feeds_it():
    d = accumulator()  # y[k] = u[k] + y[k−1]
    u = np.full((4, 1), 1e308)
    with pytest.raises(NonFiniteError, match=r"signal 's\.y' \(Sum\) became non-finite at step 1"):
        d.simulate({"u": u}, backend="interpreter")


# -- float32 casts ------------------------------------------------------------------------------------
def test_a_parameter_that_overflows_float32_says_so():
    with pytest.raises(NonFiniteError, match=r"block 'b0' \(Gain\) parameter 'K' = 1e\+300 at index \(\) overflows "
                                             r"float32 \(largest 3\.40282e\+38\)"):
        _chain(Gain(1e300)).compile(dtype="float32")


def test_an_input_and_an_initial_state_that_overflow_float32_say_so():
    program = accumulator().compile(dtype="float32")
    with pytest.raises(NonFiniteError, match=r"input 'u' at step 1: 1e\+39 overflows float32"):
        program.simulate({"u": [[1.0], [1e39]]}, backend="interpreter")
    with pytest.raises(NonFiniteError, match=r"initial state of 'z': 1e\+40 overflows float32"):
        program.simulate({"u": [[1.0]]}, initial_states={"z": [1e40]}, backend="interpreter")


def test_a_sample_time_that_overflows_the_time_vector_is_refused():
    with pytest.raises(SimulationError, match=r"Ts: 1e\+308 s × 2 steps overflows the time vector"):
        accumulator().simulate({"u": np.ones((3, 1))}, Ts=1e308, backend="interpreter")
    assert accumulator().simulate({"u": np.ones((2, 1))}, Ts=1e308, backend="interpreter").t.tolist() == [0, 1e308]


# -- sizes ------------------------------------------------------------------------------------------------
def test_a_mux_infers_its_one_missing_input_from_its_output():
    d = Diagram("mux")
    d.add("a", Inport(2)); d.add("b", Inport()); d.add("m", Mux(2)); d.add("k", Gain(np.ones((1, 5))))
    d.add("y", Outport())
    d.connect("a", "m.u1"); d.connect("b", "m.u2"); d.chain("m", "k", "y")
    program = d.compile()
    assert program.size("b", "y") == 3
    y = program.simulate({"a": np.ones((1, 2)), "b": np.full((1, 3), 2.0)}, backend="interpreter")["y"]
    assert y.tolist() == [[8.0]]


def test_a_mux_that_cannot_fit_its_output_names_itself():
    d = Diagram("mux")
    d.add("a", Inport(5)); d.add("b", Inport()); d.add("m", Mux(2)); d.add("k", Gain(np.ones((1, 5))))
    d.add("y", Outport())
    d.connect("a", "m.u1"); d.connect("b", "m.u2"); d.chain("m", "k", "y")
    with pytest.raises(SizeMismatchError, match=r"block 'm' \(Mux\): output y has size 5 but the other inputs "
                                                r"already sum to 5, leaving nothing for u2"):
        d.compile()


def test_a_size_conflict_names_the_block_whose_parameter_caused_it():
    ss = state_space_diagram(([[0.9, 0.1], [0.0, 0.8]], [[1.0], [0.5]], [[1.0, 0.0]], [[0.0]]))
    ss.graph.nodes["B"]["block"] = Gain(3.0)  # was (2, 1): now a scalar, so x_next.u2 gets u's size 1
    with pytest.raises(SizeMismatchError, match=r"block 'x_next' \(Sum\): inputs must all have the same size, but "
                                                r"u1 has size 2, u2 has size 1 \(u1 from 'A\.y'; u2 from 'B\.y', "
                                                r"size fixed by 'u'\)"):
        ss.compile()


def test_a_wire_conflict_names_both_blocks_that_fixed_the_sizes():
    d = _chain(Gain(2.0), Gain(np.ones((2, 3))), size=4)
    with pytest.raises(SizeMismatchError, match=r"wire 'b0\.y' → 'b1\.u': the source has size 4 \(fixed by block "
                                                r"'u'\) but the destination expects size 3"):
        d.compile()


# -- item 6, one by one ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: UnitDelay(x0=[]), "UnitDelay x0: expected at least one element, got an empty array"),
    (lambda: Demux([1, 1], names=[1, 2]), "Demux names: element 0: expected a non-empty string without "
                                          "'.', '/' or surrounding spaces, got 1 (int)"),
    (lambda: Demux("3333"), "Demux sizes: expected a list of integers, got '3333' (str)"),
    (lambda: Demux([2, 2], names="ab"), "Demux names: expected a list of 2 port names, got 'ab' (str)"),
    (lambda: Mux(True), "Mux n_inputs: expected an integer from 1 to 10000, got True (bool)"),
    (lambda: Inport(3.7), "Inport size: expected an integer from 1 to 100000000, got 3.7 (float)"),
    (lambda: Gain("0.5"), "Gain K: expected a number, a list of numbers or an array, got '0.5' (str)"),
    (lambda: Gain(None), "Gain K: expected a number, a list of numbers or an array, got None (NoneType)"),
    (lambda: Gain([1.0, True]), "Gain K: element [1] expected a number, got True (bool)"),
    (lambda: Sum("+" * 10_001), "Sum signs: expected a string of 1 to 10000 '+' and '-'"),
    (lambda: lstm_layer({"W": 1}), "lstm_layer weights: expected a LayerWeights, got dict"),
])
def test_smaller_items_are_refused_by_name(make, message):
    with pytest.raises(ParameterError) as err:
        make()
    assert str(err.value).startswith(message)


def test_probes_must_be_a_list_of_strings():
    program = accumulator().compile()
    with pytest.raises(SimulationError, match="probes: expected a list of 'block.port' strings, got int"):
        program.simulate({"u": np.ones((2, 1))}, probes=5, backend="interpreter")


def test_from_torch_names_a_batch_of_initial_states():
    torch = pytest.importorskip("torch")
    from blockloop.interop.torch import from_torch

    lstm = torch.nn.LSTM(2, 3, num_layers=2, dtype=torch.float64)
    with pytest.raises(ParameterError, match=r"from_torch h0: a batch of 4 initial states \(2, 4, 3\) \(L, B, Nn\) "
                                             r"has no place in the weights"):
        from_torch(lstm, h0=np.zeros((2, 4, 3)))
    w = from_torch(lstm, h0=np.arange(6.0).reshape(2, 1, 3))
    assert w.layers[1].h0.tolist() == [3.0, 4.0, 5.0]


def test_layer_weights_refuse_strings_and_booleans():
    with pytest.raises(ParameterError, match=r"W: element \[0\] expected a number, got '1' \(str\)"):
        LayerWeights(W=["1"] * 4, R=np.zeros((4, 1)), b=np.zeros(4))
