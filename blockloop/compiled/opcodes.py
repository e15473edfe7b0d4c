"""Opcodes and the op-table layout shared by the lowering (no numba) and the kernels (numba)."""

__all__ = ["OPCODES", "ACTIVATIONS", "OP", "OUT", "N", "IN0", "NIN", "P", "WIDTH"]

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
}

#: Sibling σ/tanh blocks fused by the lowering (:mod:`.fusion`); no block declares this op.
ACTIVATIONS = 10

# Columns of the op table ``code`` (int64, one row per op).
OP, OUT, N, IN0, NIN, P = range(6)
#: Width of the op table.
WIDTH = 6
