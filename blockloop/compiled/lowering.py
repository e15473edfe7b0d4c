"""Lowering: a :class:`~blockloop.engine.Program` → flat integer/float tables for the step loop.

Only the library's own op kernels run; what a diagram contributes is numbers (row offsets,
sizes, opcodes, parameter values). No block name, file content or parameter ever becomes code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..blocks.base import Block, declares_with_rules
from . import opcodes as _opcodes
from .checks import lowering_problem
from .fusion import ACTIVATION_KINDS, activation_groups
from .opcodes import ACTIVATIONS, IN0, MAY_HIDE, MAY_OVERFLOW, NIN, OP, OPCODES, OUT, WIDTH, N, P

__all__ = ["LoweredProgram", "ParamSlot", "lower", "uncompiled_blocks", "without_compiled_adjoint"]

#: Ops the compiled reverse sweep (:mod:`.reverse`) has no adjoint for. A gradient through a
#: block lowered to one (a user block that declares a KalmanFilter lowering and its own
#: ``output_vjp``) runs the interpreter's sweep; the compiled sweep would skip the op silently.
_NO_ADJOINT = frozenset({"kalman"})

#: Ops whose parameter offset points into ``ipar``: their fpar offset, then ``Lowering.ints``.
_WITH_INTS = ("switch", "min_max", "math_function", "matrix_product")

#: σ/tanh ops run over their rows rounded up to a multiple of this many (see :func:`vector_padding`).
VECTOR_ROWS = 8


def vector_padding(n: int) -> int:
    """Spare rows after (and before) an n-row σ/tanh output, so its loop runs whole SIMD iterations.

    The kernels' σ/tanh loops (:mod:`.vm`) vectorize 8 elements at a time and run any remainder
    one element at a time, about 8× slower per element: an LSTM's 5-unit tanh took 43 ns a step
    as 5 scalar elements, 10 ns as one vector iteration of 8. So the op runs over
    M = ⌈n·B/8⌉·8 elements: it writes M − n·B values into spare rows after its output, and
    reads as many rows past its input's end (any rows: their results land in the spare rows,
    never read). ⌈n·B/8⌉·8 ≤ ⌈n/8⌉·8·B, so ``pad`` = ⌈n/8⌉·8 − n spare rows suffice for any
    batch B. The same count of rows *before* the output keeps an input allocated just before it
    from reading into it (the loop must see input and output apart to vectorize), and the
    program ends with as many spare rows, so a read past the last input stays in the array.
    """
    return -n % VECTOR_ROWS


@dataclass(frozen=True)
class ParamSlot:
    """Where a block parameter lives in a lowered program.

    ``kind`` is ``"fpar"`` (op parameters, offset into ``fpar``), ``"const"`` (a Constant's
    rows of ``sig``) or ``"state"`` (a stateful block's initial-state rows); ``shape`` is the
    parameter's own shape (a scalar UnitDelay x0 fills every state row).
    """

    kind: str
    offset: int
    size: int
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class LoweredProgram:
    """A program as the step loop sees it. Structure only: no batch size, no run state.

    Attributes
    ----------
    width : int
        W, the number of signal rows of one step.
    code : int64 (n_ops, 6)
        One row per op in schedule order: opcode, output row, output size, first argument,
        number of inputs, parameter offset (see :mod:`.opcodes` and :mod:`.vm`).
    args : int64 (2·Σ inputs,)
        (row, size) of each op input.
    fpar, ipar : float (program dtype) and int64
        Flat op parameters. A matrix gain's n×m K (row-major) is followed by a copy of Kᵀ
        (the batch-1 loops read whichever layout is contiguous); only K is a parameter, and
        whoever changes K calls :func:`.vm.transpose_gains` to refresh the copy.
    op_blocks : tuple of str
        The block of each op, in the order of ``code`` (to name an op in messages).
    rows : mapping (block, port) → (row, size)
        Every output signal's rows.
    constants : tuple of (row, values)
    sources : mapping time-source name → (row, size)
    states : mapping stateful block → (row, size)
    updates : int64 (n_states, 4)
        (size, input row, stage row, state row).
    params : mapping "block.param" → ParamSlot
    signal_rows : dict signal index (``Program.signal_index``) → (row, size)
    watch : int64 (n_watch, 2)
        (row, size) of the outputs of the ops that can overflow (:data:`.opcodes.MAY_OVERFLOW`),
        in schedule order: with ``check_finite`` the step loop checks these rows every step.
    watch_ops : the op (index into ``code``) of each ``watch`` row; ``-1 − o`` for the next-state
        rows an op ``o`` computes (a KalmanFilter's), watched after all the outputs, as the
        interpreter checks a step's updates after its ops
    sentinels : int64 (n, 2)
        (row, size) ranges, merged and sorted, of the inputs of the ops that can hide a non-finite
        value (:data:`.opcodes.MAY_HIDE`): the cheap per-step check of ``check_finite``.
    """

    dtype: np.dtype
    width: int
    code: np.ndarray
    args: np.ndarray
    fpar: np.ndarray
    ipar: np.ndarray
    op_blocks: tuple[str, ...]
    rows: MappingProxyType
    constants: tuple
    sources: MappingProxyType
    states: MappingProxyType
    updates: np.ndarray
    params: MappingProxyType
    signal_rows: dict = field(default_factory=dict)
    watch: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    watch_ops: tuple[int, ...] = ()
    sentinels: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))


def trusted_lowering(block: Block):
    """``block.lowering()`` if the class declaring it also declares the block's numpy rules, else None.

    A subclass that overrides ``output`` or ``update`` without its own ``lowering`` would be
    run with its parent's op, so it gets None (the interpreter runs it).
    """
    return block.lowering() if declares_with_rules(block, "lowering") else None


def uncompiled_blocks(program) -> dict[str, str]:
    """Block path → why the compiled backend cannot run it (empty if it can run them all).

    A block has no compiled rule (its class declares no trusted ``lowering``), or its
    lowering does not fit its ports and sizes (:func:`.checks.lowering_problem`).
    """
    why = {}
    split = {name for name, ports, _ in program.evaluation_parts() if ports is not None}
    for name, block in program.blocks.items():
        lowering = trusted_lowering(block)
        if lowering is None:
            why[name] = f"block type {block.type_name} has no compiled rule"
            continue
        problem = lowering_problem(program, name, lowering)
        if problem:
            why[name] = f"the lowering of {block.type_name} does not fit the block: {problem}"
        elif name in split and (lowering.op not in OPCODES or lowering.op in _opcodes.NEXT_STATE_OPS):
            why[name] = (f"block type {block.type_name} is evaluated in parts (its outputs are needed at different "
                         f"places of a step) and its op {lowering.op!r} cannot be run in parts")
    return why


def without_compiled_adjoint(program) -> dict[str, str]:
    """Block path → why the compiled reverse sweep cannot differentiate it (empty if it can)."""
    why = {}
    for name, block in program.blocks.items():
        lowering = trusted_lowering(block)
        if lowering is not None and getattr(lowering, "op", None) in _NO_ADJOINT:
            why[name] = f"the compiled op {lowering.op!r} of {block.type_name} has no compiled adjoint"
    return why


class _Builder:
    """Accumulates rows and op tables while walking the schedule."""

    def __init__(self, program):
        self.program = program
        self.width = 0
        self.rows: dict[tuple[str, str], tuple[int, int]] = {}
        self.code, self.args, self.fpar, self.ipar, self.op_blocks = [], [], [], [], []
        self.params: dict[str, ParamSlot] = {}
        self.state_rows: dict[str, int] = {}  # kalman ops: first row of the state (x̂, P)
        self.next_state: dict[str, int] = {}  # kalman ops: first row its op writes x̂[k+1], P[k+1] into
        self.by_index = {i: key for key, i in program.signal_index.items()}
        self.state_size = dict(program.states)  # stateful block → its state's size
        self.pending: list[tuple] = []  # next-state ops of the stateful linear blocks, run after every output op
        self.late_args: list[tuple] = []  # (position in args, block, input port): filled in after every op is placed

    def allocate(self, size: int) -> int:
        row, self.width = self.width, self.width + size
        return row

    def input_rows(self, name: str, port: str) -> tuple[int, int]:
        return self.rows[self.by_index[self.program.driver_index(name, port)]]

    def add_fpar(self, values) -> int:
        offset = sum(len(v) for v in self.fpar)
        with np.errstate(over="ignore"):  # a scalar limit beyond float32's range is ±inf, as the block's rule casts it
            self.fpar.append(np.asarray(values, dtype=self.program.dtype).reshape(-1))
        return offset

    def emit(self, name: str, block: Block, lowering, out_row: int | None = None,
             holders: dict | None = None) -> None:
        """One op. A part of a split block passes its own ``out_row`` (rows for all the block's
        outputs, of which the part's ports are read) and ``holders``: zero rows read instead of the
        inputs the part does not depend on."""
        row, size = self.rows[(name, block.outputs[0])]  # one output, or several on consecutive rows
        row = row if out_row is None else out_row
        first = len(self.args) // 2
        for port in block.inputs:
            if holders and port in holders:
                self.args.extend((holders[port], self.program.in_sizes[(name, port)]))
            else:
                self.args.extend(self.input_rows(name, port))
        p = 0
        if lowering.params is not None:
            p = self.add_fpar(lowering.params)
            arrays = block.arrays()
            if len(arrays) == 1:  # the op's parameters are that array, flattened row-major
                (pname, arr), = arrays.items()
                if arr.size == np.asarray(lowering.params).size:
                    self.params[f"{name}.{pname}"] = ParamSlot("fpar", p, arr.size, arr.shape)
        if lowering.op == "gain_matrix":  # then room for Kᵀ, filled at the end of lower()
            self.add_fpar(np.zeros(np.asarray(lowering.params).size))
        if lowering.op == "select":
            p = len(self.ipar)
            self.ipar.extend(lowering.ints)
        elif lowering.op == "kalman":  # ipar: fpar offset, n, m, p, state row, next-state row
            n, _, n_z = lowering.ints
            p, f = len(self.ipar), p
            self.ipar.extend((f, *lowering.ints, self.state_rows[name], self.next_state[name]))
            size = 2 * n + 2 * n_z  # x_pred, x_filt, z_pred, e: consecutive rows from the first
        elif lowering.op in _WITH_INTS:  # ipar: the fpar offset, then the op's integers
            p, f = len(self.ipar), p
            self.ipar.extend((f, *lowering.ints))
        self.code.append((OPCODES[lowering.op], row, size, first, len(block.inputs), p))
        self.op_blocks.append(name)

    def emit_stateful(self, name: str, block: Block, lowering) -> None:
        """A stateful linear block (ops 30–39): its output op now, its next-state op after every output op.

        ``ipar``: fpar offset, ``Lowering.ints``, state row, next-state row. The next-state op writes
        x[k+1] into the next-state rows, which the step's update copies into the state rows, so it
        may read inputs computed after the output op (no feedthrough) and the old state.
        """
        row, size = self.rows[(name, block.outputs[0])]
        first = len(self.args) // 2
        for port in block.inputs:  # without feedthrough the input may be placed later in the schedule (a
            self.late_args.append((len(self.args), name, port))  # Demux output's rows are known when it is)
            self.args.extend((-1, 0))
        f = self.add_fpar(lowering.params)
        arrays = block.arrays()
        for pname, offset in _opcodes.STATE_FPAR[lowering.op](lowering.ints).items():
            if pname in arrays:
                arr = arrays[pname]
                self.params[f"{name}.{pname}"] = ParamSlot("fpar", f + offset, arr.size, arr.shape)
        q = len(self.ipar)
        self.ipar.extend((f, *lowering.ints, self.state_rows[name], self.next_state[name]))
        self.code.append((OPCODES[lowering.op], row, size, first, len(block.inputs), q))
        self.op_blocks.append(name)
        n_state = self.state_size[name]
        self.pending.append(((_opcodes.NEXT_STATE_OPS[lowering.op], self.next_state[name], n_state, first,
                              len(block.inputs), q), name))

    def emit_activations(self, group: list[str], lowerings) -> None:
        """One ACTIVATIONS op over the group's consecutive input and output rows (see :mod:`.fusion`)."""
        blocks = [self.program.blocks[name] for name in group]
        u, _ = self.input_rows(group[0], blocks[0].inputs[0])
        out, _ = self.rows[(group[0], blocks[0].outputs[0])]
        kinds = []
        for name, block in zip(group, blocks, strict=True):
            kinds.extend([ACTIVATION_KINDS[lowerings[name].op]] * self.program.out_sizes[(name, block.outputs[0])])
        first, p = len(self.args) // 2, len(self.ipar)
        self.args.extend((u, len(kinds)))
        self.ipar.extend(kinds + [0] * vector_padding(len(kinds)))  # the spare rows' kind: σ
        self.code.append((ACTIVATIONS, out, len(kinds), first, 1, p))
        self.op_blocks.append("+".join(group))


def lower(program) -> LoweredProgram:
    """Lower ``program`` (every block must have a trusted lowering; see :func:`uncompiled_blocks`)."""
    missing = uncompiled_blocks(program)
    if missing:
        raise ValueError(f"blocks the compiled backend cannot run: {missing}")
    lowerings = {name: trusted_lowering(b) for name, b in program.blocks.items()}
    bld = _Builder(program)
    states, constants, sources = {}, [], {}
    position = {name: i for i, name in enumerate(program.order)}
    group_of = {name: group for group in activation_groups(program, lowerings) for name in group}
    leaders = {min(group, key=position.__getitem__) for group in group_of.values()}
    parts_of: dict[str, list] = {}
    for name, ports, real in program.evaluation_parts():
        if ports is not None:
            parts_of.setdefault(name, []).append((ports, real))
    part_rows: dict[str, list] = {}
    max_pad = 0
    # Pass 1: rows for every output that owns its rows (a delay's output is its state); a fused
    # group's outputs get consecutive rows, in group order, when its first block comes.
    for name in program.order:
        block, lw = program.blocks[name], lowerings[name]
        if lw.op == "split" or (name in group_of and name not in leaders):
            continue
        if name in parts_of:  # a block evaluated in parts: each part's op writes rows of its own
            for ports, real in parts_of[name]:
                first = bld.width
                for port in block.outputs:
                    size = program.out_sizes[(name, port)]
                    row = bld.allocate(size)
                    if port in ports:  # the part's outputs are read from its rows; the others there are unused
                        bld.rows[(name, port)] = (row, size)
                holders = {p: bld.allocate(program.in_sizes[(name, p)]) for p in block.inputs if p not in real}
                part_rows.setdefault(name, []).append((first, holders))
        members = group_of.get(name, [name]) if name not in parts_of else ()
        pad = 0
        if lw.op in ACTIVATION_KINDS and members:  # spare rows around a σ/tanh output (vector_padding)
            pad = vector_padding(sum(program.out_sizes[(m, p)] for m in members for p in program.blocks[m].outputs))
            bld.allocate(pad)
            max_pad = max(max_pad, pad)
        for member in members:
            for port in program.blocks[member].outputs:
                size = program.out_sizes[(member, port)]
                bld.rows[(member, port)] = (bld.allocate(size), size)
        bld.allocate(pad)
        if lw.op == "delay":
            states[name] = bld.rows[(name, "y")]
            x0 = block.arrays()["x0"]
            bld.params[f"{name}.x0"] = ParamSlot("state", states[name][0], x0.size, x0.shape)
        elif lw.op == "constant":
            constants.append((bld.rows[(name, "y")][0], lw.params))
            bld.params[f"{name}.value"] = ParamSlot("const", bld.rows[(name, "y")][0], lw.params.size,
                                                    lw.params.shape)
        elif lw.op == "source":
            sources[name] = bld.rows[(name, "y")]
        elif lw.op == "kalman":  # its state (x̂, P) and the rows its op writes the next state into
            n = lw.ints[0]
            states[name] = (bld.allocate(n + n * n), n + n * n)
            bld.state_rows[name] = states[name][0]
            bld.next_state[name] = bld.allocate(n + n * n)
        elif lw.op in _opcodes.NEXT_STATE_OPS:  # state rows, and the rows its next-state op writes x[k+1] into
            size = bld.state_size[name]
            states[name] = (bld.allocate(size), size)
            bld.state_rows[name] = states[name][0]
            bld.next_state[name] = bld.allocate(size)
            x0 = block.arrays().get("x0")
            if x0 is not None:
                bld.params[f"{name}.x0"] = ParamSlot("state", states[name][0], x0.size, x0.shape)
    bld.allocate(max_pad)  # a σ/tanh reading past the last rows' end stays in the array
    # Pass 2: Demux outputs are views of their input's rows; other ops in schedule order.
    emitted: dict[str, int] = {}
    part_watch: dict[int, list] = {}  # op of a part → (row, size) of the outputs it computes (watched alone)
    for name, ports, _ in program.evaluation_parts():
        block, lw = program.blocks[name], lowerings[name]
        if ports is not None:
            emitted[name] = emitted.get(name, -1) + 1
            first, holders = part_rows[name][emitted[name]]
            part_watch[len(bld.code)] = [bld.rows[(name, port)] for port in ports]
            bld.emit(name, block, lw, out_row=first, holders=holders)
        elif lw.op in _opcodes.NEXT_STATE_OPS:
            bld.emit_stateful(name, block, lw)
        elif lw.op == "split":
            row, _ = bld.input_rows(name, "u")
            for port, size in zip(block.outputs, lw.ints, strict=True):
                bld.rows[(name, port)] = (row, size)
                row += size
        elif name in group_of:
            if name in leaders:
                bld.emit_activations(group_of[name], lowerings)
        elif lw.op in OPCODES:
            bld.emit(name, block, lw)
    for pos, name, port in bld.late_args:
        bld.args[pos:pos + 2] = bld.input_rows(name, port)
    for row, name in bld.pending:  # after every output op: the inputs they read are all computed
        bld.code.append(row)
        bld.op_blocks.append(name)
    updates = []
    stage = 0
    for name, (row, size) in states.items():
        source = bld.next_state[name] if name in bld.next_state else bld.input_rows(name, "u")[0]
        updates.append((size, source, stage, row))
        stage += size
    signal_rows = {i: bld.rows[key] for i, key in bld.by_index.items()}
    code = np.array(bld.code, dtype=np.int64).reshape(-1, WIDTH)
    args = np.array(bld.args, dtype=np.int64)
    fpar = np.concatenate(bld.fpar) if bld.fpar else np.zeros(0, program.dtype)
    for op in code[code[:, OP] == OPCODES["gain_matrix"]]:
        n, m, p = op[N], args[2 * op[IN0] + 1], op[P]
        fpar[p + n * m:p + 2 * n * m] = fpar[p:p + n * m].reshape(n, m).T.reshape(-1)
    watch_ops, watch = [], []
    for o in np.flatnonzero(np.isin(code[:, OP], list(MAY_OVERFLOW))):
        # a part of a split block: only the outputs it computes; its other rows came from zeros
        # in place of inputs those outputs do not depend on, and are never read
        for row, size in part_watch.get(int(o), [(code[o, OUT], code[o, N])]):
            watch_ops.append(int(o))
            watch.append((row, size))
    watch_ops = tuple(watch_ops)
    next_states = [(-1 - bld.op_blocks.index(name), row, states[name][1]) for name, row in bld.next_state.items()]
    return LoweredProgram(
        dtype=program.dtype, width=bld.width,
        code=code, args=args, fpar=fpar,
        ipar=np.array(bld.ipar, dtype=np.int64),
        op_blocks=tuple(bld.op_blocks), rows=MappingProxyType(bld.rows), constants=tuple(constants),
        sources=MappingProxyType(sources), states=MappingProxyType(states),
        updates=np.array(updates, dtype=np.int64).reshape(-1, 4), params=MappingProxyType(bld.params),
        signal_rows=signal_rows, watch_ops=watch_ops + tuple(o for o, _, _ in next_states),
        watch=np.concatenate([np.array(watch, dtype=np.int64).reshape(-1, 2),
                              np.array([(r, n) for _, r, n in next_states], dtype=np.int64).reshape(-1, 2)]),
        sentinels=_merged_ranges((args[2 * (op[IN0] + j)], args[2 * (op[IN0] + j) + 1])
                                 for op in code if op[OP] in MAY_HIDE for j in range(op[NIN])),
    )


def _merged_ranges(ranges) -> np.ndarray:
    """(row, size) ranges → the union as sorted, disjoint, non-adjacent (row, size) ranges, int64 (n, 2)."""
    merged: list[list[int]] = []
    for row, size in sorted((int(r), int(n)) for r, n in ranges):
        if merged and row <= merged[-1][0] + merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], row + size - merged[-1][0])
        else:
            merged.append([row, size])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)
