"""The step loop of the compiled backend: one numba function runs every diagram.

It is compiled once per dtype and cached on disk (``cache=True``), so a new diagram never
pays a compile: a diagram is data (the lowered tables of :mod:`.lowering`), not code.

Layout: ``sig`` is a flat array of W rows × B batch columns (row r, column b at ``r·B + b``);
a signal of size n is n consecutive rows, i.e. n·B consecutive elements, so elementwise ops
are single contiguous loops that vectorize over the batch. Offsets are unsigned (``B`` is a
uint64), which spares numba's negative-index wraparound, and the ops are written inline in
the loop rather than as functions taking arrays, which spares reference counting per op.

The forward rule of every op (opcode in :mod:`.opcodes`; each block declares its op in
``Block.lowering``) — the reverse sweep in :mod:`.reverse` holds the matching adjoints:

======================  ==============================================  =========================
op                      forward rule (per batch column)                  block
======================  ==============================================  =========================
gain_scalar         1   y = k·u                                          Gain (scalar K)
gain_elementwise    2   y = K ⊙ u                                        Gain (vector K)
gain_matrix         3   y = K·u, left-to-right dot products              Gain (matrix K)
sum                 4   y = s₁u₁ + s₂u₂ + …, left to right, s = ±1       Sum
product             5   y = u₁ ⊙ u₂ ⊙ …, left to right                   Product
sigmoid             6   y = 1 / (1 + e^−u)   (:func:`.mathfn.sigmoid`)    Sigmoid
tanh                7   y = tanh u           (:func:`.mathfn.tanh`)       Tanh
concat              8   y = [u₁; u₂; …]                                  Mux
select              9   y_i = u[idx_i]                                   Selector
activations        10   y_i = σ(u_i) or tanh(u_i), kind per row          σ/tanh siblings (.fusion)
kalman             11   x̂, P → x̂ (pred, filt), ẑ, e; next x̂, P          KalmanFilter (:func:`_kalman_step`)
state_space     30/31   y = C·x + D·u / next x = A·x + B·u (columns      DiscreteStateSpace
                        left to right; 31 runs after every output op)
transfer_fn     32/33   y = b₀u + x₁ / next xᵢ = xᵢ₊₁ + bᵢu − aᵢy        DiscreteTransferFunction
integrator      34/35   y = x or x + K·Ts·u / next x = x + K·Ts·u        DiscreteIntegrator
saturation         20   y = hi if u > hi, lo if u < lo, else u            Saturation
dead_zone          21   y = u − e if u > e, u − s if u < s, else u − u    DeadZone
abs                22   y = |u|                                          Abs
math_function      23   exp (:func:`.mathfn.exp`), log, sqrt, sin, cos,  MathFunction
                        u·u, 1/u (libm; sqrt and ÷ exact)
min_max            24   y = u₁, then u_j if u_j < y (> y) or NaN         MinMax
switch             25   y = u₁ if control ≥ / > thr or ≠ 0, else u₂       Switch
matrix_product     26   Y = U₁·U₂, row-major, sums left to right from 0  MatrixProduct
======================  ==============================================  =========================

Resolved when lowering, never executed per op: Constant (rows written once), Inport and
FromArray (rows copied from the sources each step), Outport and Probe (rows logged), Demux
(outputs are views of the input's rows), UnitDelay (its output *is* its state rows; the
update copies its input there after logging, staged so that delay chains read old states).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cache import drop_stale

drop_stale(__file__, "mathfn.py", "opcodes.py")

from .mathfn import exp, sigmoid, sigmoid_or_tanh, tanh  # noqa: E402 - after the cache check
from .opcodes import IN0, NIN, OP, OUT, N, P  # noqa: E402

__all__ = ["run_steps", "transpose_gains"]

# Unsigned constants: numba types uint64 ⊕ int literal as float64.
_0, _1, _2, _3, _4, _7 = (np.uint64(v) for v in (0, 1, 2, 3, 4, 7))


@njit(cache=True, nogil=True, error_model="numpy")
def transpose_gains(code, args, fpar):
    """Refresh the Kᵀ copy after each matrix gain's K in ``fpar`` (call after changing a K)."""
    for o in range(code.shape[0]):
        if code[o, OP] == 3:
            n, kn, p = code[o, N], args[2 * code[o, IN0] + 1], code[o, P]
            for i in range(n):
                for j in range(kn):
                    fpar[p + n * kn + j * n + i] = fpar[p + i * kn + j]


