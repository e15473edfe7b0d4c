"""The reverse sweep of the compiled backend: backpropagation through time over a lowered program.

The forward loop (:func:`.vm.run_steps`) keeps every step's signal rows in a trace; this loop
walks the steps backwards with a cotangent array ``g`` of the same layout, in four phases per
step k (the same as the interpreter's :mod:`blockloop.autodiff.interpreted`):

1. the loss cotangents of step k are added to the logged rows;
2. each state's cotangent of x[k+1] goes to the rows that fed its update (UnitDelay: its input);
3. the ops' adjoints run in reverse schedule order (a signal's consumers all come after its
   producer, so its cotangent is complete when the producer is reached); Demux outputs share
   their input's rows, so their cotangents add up there with no op;
4. a state's rows now hold the cotangent of x[k] (the delay's output is its state), carried to
   step k − 1; constants' rows are summed over the steps.

Adjoint of each op, per batch column (the forward rules are in :mod:`.vm`):

======================  ===============================================================
gain_scalar             gu += k·gy;            gk += Σ gy·u
gain_elementwise        gu += K ⊙ gy;          gK += Σ_b gy ⊙ u
gain_matrix             gu += Kᵀ·gy;           gK += Σ_b gy ⊗ u  (batch 1: summed in Kᵀ's slot, folded)
sum                     gu_j += s_j·gy
product                 gu_j += gy ⊙ Π_{l≠j} u_l
sigmoid                 gu += gy ⊙ y ⊙ (1 − y)
tanh                    gu += gy ⊙ (1 − y²)
concat                  gu_j += gy[rows of u_j]
select                  gu[idx_i] += gy_i      (repeated indices add up)
activations             row by row, the sigmoid or tanh rule
======================  ===============================================================
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cache import drop_stale

drop_stale(__file__, "opcodes.py")

from .opcodes import IN0, NIN, OP, OUT, N, P  # noqa: E402 - after the cache check

__all__ = ["backward_steps", "run_backward"]

_0, _1, _2, _3, _4 = (np.uint64(v) for v in range(5))


@njit(cache=True, nogil=True, error_model="numpy")
def backward_steps(steps, code, args, fpar, ipar, updates, cotan_rows, trace, cotan, g, gx, gfpar, gsig0,
                   const_rows, B):
    """Reverse sweep over ``steps`` steps of one batch chunk; accumulates into gfpar and gsig0.

    Parameters
    ----------
    code, args, fpar, ipar, updates : the lowered program (see :mod:`.lowering`)
    cotan_rows : int64 (·, 3) — (signal row, cotangent row, size) of each loss-targeted signal
    trace : (T, W·B) the forward signal rows of every step
    cotan : (T, C·B) ∂loss/∂signal of the targeted signals
    g : (W·B,) scratch; gx : (X·B,) the carried state cotangents (zero on entry)
    gfpar : like fpar, ∂loss/∂op parameters (summed over batch columns and steps)
    gsig0 : (W·B,) ∂loss/∂(initial rows): constants' rows summed over steps, states' rows at k = 0
    const_rows : int64 (·, 2) — (row, size) of each constant
    B : uint64
    """
    W = g.shape[0]
    for k in range(steps - 1, -1, -1):
        sig = trace[k]
        for e in range(W):
            g[e] = 0
        for s in range(cotan_rows.shape[0]):
            row, col = np.uint64(cotan_rows[s, 0]) * B, np.uint64(cotan_rows[s, 1]) * B
            for e in range(np.uint64(cotan_rows[s, 2]) * B):
                g[row + e] += cotan[k, col + e]
        for s in range(updates.shape[0]):
            m, row, col = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 1]) * B, np.uint64(updates[s, 2]) * B
            for e in range(m):
                g[row + e] += gx[col + e]
        for o in range(code.shape[0] - 1, -1, -1):
            op, nin = code[o, OP], code[o, NIN]
            out, n, p = np.uint64(code[o, OUT]) * B, np.uint64(code[o, N]), np.uint64(code[o, P])
            m = n * B
            a = 2 * code[o, IN0]
            u = np.uint64(args[a]) * B
            if op == 3:  # gain_matrix
                kn = np.uint64(args[a + 1])
                t = p + n * kn  # Kᵀ's slot
                if B == 1:  # one column: gu_j += Σ_i Kᵀ_ji·gy_i, rows i in order (as below), 4 j at a time
                    j = _0
                    while j + _4 <= kn:
                        a0, a1, a2, a3 = g[u + j], g[u + j + _1], g[u + j + _2], g[u + j + _3]
                        q0, q1, q2, q3 = t + j * n, t + (j + _1) * n, t + (j + _2) * n, t + (j + _3) * n
                        for i in range(n):
                            gy = g[out + i]
                            a0 += fpar[q0 + i] * gy
                            a1 += fpar[q1 + i] * gy
                            a2 += fpar[q2 + i] * gy
                            a3 += fpar[q3 + i] * gy
                        g[u + j], g[u + j + _1], g[u + j + _2], g[u + j + _3] = a0, a1, a2, a3
                        j += _4
                    while j < kn:
                        acc = g[u + j]
                        for i in range(n):
                            acc += fpar[t + j * n + i] * g[out + i]
                        g[u + j] = acc
                        j += _1
                    # gKᵀ_ji += u_j·gy_i into Kᵀ's slot, contiguous in i; folded into gK at the end
                    for j in range(kn):
                        uj = sig[u + j]
                        for i in range(n):
                            gfpar[t + j * n + i] += g[out + i] * uj
                    continue
                for i in range(n):
                    y = out + i * B
                    for j in range(kn):
                        kij, x = fpar[p + i * kn + j], u + j * B
                        acc = gfpar[p + i * kn + j]
                        for b in range(B):
                            g[x + b] += kij * g[y + b]
                            acc += g[y + b] * sig[x + b]
                        gfpar[p + i * kn + j] = acc
            elif op == 6:  # sigmoid
                for e in range(m):
                    y = sig[out + e]
                    g[u + e] += g[out + e] * (y * (1 - y))
            elif op == 7:  # tanh
                for e in range(m):
                    y = sig[out + e]
                    g[u + e] += g[out + e] * (1 - y * y)
            elif op == 4:  # sum
                for j in range(nin):
                    u = np.uint64(args[a + 2 * j]) * B
                    if fpar[p + np.uint64(j)] > 0:
                        for e in range(m):
                            g[u + e] += g[out + e]
                    else:
                        for e in range(m):
                            g[u + e] -= g[out + e]
            elif op == 5:  # product
                if nin == 2:  # two loops, each with one store stream, so each vectorizes
                    v = np.uint64(args[a + 2]) * B
                    for e in range(m):
                        g[u + e] += g[out + e] * sig[v + e]
                    for e in range(m):
                        g[v + e] += g[out + e] * sig[u + e]
                    continue
                for j in range(nin):
                    uj = np.uint64(args[a + 2 * j]) * B
                    for e in range(m):
                        prod = g[out + e]
                        for other in range(nin):
                            if other != j:
                                prod *= sig[np.uint64(args[a + 2 * other]) * B + e]
                        g[uj + e] += prod
            elif op == 1:  # gain_scalar
                kk, acc = fpar[p], gfpar[p]
                for e in range(m):
                    g[u + e] += kk * g[out + e]
                    acc += g[out + e] * sig[u + e]
                gfpar[p] = acc
            elif op == 2:  # gain_elementwise
                for i in range(n):
                    kk, acc = fpar[p + i], gfpar[p + i]
                    for e in range(i * B, i * B + B):
                        g[u + e] += kk * g[out + e]
                        acc += g[out + e] * sig[u + e]
                    gfpar[p + i] = acc
            elif op == 8:  # concat
                y = out
                for j in range(nin):
                    u, size = np.uint64(args[a + 2 * j]) * B, np.uint64(args[a + 2 * j + 1]) * B
                    for e in range(size):
                        g[u + e] += g[y + e]
                    y += size
            elif op == 10:  # activations (fused σ/tanh siblings): each row's own rule above
                if B == 1:
                    for i in range(n):
                        y = sig[out + i]
                        g[u + i] += g[out + i] * ((1 - y * y) if ipar[p + i] != 0 else (y * (1 - y)))
                    continue
                for i in range(n):
                    t = ipar[p + i] != 0
                    for e in range(i * B, i * B + B):
                        y = sig[out + e]
                        g[u + e] += g[out + e] * ((1 - y * y) if t else (y * (1 - y)))
            elif op == 9:  # select
                for i in range(n):
                    x = u + np.uint64(ipar[p + i]) * B
                    for b in range(B):
                        g[x + b] += g[out + i * B + b]
        for s in range(updates.shape[0]):
            m, col, row = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 2]) * B, np.uint64(updates[s, 3]) * B
            for e in range(m):
                gx[col + e] = g[row + e]
        for s in range(const_rows.shape[0]):
            row, m = np.uint64(const_rows[s, 0]) * B, np.uint64(const_rows[s, 1]) * B
            for e in range(m):
                gsig0[row + e] += g[row + e]
    for s in range(updates.shape[0]):
        m, col, row = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 2]) * B, np.uint64(updates[s, 3]) * B
        for e in range(m):
            gsig0[row + e] = gx[col + e]
    for o in range(code.shape[0]):  # fold the batch-1 gKᵀ sums into gK (the Kᵀ slot is no parameter)
        if code[o, OP] == 3:
            n, kn, p = code[o, N], args[2 * code[o, IN0] + 1], code[o, P]
            for i in range(n):
                for j in range(kn):
                    gfpar[p + i * kn + j] += gfpar[p + n * kn + j * n + i]
                    gfpar[p + n * kn + j * n + i] = 0


def run_backward(program, plan, cotangent_of, paths, values, targets):
    """Forward with a trace, the loss cotangents, the reverse sweep: ``(logged, loss, grads by path)``.

    ``cotangent_of(logged) -> (loss, {name: (T, B, n) cotangent})`` for the ``targets`` names;
    ``values`` overrides parameters by path for this evaluation.
    """
    from .tape import Tape

    tape = Tape(program, plan, targets)
    tape.set_values(values or {})
    logged = tape.forward()
    loss, cotangents = cotangent_of(logged)
    gfpar, gsig0 = tape.backward(cotangents)
    return logged, loss, tape.grads(paths, gfpar, gsig0)
