"""Losses of logged signals against targets, and their cotangents (∂loss/∂signal).

Errors are laid out as the engine logs signals: (T, B, R) — T steps, B sequences, R responses
(all targeted signals side by side). The formulas are those of the study's trainers
(:func:`blockloop.study.matlab_adam.regression_loss`, MATLAB's ``regressionLayer``):

* ``"half-mse"``: Σ err² / (2·B·T) — half the squared error summed over responses, averaged
  over steps and sequences; cotangent err / (B·T);
* ``"mse"``: Σ err² / (B·T·R) — the plain mean; cotangent 2·err / (B·T·R).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError

__all__ = ["LOSSES", "loss_and_cotangent", "signals_loss"]

LOSSES = ("half-mse", "mse")


def loss_and_cotangent(err: np.ndarray, kind: str = "half-mse") -> tuple[float, np.ndarray]:
    """``(loss, ∂loss/∂err)`` for ``err`` = prediction − target of shape (T, B, R).

    Examples
    --------
    >>> loss, g = loss_and_cotangent(np.full((1001, 1, 1), 0.05))   # RMSE 0.05 ↔ loss 1.25e-3
    >>> round(loss, 12), g.shape
    (0.00125, (1001, 1, 1))
    """
    if kind not in LOSSES:
        raise ParameterError(f"loss: expected one of {LOSSES}, got {kind!r}")
    T, B, R = err.shape
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported by its caller
        total = float(np.sum(err * err))
    if kind == "half-mse":
        return total / (2 * B * T), err / (B * T)
    return total / (B * T * R), err * (2.0 / (B * T * R))


def signals_loss(logged: dict, targets: dict, kind: str, dtype=np.float64) -> tuple[float, dict]:
    """Loss of several logged signals against their targets, and each signal's cotangent.

    ``logged`` and ``targets`` map names to (T, B, n) arrays; the responses R are all targeted
    signals side by side. Returns ``(loss, {name: (T, B, n) cotangent in dtype})``.
    """
    names = list(targets)
    err = np.concatenate([logged[n].astype(np.float64) - targets[n] for n in names], axis=2)
    value, g = loss_and_cotangent(err, kind)
    cols = np.cumsum([0] + [targets[n].shape[2] for n in names])
    return value, {n: g[:, :, a:b].astype(dtype) for n, a, b in zip(names, cols[:-1], cols[1:], strict=True)}
