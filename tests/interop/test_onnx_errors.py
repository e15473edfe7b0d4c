"""Malformed or unsupported ONNX files: every one is a ModelFileError that names the node and says why.

Each case starts from a valid one-layer LSTM model (which imports, checked first) and breaks one thing.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from blockloop.errors import BlockloopError, ModelFileError  # noqa: E402
from blockloop.interop.onnx import from_onnx, load_onnx, read_model  # noqa: E402

H, NI = 3, 2


def build(lstm_attrs=None, lstm_inputs=None, extra_nodes=(), head=None, inits=None, inputs=None, outputs=None,
          w_shape=(1, 4 * H, NI), op="LSTM"):
    """x [T, B, 2] → LSTM (hidden 3) → Squeeze → MatMul → y, with hooks to break each part."""
    rng = np.random.default_rng(0)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    w_shape = (1, gates * H, NI) if op != "LSTM" else w_shape
    tensors = {"W": rng.uniform(-1, 1, w_shape), "R": rng.uniform(-1, 1, (1, gates * H, H)),
               "B": rng.uniform(-1, 1, (1, 2 * gates * H)), "Ft": rng.uniform(-1, 1, (H, 2))}
    tensors.update(inits or {})
    initializers = [numpy_helper.from_array(np.asarray(v, dtype=np.float32 if np.asarray(v).dtype.kind == "f"
                                                       else np.asarray(v).dtype), k) for k, v in tensors.items()]
    initializers.append(numpy_helper.from_array(np.array([1], np.int64), "ax1"))
    nodes = [helper.make_node(op, lstm_inputs or ["x", "W", "R", "B"], ["Y"], name="lstm1",
                              **{"hidden_size": H, **(lstm_attrs or {})}),
             helper.make_node("Squeeze", ["Y", "ax1"], ["h"], name="squeeze1"),
             *extra_nodes,
             *(head or [helper.make_node("MatMul", ["h", "Ft"], ["y"], name="fc")])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "B", NI])
    graph = helper.make_graph(nodes, "g", inputs or [x],
                              outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", "B", 2])],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_the_base_model_imports():
    net = load_onnx(build())
    assert net.weights is not None and net.weights.layers[0].nn == H


def error_of(model) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load_onnx(model)
    assert isinstance(info.value, BlockloopError) and isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("data, words", [
    (b"this is a text file, not an ONNX model\n" * 3, "not an ONNX model"),
    (b"", "not an ONNX model"),
    (bytes(range(256)) * 4, "not an ONNX model"),
])
def test_not_onnx(data, words):
    assert words in str(error_of(data))


def test_missing_file_and_wrong_argument_type(tmp_path):
    err = error_of(str(tmp_path / "nope.onnx"))
    assert "no such file" in str(err) and err.path.endswith("nope.onnx")
    from blockloop.errors import ParameterError

    with pytest.raises(ParameterError, match="file path, bytes or an onnx.ModelProto"):
        read_model(12)


def test_file_path_is_named(tmp_path):
    path = tmp_path / "bidi.onnx"
    path.write_bytes(build(lstm_attrs={"direction": "bidirectional"}, w_shape=(2, 4 * H, NI),
                           inits={"R": np.zeros((2, 4 * H, H)), "B": np.zeros((2, 8 * H))}).SerializeToString())
    err = error_of(str(path))
    assert err.path == str(path) and str(path) in str(err) and "'lstm1' (LSTM)" in str(err)


@pytest.mark.parametrize("kwargs, node, words", [
    ({"lstm_attrs": {"direction": "bidirectional"}, "w_shape": (2, 4 * H, NI),
      "inits": {"R": np.zeros((2, 4 * H, H)), "B": np.zeros((2, 8 * H))}}, "lstm1",
     "bidirectional LSTM is not supported yet"),
    ({"lstm_attrs": {"direction": "reverse"}}, "lstm1", "direction='reverse' is not supported yet"),
    ({"op": "GRU", "lstm_attrs": {"direction": "bidirectional"}}, "lstm1", "bidirectional GRU is not supported yet"),
    ({"w_shape": (1, 4 * H + 1, NI)}, "lstm1", "LSTM W of shape [1, 13, 2]"),
    ({"w_shape": (1, 4 * H, NI + 1)}, "lstm1", "the weights expect 3"),
    ({"inits": {"R": np.zeros((1, 4 * H, H + 1))}}, "lstm1", "LSTM R of shape"),
    ({"inits": {"B": np.zeros((1, 4 * H))}}, "lstm1", "LSTM B of shape [1, 12]"),
    ({"lstm_attrs": {"hidden_size": 5}}, "lstm1", "hidden_size 5 but W holds 3 units"),
    ({"lstm_attrs": {"activations": ["HardSigmoid", "Tanh", "Tanh"]}}, "lstm1", "activations ['HardSigmoid'"),
    ({"lstm_attrs": {"clip": 3.0}}, "lstm1", "'clip' is not supported"),
    ({"lstm_attrs": {"input_forget": 1}}, "lstm1", "input_forget = 1"),
    ({"op": "RNN", "lstm_attrs": {"activations": ["Relu"]}}, "lstm1", "RNN activations ['Relu']"),
    ({"inits": {"W": np.full((1, 4 * H, NI), np.nan)}}, "lstm1", "NaN or infinity"),
    ({"inits": {"lens": np.array([3, 4], np.int32)}, "lstm_inputs": ["x", "W", "R", "B", "lens"]}, "lstm1",
     "sequence_lens"),
    ({"inits": {"h0": np.arange(2 * H, dtype=float).reshape(1, 2, H)}, "lstm_inputs": ["x", "W", "R", "B", "", "h0"],
      "inputs": [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 2, NI])]}, "lstm1",
     "differs between batch rows"),
    ({"inits": {"h0": np.zeros((1, 2, H))}, "lstm_inputs": ["x", "W", "R", "B", "", "h0"]}, "lstm1",
     "initial_h of shape [1, 2, 3]: expected num_directions 1, batch"),
    ({"head": [helper.make_node("Relu", ["h"], ["r"], name="relu"), helper.make_node("MatMul", ["r", "Ft"], ["y"])]},
     "relu", "operator 'Relu' is not supported"),
    ({"head": [helper.make_node("Add", ["h", "h"], ["r"], name="residual"),
               helper.make_node("MatMul", ["r", "Ft"], ["y"])]}, "residual", "two data values"),
    ({"head": [helper.make_node("MatMul", ["h", "Ft"], ["z"], name="fc"),
               helper.make_node("Add", ["z", "rowbias"], ["y"], name="bad_bias")],
      "inits": {"rowbias": np.ones((5, 1, 1))}}, "bad_bias", "only a bias along the feature axis"),
    # [T, B, H] reshaped (not transposed) to [B, T, H]: the data would be scrambled
    ({"head": [helper.make_node("Shape", ["h"], ["hs"], name="hs"),
               helper.make_node("Gather", ["hs", "swap"], ["bt"], name="bt"),
               helper.make_node("Concat", ["bt", "three"], ["target"], name="target", axis=0),
               helper.make_node("Reshape", ["h", "target"], ["r"], name="mix"),
               helper.make_node("MatMul", ["r", "Ft"], ["y"])],
      "inits": {"swap": np.array([1, 0], np.int64), "three": np.array([H], np.int64)}}, "mix", "mixes its axes"),
    ({"head": [helper.make_node("Transpose", ["h"], ["r"], name="swap", perm=[0, 2, 1]),
               helper.make_node("MatMul", ["r", "Ft"], ["y"], name="fc")]}, "fc",
     "is its batch axis, not its features"),
    ({"extra_nodes": [helper.make_node("Shape", ["x"], ["s"], name="shape"),
                      helper.make_node("ConstantOfShape", ["big"], ["huge"], name="bomb"),
                      helper.make_node("ReduceSum", ["huge"], ["total"], name="sum")],
      "head": [helper.make_node("MatMul", ["h", "Ft"], ["z"], name="fc"),
               helper.make_node("Add", ["z", "total"], ["y"], name="add")],
      "inits": {"big": np.array([100000, 100000, 100], np.int64)}}, "bomb", "elements (limit"),
])
def test_unsupported_or_broken_nodes_are_named(kwargs, node, words):
    err = error_of(build(**kwargs))
    assert f"'{node}'" in str(err) and err.node and node in err.node, str(err)
    assert words in str(err), str(err)


def test_custom_domain_operator():
    model = build(head=[helper.make_node("MatMul", ["h", "Ft"], ["z"], name="fc"),
                        helper.make_node("FusedThing", ["z"], ["y"], name="custom", domain="com.example")])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    err = error_of(model)
    assert "'custom'" in str(err) and "domain 'com.example'" in str(err)


def test_missing_initializer_is_caught_by_the_checker_or_the_importer():
    model = build(lstm_inputs=["x", "W_missing", "R", "B"])
    err = error_of(model)
    assert "W_missing" in str(err) and "lstm1" in str(err)


def test_graph_level_problems():
    two_inputs = build(lstm_inputs=["x", "W", "R", "B", "", "h0"],
                       inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "B", NI]),
                               helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, "B", H])])
    assert "exactly one data input" in str(error_of(two_inputs)) and "'h0'" in str(error_of(two_inputs))
    ints = build(inputs=[helper.make_tensor_value_info("x", TensorProto.INT64, ["T", "B", NI])])
    assert "float or double" in str(error_of(ints))
    const_out = build(head=[helper.make_node("MatMul", ["h", "Ft"], ["z"], name="fc"),
                            helper.make_node("Identity", ["Ft"], ["y"], name="just_weights")],
                      outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [H, 2])])
    assert "does not depend on the input" in str(error_of(const_out))


def test_external_data_is_never_opened(tmp_path):
    model = build()
    w = next(t for t in model.graph.initializer if t.name == "W")
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    err = error_of(model.SerializeToString())
    assert "external file" in str(err) and "'W'" in str(err)


def test_from_onnx_refuses_what_has_no_network_weights():
    model = build(head=[helper.make_node("MatMul", ["h", "Ft"], ["z"], name="fc"),
                        helper.make_node("Sigmoid", ["z"], ["y"], name="act")])
    assert load_onnx(model).diagram() is not None          # imports as a diagram …
    with pytest.raises(ModelFileError, match="no NetworkWeights"):
        from_onnx(model)                                    # … but has no NetworkWeights


def test_corrupted_files_only_ever_give_model_file_errors():
    """400 seeded corruptions of a valid file (bytes flipped, truncated, spliced): a typed error or a clean import."""
    data = bytearray(build().SerializeToString())
    rng = np.random.default_rng(13)
    outcomes = {"imported": 0, "refused": 0}
    for case in range(400):
        bad = bytearray(data)
        kind = case % 3
        if kind == 0:
            for pos in rng.integers(0, len(bad), size=rng.integers(1, 6)):
                bad[pos] = int(rng.integers(0, 256))
        elif kind == 1:
            bad = bad[:int(rng.integers(0, len(bad)))]
        else:
            a, b = sorted(rng.integers(0, len(bad), size=2))
            bad = bad[:a] + bad[b:] + bad[a:b]
        try:
            load_onnx(bytes(bad))
            outcomes["imported"] += 1
        except ModelFileError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100, outcomes  # the corruptions were real
