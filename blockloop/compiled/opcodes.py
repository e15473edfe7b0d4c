"""Opcodes and the op-table layout shared by the lowering (no numba) and the kernels (numba)."""

__all__ = ["OPCODES", "ACTIVATIONS", "MAY_OVERFLOW", "MAY_HIDE", "OP", "OUT", "N", "IN0", "NIN", "P", "WIDTH"]

#: Op name (as in :class:`blockloop.blocks.Lowering`) → integer opcode of a kernel below.
OPCODES = {
    "gain_scalar": 1,
    "gain_elementwise": 2,
    "gain_matrix": 3,
    "sum": 4,
    "product": 5,
    "sigmoid": 6,
    "tanh": 7,
    "concat": 8,
    "select": 9,
    "kalman": 11,
}

#: Sibling σ/tanh blocks fused by the lowering (:mod:`.fusion`); no block declares this op.
ACTIVATIONS = 10

#: Ops whose output can be non-finite when every input is finite (overflow: |y| beyond the
#: dtype's range). A run with ``check_finite`` watches their output rows every step; the other
#: ops (σ, tanh, routing) and the structural ones cannot create a NaN or inf, only pass one on.
MAY_OVERFLOW = frozenset(OPCODES[name] for name in ("gain_scalar", "gain_elementwise", "gain_matrix", "sum",
                                                     "product", "kalman"))

#: Ops whose output can be finite when an input is not: σ and tanh squash ±inf to a finite
#: value, a Selector may drop the element. Every other op passes a NaN/inf on (0·inf and
#: inf − inf are NaN), so a non-finite value that is never logged must cross the input of one
#: of these, or end in a state: the cheap per-step check of ``check_finite`` watches only these
#: inputs (see :mod:`.backend`).
MAY_HIDE = frozenset((OPCODES["sigmoid"], OPCODES["tanh"], OPCODES["select"], ACTIVATIONS))

# Columns of the op table ``code`` (int64, one row per op).
OP, OUT, N, IN0, NIN, P = range(6)
#: Width of the op table.
WIDTH = 6
