"""Whole training epochs in one compiled call: forward, loss, reverse sweep, MATLAB's Adam step.

Python calls :func:`fit_epochs` for a block of epochs at a time (for the progress bar and the
log), so an epoch costs no Python at all. The Adam step is the arithmetic of
:class:`blockloop.study.matlab_adam.MatlabAdam` (tested equal to rounding): per parameter,
``g ← g + λ·p`` for weights, ``g ← g·τ/‖g‖`` if ‖g‖ > τ, then
``m ← β1·m + (1−β1)·g``, ``v ← β2·v + (1−β2)·g²``, ``p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v + ε)``.

Parameters are one flat vector ``theta`` split into groups, one per trainable path:

=====  ===============================================================================
kind   where the group's values live
=====  ===============================================================================
0      ``fpar[offset : offset+size]`` (a gain's K)
1      rows ``offset … offset+size−1`` of ``sig0``, every batch column (a Constant)
2      the ``rows`` state rows from ``offset`` of ``sig0`` (a UnitDelay x0; size 1 = broadcast)
=====  ===============================================================================
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._cache import drop_stale

drop_stale(__file__, "vm.py", "reverse.py", "mathfn.py", "opcodes.py")  # it compiles those kernels in

from .reverse import backward_steps  # noqa: E402 - after the cache check
from .vm import run_steps, transpose_gains  # noqa: E402

__all__ = ["fit_epochs", "GROUP_KIND", "GROUP_OFFSET", "GROUP_SIZE", "GROUP_ROWS", "GROUP_THETA", "GROUP_WEIGHT"]

GROUP_KIND, GROUP_OFFSET, GROUP_SIZE, GROUP_ROWS, GROUP_THETA, GROUP_WEIGHT = range(6)


@njit(cache=True, nogil=True, error_model="numpy")
def _write_theta(groups, theta, fpar, sig0, B):
    for q in range(groups.shape[0]):
        kind, off, size, rows, to = groups[q, 0], groups[q, 1], groups[q, 2], groups[q, 3], groups[q, 4]
        if kind == 0:
            for i in range(size):
                fpar[off + i] = theta[to + i]
        else:
            for r in range(rows):
                value = theta[to + (r if size == rows else 0)]
                for b in range(B):
                    sig0[(off + r) * B + b] = value


@njit(cache=True, nogil=True, error_model="numpy")
def _read_grads(groups, gfpar, gsig0, gvec, B):
    for q in range(groups.shape[0]):
        kind, off, size, rows, to = groups[q, 0], groups[q, 1], groups[q, 2], groups[q, 3], groups[q, 4]
        if kind == 0:
            for i in range(size):
                gvec[to + i] = gfpar[off + i]
        else:
            for i in range(size):
                gvec[to + i] = 0
            for r in range(rows):
                acc = gvec[to + (r if size == rows else 0)]
                for b in range(B):
                    acc += gsig0[(off + r) * B + b]
                gvec[to + (r if size == rows else 0)] = acc


@njit(cache=True, nogil=True, error_model="numpy")
def _adam(groups, theta, gvec, m, v, t, lr, l2, threshold, beta1, beta2, eps):
    scale = lr * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    for q in range(groups.shape[0]):
        size, to, weight = groups[q, 2], groups[q, 4], groups[q, 5]
        norm2 = 0.0
        for i in range(to, to + size):
            if weight and l2 != 0.0:
                gvec[i] = gvec[i] + l2 * theta[i]
            norm2 += gvec[i] * gvec[i]
        norm = math.sqrt(norm2)
        factor = threshold / norm if norm > threshold else 1.0
        for i in range(to, to + size):
            gi = gvec[i] * factor if norm > threshold else gvec[i]
            m[i] = beta1 * m[i] + (1.0 - beta1) * gi
            v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi
            theta[i] = theta[i] - scale * m[i] / (math.sqrt(v[i]) + eps)


@njit(cache=True, nogil=True, error_model="numpy")
def _loss_and_cotangent(trace, target, cotan_rows, cotan, B, half, n_responses):
    """Loss over all steps; ``cotan`` ← ∂loss/∂signal (half-mse or mse, see blockloop.autodiff.losses)."""
    T = trace.shape[0]
    total = 0.0
    denominator = (2.0 * B * T) if half else (1.0 * B * T * n_responses)
    factor = (1.0 / (B * T)) if half else (2.0 / (B * T * n_responses))
    for k in range(T):
        for s in range(cotan_rows.shape[0]):
            row, col, n = cotan_rows[s, 0] * B, cotan_rows[s, 1] * B, cotan_rows[s, 2] * B
            for e in range(n):
                err = trace[k, row + e] - target[k, col + e]
                total += err * err
                cotan[k, col + e] = err * factor
    return total / denominator


@njit(cache=True, nogil=True, error_model="numpy")
def fit_epochs(lrs, t0, theta, gvec, m, v, groups, l2, threshold, beta1, beta2, eps, half, n_responses, losses,
               steps, code, args, fpar, ipar, sources, updates, logs, sig0, src, log, stage, trace, zero,
               cotan_rows, target, cotan, g, gx, gfpar, gsig0, const_rows, B, g_rows):
    """Run ``len(lrs)`` epochs; ``losses[e]`` ← the loss before epoch e's update.

    Returns the number of epochs completed: fewer than ``len(lrs)`` when the loss became
    non-finite (that epoch's loss is stored, its update is not applied).
    """
    ub = np.uint64(B)
    sig = np.empty_like(sig0)
    for epoch in range(lrs.shape[0]):
        _write_theta(groups, theta, fpar, sig0, B)
        transpose_gains(code, args, fpar)
        sig[:] = sig0
        run_steps(steps, code, args, fpar, ipar, sources, updates, logs, sig, src, log, stage, trace, ub, zero,
                  np.zeros((0, 2), dtype=np.int64))  # no watch: a non-finite loss stops the training
        loss = _loss_and_cotangent(trace, target, cotan_rows, cotan, B, half, n_responses)
        losses[epoch] = loss
        if not math.isfinite(loss):
            return epoch
        gfpar[:] = 0
        gsig0[:] = 0
        gx[:] = 0
        backward_steps(steps, code, args, fpar, ipar, updates, cotan_rows, trace, cotan, g, gx, gfpar, gsig0,
                       const_rows, ub, g_rows)
        _read_grads(groups, gfpar, gsig0, gvec, B)
        _adam(groups, theta, gvec, m, v, t0 + epoch + 1, lrs[epoch], l2, threshold, beta1, beta2, eps)
    _write_theta(groups, theta, fpar, sig0, B)
    transpose_gains(code, args, fpar)
    return lrs.shape[0]
