"""Opcodes and the op-table layout shared by the lowering (no numba) and the kernels (numba)."""

__all__ = ["OPCODES", "ACTIVATIONS", "MAY_OVERFLOW", "MAY_HIDE", "OP", "OUT", "N", "IN0", "NIN", "P", "WIDTH",
           "NEXT_STATE_OPS", "STATE_FPAR"]

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
    "saturation": 20,
    "dead_zone": 21,
    "abs": 22,
    "math_function": 23,
    "min_max": 24,
    "switch": 25,
    "matrix_product": 26,
}

# The stateful linear blocks (opcodes 30–39): each declares its *output* op here; the lowering
# appends its *next-state* op (NEXT_STATE_OPS, never declared by a block) after every output op.
OPCODES.update({
    "state_space": 30,        # DiscreteStateSpace: y = C·x + D·u
    "transfer_function": 32,  # DiscreteTransferFunction (direct form II transposed): y = b₀/a₀·u + x₁
    "integrator": 34,         # DiscreteIntegrator: y = x (forward Euler) or x + K·Ts·u (backward Euler)
})

#: Output op name → opcode of the op that writes the block's next state into its next-state rows.
NEXT_STATE_OPS = {"state_space": 31, "transfer_function": 33, "integrator": 35}


def _ss_fpar(ints):
    n, m, p = ints[:3]
    return {"A": 0, "B": n * n, "C": n * n + n * m, "D": n * n + n * m + p * n}


#: Output op name → function of ``Lowering.ints`` → {array parameter: offset in the op's fpar}.
STATE_FPAR = {
    "state_space": _ss_fpar,                                      # A, B, C, D row-major
    "transfer_function": lambda ints: {"num": 0, "den": ints[0]},  # num, den zero-padded to L = ints[0]
    "integrator": lambda ints: {"K": 0},                           # K, Ts
}

#: Sibling σ/tanh blocks fused by the lowering (:mod:`.fusion`); no block declares this op.
ACTIVATIONS = 10

#: Ops whose output can be non-finite when every input is finite (overflow: |y| beyond the
#: dtype's range). A run with ``check_finite`` watches their output rows every step; the other
#: ops (σ, tanh, routing) and the structural ones cannot create a NaN or inf, only pass one on.
MAY_OVERFLOW = frozenset(OPCODES[name] for name in ("gain_scalar", "gain_elementwise", "gain_matrix", "sum",
                                                     "product", "kalman", "dead_zone", "math_function",
                                                     "matrix_product"))

#: Ops whose output can be finite when an input is not: σ and tanh squash ±inf to a finite
#: value, a Selector may drop the element. Every other op passes a NaN/inf on (0·inf and
#: inf − inf are NaN), so a non-finite value that is never logged must cross the input of one
#: of these, or end in a state: the cheap per-step check of ``check_finite`` watches only these
#: inputs (see :mod:`.backend`).
#: So can a Saturation (±inf → a limit), a Switch and a MinMax (inputs not selected) and a
#: MathFunction (exp(−inf) and 1/±inf are 0).
MAY_HIDE = frozenset((OPCODES["sigmoid"], OPCODES["tanh"], OPCODES["select"], ACTIVATIONS)) | frozenset(
    OPCODES[name] for name in ("saturation", "switch", "min_max", "math_function"))

#: The stateful linear blocks' output ops can overflow too (their next-state rows are watched as states).
MAY_OVERFLOW = MAY_OVERFLOW | frozenset(OPCODES[name] for name in NEXT_STATE_OPS)

# Columns of the op table ``code`` (int64, one row per op).
OP, OUT, N, IN0, NIN, P = range(6)
#: Width of the op table.
WIDTH = 6
