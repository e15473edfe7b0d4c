"""ONNX models → blockloop diagrams, checked against onnxruntime (float32) and onnx.reference (float64).

Every numeric check runs the model file in an independent runtime — onnxruntime called directly
here, with the input transposed by hand into the model's layout, or PyTorch on the module the file
was exported from — never against blockloop's own ONNX runner. Models are exported from PyTorch
(both exporters) or written with ``onnx.helper`` to cover what exporters rarely write (layout 1,
peepholes, ONNX's default GRU, a last-step output, a Gemm head).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from blockloop.diagrams import GRUNetworkWeights, NetworkWeights, RNNNetworkWeights  # noqa: E402
from blockloop.interop.onnx import crosscheck_onnx, from_onnx, load_onnx, onnx_forward, to_onnx  # noqa: E402

DATA = Path(__file__).parent / "data"
F32_TOL = 5e-6
F64_TOL = 1e-12


# ----------------------------------------------------------------------------------------- helpers
def ort_run(model, x: np.ndarray) -> np.ndarray:
    """Run ``model`` (ModelProto or bytes) in onnxruntime on its one input; return the first output."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]


def ref_run(model, x: np.ndarray) -> np.ndarray:
    """onnx's reference (numpy) evaluator in float64 on a model whose tensors are float64."""
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0]


def simulate(net, u_tbf: np.ndarray, dtype: str) -> np.ndarray:
    """The imported diagram on u (T, B, Ni) in ``dtype``; y (T, B, No)."""
    return net.diagram().compile(dtype=dtype).simulate({"u": u_tbf})["y"]


