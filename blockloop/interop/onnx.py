"""ONNX interop: ONNX model files ⇄ blockloop diagrams, and the diagram-versus-onnxruntime cross-check.

Needs the ``onnx`` extra (``pip install 'blockloop[onnx]'``: onnx and onnxruntime), imported inside the
functions, so ``import blockloop`` never pulls them in. ONNX is the exchange format of PyTorch
(``torch.onnx.export``), MATLAB (``exportONNXNetwork``) and Keras/TensorFlow (tf2onnx), so a file
from any of them can be drawn and checked here.

**ONNX's LSTM layout** (operator ``LSTM``, opsets 7–22): per layer, ``W`` [1, 4·H, I], ``R``
[1, 4·H, H], ``B`` [1, 8·H] = [Wb, Rb], optional peepholes ``P`` [1, 3·H] (i, o, f), optional
``initial_h``/``initial_c`` [1, batch, H]. Gate blocks are stacked **i, o, f, c**; blockloop stacks
i, f, g(=c), o (PyTorch's order), so import takes ONNX blocks [0, 2, 3, 1] and the bias is
Wb + Rb. ``layout`` 0 is X [T, batch, I] → Y [T, 1, batch, H]; 1 is X [batch, T, I] →
Y [batch, T, 1, H]. ``Y_h`` (the last hidden state) is followed too: a model whose output is
computed from it gives the diagram's output at the last step.

What imports: any number of forward LSTM layers (with or without peepholes), then a head of
MatMul/Gemm/Add/Sub/Mul (and elementwise Sigmoid/Tanh), with the Transpose/Squeeze/Reshape/Shape/
Gather/Concat/Expand/Slice/… nodes exporters write around them; shape-only subgraphs are evaluated.
What does not, with a :class:`~blockloop.errors.ModelFileError` naming the node: bidirectional or
reverse layers ("not supported yet"), GRU and RNN nodes (blockloop has no GRU/RNN diagram yet),
activations other than the default (Sigmoid, Tanh, Tanh), ``clip``, ``input_forget``,
``sequence_lens``, initial states that differ between batch rows or come from graph inputs,
operators outside the list above, and every malformed file (not protobuf, missing initializer,
wrong shapes, tensors in external files). Nothing in the file is executed by blockloop; the
cross-check runs it in onnxruntime (and in float64 in ``onnx.reference``) only after it imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..diagrams import NetworkWeights
from ..errors import ModelFileError, ParameterError
from ._onnx_graph import (
    ONNX_TO_BLOCKLOOP_LSTM,
    ActivationStage,
    BiasStage,
    GainStage,
    GruStage,
    LstmStage,
    RnnStage,
    trace_graph,
)

__all__ = ["OnnxNetwork", "load_onnx", "from_onnx", "to_onnx", "onnx_forward", "crosscheck_onnx", "read_model",
           "BLOCKLOOP_TO_ONNX_LSTM", "ONNX_TO_BLOCKLOOP_LSTM"]

# blockloop's gate blocks i, f, g, o taken in ONNX's order i, o, f, c (ONNX_TO_BLOCKLOOP_LSTM undoes it).
BLOCKLOOP_TO_ONNX_LSTM = (0, 3, 1, 2)
# Largest model file read (protobuf's own limit is 2 GiB).
MAX_FILE_BYTES = 2**31 - 1
EXPORT_OPSET = 17
EXPORT_IR_VERSION = 8  # onnx 1.13+; onnxruntime ≥ 1.14 reads it


def _onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 - the submodules the importer uses
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs ONNX: pip install 'blockloop[onnx]' (onnx and onnxruntime)") from exc
    return onnx


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs onnxruntime: pip install 'blockloop[onnx]'") from exc
    return onnxruntime


# ------------------------------------------------------------------------------------------ reading
def read_model(source):
    """An ``onnx.ModelProto`` from a file path, the file's bytes, or a ModelProto (returned as is).

    The bytes are parsed as protobuf and nothing else: external tensor files are not opened
    (such tensors are rejected when the graph is read), and the model is checked with
    ``onnx.checker.check_model``. Raises :class:`ModelFileError` for anything that is not a
    well-formed ONNX model.
    """
    onnx = _onnx()
    if isinstance(source, onnx.ModelProto):
        model, where = source, None
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data, where = bytes(source), None
        elif isinstance(source, (str, os.PathLike)):
            where = str(source)
            path = Path(source)
            if not path.is_file():
                raise ModelFileError("no such file", path=where)
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ModelFileError("file larger than 2 GiB (protobuf's limit)", path=where)
            data = path.read_bytes()
        else:
            raise ParameterError("model: expected a file path, bytes or an onnx.ModelProto, "
                                 f"got {type(source).__name__}")
        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise ModelFileError(f"not an ONNX model (protobuf parsing failed: {exc})", path=where) from None
    if not model.HasField("graph") or not len(model.graph.node):
        raise ModelFileError("not an ONNX model (no graph, or a graph without nodes)", path=where)
    if model.ir_version < 3:
        raise ModelFileError(f"ONNX IR version {model.ir_version} is too old (3 or newer is needed)", path=where)
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL or len(init.external_data):
            raise ModelFileError(f"initializer '{init.name}' keeps its data in an external file, which is not read; "
                                 "save the model with its tensors inside the .onnx file", path=where)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - onnx.checker.ValidationError and C++ errors
        text = " ".join(str(exc).split())
        raise ModelFileError(f"invalid ONNX model: {text[:400]}", path=where) from None
    return model


# --------------------------------------------------------------------------------------- the network
@dataclass(frozen=True)
class OnnxNetwork:
    """An ONNX model read as a chain of blockloop stages, with the input/output axis mapping.

    Attributes
    ----------
    stages : tuple of LstmStage, GainStage, BiasStage, ActivationStage, in data order
    input_name, output_name : the graph's data input and the output followed
    input_shape : declared input shape (ints, or the names of dynamic dimensions)
    input_roles : per input axis, "time", "batch", "feature" or None (a size-1 axis)
    output_components : per output axis, the roles it holds (several when a Reshape merged axes)
    last_step : True when the output is computed from the last time step only (``Y_h`` or a Gather)
    dtype : "float32" or "float64", the model's input type
    ni, no : input and output features
    """

    stages: tuple
    input_name: str
    output_name: str
    input_shape: tuple
    input_roles: tuple
    output_components: tuple
    output_sizes: tuple
    last_step: bool
    dtype: str
    ni: int
    no: int
    source: str | None = None
    model: object = field(default=None, repr=False, compare=False)
    dynamic_sizes: dict = field(default_factory=dict, repr=False, compare=False)
    batch_one_only: bool = False

    @property
    def recurrent_layers(self) -> tuple:
        """The LstmStage, GruStage and RnnStage entries of :attr:`stages`, in order."""
        return tuple(s for s in self.stages if isinstance(s, (LstmStage, GruStage, RnnStage)))

    @property
    def weights(self):
        """The network's weights when it has the shape of a ready-made network, else None.

        L layers of one kind, then at most one MatMul/Gemm and one bias: :class:`NetworkWeights`
        (LSTM without peepholes), :class:`~blockloop.diagrams.GRUNetworkWeights` (GRU with
        ``linear_before_reset = 1``, PyTorch's) or :class:`~blockloop.diagrams.RNNNetworkWeights`.
        Anything else (peepholes, ONNX's default GRU, activations in the head, several gains,
        mixed layer kinds) has none; :meth:`diagram` still draws it.
        """
        from ..diagrams import GRUNetworkWeights, RNNNetworkWeights

        stages = list(self.stages)
        if not stages:
            return None
        kind = type(stages[0])
        cls = {LstmStage: NetworkWeights, GruStage: GRUNetworkWeights, RnnStage: RNNNetworkWeights}.get(kind)
        layers = []
        while stages and type(stages[0]) is kind and _standard(stages[0]):
            layers.append(stages.pop(0).weights)
        if cls is None or not layers:
            return None
        nn = layers[-1].nn
        F, F_bias = np.eye(nn), None
        if stages and isinstance(stages[0], GainStage) and stages[0].K.ndim == 2:
            F = stages.pop(0).K
        if stages and isinstance(stages[0], BiasStage):
            F_bias = stages.pop(0).b
        if stages:
            return None
        return cls(layers=tuple(layers), F=F, F_bias=F_bias)

    def diagram(self, name: str = "onnx_net"):
        """The blockloop diagram: input ``u`` (Ni), output ``y`` (No).

        When :attr:`weights` exists this is exactly ``lstm_network``/``gru_network``/``rnn_network``
        of them (layers ``lstm1 …``, head ``F``, ``F_bias``, ``fc``). Otherwise layers are
        subsystems ``lstm1``/``gru1``/``rnn1`` … (LSTM with peepholes:
        :func:`~blockloop.diagrams.lstm_peephole.lstm_peephole_layer`; ONNX's default GRU:
        :func:`~blockloop.diagrams.gru_reset_before.gru_reset_before_layer`) and the head is
        ``gain1``, ``bias2``/``add2``, ``act3``, … in data order.
        """
        from ..blocks import Constant, Gain, Inport, Outport, Sigmoid, Sum, Tanh
        from ..diagrams import (
            GRUNetworkWeights,
            RNNNetworkWeights,
            gru_layer,
            gru_network,
            lstm_layer,
            lstm_network,
            rnn_layer,
            rnn_network,
        )
        from ..diagrams.gru_reset_before import gru_reset_before_layer
        from ..diagrams.lstm_peephole import lstm_peephole_layer
        from ..engine import Diagram

        weights = self.weights
        if weights is not None:
            build = {NetworkWeights: lstm_network, GRUNetworkWeights: gru_network, RNNNetworkWeights: rnn_network}
            return build[type(weights)](weights, name=name)
        d = Diagram(name)
        d.add("u", Inport(self.ni))
        src, counts, k = "u", {"lstm": 0, "gru": 0, "rnn": 0}, 0
        for stage in self.stages:
            if isinstance(stage, (LstmStage, GruStage, RnnStage)):
                prefix = {LstmStage: "lstm", GruStage: "gru", RnnStage: "rnn"}[type(stage)]
                counts[prefix] += 1
                sub = f"{prefix}{counts[prefix]}"
                if isinstance(stage, LstmStage):
                    layer = lstm_layer(stage.weights, name=sub) if stage.peepholes is None else \
                        lstm_peephole_layer(stage.weights, name=sub, **stage.peepholes)
                elif isinstance(stage, GruStage):
                    build = gru_layer if stage.linear_before_reset else gru_reset_before_layer
                    layer = build(stage.weights, name=sub)
                else:
                    layer = rnn_layer(stage.weights, name=sub)
                d.add(sub, layer)
                d.connect(src, f"{sub}.x")
                src = f"{sub}.h"
                continue
            k += 1
            if isinstance(stage, GainStage):
                d.add(f"gain{k}", Gain(stage.K))
                d.connect(src, f"gain{k}")
                src = f"gain{k}"
            elif isinstance(stage, BiasStage):
                d.add(f"bias{k}", Constant(stage.b))
                d.add(f"add{k}", Sum("++"))
                d.connect(src, f"add{k}.u1")
                d.connect(f"bias{k}", f"add{k}.u2")
                src = f"add{k}"
            elif isinstance(stage, ActivationStage):
                d.add(f"act{k}", Sigmoid() if stage.kind == "Sigmoid" else Tanh())
                d.connect(src, f"act{k}")
                src = f"act{k}"
        d.add("y", Outport())
        d.connect(src, "y")
        return d

    # --- running the file -------------------------------------------------------------------------
    def _model_inputs(self, u3: np.ndarray) -> list[np.ndarray]:
        """(T, B, Ni) → the model's input arrays: one, or one per batch row when the model has no batch axis."""
        T, B, _ = u3.shape
        roles = self.input_roles
        static = {r: self.input_shape[k] for k, r in enumerate(roles) if r and isinstance(self.input_shape[k], int)}
        if "time" in static and static["time"] != T:
            raise ParameterError(f"u: the model '{self.input_name}' takes sequences of exactly {static['time']} steps "
                                 f"(shape {list(self.input_shape)}), got T = {T}")
        per_row = "batch" not in roles or (static.get("batch") == 1 or self.batch_one_only) and B != 1
        if "batch" in static and static["batch"] not in (1, B):
            raise ParameterError(f"u: the model '{self.input_name}' takes a batch of exactly {static['batch']} "
                                 f"(shape {list(self.input_shape)}), got B = {B}")
        chunks = [u3[:, b:b + 1, :] for b in range(B)] if per_row else [u3]
        order = {"time": 0, "batch": 1, "feature": 2}
        present = [r for r in roles if r]
        out = []
        for chunk in chunks:
            if "batch" not in roles:
                chunk = chunk[:, 0, :]
                idx = [0 if r == "time" else 1 for r in present]
            else:
                idx = [order[r] for r in present]
            arr = np.transpose(chunk, idx)
            for k, r in enumerate(roles):
                if r is None:
                    arr = np.expand_dims(arr, k)
            out.append(np.ascontiguousarray(arr))
        return out

    def _diagram_outputs(self, y: np.ndarray, T: int, B: int) -> np.ndarray:
        """The model's output array → (T, B, No), or (B, No) for a last-step model."""
        sizes = {"time": T, "batch": B, "feature": self.no}
        comps = [c for comp in self.output_components for c in comp]
        y = np.asarray(y).reshape([sizes[c] for c in comps])
        want = ["batch", "feature"] if self.last_step else ["time", "batch", "feature"]
        if "batch" not in comps:  # a model without a batch axis: one row
            y = np.expand_dims(y, len(comps))
            comps = comps + ["batch"]
        return np.transpose(y, [comps.index(c) for c in want])


def _standard(stage) -> bool:
    """A layer a ready-made network builds: LSTM without peepholes, PyTorch's GRU, any RNN."""
    if isinstance(stage, LstmStage):
        return stage.peepholes is None
    if isinstance(stage, GruStage):
        return stage.linear_before_reset
    return isinstance(stage, RnnStage)


def load_onnx(source, output: str | None = None) -> OnnxNetwork:
    """Read an ONNX model (path, bytes or ModelProto) into an :class:`OnnxNetwork`.

    ``output`` picks the graph output to follow when there are several. Raises
    :class:`ModelFileError` naming the node and the reason for anything that has no diagram.
    """
    onnx = _onnx()
    model = read_model(source)
    where = str(source) if isinstance(source, (str, os.PathLike)) else None
    try:
        t = trace_graph(onnx, model, output)
    except ModelFileError as exc:
        if where and not exc.path:
            raise ModelFileError(str(exc), path=where) from None
        raise
    return OnnxNetwork(stages=t.stages, input_name=t.input_name, output_name=t.output_name, input_shape=t.input_shape,
                       input_roles=t.input_roles, output_components=t.output_components, output_sizes=t.output_sizes,
                       last_step=t.last_step, dtype=t.dtype, ni=t.ni, no=t.no, source=where, model=model,
                       dynamic_sizes=t.dynamic_sizes, batch_one_only=t.batch_one_only)


def from_onnx(source, output: str | None = None) -> NetworkWeights:
    """:class:`NetworkWeights` of an ONNX model made of LSTM layers and at most a MatMul/Gemm + bias head.

    Raises :class:`ModelFileError` when the model imports but has no NetworkWeights (peepholes,
    activations in the head, several gains): use :func:`load_onnx` and its ``diagram()`` then.
    """
    net = load_onnx(source, output)
    weights = net.weights
    if weights is None:
        kinds = ", ".join(type(s).__name__ for s in net.stages)
        raise ModelFileError(f"the model imports as {kinds}, which has no NetworkWeights (LSTM layers without "
                             "peepholes, then at most one gain and one bias); use load_onnx(...).diagram()",
                             path=net.source)
    return weights


# ------------------------------------------------------------------------------------------ export
def to_onnx(weights: NetworkWeights, dtype: str = "float32", path=None, name: str = "blockloop_lstm"):
    """An ONNX model of ``weights`` (LSTM layers + F, F_bias), built with ``onnx.helper``.

    Graph: input ``u`` [T, batch, Ni] (time-major, ONNX layout 0; T and batch dynamic), per layer
    an ``LSTM`` node (gate blocks reordered to i, o, f, c; B = [b, 0]; initial_h/initial_c =
    h0/c0 expanded to [1, batch, H] from ``Shape(u)``) and a ``Squeeze`` of its direction axis,
    then ``MatMul`` by Fᵀ and ``Add`` of F_bias; output ``y`` [T, batch, No]. Opset 17, IR 8.
    ``dtype``: "float32" (what onnxruntime's LSTM runs) or "float64". Written to ``path`` if given.
    Returns the ``onnx.ModelProto``.
    """
    onnx = _onnx()
    helper, nh, TP = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    if not isinstance(weights, NetworkWeights):
        raise ParameterError(f"to_onnx: expected NetworkWeights, got {type(weights).__name__}")
    np_dtype = {"float32": np.float32, "float64": np.float64}.get(str(np.dtype(dtype)) if dtype else None)
    if np_dtype is None:
        raise ParameterError(f"dtype: expected float32 or float64, got {dtype!r}")
    elem = TP.FLOAT if np_dtype is np.float32 else TP.DOUBLE

    def const(name_, arr):
        return nh.from_array(np.ascontiguousarray(np.asarray(arr, dtype=np_dtype)), name_)

    inits = [nh.from_array(np.array([1], dtype=np.int64), "one")]
    nodes = [helper.make_node("Shape", ["u"], ["batch"], name="batch_size", start=1, end=2)]
    x = "u"
    for k, layer in enumerate(weights.layers, start=1):
        H = layer.nn

        def onnx_order(M):
            blocks = np.split(M, 4, axis=0)
            return np.concatenate([blocks[j] for j in BLOCKLOOP_TO_ONNX_LSTM], axis=0)

        inits += [const(f"W{k}", onnx_order(layer.W)[None]), const(f"R{k}", onnx_order(layer.R)[None]),
                  const(f"B{k}", np.concatenate([onnx_order(layer.b), np.zeros(4 * H)])[None]),
                  const(f"h0_{k}", layer.h0.reshape(1, 1, H)), const(f"c0_{k}", layer.c0.reshape(1, 1, H)),
                  nh.from_array(np.array([H], dtype=np.int64), f"H{k}")]
        nodes += [helper.make_node("Concat", ["one", "batch", f"H{k}"], [f"state_shape{k}"], name=f"state_shape{k}",
                                   axis=0),
                  helper.make_node("Expand", [f"h0_{k}", f"state_shape{k}"], [f"initial_h{k}"], name=f"initial_h{k}"),
                  helper.make_node("Expand", [f"c0_{k}", f"state_shape{k}"], [f"initial_c{k}"], name=f"initial_c{k}"),
                  helper.make_node("LSTM", [x, f"W{k}", f"R{k}", f"B{k}", "", f"initial_h{k}", f"initial_c{k}"],
                                   [f"Y{k}"], name=f"lstm{k}", hidden_size=H, direction="forward"),
                  helper.make_node("Squeeze", [f"Y{k}", "one"], [f"h{k}"], name=f"squeeze{k}")]
        x = f"h{k}"
    inits.append(const("Ft", weights.F.T))
    out = "y" if weights.F_bias is None else "Fh"
    nodes.append(helper.make_node("MatMul", [x, "Ft"], [out], name="F"))
    if weights.F_bias is not None:
        inits.append(const("F_bias", weights.F_bias))
        nodes.append(helper.make_node("Add", ["Fh", "F_bias"], ["y"], name="F_bias"))
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("u", elem, ["T", "batch", weights.ni])],
                              [helper.make_tensor_value_info("y", elem, ["T", "batch", weights.no])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
                              producer_name="blockloop", ir_version=EXPORT_IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        Path(path).write_bytes(model.SerializeToString())
    return model


# ------------------------------------------------------------------------------------- running files
def _with_float_type(onnx, model, output: str, dtype: str):
    """A copy of ``model`` pruned to what ``output`` needs, every float tensor and type in ``dtype``."""
    TP, nh = onnx.TensorProto, onnx.numpy_helper
    target = TP.FLOAT if dtype == "float32" else TP.DOUBLE
    np_t = np.float32 if dtype == "float32" else np.float64
    floats = (TP.FLOAT, TP.DOUBLE)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    producer = {o: k for k, n in enumerate(g.node) for o in n.output if o}
    needed, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in producer and producer[name] not in needed:
            needed.add(producer[name])
            stack.extend(i for i in g.node[producer[name]].input if i)
    keep = [g.node[k] for k in sorted(needed)]
    used = {i for n in keep for i in n.input}
    del g.node[:]
    g.node.extend(keep)
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    for t in inits:
        if t.data_type in floats and t.data_type != target:
            t = nh.from_array(nh.to_array(t).astype(np_t), t.name)
        g.initializer.append(t)
    outs = [o for o in g.output if o.name == output]
    del g.output[:]
    g.output.extend(outs)
    del g.value_info[:]
    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type in floats:
            vi.type.tensor_type.elem_type = target
    init_names = {t.name for t in g.initializer}
    data_inputs = [i for i in g.input if i.name not in init_names and i.name in used]
    del g.input[:]
    g.input.extend(data_inputs)
    for n in g.node:
        for a in n.attribute:
            if a.name == "to" and n.op_type == "Cast" and a.i in floats:
                a.i = target
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type in floats and a.t.data_type != target:
                a.t.CopyFrom(nh.from_array(nh.to_array(a.t).astype(np_t), a.t.name))
            if n.op_type == "Constant" and a.name in ("value_float", "value_floats"):
                value = np.asarray(a.f if a.name == "value_float" else list(a.floats), dtype=np_t)
                a.CopyFrom(onnx.helper.make_attribute("value", nh.from_array(value)))
    return m


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _as_network(model, output=None) -> OnnxNetwork:
    if isinstance(model, OnnxNetwork):
        return model
    return load_onnx(model, output)


def _input3(u, ni: int) -> tuple[np.ndarray, bool]:
    try:
        u = np.asarray(u, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"u: expected an array of numbers ({exc})") from None
    if u.ndim == 1 and ni == 1:
        u = u[:, None]
    if u.ndim not in (2, 3) or u.shape[-1] != ni or 0 in u.shape:
        raise ParameterError(f"u: expected shape (T, {ni}) or (T, B, {ni}) with T, B ≥ 1, got {u.shape}")
    return (u[:, None, :], False) if u.ndim == 2 else (u, True)


def onnx_forward(model, u, runtime: str = "onnxruntime", dtype: str | None = None, output: str | None = None):
    """Run the ONNX model on ``u`` (T, Ni) or (T, B, Ni) — blockloop's layout — and return y the same way.

    The input is transposed into the model's layout (found while importing) and the output back
    to (T, No) / (T, B, No); a last-step model gives (No,) / (B, No). A model without a batch axis,
    or with a fixed batch of 1, is run once per batch row.

    Parameters
    ----------
    model : path, bytes, ModelProto or :class:`OnnxNetwork`
    runtime : "onnxruntime" (float32: its CPU LSTM kernel has no float64) or "reference"
        (``onnx.reference.ReferenceEvaluator``, numpy, float64 by default)
    dtype : the precision to run in; the model's tensors are converted when it differs from the file's
    """
    onnx = _onnx()
    net = _as_network(model, output)
    if runtime not in ("onnxruntime", "reference"):
        raise ParameterError(f"runtime: expected 'onnxruntime' or 'reference', got {runtime!r}")
    dtype = dtype or ("float32" if runtime == "onnxruntime" else "float64")
    if dtype not in ("float32", "float64"):
        raise ParameterError(f"dtype: expected float32 or float64, got {dtype!r}")
    u3, batched = _input3(u, net.ni)
    proto = net.model if net.dtype == dtype and runtime == "onnxruntime" else \
        _with_float_type(onnx, net.model, net.output_name, dtype)
    np_t = np.float32 if dtype == "float32" else np.float64
    if runtime == "onnxruntime":
        ort = _ort()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(proto.SerializeToString(), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
            raise ModelFileError(f"onnxruntime cannot run this model: {_first_line(exc)}", path=net.source) from None

        def run(x):
            try:
                return session.run([net.output_name], {net.input_name: x})[0]
            except Exception as exc:  # noqa: BLE001
                raise ModelFileError(f"onnxruntime failed running this model: {_first_line(exc)}",
                                     path=net.source) from None
    else:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(proto)

        def run(x):
            return evaluator.run([net.output_name], {net.input_name: x})[0]

    arrays = net._model_inputs(u3)
    T = u3.shape[0]
    parts = [net._diagram_outputs(run(a.astype(np_t)), T, a.shape[net.input_roles.index("batch")]
                                  if "batch" in net.input_roles else 1) for a in arrays]
    y = np.concatenate(parts, axis=-2).astype(np.float64)
    return y if batched else (y[..., 0, :])


# ------------------------------------------------------------------------------------- cross-check
def crosscheck_onnx(model, u, Ts: float = 0.1, backend: str = "auto", tolerance_scale: float | None = 1.0,
                    output: str | None = None, rtol: float | None = None, atol: float | None = None):
    """Simulate the imported diagram and run the ONNX file on ``u`` (T, Ni) or (T, B, Ni); compare the outputs.

    Comparisons (a :class:`~blockloop.interop.torch.CrosscheckReport`):

    * ``float32``: the diagram in float32 against onnxruntime running the file in float32;
    * ``float64``: the diagram in float64 against ``onnx.reference`` running the file converted
      to float64 (onnxruntime's CPU LSTM has no float64 kernel);
    * ``reference_setup``: the diagram in float64 against onnxruntime float32.

    A last-step model is compared at the last step. The tolerances scale with the problem as
    :func:`blockloop.interop.torch.crosscheck`'s (:func:`~blockloop.interop.torch.crosscheck_tolerances`,
    with Ni, the widest recurrent layer's Nn and the number of recurrent layers), times
    ``tolerance_scale`` (None is 1); ``rtol``/``atol`` replace them by ``atol + rtol · norm(y)``.
    ``model`` may also be :class:`NetworkWeights`, which are exported with :func:`to_onnx` first.
    """
    from .torch import CrosscheckReport, _check_tolerance_options, _compare, crosscheck_tolerances

    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    if isinstance(model, NetworkWeights):
        model = to_onnx(model)
    net = _as_network(model, output)
    u3, batched = _input3(u, net.ni)
    u_in = u3 if batched else u3[:, 0, :]
    diagram = net.diagram()
    runs = {dt: diagram.compile(dtype=dt).simulate({"u": u_in}, Ts=Ts, backend=backend)
            for dt in ("float64", "float32")}
    ours = {dt: (r["y"][-1] if net.last_step else r["y"]) for dt, r in runs.items()}
    runtimes = {"float32": f"onnxruntime {_ort().__version__}",
                "float64": f"onnx.reference (onnx {_onnx().__version__})"}
    try:
        y32 = onnx_forward(net, u_in, "onnxruntime", "float32")
    except ModelFileError as exc:  # e.g. layout = 1, which onnxruntime's CPU kernels do not run
        y32 = onnx_forward(net, u_in, "reference", "float32")
        runtimes["float32"] = f"onnx.reference float32 ({exc})"
    theirs = {"float32": y32, "float64": onnx_forward(net, u_in, "reference", "float64")}
    layers = net.recurrent_layers
    size = {"ni": net.ni, "nn": max((s.weights.nn for s in layers), default=net.no),
            "layers": max(1, len(layers)), "steps": int(u3.shape[0])}
    y64 = ours["float64"]
    tols = crosscheck_tolerances({"float64": ("float64", y64), "float32": ("float32", y64),
                                  "reference_setup": ("float32", y64)}, size, scale, rtol, atol)
    comparisons = {"float64": _compare(y64, theirs["float64"], tols["float64"]),
                   "float32": _compare(ours["float32"], theirs["float32"], tols["float32"]),
                   "reference_setup": _compare(y64, theirs["float32"], tols["reference_setup"])}
    shapes = {"ni": net.ni, "nn": [s.weights.nn for s in layers], "no": net.no, "layers": len(layers),
              "steps": int(u3.shape[0]), "batch": int(u3.shape[1]) if batched else None, "Ts": Ts,
              "tolerance_scale": scale, "tolerances": tols, "rtol": rtol, "atol": atol, "backend": backend,
              "last_step": net.last_step, "runtimes": runtimes}
    return CrosscheckReport(comparisons=comparisons, shapes=shapes,
                            results={"diagram": ours, "onnx": theirs})
