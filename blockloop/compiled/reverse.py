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
state_space  30/31      gx += Cᵀ·gy, gu += Dᵀ·gy; gC, gD (0 where D = 0) / the same with A, B on gx[k+1]
transfer_fn  32/33      through y = b₀u + x₁ and xᵢ' = xᵢ₊₁ + bᵢu − aᵢy, then b = num/den₀, a = den/den₀
integrator   34/35      gx += gy; gu += K·Ts·gy (backward Euler, next state); gK += Ts·Σ gy·u
saturation              gu += gy where lower ≤ u ≤ upper (limits included), else 0
dead_zone               gu += gy where u > end or u < start, else 0
abs                     gu += sign(u)·gy, 0 at u = 0
math_function           gu += gy·f′: y, 1/u, 0.5/y, cos u, −sin u, 2u, −y² (MathFunction's table)
min_max                 gu_j += gy for the first input j holding the min (max)
switch                  gu1 += gy where control passes, else gu2 += gy; control: none
matrix_product          gU1 += gY·U2ᵀ, gU2 += U1ᵀ·gY
======================  ===============================================================
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cache import drop_stale

drop_stale(__file__, "opcodes.py")

from .opcodes import IN0, NIN, OP, OUT, N, P  # noqa: E402 - after the cache check

__all__ = ["backward_steps", "run_backward"]

_0, _1, _2, _3, _4, _8 = (np.uint64(v) for v in (0, 1, 2, 3, 4, 8))


@njit(cache=True, nogil=True, error_model="numpy")
def _control_op_adjoint(op, o, code, args, a, nin, out, go, n, m, p, u, sig, g, fpar, gfpar, ipar, B):
    """The adjoints of the control blocks' ops (20–35, table above), in :func:`backward_steps`' variables.

    A call per op, out of the hot loop, as :func:`.vm._control_op`. ``out``: the op's output rows in
    ``sig``; ``go``: its output cotangent's rows in ``g`` (:mod:`.aliasing`).
    """
    if op == 20:  # saturation: 1 on [lower, upper], limits included
        lo, hi = fpar[p], fpar[p + _1]
        for e in range(m):
            uv = sig[u + e]
            if uv >= lo and uv <= hi:
                g[u + e] += g[go + e]
    elif op == 21:  # dead_zone: 1 outside [start, end], 0 on it
        lo, hi = fpar[p], fpar[p + _1]
        for e in range(m):
            uv = sig[u + e]
            if uv > hi or uv < lo:
                g[u + e] += g[go + e]
    elif op == 22:  # abs: sign(u), 0 at 0
        for e in range(m):
            uv = sig[u + e]
            if uv > 0:
                g[u + e] += g[go + e]
            elif uv < 0:
                g[u + e] -= g[go + e]
    elif op == 23:  # math_function: the derivatives of MathFunction's table
        fn = ipar[p + _1]
        for e in range(m):
            uv, yv = sig[u + e], sig[out + e]
            if fn == 0:
                d = yv
            elif fn == 1:
                d = 1 / uv
            elif fn == 2:
                d = 0.5 / yv
            elif fn == 3:
                d = np.cos(uv)
            elif fn == 4:
                d = -np.sin(uv)
            elif fn == 5:
                d = 2 * uv
            else:
                d = -(yv * yv)
            g[u + e] += g[go + e] * d
    elif op == 24:  # min_max: to the first input holding the min (max), as the forward rule picks it
        mx = ipar[p + _1] != 0
        for e in range(m):
            best, pick = sig[u + e], 0
            for j in range(1, nin):
                wv = sig[np.uint64(args[a + 2 * j]) * B + e]
                if ((wv > best) if mx else (wv < best)) or (wv != wv and best == best):
                    best, pick = wv, j
            g[np.uint64(args[a + 2 * pick]) * B + e] += g[go + e]
    elif op == 25:  # switch: to the selected input; the control gets none
        thr, crit = fpar[np.uint64(ipar[p])], ipar[p + _1]
        c, w = np.uint64(args[a + 2]) * B, np.uint64(args[a + 4]) * B
        for e in range(m):
            cv = sig[c + e]
            take = (cv >= thr) if crit == 0 else ((cv > thr) if crit == 1 else (cv != 0))
            if take:
                g[u + e] += g[go + e]
            else:
                g[w + e] += g[go + e]
    elif op == 26:  # matrix_product: gU1 += gY·U2ᵀ, gU2 += U1ᵀ·gY
        mq, kq, nq = np.uint64(ipar[p + _1]), np.uint64(ipar[p + _2]), np.uint64(ipar[p + _3])
        c = np.uint64(args[a + 2]) * B
        for i in range(mq):
            for j in range(nq):
                yr = go + (i * nq + j) * B
                for h in range(kq):
                    ar, cr = u + (i * kq + h) * B, c + (h * nq + j) * B
                    for b in range(B):
                        gv = g[yr + b]
                        g[ar + b] += gv * sig[cr + b]
                        g[cr + b] += sig[ar + b] * gv
    elif op == 30 or op == 31:  # state_space: gx += Cᵀgy, gu += Dᵀgy (30, D ≠ 0); Aᵀ, Bᵀ on gx[k+1] (31)
        ss_q = code[o, P]
        ss_f, ss_n, ss_m, ss_p = ipar[ss_q], ipar[ss_q + 1], ipar[ss_q + 2], ipar[ss_q + 3]
        ss_x = np.uint64(ipar[ss_q + 5]) * B
        if op == 30:
            ss_rows, ss_k1, ss_use2 = ss_p, ss_f + ss_n * ss_n + ss_n * ss_m, ipar[ss_q + 4] != 0
        else:
            ss_rows, ss_k1, ss_use2 = ss_n, ss_f, True
        ss_k2 = ss_k1 + ss_rows * ss_n
        for i in range(ss_rows):
            ss_y = go + np.uint64(i) * B
            for j in range(ss_n):
                ss_c, ss_v = fpar[ss_k1 + i * ss_n + j], ss_x + np.uint64(j) * B
                ss_acc = gfpar[ss_k1 + i * ss_n + j]
                for b in range(B):
                    g[ss_v + b] += ss_c * g[ss_y + b]
                    ss_acc += g[ss_y + b] * sig[ss_v + b]
                gfpar[ss_k1 + i * ss_n + j] = ss_acc
            if not ss_use2:  # D = 0 is structural: no path from u, and its gradient stays 0
                continue
            for j in range(ss_m):
                ss_c, ss_v = fpar[ss_k2 + i * ss_m + j], u + np.uint64(j) * B
                ss_acc = gfpar[ss_k2 + i * ss_m + j]
                for b in range(B):
                    g[ss_v + b] += ss_c * g[ss_y + b]
                    ss_acc += g[ss_y + b] * sig[ss_v + b]
                gfpar[ss_k2 + i * ss_m + j] = ss_acc
    elif op == 32 or op == 33:  # transfer_function: through b = num/den₀, a = den/den₀ to num, den
        tf_q = code[o, P]
        tf_f, tf_L, tf_thr = ipar[tf_q], ipar[tf_q + 1], ipar[tf_q + 2] != 0
        tf_x = np.uint64(ipar[tf_q + 3]) * B
        tf_sB = np.uint64(args[a + 1]) * B
        tf_d0 = fpar[tf_f + tf_L]
        tf_b0 = fpar[tf_f] / tf_d0
        tf_gb, tf_ga = np.zeros(tf_L), np.zeros(tf_L)  # cotangents of b and a
        if op == 32:  # y = b₀u + x₁
            for e in range(tf_sB):
                tf_g = g[go + e]
                g[tf_x + e] += tf_g
                if tf_thr:  # num[0] = 0 is structural: no path from u, and its gradient stays 0
                    g[u + e] += tf_b0 * tf_g
                    tf_gb[0] += tf_g * sig[u + e]
        else:  # xᵢ[k+1] = xᵢ₊₁ + bᵢu − aᵢy, y = b₀u + x₁
            tf_N = tf_L - 1
            for e in range(tf_sB):
                tf_u, tf_x1 = sig[u + e], sig[tf_x + e]
                tf_y = tf_b0 * tf_u + tf_x1 if tf_thr else tf_x1
                tf_gy = 0.0
                for i in range(tf_N):
                    tf_g = g[go + np.uint64(i) * tf_sB + e]
                    tf_gy -= (fpar[tf_f + tf_L + i + 1] / tf_d0) * tf_g
                    if i < tf_N - 1:
                        g[tf_x + np.uint64(i + 1) * tf_sB + e] += tf_g
                    g[u + e] += (fpar[tf_f + i + 1] / tf_d0) * tf_g
                    tf_gb[i + 1] += tf_g * tf_u
                    tf_ga[i + 1] -= tf_g * tf_y
                g[tf_x + e] += tf_gy
                if tf_thr:
                    g[u + e] += tf_b0 * tf_gy
                    tf_gb[0] += tf_gy * tf_u
        tf_tot = 0.0
        for j in range(tf_L):
            gfpar[tf_f + j] += tf_gb[j] / tf_d0
            gfpar[tf_f + tf_L + j] += tf_ga[j] / tf_d0
            tf_tot += tf_gb[j] * (fpar[tf_f + j] / tf_d0) + tf_ga[j] * (fpar[tf_f + tf_L + j] / tf_d0)
        gfpar[tf_f + tf_L] -= tf_tot / tf_d0
    elif op == 34 or op == 35:  # integrator: gx += g; gu += K·Ts·g (backward Euler, next state); gK
        it_q = code[o, P]
        it_f = ipar[it_q]
        it_c = fpar[it_f] * fpar[it_f + 1]
        it_x = np.uint64(ipar[it_q + 2]) * B
        it_acc = 0.0
        for e in range(m):
            g[it_x + e] += g[go + e]
        if op == 35 or ipar[it_q + 1] != 0:
            for e in range(m):
                g[u + e] += it_c * g[go + e]
                it_acc += g[go + e] * sig[u + e]
        gfpar[it_f] += it_acc * fpar[it_f + 1]


@njit(cache=True, nogil=True, error_model="numpy")
def backward_steps(steps, code, args, fpar, ipar, updates, cotan_rows, trace, cotan, g, gx, gfpar, gsig0,
                   const_rows, B, g_rows):
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
    const_rows : int64 (·, 3) — (row, size, row of its cotangent) of each constant
    B : uint64
    g_rows : int64 (n_ops, 2) — per op, its output cotangent's first row and 1 to skip its adjoint
        (:func:`.aliasing.cotangent_rows`; ``(code[:, OUT], 0)`` keeps every cotangent in its own rows)
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
            if g_rows[o, 1] != 0:  # a Sum whose inputs read their cotangent from its rows (.aliasing)
                continue
            out, n, p = np.uint64(code[o, OUT]) * B, np.uint64(code[o, N]), np.uint64(code[o, P])
            go = np.uint64(g_rows[o, 0]) * B  # where the output's cotangent is: out, or an aliasing Sum's rows
            m = n * B
            a = 2 * code[o, IN0]
            u = np.uint64(args[a]) * B
            if op == 3:  # gain_matrix
                kn = np.uint64(args[a + 1])
                t = p + n * kn  # Kᵀ's slot
                if B == 1 and n == _1:  # one output (a row vector K, also Kᵀ): the loops below in one pass
                    gy = g[go]
                    for j in range(kn):
                        g[u + j] += fpar[t + j] * gy
                        gfpar[t + j] += gy * sig[u + j]
                    continue
                if B == 1:  # one column: gu_j += Σ_i Kᵀ_ji·gy_i, rows i in order (as below), 4 j at a time
                    j = _0
                    while j + _4 <= kn:
                        a0, a1, a2, a3 = g[u + j], g[u + j + _1], g[u + j + _2], g[u + j + _3]
                        q0, q1, q2, q3 = t + j * n, t + (j + _1) * n, t + (j + _2) * n, t + (j + _3) * n
                        for i in range(n):
                            gy = g[go + i]
                            a0 += fpar[q0 + i] * gy
                            a1 += fpar[q1 + i] * gy
                            a2 += fpar[q2 + i] * gy
                            a3 += fpar[q3 + i] * gy
                        g[u + j], g[u + j + _1], g[u + j + _2], g[u + j + _3] = a0, a1, a2, a3
                        j += _4
                    while j < kn:
                        acc = g[u + j]
                        for i in range(n):
                            acc += fpar[t + j * n + i] * g[go + i]
                        g[u + j] = acc
                        j += _1
                    # gKᵀ_ji += u_j·gy_i into Kᵀ's slot, contiguous in i; folded into gK at the end
                    for j in range(kn):
                        uj = sig[u + j]
                        for i in range(n):
                            gfpar[t + j * n + i] += g[go + i] * uj
                    continue
                for i in range(n):
                    y = go + i * B
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
                    g[u + e] += g[go + e] * (y * (1 - y))
            elif op == 7:  # tanh
                for e in range(m):
                    y = sig[out + e]
                    g[u + e] += g[go + e] * (1 - y * y)
            elif op == 4:  # sum
                if nin == 2 or nin == 3:  # one pass; x + s·gy is x ± gy exactly
                    s0, s1 = fpar[p], fpar[p + _1]
                    v = np.uint64(args[a + 2]) * B
                    if nin == 2:
                        for e in range(m):
                            gy = g[go + e]
                            g[u + e] += s0 * gy
                            g[v + e] += s1 * gy
                    else:
                        s2, w = fpar[p + _2], np.uint64(args[a + 4]) * B
                        for e in range(m):
                            gy = g[go + e]
                            g[u + e] += s0 * gy
                            g[v + e] += s1 * gy
                            g[w + e] += s2 * gy
                    continue
                for j in range(nin):
                    u = np.uint64(args[a + 2 * j]) * B
                    if fpar[p + np.uint64(j)] > 0:
                        for e in range(m):
                            g[u + e] += g[go + e]
                    else:
                        for e in range(m):
                            g[u + e] -= g[go + e]
            elif op == 5:  # product
                if nin == 2:
                    v = np.uint64(args[a + 2]) * B
                    if m < _8 and (u == v or u + m <= v or v + m <= u):  # too short to vectorize: one pass
                        for e in range(m):  # (each element gets its two terms in the same order as below)
                            gy = g[go + e]
                            g[u + e] += gy * sig[v + e]
                            g[v + e] += gy * sig[u + e]
                        continue
                    for e in range(m):  # two loops, each with one store stream, so each vectorizes
                        g[u + e] += g[go + e] * sig[v + e]
                    for e in range(m):
                        g[v + e] += g[go + e] * sig[u + e]
                    continue
                for j in range(nin):
                    uj = np.uint64(args[a + 2 * j]) * B
                    for e in range(m):
                        prod = g[go + e]
                        for other in range(nin):
                            if other != j:
                                prod *= sig[np.uint64(args[a + 2 * other]) * B + e]
                        g[uj + e] += prod
            elif op == 1:  # gain_scalar
                kk, acc = fpar[p], gfpar[p]
                for e in range(m):
                    g[u + e] += kk * g[go + e]
                    acc += g[go + e] * sig[u + e]
                gfpar[p] = acc
            elif op == 2:  # gain_elementwise
                for i in range(n):
                    kk, acc = fpar[p + i], gfpar[p + i]
                    for e in range(i * B, i * B + B):
                        g[u + e] += kk * g[go + e]
                        acc += g[go + e] * sig[u + e]
                    gfpar[p + i] = acc
            elif op == 8:  # concat
                y = go
                for j in range(nin):
                    u, size = np.uint64(args[a + 2 * j]) * B, np.uint64(args[a + 2 * j + 1]) * B
                    for e in range(size):
                        g[u + e] += g[y + e]
                    y += size
            elif op == 10:  # activations (fused σ/tanh siblings): each row's own rule above
                if B == 1:
                    for i in range(n):
                        y = sig[out + i]
                        g[u + i] += g[go + i] * ((1 - y * y) if ipar[p + i] != 0 else (y * (1 - y)))
                    continue
                for i in range(n):
                    t = ipar[p + i] != 0
                    for e in range(i * B, i * B + B):
                        y = sig[out + e]
                        g[u + e] += g[go + e] * ((1 - y * y) if t else (y * (1 - y)))
            elif op == 9:  # select
                for i in range(n):
                    x = u + np.uint64(ipar[p + i]) * B
                    for b in range(B):
                        g[x + b] += g[go + i * B + b]
            elif op >= 20:  # the control blocks' ops, out of the hot loop (_control_op_adjoint)
                _control_op_adjoint(op, o, code, args, a, nin, out, go, n, m, p, u, sig, g, fpar, gfpar, ipar, B)
        for s in range(updates.shape[0]):
            m, col, row = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 2]) * B, np.uint64(updates[s, 3]) * B
            for e in range(m):
                gx[col + e] = g[row + e]
        for s in range(const_rows.shape[0]):
            row, m = np.uint64(const_rows[s, 0]) * B, np.uint64(const_rows[s, 1]) * B
            grow = np.uint64(const_rows[s, 2]) * B  # its cotangent's rows (.aliasing)
            for e in range(m):
                gsig0[row + e] += g[grow + e]
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