def recurrent_model(op="LSTM", ni=3, H=4, layers=1, no=2, layout=0, head="matmul", peepholes=False, lbr=0,
                    states=True, dtype=np.float32, seed=0, attrs=None, out="Y"):
    """A forward LSTM/GRU/RNN stack written with onnx.helper; input x [T, B, Ni] (layout 0) or [B, T, Ni]."""
    rng = np.random.default_rng(seed)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def ints(name, values):
        inits.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    x, n_in = "x", ni
    for k in range(layers):
        ins = [x, init(f"W{k}", rng.uniform(-1, 1, (1, gates * H, n_in))),
               init(f"R{k}", rng.uniform(-1, 1, (1, gates * H, H))),
               init(f"B{k}", rng.uniform(-1, 1, (1, 2 * gates * H)))]
        if states:  # [num_directions, batch, H] (layout 0) or [batch, num_directions, H], expanded from Shape(x)
            if k == 0:
                nodes.append(helper.make_node("Shape", ["x"], ["batch"], start=1 - layout, end=2 - layout))
                ints("one", [1])
                ints("H", [H])
                parts = ["one", "batch", "H"] if layout == 0 else ["batch", "one", "H"]
                nodes.append(helper.make_node("Concat", parts, ["state_shape"], axis=0))
            ins.append("")
            for name in ["h0", "c0"][:2 if op == "LSTM" else 1]:
                nodes.append(helper.make_node("Expand", [init(f"{name}_{k}", rng.uniform(-1, 1, (1, 1, H))),
                                                         "state_shape"], [f"{name}_{k}_b"]))
                ins.append(f"{name}_{k}_b")
        if peepholes:
            ins += [""] * (7 - len(ins)) + [init(f"P{k}", rng.uniform(-1, 1, (1, 3 * H)))]
        extra = {"linear_before_reset": lbr} if op == "GRU" else {}
        extra.update(attrs or {})
        last_h = k == layers - 1 and out == "Y_h"
        outs = ["", f"Y{k}"] if last_h else [f"Y{k}"]
        nodes.append(helper.make_node(op, ins, outs, name=f"{op.lower()}{k}", hidden_size=H, layout=layout, **extra))
        # Y: [T, 1, B, H] / [B, T, 1, H]; Y_h: [1, B, H] / [B, 1, H] — squeeze the direction axis
        axis = (0 if layout == 0 else 1) if last_h else (1 if layout == 0 else 2)
        nodes.append(helper.make_node("Squeeze", [f"Y{k}", ints(f"ax{k}", [axis])], [f"h{k}"], name=f"squeeze{k}"))
        x, n_in = f"h{k}", H
    F = rng.uniform(-1, 1, (no, H))
    bias = rng.uniform(-1, 1, no)
    if head == "matmul":
        nodes += [helper.make_node("MatMul", [x, init("Ft", F.T)], ["Fh"], name="fc"),
                  helper.make_node("Add", [init("Fb", bias), "Fh"], ["y"], name="fc_bias")]
    elif head == "gemm":  # rank-2 data only: the Y_h case
        nodes.append(helper.make_node("Gemm", [x, init("F", F), init("Fb", bias)], ["y"], name="fc", transB=1,
                                      alpha=0.5))
    elif head in ("flat_gemm", "flat_gemm_back"):  # [T, B, H] → [T·B, H] → Gemm (→ [T, B, No])
        nodes += [helper.make_node("Reshape", [x, ints("flat", [-1, H])], ["flat_h"], name="flatten"),
                  helper.make_node("Gemm", ["flat_h", init("F", F), init("Fb", bias)],
                                   ["y" if head == "flat_gemm" else "flat_y"], name="fc", transB=1)]
        if head == "flat_gemm_back":
            nodes += [helper.make_node("Shape", [x], ["tb"], name="tb", end=2),
                      helper.make_node("Concat", ["tb", ints("no", [no])], ["back"], name="back", axis=0),
                      helper.make_node("Reshape", ["flat_y", "back"], ["y"], name="unflatten")]
    elif head == "tanh":
        nodes += [helper.make_node("MatMul", [x, init("F1", rng.uniform(-1, 1, (H, 5)))], ["z1"], name="fc1"),
                  helper.make_node("Sub", ["z1", init("b1", rng.uniform(-1, 1, 5))], ["z2"], name="fc1_bias"),
                  helper.make_node("Tanh", ["z2"], ["z3"], name="act"),
                  helper.make_node("Mul", ["z3", init("g", rng.uniform(-1, 1, 5))], ["z4"], name="scale"),
                  helper.make_node("MatMul", ["z4", init("F2", rng.uniform(-1, 1, (5, no)))], ["y"], name="fc2")]
    in_shape = ["T", "B", ni] if layout == 0 else ["B", "T", ni]
    out_rank = 2 if out == "Y_h" or head == "flat_gemm" else 3
    graph = helper.make_graph(nodes, "rec", [helper.make_tensor_value_info("x", elem, in_shape)],
                              [helper.make_tensor_value_info("y", elem, [None] * out_rank)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def to_model_layout(u_tbf, layout):
    return u_tbf if layout == 0 else np.swapaxes(u_tbf, 0, 1)


# ------------------------------------------------------------------------ exported from PyTorch
def torch_net(cell: str, ni=3, nn=4, no=2, layers=2, seed=0):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, cell)(ni, nn, num_layers=layers, batch_first=True)
            self.fc = torch.nn.Linear(nn, no)

        def forward(self, x):
            return self.fc(self.rnn(x)[0])

    return Net().eval()


def export_legacy(module, ni=3) -> bytes:
    torch = pytest.importorskip("torch")
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 5, ni),), f, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 1: "time"}})
    return f.getvalue()


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "RNN"])
def test_torch_legacy_export_imports_exactly_and_agrees_with_onnxruntime_and_torch(cell):
    torch = pytest.importorskip("torch")
    module = torch_net(cell)
    data = export_legacy(module)
    # the weights are PyTorch's, bit for bit (ONNX's gate order i,o,f,c / z,r,h undone)
    if cell == "LSTM":
        from blockloop.interop.torch import from_torch
    else:
        from blockloop.interop.torch_rnn import from_torch
    expected = from_torch(module.rnn, module.fc)
    got = from_onnx(data)
    assert type(got) is {"LSTM": NetworkWeights, "GRU": GRUNetworkWeights, "RNN": RNNNetworkWeights}[cell]
    for a, b in zip(got.layers, expected.layers, strict=True):
        for key in vars(b):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    np.testing.assert_array_equal(got.F, expected.F)
    np.testing.assert_array_equal(got.F_bias, expected.F_bias)

    net = load_onnx(data)
    u = np.random.default_rng(1).standard_normal((30, 3, 3))                  # (T, B, Ni)
    y_ort = np.swapaxes(ort_run(data, np.swapaxes(u, 0, 1)), 0, 1)             # the file is batch-first
    assert np.abs(simulate(net, u, "float32") - y_ort).max() <= F32_TOL
    with torch.no_grad():
        y_torch = module.double()(torch.from_numpy(np.swapaxes(u, 0, 1))).numpy()
    assert np.abs(simulate(net, u, "float64") - np.swapaxes(y_torch, 0, 1)).max() <= F64_TOL