@njit(cache=True, nogil=True, error_model="numpy")
def _kalman_step(sig, fpar, ipar, q, out, u, z, B):
    """One step of :class:`blockloop.blocks.kalman.KalmanFilter` for every batch column.

    ``ipar[q:q+6]`` = fpar offset of A, B, H, D, Q, R (row-major, in that order), n, m, p, the
    state's first row (x̂ then P row-major) and the first row of the next state, which the
    step's update copies into the state. ``out``, ``u``, ``z``: first element of the outputs
    (x_pred, x_filt, z_pred, e on consecutive rows), of u and of z (rows × B). The equations
    are the block's; S⁻¹ is applied by a Cholesky solve (S is symmetric positive definite), in
    float64 whatever the program's dtype.
    """
    B, out, u, z = np.int64(B), np.int64(out), np.int64(u), np.int64(z)  # signed here: small loops, no mixing
    f, n, m, p = ipar[q], ipar[q + 1], ipar[q + 2], ipar[q + 3]
    sr, nr = ipar[q + 4] * B, ipar[q + 5] * B
    fA = f
    fB = fA + n * n
    fH = fB + n * m
    fD = fH + p * n
    fQ = fD + p * m
    fR = fQ + n * n
    x, xf, zp, e = np.empty(n), np.empty(n), np.empty(p), np.empty(p)
    P, PHt, S, L = np.empty((n, n)), np.empty((n, p)), np.empty((p, p)), np.empty((p, p))
    K, HP, Pf, APf = np.empty((n, p)), np.empty((p, n)), np.empty((n, n)), np.empty((n, n))
    for b in range(B):
        for i in range(n):
            x[i] = sig[sr + i * B + b]
            for j in range(n):
                P[i, j] = sig[sr + (n + i * n + j) * B + b]
        for i in range(p):  # ẑ = H·x̂ + D·u, e = z − ẑ
            acc = 0.0
            for j in range(n):
                acc += fpar[fH + i * n + j] * x[j]
            for j in range(m):
                acc += fpar[fD + i * m + j] * sig[u + j * B + b]
            zp[i] = acc
            e[i] = sig[z + i * B + b] - acc
        for i in range(n):  # P·Hᵀ
            for j in range(p):
                acc = 0.0
                for k in range(n):
                    acc += P[i, k] * fpar[fH + j * n + k]
                PHt[i, j] = acc
        for i in range(p):  # S = H·P·Hᵀ + R, then its Cholesky factor L (S = L·Lᵀ)
            for j in range(p):
                acc = fpar[fR + i * p + j]
                for k in range(n):
                    acc += fpar[fH + i * n + k] * PHt[k, j]
                S[i, j] = acc
        for j in range(p):
            d = S[j, j]
            for k in range(j):
                d -= L[j, k] * L[j, k]
            L[j, j] = np.sqrt(d)
            for i in range(j + 1, p):
                acc = S[i, j]
                for k in range(j):
                    acc -= L[i, k] * L[j, k]
                L[i, j] = acc / L[j, j]
        for r in range(n):  # K[r] = S⁻¹·(P·Hᵀ)[r]: forward then backward substitution
            for i in range(p):
                acc = PHt[r, i]
                for k in range(i):
                    acc -= L[i, k] * K[r, k]
                K[r, i] = acc / L[i, i]
            for i in range(p - 1, -1, -1):
                acc = K[r, i]
                for k in range(i + 1, p):
                    acc -= L[k, i] * K[r, k]
                K[r, i] = acc / L[i, i]
        for i in range(n):  # x̂[k|k] = x̂ + K·e
            acc = x[i]
            for j in range(p):
                acc += K[i, j] * e[j]
            xf[i] = acc
        for i in range(n):
            sig[out + i * B + b] = x[i]
            sig[out + (n + i) * B + b] = xf[i]
        for i in range(p):
            sig[out + (n + n + i) * B + b] = zp[i]
            sig[out + (n + n + p + i) * B + b] = e[i]
        for i in range(p):  # H·P
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += fpar[fH + i * n + k] * P[k, j]
                HP[i, j] = acc
        for i in range(n):  # P[k|k] = P − K·H·P
            for j in range(n):
                acc = P[i, j]
                for k in range(p):
                    acc -= K[i, k] * HP[k, j]
                Pf[i, j] = acc
        for i in range(n):  # symmetrized
            for j in range(i + 1, n):
                s = 0.5 * (Pf[i, j] + Pf[j, i])
                Pf[i, j] = s
                Pf[j, i] = s
        for i in range(n):  # A·P[k|k]
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += fpar[fA + i * n + k] * Pf[k, j]
                APf[i, j] = acc
        for i in range(n):  # next state: x̂[k+1|k] = A·x̂[k|k] + B·u, P[k+1|k] = A·P[k|k]·Aᵀ + Q
            acc = 0.0
            for k in range(n):
                acc += fpar[fA + i * n + k] * xf[k]
            for k in range(m):
                acc += fpar[fB + i * m + k] * sig[u + k * B + b]
            sig[nr + i * B + b] = acc
            for j in range(n):
                acc = fpar[fQ + i * n + j]
                for k in range(n):
                    acc += APf[i, k] * fpar[fA + j * n + k]
                sig[nr + (n + i * n + j) * B + b] = acc


