"""exp, σ and tanh as plain arithmetic, so LLVM vectorizes them over the batch.

libm's ``exp``/``tanh`` are opaque calls (about 11 and 31 ns each on the reference machine)
that stop a loop from vectorizing; with about 25 of them per LSTM unit and step they would
dominate every batch. These versions use only +, −, ×, ÷, ``floor`` and integer bit
operations, in float64, with no fast-math and no fused multiply-add, so they give the same bits
on every CPU. Accuracy (tests/compiled/test_mathfn.py, over ±750, near 0 and the special
points): within 3 ulp of numpy's exp, σ and tanh (measured: 1, 2 and 3), tanh within 2 ulp of
the true value; exact 0, ±1 and ±inf where those are the true limits; NaN propagates.

exp(x) = 2^k · p(r) with k = round(x / ln 2) and r = x − k·ln 2 (Cody–Waite, two-part ln 2),
|r| ≤ ln 2 / 2, where p is the degree-13 Taylor polynomial (truncation error < 5e-18); 2^k is
built from its IEEE bits (integer add and shift, which vectorize), not read from a table.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["exp", "expm1_nonpositive", "sigmoid", "sigmoid_or_tanh", "tanh"]

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5·2^52: x + _SHIFTER keeps an integer x in its low bits
_C = tuple(1.0 / math.factorial(n) for n in range(14))  # 1/n!, n = 0 … 13


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 whose IEEE-754 bits are the int64 ``i``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _pow2(kf):
    """2^k for an integer-valued float k in [−1022, 1023], exactly, by building its bits."""
    k = _bits(kf + _SHIFTER) - _bits(_SHIFTER)
    return _from_bits((k + 1023) << 52)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _scale(p, kf):
    """p·2^k for k in [−1076, 1024], as (p·2^k1)·2^k2 with both halves normal: one rounding."""
    k1 = np.floor(kf * 0.5)
    return (p * _pow2(k1)) * _pow2(kf - k1)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _reduce(x):
    """(k as float, r) with x = k·ln 2 + r, |r| ≤ ln 2/2, for x clamped to [−746, 710] (NaN → 0)."""
    xc = x if x < 710.0 else 710.0
    xc = xc if xc > -746.0 else -746.0
    xc = xc if x == x else 0.0
    kf = np.floor(xc * _LOG2E + 0.5)
    return kf, (xc - kf * _LN2_HI) - kf * _LN2_LO


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _poly_minus_one(r):
    """p(r) − 1 = r/1! + r²/2! + … + r¹³/13!, accurate in relative terms for small r.

    Two Horner chains (terms 1–6 and 7–13) joined by r⁷, so the CPU overlaps them; the
    evaluation order is fixed, so the result is too.
    """
    low = _C[6]
    low = low * r + _C[5]
    low = low * r + _C[4]
    low = low * r + _C[3]
    low = low * r + _C[2]
    low = low * r + _C[1]
    high = _C[13]
    high = high * r + _C[12]
    high = high * r + _C[11]
    high = high * r + _C[10]
    high = high * r + _C[9]
    high = high * r + _C[8]
    high = high * r + _C[7]
    r2 = r * r
    r6 = r2 * r2 * r2
    return low * r + high * (r6 * r)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _exp_tail(q, kf, z):
    """e^z from z's reduction (kf, r) and q = p(r) − 1."""
    y = _scale(q + 1.0, kf)
    return y if z == z else z


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _expm1_tail(q, kf, z):
    """e^z − 1 for z ≤ 0 from z's reduction (kf, r) and q = p(r) − 1, without cancellation near 0."""
    y = q if kf == 0.0 else _scale(q, kf) + (_scale(1.0, kf) - 1.0)  # 2^k·q + (2^k − 1)
    return y if z == z else z


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def exp(x):
    """e^x in float64 (overflow → inf, underflow → 0, NaN → NaN)."""
    kf, r = _reduce(x)
    return _exp_tail(_poly_minus_one(r), kf, x)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def expm1_nonpositive(z):
    """e^z − 1 for z ≤ 0, without cancellation near 0 (used by tanh)."""
    kf, r = _reduce(z)
    return _expm1_tail(_poly_minus_one(r), kf, z)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sigmoid(x):
    """σ(x) = 1 / (1 + e^−x), the expression of ``scipy.special.expit`` (σ(−inf) = 0, σ(inf) = 1)."""
    return 1.0 / (1.0 + exp(-x))


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def tanh(x):
    """tanh(x) = sign(x)·(−m)/(2 + m), m = e^(−2|x|) − 1; tanh(±0) = ±0."""
    m = expm1_nonpositive(-2.0 * abs(x))
    return math.copysign(-m / (2.0 + m), x)


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def sigmoid_or_tanh(x, is_tanh):
    """``tanh(x)`` if ``is_tanh`` else ``sigmoid(x)``, bit for bit, without a branch.

    One argument reduction and one polynomial serve both (σ needs e^−x, tanh e^(−2|x|) − 1);
    both tails are computed and one is selected, so a loop over rows of mixed kinds (the fused
    LSTM gates, see :mod:`.fusion`) still vectorizes.
    """
    z = -2.0 * abs(x) if is_tanh else -x
    kf, r = _reduce(z)
    q = _poly_minus_one(r)
    m = _expm1_tail(q, kf, z)
    y_tanh = math.copysign(-m / (2.0 + m), x)
    y_sigmoid = 1.0 / (1.0 + _exp_tail(q, kf, z))
    return y_tanh if is_tanh else y_sigmoid