def test_torch_legacy_export_with_static_shapes():
    """Without dynamic axes the legacy exporter fixes batch 2 and T = 5 and builds the zero states with
    Shape/Gather/Unsqueeze/Concat/Expand; the diagram runs any length, the file only its own."""
    torch = pytest.importorskip("torch")
    module = torch_net("LSTM", seed=3)
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 5, 3),), f, dynamo=False)
    model = onnx.load_model_from_string(f.getvalue())
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Expand"} <= {n.op_type for n in model.graph.node}
    net = load_onnx(model)
    assert net.input_shape == (2, 5, 3) and net.input_roles == ("batch", "time", "feature")
    u = np.random.default_rng(1).standard_normal((5, 2, 3))
    y_ort = np.swapaxes(ort_run(model, np.swapaxes(u, 0, 1)), 0, 1)
    assert np.abs(simulate(net, u, "float32") - y_ort).max() <= F32_TOL
    from blockloop.errors import ParameterError

    with pytest.raises(ParameterError, match="exactly 5 steps"):
        onnx_forward(net, np.zeros((7, 2, 3)))


def test_torch_dynamo_export_fixture_with_shape_subgraphs():
    """The default (torch.export) exporter's file: Shape/Slice/Mul/Concat/Reshape build the layer-2 input and
    Expand/Slice the zero states; they are evaluated, not special-cased.

    Written by torch 2.13.0 + onnxscript 0.7.2: ``torch.manual_seed(13)``, ``nn.LSTM(3, 4, num_layers=2,
    batch_first=True)`` → ``nn.Linear(4, 2)``, ``torch.onnx.export(net, (torch.randn(2, 5, 3),), dynamo=True,
    dynamic_shapes=({0: Dim("batch"), 1: Dim("time")},), input_names=["x"], output_names=["y"]).save(...)``
    (``test_torch_dynamo_export_live`` does the same export live, with --run-slow)."""
    path = DATA / "torch_dynamo_lstm2.onnx"
    model = onnx.load(str(path), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    assert {"Shape", "Slice", "Mul", "Concat", "Reshape", "Expand", "LSTM", "MatMul", "Add"} <= ops
    net = load_onnx(path)
    assert net.input_roles == ("batch", "time", "feature") and [type(s).__name__ for s in net.stages] == \
        ["LstmStage", "LstmStage", "GainStage", "BiasStage"]
    u = np.random.default_rng(2).standard_normal((40, 4, 3))
    y_ort = np.swapaxes(ort_run(model, np.swapaxes(u, 0, 1)), 0, 1)
    err = np.abs(simulate(net, u, "float32") - y_ort).max()
    assert err <= F32_TOL, err


@pytest.mark.slow
def test_torch_dynamo_export_live():
    """torch.onnx.export(dynamo=True) of a 2-layer nn.LSTM + nn.Linear, against torch in float64 (~15–30 s)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    module = torch_net("LSTM", seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (torch.randn(2, 5, 3),), dynamo=True,
                                    dynamic_shapes=({0: torch.export.Dim("batch"), 1: torch.export.Dim("time")},))
    data = program.model_proto.SerializeToString()  # now: the program's tensors alias the module's parameters
    net = load_onnx(data)
    u = np.random.default_rng(3).standard_normal((25, 2, 3))
    with torch.no_grad():
        y_torch = module.double()(torch.from_numpy(np.swapaxes(u, 0, 1))).numpy()
    assert np.abs(simulate(net, u, "float64") - np.swapaxes(y_torch, 0, 1)).max() <= F64_TOL
    y_ort = np.swapaxes(ort_run(data, np.swapaxes(u, 0, 1)), 0, 1)
    assert np.abs(simulate(net, u, "float32") - y_ort).max() <= F32_TOL


# ----------------------------------------------------------------------- written with onnx.helper
@pytest.mark.parametrize("op, kwargs", [
    ("LSTM", {"layout": 0, "layers": 2}),
    ("LSTM", {"layout": 1, "layers": 2}),
    ("LSTM", {"peepholes": True, "layers": 2}),
    ("LSTM", {"head": "tanh"}),
    ("LSTM", {"attrs": {"activations": ["sigmoid", "tanh", "tanh"]}}),  # the defaults, spelled out (any case)
    ("GRU", {"lbr": 0, "layers": 2}),           # ONNX's default GRU: reset before R_n
    ("GRU", {"lbr": 1, "layout": 1}),
    ("RNN", {"layers": 2}),
])
def test_handwritten_models_agree_with_onnxruntime(op, kwargs):
    model = recurrent_model(op, **kwargs)
    net = load_onnx(model)
    layout = kwargs.get("layout", 0)
    u = np.random.default_rng(4).standard_normal((30, 3, 3))
    if layout == 0:
        y32 = ort_run(model, u)
    else:  # onnxruntime's CPU kernels refuse layout 1 ("Batchwise recurrent operations … are not supported")
        with pytest.raises(Exception, match="layout"):
            ort_run(model, to_model_layout(u, layout))
        y32 = to_model_layout(ref_run(model, to_model_layout(u, layout).astype(np.float32)), layout)
    err = np.abs(simulate(net, u, "float32") - y32).max()
    assert err <= F32_TOL, err
    # float64: the same graph in double, run by onnx's reference evaluator
    model64 = recurrent_model(op, dtype=np.float64, **kwargs)
    y_ref = to_model_layout(ref_run(model64, to_model_layout(u, layout)), layout)
    err64 = np.abs(simulate(load_onnx(model64), u, "float64") - y_ref).max()
    assert err64 <= F64_TOL, err64


def test_peepholes_and_onnx_gru_change_the_diagram():
    peep = load_onnx(recurrent_model("LSTM", peepholes=True))
    assert peep.weights is None and "p_o" in peep.diagram().graph.nodes["lstm1"]["block"].graph.nodes
    gru0 = load_onnx(recurrent_model("GRU", lbr=0))
    assert gru0.weights is None and "R_n" in gru0.diagram().graph.nodes["gru1"]["block"].graph.nodes
    # without them the diagrams differ: the check above would fail if P or linear_before_reset were dropped
    plain = load_onnx(recurrent_model("LSTM", peepholes=False))
    assert plain.weights is not None


@pytest.mark.parametrize("layout", [0, 1])
def test_last_step_output_with_gemm_head(layout):
    """Y_h → Squeeze → Gemm(transB=1, alpha=0.5) + C: the model's output is the diagram's y at the last step."""
    model = recurrent_model("LSTM", layout=layout, layers=2, out="Y_h", head="gemm")
    net = load_onnx(model)
    assert net.last_step
    u = np.random.default_rng(5).standard_normal((20, 4, 3))
    run = ort_run if layout == 0 else (lambda m, x: ref_run(m, x.astype(np.float32)))  # see above for layout 1
    y_ort = run(model, to_model_layout(u, layout))                          # (B, No)
    assert y_ort.shape == (4, 2)
    err = np.abs(simulate(net, u, "float32")[-1] - y_ort).max()
    assert err <= F32_TOL, err


def test_time_and_batch_merged_for_a_gemm_head():
    """Reshape [T, B, H] → [T·B, H], Gemm, and optionally back to [T, B, No]: merged axes are followed."""
    u = np.random.default_rng(9).standard_normal((12, 5, 3))
    for head in ("flat_gemm_back", "flat_gemm"):
        model = recurrent_model("LSTM", layers=2, head=head)
        net = load_onnx(model)
        y_ort = ort_run(model, u).reshape(12, 5, 2)             # row-major: [T·B, No] is T blocks of B rows
        assert np.abs(simulate(net, u, "float32") - y_ort).max() <= F32_TOL
        np.testing.assert_allclose(onnx_forward(net, u), y_ort, rtol=0, atol=1e-6)


def test_blockloop_runner_matches_the_direct_runs():
    """onnx_forward and crosscheck_onnx transpose into and out of the model's layout like the tests do by hand."""
    # batch-first input (layout 0 LSTM behind a Transpose, as PyTorch writes it)
    model = onnx.load_model_from_string(export_legacy(torch_net("LSTM", seed=6)))
    u = np.random.default_rng(6).standard_normal((15, 2, 3))
    y_ort = np.swapaxes(ort_run(model, np.swapaxes(u, 0, 1)), 0, 1)
    np.testing.assert_allclose(onnx_forward(model, u), y_ort, rtol=0, atol=1e-6)
    np.testing.assert_allclose(onnx_forward(model, u[:, 0, :]), y_ort[:, 0, :], rtol=0, atol=1e-6)
    rep = crosscheck_onnx(model, u)
    assert rep.ok and rep.comparisons["float64"].norm <= F64_TOL and rep.comparisons["float32"].norm <= F32_TOL


# ----------------------------------------------------------------------------------------- export
def test_export_runs_in_onnxruntime_like_pytorch():
    """to_onnx → onnxruntime against nn.LSTM + nn.Linear (PyTorch, not blockloop), nonzero h0/c0, 2 layers."""
    pytest.importorskip("torch")
    from blockloop.interop.torch import torch_forward

    w = NetworkWeights.random(ni=4, nn=3, no=2, n_layers=2)
    w = NetworkWeights(layers=w.layers, F=w.F, F_bias=np.array([0.5, -0.25]))
    u = np.random.default_rng(7).standard_normal((51, 3, 4))
    y_ort = ort_run(to_onnx(w), u)
    assert np.abs(y_ort - torch_forward(w, u, "float32")).max() <= F32_TOL


def test_export_import_round_trip_is_exact_in_float64():
    w = NetworkWeights.random(ni=2, nn=5, no=3, n_layers=3, seed=4)
    model = to_onnx(w, dtype="float64")
    back = from_onnx(model)
    for a, b in zip(back.layers, w.layers, strict=True):
        for key in ("W", "R", "b", "h0", "c0"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    np.testing.assert_array_equal(back.F, w.F)
    u = np.random.default_rng(8).standard_normal((20, 2, 2))
    from blockloop.diagrams import lstm_network

    y = lstm_network(w).simulate({"u": u})["y"]
    assert np.abs(ref_run(model, u) - y).max() <= F64_TOL


def test_crosscheck_onnx_reports_all_three_comparisons():
    rep = crosscheck_onnx(NetworkWeights.random(4, 3, 2), np.random.default_rng(0).standard_normal((51, 4)))
    d = rep.as_dict()
    assert set(d) >= {"float64", "float32", "reference_setup"} and d["ok"]
    assert 1e-9 < d["float32"]["norm"] <= F32_TOL and d["float64"]["norm"] <= F64_TOL