@njit(cache=True, nogil=True, error_model="numpy")
def _control_op(op, o, code, args, a, nin, out, n, m, p, u, sig, fpar, ipar, B, zero):
    """The forward rule of the control blocks' ops (20–35, table above), in :func:`run_steps`' variables.

    A call per op rather than branches inline in the step loop: inline, they made the loop's
    code larger and the LSTM's forward step ~5 % slower (measured side by side).
    """
    if op == 20:  # saturation: fpar = lower, upper
        lo, hi = fpar[p], fpar[p + _1]
        for e in range(m):
            uv = sig[u + e]
            sig[out + e] = hi if uv > hi else (lo if uv < lo else uv)
    elif op == 21:  # dead_zone: fpar = start, end
        lo, hi = fpar[p], fpar[p + _1]
        for e in range(m):
            uv = sig[u + e]
            sig[out + e] = uv - hi if uv > hi else (uv - lo if uv < lo else uv - uv)
    elif op == 22:  # abs
        for e in range(m):
            sig[out + e] = abs(sig[u + e])
    elif op == 23:  # math_function: ipar = fpar offset, function code (MATH_FUNCTIONS)
        fn = ipar[p + _1]
        if fn == 0:
            for e in range(m):
                sig[out + e] = exp(sig[u + e])
        elif fn == 1:
            for e in range(m):
                sig[out + e] = np.log(sig[u + e])
        elif fn == 2:
            for e in range(m):
                sig[out + e] = np.sqrt(sig[u + e])
        elif fn == 3:
            for e in range(m):
                sig[out + e] = np.sin(sig[u + e])
        elif fn == 4:
            for e in range(m):
                sig[out + e] = np.cos(sig[u + e])
        elif fn == 5:
            for e in range(m):
                sig[out + e] = sig[u + e] * sig[u + e]
        else:
            for e in range(m):
                sig[out + e] = 1.0 / sig[u + e]
    elif op == 24:  # min_max: ipar = fpar offset, 0 (min) or 1 (max); left to right, NaN passed on
        mx = ipar[p + _1] != 0
        for e in range(m):
            sig[out + e] = sig[u + e]
        for j in range(1, nin):
            w = np.uint64(args[a + 2 * j]) * B
            for e in range(m):
                yv, wv = sig[out + e], sig[w + e]
                if ((wv > yv) if mx else (wv < yv)) or (wv != wv and yv == yv):
                    sig[out + e] = wv
    elif op == 25:  # switch (u1, control, u2): ipar = fpar offset (threshold), criterion
        thr, crit = fpar[np.uint64(ipar[p])], ipar[p + _1]
        c, w = np.uint64(args[a + 2]) * B, np.uint64(args[a + 4]) * B
        for e in range(m):
            cv = sig[c + e]
            take = (cv >= thr) if crit == 0 else ((cv > thr) if crit == 1 else (cv != 0))
            sig[out + e] = sig[u + e] if take else sig[w + e]
    elif op == 26:  # matrix_product: ipar = fpar offset, m, k, n; Y = U1·U2, sums left to right from 0
        mq, kq, nq = np.uint64(ipar[p + _1]), np.uint64(ipar[p + _2]), np.uint64(ipar[p + _3])
        c = np.uint64(args[a + 2]) * B
        for i in range(mq):
            for j in range(nq):
                yr = out + (i * nq + j) * B
                for b in range(B):
                    sig[yr + b] = zero
                for h in range(kq):
                    ar, cr = u + (i * kq + h) * B, c + (h * nq + j) * B
                    for b in range(B):
                        sig[yr + b] = sig[yr + b] + sig[ar + b] * sig[cr + b]
    elif op == 30 or op == 31:  # state_space: y = C·x + D·u (30); x[k+1] = A·x + B·u, next-state rows (31)
        ss_q = code[o, P]  # ipar: fpar offset, n, m, p, D ≠ 0, state row, next-state row
        ss_f, ss_n, ss_m, ss_p = ipar[ss_q], ipar[ss_q + 1], ipar[ss_q + 2], ipar[ss_q + 3]
        ss_x = np.uint64(ipar[ss_q + 5]) * B
        if op == 30:
            ss_rows, ss_k1, ss_use2 = ss_p, ss_f + ss_n * ss_n + ss_n * ss_m, ipar[ss_q + 4] != 0
        else:
            ss_rows, ss_k1, ss_use2 = ss_n, ss_f, True
        ss_k2 = ss_k1 + ss_rows * ss_n  # D after C, B after A
        for i in range(ss_rows):  # column by column, left to right, as the numpy rule
            ss_y = out + np.uint64(i) * B
            for b in range(B):
                sig[ss_y + b] = zero
            for j in range(ss_n):
                ss_c, ss_v = fpar[ss_k1 + i * ss_n + j], ss_x + np.uint64(j) * B
                for b in range(B):
                    sig[ss_y + b] += ss_c * sig[ss_v + b]
            if ss_use2:
                for j in range(ss_m):
                    ss_c, ss_v = fpar[ss_k2 + i * ss_m + j], u + np.uint64(j) * B
                    for b in range(B):
                        sig[ss_y + b] += ss_c * sig[ss_v + b]
    elif op == 32 or op == 33:  # transfer_function (direct form II transposed): y (32); x[k+1] (33)
        tf_q = code[o, P]  # ipar: fpar offset (num, den zero-padded to L), L, num[0] ≠ 0, state, next
        tf_f, tf_L, tf_thr = ipar[tf_q], ipar[tf_q + 1], ipar[tf_q + 2] != 0
        tf_x = np.uint64(ipar[tf_q + 3]) * B
        tf_sB = np.uint64(args[a + 1]) * B
        tf_d0 = fpar[tf_f + tf_L]
        tf_b0 = fpar[tf_f] / tf_d0
        if op == 32:
            for e in range(tf_sB):
                sig[out + e] = tf_b0 * sig[u + e] + sig[tf_x + e] if tf_thr else sig[tf_x + e]
        else:
            tf_N = tf_L - 1
            for i in range(tf_N):
                tf_bi, tf_ai = fpar[tf_f + i + 1] / tf_d0, fpar[tf_f + tf_L + i + 1] / tf_d0
                tf_dst, tf_nxt = out + np.uint64(i) * tf_sB, tf_x + np.uint64(i + 1) * tf_sB
                for e in range(tf_sB):
                    tf_y = tf_b0 * sig[u + e] + sig[tf_x + e] if tf_thr else sig[tf_x + e]
                    if i < tf_N - 1:
                        sig[tf_dst + e] = (sig[tf_nxt + e] + tf_bi * sig[u + e]) - tf_ai * tf_y
                    else:
                        sig[tf_dst + e] = tf_bi * sig[u + e] - tf_ai * tf_y
    elif op == 34 or op == 35:  # integrator: y = x or x + K·Ts·u (34); x[k+1] = x + K·Ts·u (35)
        it_q = code[o, P]  # ipar: fpar offset (K, Ts), backward Euler, state row, next-state row
        it_c = fpar[ipar[it_q]] * fpar[ipar[it_q] + 1]
        it_x = np.uint64(ipar[it_q + 2]) * B
        if op == 34 and ipar[it_q + 1] == 0:
            for e in range(m):
                sig[out + e] = sig[it_x + e]
        else:
            for e in range(m):
                sig[out + e] = sig[it_x + e] + it_c * sig[u + e]


