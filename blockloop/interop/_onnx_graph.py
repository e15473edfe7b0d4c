"""Read an ONNX graph into a chain of blockloop stages (the work behind :mod:`blockloop.interop.onnx`).

The graph is *traced*, not executed: every value is either

* a **constant** (a numpy array): initializers, ``Constant`` nodes and everything computed from
  them or from the *shape* of the data (``Shape``, ``Gather``, ``Concat``, ``Expand``, …) — the
  shape-only subgraphs that exporters write to build zero initial states are evaluated here with
  numpy, never special-cased; or
* the **stream**: the one graph input, and whatever the recurrent layers and the fully connected
  head make of it. A stream knows its axes — which one is time, which is batch, which are
  features — and the stages (LSTM layer, gain, bias, activation) it went through.

Dynamic dimensions (``dim_param`` such as ``"batch"`` or ``"T"``) are given distinct prime sizes
larger than every static size in the file, so a ``Reshape`` whose target was computed from
``Shape`` can be matched axis by axis, and a reshape that would mix time and batch is caught.

Nothing in the file becomes code: op types are looked up in fixed tables, attributes are read as
numbers and strings, tensors through ``onnx.numpy_helper``. Every rejection is a
:class:`~blockloop.errors.ModelFileError` naming the node and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..diagrams.gru import GRULayerWeights
from ..diagrams.rnn import RNNLayerWeights
from ..diagrams.weights import LayerWeights
from ..errors import BlockloopError, ModelFileError

__all__ = ["LstmStage", "GruStage", "RnnStage", "GainStage", "BiasStage", "ActivationStage", "Trace", "trace_graph",
           "MAX_ELEMENTS"]

# A shape subgraph may not build constants bigger than this (a hostile file could ask for terabytes).
MAX_ELEMENTS = 50_000_000
# ONNX LSTM gate blocks are stacked i, o, f, c; blockloop's i, f, g(=c), o are ONNX blocks [0, 2, 3, 1].
ONNX_TO_BLOCKLOOP_LSTM = (0, 2, 3, 1)
DEFAULT_LSTM_ACTIVATIONS = ("Sigmoid", "Tanh", "Tanh")


# ----------------------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class LstmStage:
    """One forward LSTM layer: blockloop weights (gates i, f, g, o; b = Wb + Rb) and optional peepholes.

    ``peepholes`` is None or a dict ``{"p_i", "p_f", "p_o"}`` of (Nn,) arrays.
    """

    node: str
    weights: LayerWeights
    peepholes: dict | None = None


@dataclass(frozen=True)
class GruStage:
    """One forward GRU layer in PyTorch's layout (rows r, z, n; both biases kept).

    ``linear_before_reset``: True is PyTorch's GRU (r multiplies R_n·h + b_hn,
    :func:`~blockloop.diagrams.gru.gru_layer`); False is ONNX's default (r multiplies h before R_n,
    :func:`~blockloop.diagrams.gru_reset_before.gru_reset_before_layer`).
    """

    node: str
    weights: GRULayerWeights
    linear_before_reset: bool


@dataclass(frozen=True)
class RnnStage:
    """One forward Elman (tanh) RNN layer: b = Wb + Rb."""

    node: str
    weights: RNNLayerWeights


@dataclass(frozen=True)
class GainStage:
    """``y = K·u``: K (m, n) a matrix (MatMul/Gemm), (n,) elementwise or () a scalar (Mul)."""

    node: str
    K: np.ndarray


@dataclass(frozen=True)
class BiasStage:
    """``y = u + b`` with b (n,) (Add, Sub, Gemm's C)."""

    node: str
    b: np.ndarray


@dataclass(frozen=True)
class ActivationStage:
    """Elementwise ``Sigmoid`` or ``Tanh``."""

    node: str
    kind: str


# ----------------------------------------------------------------------------------------- values
UNIT = ("unit",)


@dataclass(frozen=True)
class Stream:
    """The data as it flows through the graph: its axes (identities and sizes) and the stages so far.

    An axis identity is ``("in", k)`` (axis k of the graph input), ``("feat", node)`` (features
    made by a node), ``UNIT`` (an inserted size-1 axis) or ``("merge", (a, b, …))`` (adjacent axes
    flattened by a Reshape). ``last`` is True once only the last time step is left (``Y_h``).
    """

    axes: tuple
    sizes: tuple
    stages: tuple
    last: bool = False

    @property
    def rank(self) -> int:
        return len(self.axes)


@dataclass
class Trace:
    """What :func:`trace_graph` found: the stages and how the input and output axes map to time/batch/feature."""

    stages: tuple
    input_name: str
    output_name: str
    input_shape: tuple          # declared: ints, or strings for dynamic dimensions
    input_roles: tuple          # per input axis: "time", "batch", "feature" or None (a size-1 axis)
    output_components: tuple    # per output axis: tuple of roles ("time", "batch", "feature") it holds
    output_sizes: tuple         # traced sizes of the output axes (dynamic ones as their stand-in primes)
    last_step: bool
    dtype: str
    ni: int
    no: int
    dynamic_sizes: dict = field(default_factory=dict)  # stand-in prime -> dim_param name
    batch_one_only: bool = False  # an initial state of batch 1 with a dynamic batch: run row by row


# ----------------------------------------------------------------------------------------- helpers
def node_label(node, index: int) -> str:
    name = node.name or f"#{index}"
    out = f", output '{node.output[0]}'" if not node.name and len(node.output) else ""
    return f"'{name}' ({node.op_type}{out})"


class _Fail(Exception):
    """Raised inside an op handler; turned into ModelFileError naming the node."""


def _primes_above(n: int, count: int) -> list[int]:
    out, k = [], max(n + 1, 11)
    while len(out) < count:
        if k > 1 and all(k % p for p in range(2, int(k**0.5) + 1)):
            out.append(k)
        k += 1
    return out


def _ints(value, what: str) -> list[int]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise _Fail(f"{what}: expected integers, got {arr.dtype}")
    return [int(v) for v in arr.reshape(-1)]


def _check_size(shape, what: str) -> None:
    total = 1
    for s in shape:
        if s < 0:
            raise _Fail(f"{what}: negative dimension {s}")
        total *= int(s)
    if total > MAX_ELEMENTS:
        raise _Fail(f"{what} would hold {total} elements (limit {MAX_ELEMENTS})")


def _axis_index(axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise _Fail(f"{what}: axis {axis} is out of range for rank {rank}")
    return axis % rank


class _Graph:
    """Attribute and tensor access for one model (the onnx module is passed in, imported by the caller)."""

    def __init__(self, onnx, model):
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = int(imp.version)

    def attrs(self, node) -> dict:
        out = {}
        for a in node.attribute:
            if a.name in out:
                raise _Fail(f"attribute '{a.name}' is given twice")
            try:
                out[a.name] = self.onnx.helper.get_attribute_value(a)
            except Exception as exc:  # noqa: BLE001 - malformed attribute protobuf
                raise _Fail(f"attribute '{a.name}' cannot be read ({exc})") from None
        return out

    def tensor(self, proto, what: str) -> np.ndarray:
        if proto.data_location == self.onnx.TensorProto.EXTERNAL or len(proto.external_data):
            raise _Fail(f"{what}: tensor data stored in an external file is not read (save the model with "
                        "its tensors inside the .onnx file)")
        if proto.data_type in (self.onnx.TensorProto.STRING, self.onnx.TensorProto.UNDEFINED):
            raise _Fail(f"{what}: tensor of type {self.onnx.TensorProto.DataType.Name(proto.data_type)} "
                        "is not a number")
        _check_size(list(proto.dims), what)
        try:
            arr = self.onnx.numpy_helper.to_array(proto)
        except Exception as exc:  # noqa: BLE001 - malformed tensor protobuf (wrong byte count, ...)
            raise _Fail(f"{what}: tensor data cannot be read ({exc})") from None
        return np.array(arr)  # a writable copy, detached from the protobuf


def _float_kind(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype.kind != "f":
        raise _Fail(f"{what}: expected floating-point weights, got {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise _Fail(f"{what}: weights contain NaN or infinity")
    return arr


# ------------------------------------------------------------------------------ constant evaluation
def _const_op(g: _Graph, node, ins: list, at: dict):  # noqa: C901 - one branch per op, flat by design
    op = node.op_type
    x = ins[0] if ins else None

    def need(n):
        if len(ins) < n or any(v is None for v in ins[:n]):
            raise _Fail(f"expected {n} input(s)")

    if op == "Constant":
        keys = [k for k in at if k in ("value", "value_float", "value_floats", "value_int", "value_ints")]
        if len(keys) != 1 or len(at) != 1:
            raise _Fail(f"a Constant needs exactly one of value, value_float(s), value_int(s); got {sorted(at)}")
        v = at[keys[0]]
        if keys[0] == "value":
            return g.tensor(v, "Constant value")
        if keys[0].startswith("value_float"):
            return np.asarray(v, dtype=np.float32)
        return np.asarray(v, dtype=np.int64)
    if op in ("Identity", "Dropout"):
        need(1)
        return x
    if op == "Cast":
        need(1)
        to = at.get("to")
        np_type = _onnx_np_type(g, to)
        return np.asarray(x).astype(np_type)
    if op == "Shape":
        need(1)
        shape = np.asarray(np.shape(x), dtype=np.int64)
        return _shape_slice(shape, at)
    if op == "Size":
        need(1)
        return np.asarray(np.size(x), dtype=np.int64)
    if op == "Gather":
        need(2)
        axis = _axis_index(int(at.get("axis", 0)), np.ndim(x), "Gather axis")
        idx = np.asarray(ins[1])
        if idx.dtype.kind not in "iu":
            raise _Fail("Gather indices must be integers")
        n = np.shape(x)[axis]
        if np.any(idx < -n) or np.any(idx >= n):
            raise _Fail(f"Gather index out of range for size {n}")
        return np.take(x, idx, axis=axis)
    if op == "Unsqueeze":
        need(1)
        axes = _axes(at, ins, g, "Unsqueeze")
        out_rank = np.ndim(x) + len(axes)
        result = np.asarray(x)
        for a in sorted(_axis_index(a, out_rank, "Unsqueeze axes") for a in axes):
            result = np.expand_dims(result, a)
        return result
    if op == "Squeeze":
        need(1)
        axes = _axes(at, ins, g, "Squeeze", allow_none=True)
        if axes is None:
            return np.squeeze(x)
        axes = [_axis_index(a, np.ndim(x), "Squeeze axes") for a in axes]
        if any(np.shape(x)[a] != 1 for a in axes):
            raise _Fail(f"Squeeze of an axis whose size is not 1 (shape {np.shape(x)}, axes {axes})")
        return np.squeeze(x, axis=tuple(axes))
    if op == "Concat":
        if not ins or any(v is None for v in ins):
            raise _Fail("Concat needs its inputs")
        arrs = [np.asarray(v) for v in ins]
        axis = _axis_index(int(at.get("axis", 0)), arrs[0].ndim, "Concat axis")
        try:
            return np.concatenate(arrs, axis=axis)
        except ValueError as exc:
            raise _Fail(f"Concat: {exc}") from None
    if op == "Slice":
        need(1)
        return _slice_const(g, np.asarray(x), ins, at)
    if op == "Reshape":
        need(2)
        shape = _reshape_target(list(np.shape(x)), _ints(ins[1], "Reshape shape"), int(at.get("allowzero", 0)))
        if int(np.prod(shape)) != np.size(x):
            raise _Fail(f"Reshape of shape {list(np.shape(x))} into {shape}")
        return np.reshape(x, shape)
    if op == "Expand":
        need(2)
        shape = _ints(ins[1], "Expand shape")
        try:
            out_shape = np.broadcast_shapes(np.shape(x), tuple(shape))
        except ValueError:
            raise _Fail(f"Expand: shape {list(np.shape(x))} does not broadcast to {shape}") from None
        _check_size(out_shape, "Expand output")
        return np.broadcast_to(x, out_shape).copy()
    if op == "ConstantOfShape":
        need(1)
        shape = _ints(ins[0], "ConstantOfShape shape")
        _check_size(shape, "ConstantOfShape output")
        value = g.tensor(at["value"], "ConstantOfShape value") if "value" in at else np.zeros(1, np.float32)
        if value.size != 1:
            raise _Fail("ConstantOfShape value must hold one element")
        return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)
    if op == "Transpose":
        need(1)
        perm = at.get("perm", list(range(np.ndim(x)))[::-1])
        if sorted(perm) != list(range(np.ndim(x))):
            raise _Fail(f"Transpose perm {list(perm)} is not a permutation of {np.ndim(x)} axes")
        return np.transpose(x, perm)
    if op in _BINARY:
        need(2)
        a, b = np.asarray(ins[0]), np.asarray(ins[1])
        try:
            out_shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise _Fail(f"{op}: shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None
        _check_size(out_shape, f"{op} output")
        if op == "Div" and a.dtype.kind in "iu":
            if np.any(b == 0):
                raise _Fail("integer division by zero")
            return (np.trunc(a / b)).astype(np.result_type(a, b))
        with np.errstate(all="ignore"):
            return _BINARY[op](a, b)
    if op == "Where":
        need(3)
        return np.where(np.asarray(ins[0], dtype=bool), ins[1], ins[2])
    if op in _UNARY:
        need(1)
        with np.errstate(all="ignore"):
            return _UNARY[op](np.asarray(x))
    if op == "MatMul":
        need(2)
        try:
            return np.matmul(ins[0], ins[1])
        except ValueError as exc:
            raise _Fail(f"MatMul: {exc}") from None
    if op == "Range":
        need(3)
        start, limit, delta = (np.asarray(v).reshape(()) for v in ins[:3])
        if delta == 0:
            raise _Fail("Range with delta 0")
        n = max(int(np.ceil((limit - start) / delta)), 0)
        _check_size([n], "Range output")
        return np.arange(n, dtype=np.result_type(start, limit, delta)) * delta + start
    return None  # not a constant-evaluable op


_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Equal": np.equal,
           "Less": np.less, "Greater": np.greater, "Max": np.maximum, "Min": np.minimum}
_UNARY = {"Neg": np.negative, "Abs": np.abs, "Not": np.logical_not, "Sigmoid": lambda v: 1 / (1 + np.exp(-v)),
          "Tanh": np.tanh, "Sqrt": np.sqrt, "Exp": np.exp}


def _onnx_np_type(g: _Graph, to) -> type:
    TP = g.onnx.TensorProto
    table = {TP.FLOAT: np.float32, TP.DOUBLE: np.float64, TP.FLOAT16: np.float16, TP.INT64: np.int64,
             TP.INT32: np.int32, TP.INT16: np.int16, TP.INT8: np.int8, TP.UINT8: np.uint8, TP.BOOL: np.bool_}
    if to not in table:
        raise _Fail(f"Cast to type {to} is not supported")
    return table[to]


def _shape_slice(shape: np.ndarray, at: dict) -> np.ndarray:
    start, end = at.get("start"), at.get("end")
    if start is None and end is None:
        return shape
    r = len(shape)
    lo = 0 if start is None else min(max(start + r if start < 0 else start, 0), r)
    hi = r if end is None else min(max(end + r if end < 0 else end, 0), r)
    return shape[lo:hi]


def _axes(at: dict, ins: list, g: _Graph, op: str, allow_none: bool = False):
    if "axes" in at:
        return [int(a) for a in at["axes"]]
    if len(ins) > 1 and ins[1] is not None:
        return _ints(ins[1], f"{op} axes")
    if allow_none:
        return None
    raise _Fail(f"{op} needs axes")


def _slice_params(g: _Graph, rank: int, ins: list, at: dict):
    if "starts" in at:  # Slice-1: attributes
        starts, ends = list(at["starts"]), list(at["ends"])
        axes = list(at.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        if len(ins) < 3 or ins[1] is None or ins[2] is None:
            raise _Fail("Slice needs starts and ends")
        starts, ends = _ints(ins[1], "Slice starts"), _ints(ins[2], "Slice ends")
        axes = _ints(ins[3], "Slice axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = _ints(ins[4], "Slice steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _Fail("Slice starts, ends, axes and steps differ in length")
    if any(s == 0 for s in steps):
        raise _Fail("Slice step 0")
    return [(_axis_index(a, rank, "Slice axes"), s, e, st)
            for a, s, e, st in zip(axes, starts, ends, steps, strict=True)]


def _clamp_slice(n: int, start: int, end: int, step: int) -> slice:
    big = 2**62
    start = max(min(start, big), -big)
    end = max(min(end, big), -big)
    return slice(*slice(start, end, step).indices(n))


def _slice_const(g: _Graph, x: np.ndarray, ins: list, at: dict) -> np.ndarray:
    index = [slice(None)] * x.ndim
    for axis, s, e, st in _slice_params(g, x.ndim, ins, at):
        index[axis] = _clamp_slice(x.shape[axis], s, e, st)
    return x[tuple(index)]


def _reshape_target(in_shape: list[int], target: list[int], allowzero: int) -> list[int]:
    out = []
    for k, t in enumerate(target):
        if t == 0 and not allowzero:
            if k >= len(in_shape):
                raise _Fail(f"Reshape: 0 in position {k} copies an axis the input does not have")
            out.append(in_shape[k])
        else:
            out.append(t)
    if out.count(-1) > 1:
        raise _Fail("Reshape: more than one -1 in the target shape")
    if any(t < -1 for t in out):
        raise _Fail(f"Reshape: invalid target {target}")
    if -1 in out:
        known = int(np.prod([t for t in out if t != -1]))
        total = int(np.prod(in_shape))
        if known == 0 or total % known:
            raise _Fail(f"Reshape of shape {in_shape} into {target}: the -1 cannot be inferred")
        out[out.index(-1)] = total // known
    return out


# ----------------------------------------------------------------------------------- stream ops
def _flat(ax) -> tuple:
    return ax[1] if ax[0] == "merge" else (ax,)


def _merged(parts: list) -> tuple:
    flat = tuple(p for ax in parts for p in _flat(ax))
    return flat[0] if len(flat) == 1 else ("merge", flat)


def _reshape_stream(s: Stream, target: list[int], allowzero: int, known: dict) -> Stream:
    """Reshape the data: drop/insert size-1 axes, merge neighbouring axes, split merged ones back.

    ``known`` maps axis identities to their sizes (to split a merged axis into its parts).
    """
    shape = _reshape_target(list(s.sizes), target, allowzero)
    if int(np.prod(shape)) != int(np.prod(s.sizes)):
        raise _Fail(f"Reshape of the data (shape {list(s.sizes)}) into {shape}: the sizes do not match")
    queue = [(ax, n) for ax, n in zip(s.axes, s.sizes, strict=True) if n != 1]
    axes, sizes = [], []
    for d in shape:
        if d == 1:
            axes.append(UNIT)
            sizes.append(1)
            continue
        parts, prod = [], 1
        while prod < d and queue:
            ax, n = queue.pop(0)
            if prod * n <= d and d % (prod * n) == 0:
                parts.append(ax)
                prod *= n
                continue
            # split a merged axis back into its parts
            comps = list(_flat(ax))
            if len(comps) == 1:
                raise _Fail(_reshape_msg(s, shape))
            sizes_of = _component_sizes(ax, n, known)
            while comps and prod * sizes_of[0] <= d and d % (prod * sizes_of[0]) == 0:
                parts.append(comps.pop(0))
                prod *= sizes_of.pop(0)
            if prod != d or not comps:
                raise _Fail(_reshape_msg(s, shape))
            queue.insert(0, (_merged(comps), int(np.prod(sizes_of))))
        if prod != d:
            raise _Fail(_reshape_msg(s, shape))
        axes.append(_merged(parts))
        sizes.append(d)
    if queue:
        raise _Fail(_reshape_msg(s, shape))
    return Stream(tuple(axes), tuple(sizes), s.stages, s.last)


def _component_sizes(ax, n: int, known: dict) -> list[int]:
    sizes = [known.get(c) for c in _flat(ax)]
    if any(v is None for v in sizes) or int(np.prod(sizes)) != n:
        raise _Fail(f"cannot split the merged data axis of size {n}")
    return sizes


def _reshape_msg(s: Stream, shape) -> str:
    return (f"Reshape of the data (shape {list(s.sizes)}) into {list(shape)} mixes its axes; only reshapes "
            "that add or drop size-1 axes, or merge and split neighbouring axes, keep time, batch and features apart")


# ----------------------------------------------------------------------------------------- tracer
class _Tracer:
    """Walks the needed nodes in file order, keeping each tensor's value (constant array or :class:`Stream`)."""

    def __init__(self, g: _Graph):
        self.g = g
        self.roles: dict = {}       # input axis identity -> "time" | "batch" | "feature"
        self.values: dict = {}      # tensor name -> np.ndarray | Stream | _CellState
        self.recurrent_count = 0
        self.batch_one_only = False
        self.sizes: dict = {}       # axis identity -> size (to split merged axes)

    # --- roles -------------------------------------------------------------------------------
    def bind(self, ax, role: str, what: str) -> None:
        if ax == UNIT:
            if role == "batch":
                return
            raise _Fail(f"{what}: the {role} axis is a size-1 axis here (check the Transpose/Reshape before it)")
        if ax[0] == "merge":
            raise _Fail(f"{what}: its {role} axis is several axes merged by a Reshape")
        if ax[0] == "feat":
            raise _Fail(f"{what}: its {role} axis is a feature axis of the data (check the Transpose before it)")
        have = self.roles.get(ax)
        if have is None:
            if role in self.roles.values() and role != "batch":
                raise _Fail(f"{what}: a second {role} axis (input axis {ax[1]}) besides the one already used")
            if role == "batch" and "batch" in self.roles.values():
                raise _Fail(f"{what}: a second batch axis (input axis {ax[1]})")
            self.roles[ax] = role
        elif have != role:
            raise _Fail(f"{what}: input axis {ax[1]} is used as {role} here but as {have} before")

    def feature_axis(self, s: Stream, size: int, what: str):
        ax = s.axes[-1] if s.rank else None
        if ax is None:
            raise _Fail(f"{what}: the data has no axes")
        if ax[0] == "in":
            role = self.roles.get(ax)
            if role not in (None, "feature"):
                raise _Fail(f"{what}: the last axis of the data is its {role} axis, not its features (shape "
                            f"{list(s.sizes)}; check the Transpose before it)")
            self.bind(ax, "feature", what)
        elif ax[0] != "feat":
            raise _Fail(f"{what}: the last axis of the data is not its feature axis (shape {list(s.sizes)})")
        if s.sizes[-1] != size:
            raise _Fail(f"{what}: the data has {s.sizes[-1]} features, the weights expect {size}")
        return ax

    # --- nodes -------------------------------------------------------------------------------
    def run(self, nodes) -> None:
        for index, node in nodes:
            try:
                self.node(node)
            except (_Fail, BlockloopError) as exc:
                raise ModelFileError(str(exc), node=node_label(node, index)) from None
            except (ValueError, TypeError, IndexError, ArithmeticError, MemoryError) as exc:
                # numpy refusing an inconsistent constant computation the checks above did not foresee
                raise ModelFileError(f"cannot evaluate this node ({type(exc).__name__}: {exc})",
                                     node=node_label(node, index)) from None

    def get(self, name: str):
        if name == "":
            return None
        if name not in self.values:
            raise _Fail(f"input '{name}' is not a graph input, an initializer or the output of an earlier node "
                        "(a missing initializer, or nodes out of topological order)")
        value = self.values[name]
        if isinstance(value, _CellState):
            raise _Fail(f"input '{name}' is Y_c (the last cell state) of LSTM '{value.node}'; only Y and Y_h "
                        "are followed")
        return value

    def node(self, node) -> None:
        g = self.g
        if node.domain not in ("", "ai.onnx"):
            raise _Fail(f"operator domain '{node.domain}' is not supported (only the standard ONNX operators)")
        at = g.attrs(node)
        ins = [self.get(n) for n in node.input]
        streams = [v for v in ins if isinstance(v, Stream)]
        if not streams:
            if node.op_type in _RECURRENT:
                raise _Fail(f"the {node.op_type} input X does not come from the graph's data input")
            out = _const_op(g, node, ins, at)
            if out is None:
                raise _Fail(_unsupported(node.op_type))
            self.set_outputs(node, [out])
            return
        if node.op_type not in _STREAM_OPS:
            raise _Fail(_unsupported(node.op_type))
        handler = getattr(self, f"op_{node.op_type}")
        outs = handler(node, ins, at)
        self.set_outputs(node, outs)

    def set_outputs(self, node, outs) -> None:
        for k, name in enumerate(node.output):
            if name == "":
                continue
            if name in self.values:
                raise _Fail(f"output '{name}' is already defined (each tensor may be produced once)")
            if k < len(outs) and outs[k] is not None:
                self.values[name] = outs[k]
            elif k > 0 and node.op_type == "Dropout":
                self.values[name] = np.ones(1, dtype=bool)  # the mask, never a data value
            else:
                raise _Fail(f"output {k} ('{name}') is not produced by this importer")

    # --- data ops ----------------------------------------------------------------------------
    def only_stream_first(self, node, ins):
        if not isinstance(ins[0], Stream) or any(isinstance(v, Stream) for v in ins[1:]):
            raise _Fail(f"{node.op_type} on the data is supported with the data as its first input and constants "
                        "elsewhere")
        return ins[0]

    def op_Identity(self, node, ins, at):
        return [self.only_stream_first(node, ins)]

    def op_Dropout(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        if len(ins) > 2 and ins[2] is not None and bool(np.asarray(ins[2]).reshape(-1)[0]):
            raise _Fail("Dropout in training mode")
        return [s, None]

    def op_Cast(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        TP = self.g.onnx.TensorProto
        if at.get("to") not in (TP.FLOAT, TP.DOUBLE):
            raise _Fail("Cast of the data to a non-float type")
        return [s]

    def op_Transpose(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        perm = list(at.get("perm", list(range(s.rank))[::-1]))
        if sorted(perm) != list(range(s.rank)):
            raise _Fail(f"Transpose perm {perm} is not a permutation of the data's {s.rank} axes")
        return [Stream(tuple(s.axes[p] for p in perm), tuple(s.sizes[p] for p in perm), s.stages, s.last)]

    def op_Squeeze(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        axes = _axes(at, ins, self.g, "Squeeze", allow_none=True)
        axes = [k for k in range(s.rank) if s.sizes[k] == 1] if axes is None else \
            [_axis_index(a, s.rank, "Squeeze axes") for a in axes]
        for a in axes:
            if s.sizes[a] != 1:
                raise _Fail(f"Squeeze of data axis {a} of size {s.sizes[a]} (only size-1 axes can go)")
        keep = [k for k in range(s.rank) if k not in axes]
        return [Stream(tuple(s.axes[k] for k in keep), tuple(s.sizes[k] for k in keep), s.stages, s.last)]

    def op_Unsqueeze(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        axes = _axes(at, ins, self.g, "Unsqueeze")
        rank = s.rank + len(axes)
        axes = sorted(_axis_index(a, rank, "Unsqueeze axes") for a in axes)
        ax, sz = list(s.axes), list(s.sizes)
        for a in axes:
            ax.insert(a, UNIT)
            sz.insert(a, 1)
        return [Stream(tuple(ax), tuple(sz), s.stages, s.last)]

    def op_Reshape(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        if len(ins) < 2 or ins[1] is None:
            raise _Fail("Reshape needs a target shape")
        return [_reshape_stream(s, _ints(ins[1], "Reshape shape"), int(at.get("allowzero", 0)), self.sizes)]

    def op_Flatten(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        axis = int(at.get("axis", 1))
        axis = axis + s.rank if axis < 0 else axis
        if not 0 <= axis <= s.rank:
            raise _Fail(f"Flatten axis {at.get('axis')} out of range")
        lead = int(np.prod(s.sizes[:axis]))
        return [_reshape_stream(s, [lead, int(np.prod(s.sizes[axis:]))], 1, self.sizes)]

    def op_Shape(self, node, ins, at):
        s = ins[0]
        return [_shape_slice(np.asarray(s.sizes, dtype=np.int64), at)]

    def op_Size(self, node, ins, at):
        return [np.asarray(int(np.prod(ins[0].sizes)), dtype=np.int64)]

    def op_Gather(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        axis = _axis_index(int(at.get("axis", 0)), s.rank, "Gather axis")
        idx = np.asarray(ins[1])
        ax = s.axes[axis]
        if self.roles.get(ax) != "time" or idx.shape != () or idx.dtype.kind not in "iu" or \
                int(idx) not in (-1, s.sizes[axis] - 1):
            raise _Fail("Gather on the data is supported only as taking the last time step (index -1 on the time axis)")
        keep = [k for k in range(s.rank) if k != axis]
        return [Stream(tuple(s.axes[k] for k in keep), tuple(s.sizes[k] for k in keep), s.stages, True)]

    def op_Sigmoid(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        return [Stream(s.axes, s.sizes, s.stages + (ActivationStage(node_name(node), "Sigmoid"),), s.last)]

    def op_Tanh(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        return [Stream(s.axes, s.sizes, s.stages + (ActivationStage(node_name(node), "Tanh"),), s.last)]

    def op_MatMul(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        K = _float_kind(np.asarray(ins[1]), "MatMul weight")
        while K.ndim > 2 and K.shape[0] == 1:
            K = K[0]
        if K.ndim != 2:
            raise _Fail(f"MatMul weight of shape {list(np.shape(ins[1]))}: expected a matrix (features in × out)")
        self.feature_axis(s, K.shape[0], "MatMul")
        return [self.new_features(node, s, K.shape[1], GainStage(node_name(node), K.T.copy()))]

    def op_Gemm(self, node, ins, at):
        s = self.only_stream_first(node, ins)
        if s.rank != 2:
            raise _Fail(f"Gemm on data of rank {s.rank} (Gemm takes matrices)")
        if int(at.get("transA", 0)):
            raise _Fail("Gemm with transA = 1 on the data")
        if len(ins) < 2 or ins[1] is None:
            raise _Fail("Gemm needs B")
        B = _float_kind(np.asarray(ins[1]), "Gemm B")
        if B.ndim != 2:
            raise _Fail(f"Gemm B of shape {list(B.shape)}: expected a matrix")
        K = B if int(at.get("transB", 0)) else B.T
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        self.feature_axis(s, K.shape[1], "Gemm")
        stages = [GainStage(node_name(node), K.copy())]
        if alpha != 1.0:
            stages.append(GainStage(node_name(node) + ":alpha", np.asarray(alpha)))
        out = self.new_features(node, s, K.shape[0], *stages)
        if len(ins) > 2 and ins[2] is not None and beta != 0.0:
            C = _float_kind(np.asarray(ins[2]), "Gemm C") * beta
            out = self.add_bias(node, out, C)
        return [out]

    def new_features(self, node, s: Stream, n: int, *stages) -> Stream:
        ax = ("feat", node_name(node))
        self.sizes[ax] = n
        return Stream(s.axes[:-1] + (ax,), s.sizes[:-1] + (n,), s.stages + tuple(stages), s.last)

    def add_bias(self, node, s: Stream, c: np.ndarray, name: str | None = None) -> Stream:
        c = np.asarray(c, dtype=np.float64)
        if c.ndim > s.rank or any(d != 1 for d in c.shape[:-1]) or (c.ndim and c.shape[-1] not in (1, s.sizes[-1])):
            raise _Fail(f"a constant of shape {list(c.shape)} added to the data (shape {list(s.sizes)}): only a "
                        "bias along the feature axis is supported")
        if c.ndim:
            self.feature_axis(s, s.sizes[-1], node.op_type)
        b = np.broadcast_to(c.reshape(-1) if c.size else c, (s.sizes[-1],)).copy()
        return Stream(s.axes, s.sizes, s.stages + (BiasStage(name or node_name(node), b),), s.last)

    def binary(self, node, ins):
        if len(ins) != 2 or sum(isinstance(v, Stream) for v in ins) != 1:
            raise _Fail(f"{node.op_type} of two data values (only data {node.op_type} a constant is supported)")
        first = isinstance(ins[0], Stream)
        s, c = (ins[0], ins[1]) if first else (ins[1], ins[0])
        return s, _float_kind(np.asarray(c), f"{node.op_type} constant"), first

    def op_Add(self, node, ins, at):
        s, c, _ = self.binary(node, ins)
        return [self.add_bias(node, s, c)]

    def op_Sub(self, node, ins, at):
        s, c, first = self.binary(node, ins)
        if not first:
            raise _Fail("Sub of the data from a constant (constant − data) is not supported")
        return [self.add_bias(node, s, -c)]

    def op_Mul(self, node, ins, at):
        s, c, _ = self.binary(node, ins)
        if c.size == 1:
            gain = GainStage(node_name(node), np.asarray(float(c.reshape(-1)[0])))
            return [Stream(s.axes, s.sizes, s.stages + (gain,), s.last)]
        if c.ndim > s.rank or any(d != 1 for d in c.shape[:-1]) or c.shape[-1] != s.sizes[-1]:
            raise _Fail(f"Mul of the data (shape {list(s.sizes)}) by a constant of shape {list(c.shape)}: only a "
                        "scalar or a vector along the feature axis is supported")
        self.feature_axis(s, s.sizes[-1], "Mul")
        return [Stream(s.axes, s.sizes, s.stages + (GainStage(node_name(node), c.reshape(-1).copy()),), s.last)]

    # --- recurrent layers ----------------------------------------------------------------------
    def op_LSTM(self, node, ins, at):
        return self.recurrent(node, ins, at)

    def op_GRU(self, node, ins, at):
        return self.recurrent(node, ins, at)

    def op_RNN(self, node, ins, at):
        return self.recurrent(node, ins, at)

    def recurrent(self, node, ins, at):
        """Checks shared by LSTM, GRU and RNN; returns the layer's outputs [Y, Y_h(, Y_c)]."""
        op = node.op_type
        gates = _GATE_COUNT[op]
        if not isinstance(ins[0], Stream) or any(isinstance(v, Stream) for v in ins[1:]):
            raise _Fail(f"{op}: only X may come from the data; W, R, B and the initial states must be constants "
                        "(initializers, or computed from shapes only)")
        direction = at.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else str(direction)
        if direction == "bidirectional":
            raise _Fail(f"bidirectional {op} is not supported yet (a diagram runs forward in time; only "
                        "direction='forward' imports)")
        if direction != "forward":
            raise _Fail(f"{op} with direction='{direction}' is not supported yet (only 'forward' imports)")
        x = ins[0]
        if x.last:
            raise _Fail(f"{op} after the last-time-step selection (its input has no time axis)")
        if x.rank != 3:
            raise _Fail(f"{op} input X has rank {x.rank} (shape {list(x.sizes)}); expected 3")
        if "clip" in at:
            raise _Fail(f"{op} attribute 'clip' is not supported (the diagram does not clip)")
        acts = tuple(a.decode() if isinstance(a, bytes) else str(a) for a in at.get("activations", _ACTIVATIONS[op]))
        if tuple(a.lower() for a in acts) != tuple(a.lower() for a in _ACTIVATIONS[op]):  # onnxruntime ignores case
            raise _Fail(f"{op} activations {list(acts)} are not supported: the diagram has {list(_ACTIVATIONS[op])} "
                        "(σ gates and tanh)")
        layout = int(at.get("layout", 0))
        if layout not in (0, 1):
            raise _Fail(f"{op} layout {layout} (expected 0 or 1)")
        if len(ins) < 3 or ins[1] is None or ins[2] is None:
            raise _Fail(f"{op} needs W and R")
        W = _float_kind(np.asarray(ins[1]), f"{op} W")
        R = _float_kind(np.asarray(ins[2]), f"{op} R")
        if W.ndim != 3 or W.shape[0] != 1 or W.shape[1] % gates or not W.shape[1]:
            raise _Fail(f"{op} W of shape {list(W.shape)}: expected [1, {gates}·hidden_size, input_size]")
        H = W.shape[1] // gates
        if "hidden_size" in at and int(at["hidden_size"]) != H:
            raise _Fail(f"{op} hidden_size {at['hidden_size']} but W holds {H} units ([1, {W.shape[1]}, ·])")
        if R.shape != (1, gates * H, H):
            raise _Fail(f"{op} R of shape {list(R.shape)}: expected [1, {gates * H}, {H}]")
        what = f"{op} input X (layout {layout})"
        t_ax, b_ax = (x.axes[0], x.axes[1]) if layout == 0 else (x.axes[1], x.axes[0])
        self.feature_axis(x, W.shape[2], what)
        self.bind(t_ax, "time", what)
        self.bind(b_ax, "batch", what)
        batch = x.sizes[1] if layout == 0 else x.sizes[0]
        T = x.sizes[0] if layout == 0 else x.sizes[1]
        Wb = Rb = np.zeros(gates * H)
        if len(ins) > 3 and ins[3] is not None:
            B = _float_kind(np.asarray(ins[3]), f"{op} B")
            if B.shape != (1, 2 * gates * H):
                raise _Fail(f"{op} B of shape {list(B.shape)}: expected [1, {2 * gates * H}] (Wb then Rb)")
            Wb, Rb = B[0, :gates * H], B[0, gates * H:]
        if len(ins) > 4 and ins[4] is not None:
            lens = np.asarray(ins[4])
            if lens.dtype.kind not in "iu" or lens.ndim != 1 or np.any(lens != T):
                raise _Fail(f"{op} sequence_lens (sequences of different lengths) is not supported")
        h0 = self.initial_state(op, ins, 5, "initial_h", H, batch, layout)
        name = node_name(node)
        if op == "LSTM":
            stage = self.lstm_stage(name, ins, at, W[0], R[0], Wb, Rb, h0, batch, layout, H)
        elif op == "GRU":
            lbr = int(at.get("linear_before_reset", 0))
            if lbr not in (0, 1):
                raise _Fail(f"GRU linear_before_reset {lbr} (expected 0 or 1)")

            def order(M):  # ONNX z, r, h → blockloop r, z, n
                z, r, n = np.split(M, 3, axis=0)
                return np.concatenate([r, z, n], axis=0)

            stage = GruStage(name, GRULayerWeights(W=order(W[0]), R=order(R[0]), b_ih=order(Wb), b_hh=order(Rb), h0=h0),
                             bool(lbr))
        else:
            stage = RnnStage(name, RNNLayerWeights(W=W[0], R=R[0], b=Wb + Rb, h0=h0))
        self.recurrent_count += 1
        feat = ("feat", name)
        self.sizes[feat] = H
        stages = x.stages + (stage,)
        if layout == 0:
            y = Stream((t_ax, UNIT, b_ax, feat), (x.sizes[0], 1, x.sizes[1], H), stages)
            yh = Stream((UNIT, b_ax, feat), (1, x.sizes[1], H), stages, True)
        else:
            y = Stream((b_ax, t_ax, UNIT, feat), (x.sizes[0], x.sizes[1], 1, H), stages)
            yh = Stream((b_ax, UNIT, feat), (x.sizes[0], 1, H), stages, True)
        if op == "LSTM":
            yc = _CellState(name) if len(node.output) > 2 and node.output[2] else None
            return [y, yh, yc]
        return [y, yh]

    def lstm_stage(self, name, ins, at, W, R, Wb, Rb, h0, batch, layout, H):
        if int(at.get("input_forget", 0)):
            raise _Fail("LSTM with input_forget = 1 (coupled input and forget gates) is not supported")
        c0 = self.initial_state("LSTM", ins, 6, "initial_c", H, batch, layout)
        peep = None
        if len(ins) > 7 and ins[7] is not None:
            P = _float_kind(np.asarray(ins[7]), "LSTM P")
            if P.shape != (1, 3 * H):
                raise _Fail(f"LSTM P (peepholes) of shape {list(P.shape)}: expected [1, {3 * H}] (i, o, f)")
            if np.any(P != 0):
                peep = {"p_i": P[0, :H].copy(), "p_o": P[0, H:2 * H].copy(), "p_f": P[0, 2 * H:].copy()}

        def order(M):  # ONNX i, o, f, c → blockloop i, f, g, o
            blocks = np.split(M, 4, axis=0)
            return np.concatenate([blocks[k] for k in ONNX_TO_BLOCKLOOP_LSTM], axis=0)

        weights = LayerWeights(W=order(W), R=order(R), b=order(Wb + Rb), h0=h0, c0=c0)
        return LstmStage(name, weights, peep)

    def initial_state(self, op, ins, k, name, H, batch, layout):
        if len(ins) <= k or ins[k] is None:
            return np.zeros(H)
        v = _float_kind(np.asarray(ins[k]), f"{op} {name}")
        if v.ndim != 3:
            raise _Fail(f"{op} {name} of shape {list(v.shape)}: expected rank 3")
        if layout == 1:
            v = np.swapaxes(v, 0, 1)
        if v.shape[0] != 1 or v.shape[2] != H or v.shape[1] not in (1, batch):
            raise _Fail(f"{op} {name} of shape {list(np.shape(ins[k]))}: expected num_directions 1, batch {batch} "
                        f"and hidden {H}")
        if np.any(v[0] != v[0, :1]):
            raise _Fail(f"{op} {name} differs between batch rows; a diagram has one initial state per layer")
        if v.shape[1] == 1 and batch != 1:
            self.batch_one_only = True  # onnxruntime then runs the file with batch 1 only
        return v[0, 0].copy()


_GATE_COUNT = {"LSTM": 4, "GRU": 3, "RNN": 1}
_ACTIVATIONS = {"LSTM": DEFAULT_LSTM_ACTIVATIONS, "GRU": ("Sigmoid", "Tanh"), "RNN": ("Tanh",)}


class _CellState:
    """``Y_c`` of an LSTM: not a data value this importer follows."""

    def __init__(self, node: str):
        self.node = node


# _CellState is neither constant nor stream; using it raises through _Tracer.get consumers.
def node_name(node) -> str:
    return node.name or (node.output[0] if len(node.output) else node.op_type)


_RECURRENT = ("LSTM", "GRU", "RNN")
# Operators applied to the data (each has an ``op_<name>`` method); anything else on the data is refused.
_STREAM_OPS = frozenset(("Identity", "Dropout", "Cast", "Transpose", "Squeeze", "Unsqueeze", "Reshape", "Flatten",
                         "Shape", "Size", "Gather", "Sigmoid", "Tanh", "MatMul", "Gemm", "Add", "Sub", "Mul")
                        + _RECURRENT)


def _unsupported(op: str) -> str:
    return (f"operator '{op}' is not supported: the importer reads recurrent layers ({', '.join(_RECURRENT)}; "
            f"forward direction) followed by a fully connected head (MatMul, Gemm, Add, Sub, Mul, Sigmoid, Tanh) "
            "and the shape operators exporters write around them")


# ------------------------------------------------------------------------------------- entry point
def trace_graph(onnx, model, output: str | None = None) -> Trace:
    """Trace ``model`` (an ``onnx.ModelProto``) from its one data input to ``output`` (default: its one output).

    Raises :class:`ModelFileError` for anything this importer cannot turn into a diagram.
    """
    g = _Graph(onnx, model)
    graph = model.graph
    TP = onnx.TensorProto
    init_names = set()
    values: dict = {}
    for k, init in enumerate(graph.initializer):
        if not init.name:
            raise ModelFileError(f"initializer #{k} has no name")
        if init.name in values:
            raise ModelFileError(f"initializer '{init.name}' is given twice")
        try:
            values[init.name] = g.tensor(init, f"initializer '{init.name}'")
        except _Fail as exc:
            raise ModelFileError(str(exc)) from None
        init_names.add(init.name)
    if len(graph.sparse_initializer):
        raise ModelFileError("sparse initializers are not supported")
    data_inputs = [i for i in graph.input if i.name not in init_names]
    if len(data_inputs) != 1:
        names = [i.name for i in data_inputs]
        raise ModelFileError(f"the graph must have exactly one data input (the sequence); it has {len(names)}: {names}")
    inp = data_inputs[0]
    tt = inp.type.tensor_type if inp.type.HasField("tensor_type") else None
    if tt is None or tt.elem_type not in (TP.FLOAT, TP.DOUBLE):
        raise ModelFileError(f"graph input '{inp.name}' must be a float or double tensor")
    dtype = "float32" if tt.elem_type == TP.FLOAT else "float64"
    if not tt.HasField("shape"):
        raise ModelFileError(f"graph input '{inp.name}' has no shape (its rank is needed)")
    declared = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            if d.dim_value < 1:
                raise ModelFileError(f"graph input '{inp.name}' has a dimension of size {d.dim_value}")
            declared.append(int(d.dim_value))
        else:
            declared.append(d.dim_param or "?")
    if not 2 <= len(declared) <= 3:
        raise ModelFileError(f"graph input '{inp.name}' has rank {len(declared)} (shape {declared}); expected "
                             "(time, batch, features) in some order, or (time, features)")
    static = [int(v) for init in graph.initializer for v in init.dims] + [d for d in declared if isinstance(d, int)]
    dynamic = [k for k, d in enumerate(declared) if isinstance(d, str)]
    primes = _primes_above(max(static, default=1), len(dynamic))
    sizes = list(declared)
    stand_ins = {}
    for k, p in zip(dynamic, primes, strict=True):
        sizes[k] = p
        stand_ins[p] = declared[k]
    axes = tuple(("in", k) for k in range(len(declared)))
    values[inp.name] = Stream(axes, tuple(sizes), ())

    outputs = [o.name for o in graph.output]
    if output is None:
        if len(outputs) != 1:
            raise ModelFileError(f"the graph has {len(outputs)} outputs {outputs}; choose one with output=NAME")
        output = outputs[0]
    elif output not in outputs:
        raise ModelFileError(f"no graph output '{output}'; the outputs are {outputs}")

    # The nodes the output depends on, in file order.
    producer = {}
    for index, node in enumerate(graph.node):
        for name in node.output:
            if name and name in producer:
                raise ModelFileError(f"tensor '{name}' is produced twice", node=node_label(node, index))
            if name:
                producer[name] = index
    needed, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in producer and producer[name] not in needed:
            needed.add(producer[name])
            stack.extend(n for n in graph.node[producer[name]].input if n)
    nodes = [(k, graph.node[k]) for k in sorted(needed)]
    for k, node in nodes:
        if len(node.attribute) and any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                                       for a in node.attribute):
            raise ModelFileError("operators with subgraphs (If, Loop, Scan) are not supported",
                                 node=node_label(node, k))

    tracer = _Tracer(g)
    tracer.values = values
    tracer.sizes.update(zip(axes, sizes, strict=True))
    tracer.run(nodes)
    if output not in tracer.values:
        raise ModelFileError(f"graph output '{output}' is not produced by any node")
    out = tracer.values[output]
    if not isinstance(out, Stream):
        raise ModelFileError(f"graph output '{output}' does not depend on the input '{inp.name}'")
    if not tracer.recurrent_count:
        raise ModelFileError(f"no LSTM, GRU or RNN layer between the input '{inp.name}' and the output '{output}'")

    roles = tracer.roles
    input_roles = []
    for ax, n in zip(axes, sizes, strict=True):
        role = roles.get(ax)
        if role is None and n != 1:
            raise ModelFileError(f"input axis {ax[1]} of '{inp.name}' (size {declared[ax[1]]}) is neither time, batch "
                                 "nor features of an LSTM")
        input_roles.append(role)
    feature_ax = next(ax for ax in axes if roles.get(ax) == "feature")
    components = []
    for ax, n in zip(out.axes, out.sizes, strict=True):
        comp = []
        for c in _flat(ax):
            if c == UNIT:
                continue
            if c[0] == "feat":
                comp.append("feature")
            elif roles.get(c) in ("time", "batch"):
                comp.append(roles[c])
            elif c == feature_ax:
                comp.append("feature")
            elif n == 1:
                continue
            else:
                raise ModelFileError(f"output '{output}' axis of size {n} is neither time, batch nor features")
        components.append(tuple(comp))
    flat = [c for comp in components for c in comp]
    if len(flat) != len(set(flat)) or "feature" not in flat or ("time" in flat) == out.last:
        raise ModelFileError(f"output '{output}' (shape {list(out.sizes)}) does not hold one value per "
                             f"{'batch row' if out.last else 'time step, batch row'} and output feature")
    k_feat = next(k for k, comp in enumerate(components) if "feature" in comp)
    if components[k_feat] != ("feature",):
        raise ModelFileError(f"output '{output}': its features are merged with another axis")
    no = out.sizes[k_feat]
    ni = sizes[feature_ax[1]]
    return Trace(stages=out.stages, input_name=inp.name, output_name=output, input_shape=tuple(declared),
                 input_roles=tuple(input_roles), output_components=tuple(components), output_sizes=tuple(out.sizes),
                 last_step=out.last, dtype=dtype, ni=int(ni), no=int(no), dynamic_sizes=stand_ins,
                 batch_one_only=tracer.batch_one_only)
