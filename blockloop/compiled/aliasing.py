"""Cotangent aliasing: where the reverse sweep keeps each op's output cotangent.

A Sum with every sign + passes its output cotangent unchanged to each input: its adjoint is
``g[u_j] += 1·gy``. When each input is read by this Sum alone (no other op, no state update, not a
loss target) and is produced by one single-output op or is a Constant, that input's cotangent
*is* gy — so the reverse sweep can let the producer read gy straight from the Sum's cotangent
rows and skip the Sum's adjoint. An LSTM has three such sums a step (the gates W·x + R·h + b, the
cell f⊙c + i⊙g and the output F·h + bias); skipping their adjoints saved about 17 ns of a 155 ns
backward step (measured side by side, thread CPU time).

The numbers do not change: a skipped ``g[u] += 1·gy`` added gy to a zero, which gives gy itself
(0 + x = x exactly, bar the sign of a zero: −0 became +0, and a signed zero never changes a
nonzero result downstream, which only multiplies and adds it). Nested sums chain: a Sum that is
itself the single input of an aliased Sum passes the outer Sum's rows on.

Decided per loss (the loss targets must keep their own rows), so it lives with the Tape, not in
the lowering.
"""

from __future__ import annotations

import numpy as np

from .opcodes import IN0, NIN, OP, OPCODES, OUT, N, P

__all__ = ["cotangent_rows"]

_SUM = OPCODES["sum"]


def _reads(low, cotan_rows) -> list[tuple[int, int]]:
    """Every (row, size) range the reverse sweep adds a cotangent into, once per reader."""
    reads = []
    for op in low.code:
        for j in range(op[NIN]):
            a = 2 * (op[IN0] + j)
            reads.append((int(low.args[a]), int(low.args[a + 1])))
    reads += [(int(row), int(size)) for size, row, _, _ in low.updates]
    reads += [(int(row), int(size)) for row, _, size in cotan_rows]
    return reads


def cotangent_rows(low, program, cotan_rows) -> tuple[np.ndarray, np.ndarray]:
    """``(g_rows, const_rows)`` for :func:`.reverse.backward_steps`.

    ``g_rows``: int64 (n_ops, 2) — per op, the first row of its output cotangent and 1 if its
    adjoint is skipped (an aliased Sum), else 0. ``const_rows``: int64 (n_constants, 3) — each
    Constant's (row, size, row of its cotangent).
    """
    code = low.code
    g_rows = np.stack([code[:, OUT], np.zeros(len(code), dtype=np.int64)], axis=1).astype(np.int64)
    const_rows = np.array([(row, len(v), row) for row, v in low.constants], dtype=np.int64).reshape(-1, 3)
    const_at = {(int(row), int(size)): c for c, (row, size, _) in enumerate(const_rows)}
    producer = {}
    for o, op in enumerate(code):
        block = program.blocks.get(low.op_blocks[o])
        if block is not None and len(block.outputs) == 1 and op[OP] != OPCODES["kalman"]:
            producer.setdefault((int(op[OUT]), int(op[N])), []).append(o)
    readers: dict[tuple[int, int], int] = {}
    reads = _reads(low, cotan_rows)
    for rng in reads:
        readers[rng] = readers.get(rng, 0) + 1

    def read_once(row: int, size: int) -> bool:
        overlapping = sum(1 for r, s in reads if r < row + size and row < r + s)
        return overlapping == 1 and readers.get((row, size)) == 1

    for o in range(len(code) - 1, -1, -1):  # consumers first, so an outer Sum's rows are final
        op = code[o]
        if op[OP] != _SUM or not all(low.fpar[op[P] + j] == 1 for j in range(op[NIN])):
            continue
        inputs = [(int(low.args[2 * (op[IN0] + j)]), int(low.args[2 * (op[IN0] + j) + 1])) for j in range(op[NIN])]
        if not all(read_once(*rng) and (len(producer.get(rng, ())) == 1 or rng in const_at) for rng in inputs):
            continue
        g_rows[o, 1] = 1
        for rng in inputs:
            if rng in const_at:
                const_rows[const_at[rng], 2] = g_rows[o, 0]
            else:
                g_rows[producer[rng][0], 0] = g_rows[o, 0]
    return g_rows, const_rows