@njit(cache=True, nogil=True, error_model="numpy")
def run_steps(steps, code, args, fpar, ipar, sources, updates, logs, sig, src, log, stage, trace, B, zero, watch):
    """Run ``steps`` steps of a lowered program on one batch chunk, in place; returns a step count.

    At each step k: copy the sources' k-th samples into their rows; run the ops in schedule
    order; if a ``watch`` row is now NaN or ±inf, stop and return k (``sig`` then holds step k's
    values); copy the logged rows into ``log[k]``; keep ``sig`` in ``trace[k]`` if a trace is
    kept (for the reverse sweep); then every state takes its update. Returns ``steps`` when no
    watched row went non-finite.

    Parameters
    ----------
    steps : int
    code, args, fpar, ipar : the op table and its arguments (see :mod:`.lowering`)
    sources, logs : int64 (·, 3)
        (signal row, source/log row, size) triples.
    updates : int64 (·, 4)
        (size, input row, stage row, state row) per stateful block.
    sig : (W·B,) signal rows, constants and initial states filled in
    src : (T, S·B) source samples; log : (T, L·B) logged samples, written here
    stage : (X·B,) scratch for the updates
    trace : (T, W·B), or (0, W·B) to keep none
    B : uint64, the number of batch columns
    zero : 0 in the program's dtype (so a float32 dot product accumulates in float32)
    watch : int64 (·, 2) — (row, size) to check every step (``LoweredProgram.watch``), or (0, 2)
    """
    keep = trace.shape[0] > 0
    for k in range(steps):
        for s in range(sources.shape[0]):
            row, col, m = np.uint64(sources[s, 0]) * B, np.uint64(sources[s, 1]) * B, np.uint64(sources[s, 2]) * B
            for e in range(m):
                sig[row + e] = src[k, col + e]
        for o in range(code.shape[0]):
            op, nin = code[o, OP], code[o, NIN]
            out, n, p = np.uint64(code[o, OUT]) * B, np.uint64(code[o, N]), np.uint64(code[o, P])
            m = n * B
            a = 2 * code[o, IN0]  # args[a + 2j] is input j's row, args[a + 2j + 1] its size
            u = np.uint64(args[a]) * B
            if op == 3:  # gain_matrix
                kn = np.uint64(args[a + 1])
                if B == 1 and n >= _4:  # y += Kᵀ[j]·u_j over j: each y_i is the same left-to-right sum
                    t = p + n * kn  # Kᵀ, contiguous in i, so the inner loop vectorizes
                    for i in range(n):
                        sig[out + i] = zero
                    for j in range(kn):
                        x = sig[u + j]
                        for i in range(n):
                            sig[out + i] += fpar[t + j * n + i] * x
                elif B == 1:  # four rows at a time: four independent sums, each still left to right
                    i = _0
                    while i + _4 <= n:
                        a0 = a1 = a2 = a3 = zero
                        q0, q1, q2, q3 = p + i * kn, p + (i + _1) * kn, p + (i + _2) * kn, p + (i + _3) * kn
                        for j in range(kn):
                            x = sig[u + j]
                            a0 += fpar[q0 + j] * x
                            a1 += fpar[q1 + j] * x
                            a2 += fpar[q2 + j] * x
                            a3 += fpar[q3 + j] * x
                        sig[out + i], sig[out + i + _1], sig[out + i + _2], sig[out + i + _3] = a0, a1, a2, a3
                        i += _4
                    while i < n:
                        acc = zero
                        for j in range(kn):
                            acc += fpar[p + i * kn + j] * sig[u + j]
                        sig[out + i] = acc
                        i += _1
                else:
                    for i in range(n):
                        y = out + i * B
                        for b in range(B):
                            sig[y + b] = 0
                        for j in range(kn):
                            kij, x = fpar[p + i * kn + j], u + j * B
                            for b in range(B):
                                sig[y + b] += kij * sig[x + b]
            elif op == 6:  # sigmoid, over whole SIMD iterations: spare rows (lowering.vector_padding)
                for e in range((m + _7) & ~_7):
                    sig[out + e] = sigmoid(sig[u + e])
            elif op == 7:  # tanh, as sigmoid
                for e in range((m + _7) & ~_7):
                    sig[out + e] = tanh(sig[u + e])
            elif op == 4:  # sum
                s0 = fpar[p]
                if nin == 2 or nin == 3:  # one pass: y = (s₀u₀ + s₁u₁) + s₂u₂; s·u = ±u exactly, x + s·u is x ± u
                    v = np.uint64(args[a + 2]) * B
                    s1 = fpar[p + _1]
                    if nin == 2:
                        for e in range(m):
                            sig[out + e] = s0 * sig[u + e] + s1 * sig[v + e]
                    else:
                        w, s2 = np.uint64(args[a + 4]) * B, fpar[p + _2]
                        for e in range(m):
                            sig[out + e] = (s0 * sig[u + e] + s1 * sig[v + e]) + s2 * sig[w + e]
                    continue
                for e in range(m):
                    sig[out + e] = s0 * sig[u + e]
                for j in range(1, nin):
                    u = np.uint64(args[a + 2 * j]) * B
                    if fpar[p + np.uint64(j)] > 0:
                        for e in range(m):
                            sig[out + e] = sig[out + e] + sig[u + e]
                    else:
                        for e in range(m):
                            sig[out + e] = sig[out + e] - sig[u + e]
            elif op == 5:  # product
                if nin == 2:  # one pass
                    v = np.uint64(args[a + 2]) * B
                    for e in range(m):
                        sig[out + e] = sig[u + e] * sig[v + e]
                    continue
                for e in range(m):
                    sig[out + e] = sig[u + e]
                for j in range(1, nin):
                    u = np.uint64(args[a + 2 * j]) * B
                    for e in range(m):
                        sig[out + e] = sig[out + e] * sig[u + e]
            elif op == 1:  # gain_scalar
                g = fpar[p]
                for e in range(m):
                    sig[out + e] = g * sig[u + e]
            elif op == 2:  # gain_elementwise
                for i in range(n):
                    g = fpar[p + i]
                    for e in range(i * B, i * B + B):
                        sig[out + e] = g * sig[u + e]
            elif op == 8:  # concat
                y = out
                for j in range(nin):
                    u, size = np.uint64(args[a + 2 * j]) * B, np.uint64(args[a + 2 * j + 1]) * B
                    for e in range(size):
                        sig[y + e] = sig[u + e]
                    y += size
            elif op == 10:  # activations: σ or tanh per row (ipar), fused siblings (see .fusion)
                if B == 1:  # whole SIMD iterations, as sigmoid
                    for i in range((n + _7) & ~_7):
                        sig[out + i] = sigmoid_or_tanh(sig[u + i], ipar[p + i] != 0)
                else:
                    for i in range(n):
                        y, x = out + i * B, u + i * B
                        if ipar[p + i] != 0:
                            for b in range(B):
                                sig[y + b] = tanh(sig[x + b])
                        else:
                            for b in range(B):
                                sig[y + b] = sigmoid(sig[x + b])
            elif op == 11:  # kalman: the time-varying filter, one sequence (batch column) at a time
                _kalman_step(sig, fpar, ipar, p, out, u, np.uint64(args[a + 2]) * B, B)
            elif op == 9:  # select
                for i in range(n):
                    x = u + np.uint64(ipar[p + i]) * B
                    for b in range(B):
                        sig[out + i * B + b] = sig[x + b]
            elif op >= 20:  # the control blocks' ops, out of the hot loop (_control_op)
                _control_op(op, o, code, args, a, nin, out, n, m, p, u, sig, fpar, ipar, B, zero)
        bad = 0
        for s in range(watch.shape[0]):  # x − x is 0 for a finite x, NaN for NaN and ±inf
            row, m = np.uint64(watch[s, 0]) * B, np.uint64(watch[s, 1]) * B
            for e in range(m):
                bad += (sig[row + e] - sig[row + e]) != 0
        if bad:
            return k
        for s in range(logs.shape[0]):
            row, col, m = np.uint64(logs[s, 0]) * B, np.uint64(logs[s, 1]) * B, np.uint64(logs[s, 2]) * B
            for e in range(m):
                log[k, col + e] = sig[row + e]
        if keep:
            for e in range(sig.shape[0]):
                trace[k, e] = sig[e]
        for s in range(updates.shape[0]):
            m, row, col = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 1]) * B, np.uint64(updates[s, 2]) * B
            for e in range(m):
                stage[col + e] = sig[row + e]
        for s in range(updates.shape[0]):
            m, col, row = np.uint64(updates[s, 0]) * B, np.uint64(updates[s, 2]) * B, np.uint64(updates[s, 3]) * B
            for e in range(m):
                sig[row + e] = stage[col + e]
    return steps
