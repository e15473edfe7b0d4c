"""Validation of a network against the linear system on fresh inputs, and a linearity test at 3u.

As in the reference: the validation input is a 51-step unit-variance sequence (t = 0…0.5 s at
Ts = 0.01 s), not the training one; the network is judged by MATLAB's ``norm(y − z)`` (the
2-norm of the error sequence), on ``u`` and on ``3·u`` against ``3·y``. A linear network's
error would scale exactly threefold; more than that shows the tanh saturating.

The network side is the blockloop LSTM diagram (:func:`blockloop.study.approx.simulate_lstm`),
the system side python-control's discrete simulation (:func:`blockloop.study.approx.simulate_linear`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..diagrams import NetworkWeights
from ..errors import ParameterError

__all__ = ["ValidationCase", "validate", "plot_validation"]


@dataclass(frozen=True)
class ValidationCase:
    """One comparison: ``y_net`` against ``y_true`` for input ``scale·u``.

    ``t`` (T,) in seconds, ``u`` (T, m) the scaled input, ``y_true`` and ``y_net`` (T, p),
    ``diff_norm`` = MATLAB ``norm(y_true − y_net)``, ``max_abs`` the largest |error|.
    """

    label: str
    scale: float
    t: np.ndarray
    u: np.ndarray
    y_true: np.ndarray
    y_net: np.ndarray
    diff_norm: float
    max_abs: float

    def as_dict(self) -> dict:
        return {"label": self.label, "scale": self.scale, "steps": int(self.t.size), "diff_norm": self.diff_norm,
                "max_abs": self.max_abs, "peak_abs_y": float(np.max(np.abs(self.y_true)))}


def validate(weights: NetworkWeights, sys, u, scales=(1.0, 3.0), label: str = "net") -> list[ValidationCase]:
    """Compare the network with the discrete system ``sys`` on ``scale·u`` for each scale.

    Parameters
    ----------
    weights : the network (one or more LSTM layers + F)
    sys : discrete ``control.StateSpace`` with ``sys.dt`` the sample time Ts (s)
    u : (T, m) validation input, m = sys inputs = network inputs
    scales : input multipliers (1 and 3 as in the reference)
    label : name stored with each case

    Returns
    -------
    list of ValidationCase, one per scale

    Raises
    ------
    ParameterError
        A continuous-time system, or input widths that do not match.
    """
    from ..interop.torch import matlab_norm
    from .approx import simulate_linear, simulate_lstm

    Ts = float(sys.dt) if sys.dt not in (None, True, 0) else 0.0
    if Ts <= 0:
        raise ParameterError(f"validate: sys must be discrete-time with a numeric sample time, got dt={sys.dt!r}")
    u = np.asarray(u, dtype=float)
    u = u[:, None] if u.ndim == 1 else u
    if u.shape[1] != sys.ninputs or u.shape[1] != weights.ni:
        raise ParameterError(f"validate: u has {u.shape[1]} columns; the system has {sys.ninputs} inputs and "
                             f"the network {weights.ni}")
    t = np.arange(u.shape[0]) * Ts
    cases = []
    for scale in scales:
        us = scale * u
        y = np.asarray(simulate_linear(sys, us), dtype=float).reshape(u.shape[0], -1)
        z = np.asarray(simulate_lstm(weights, us, Ts), dtype=float).reshape(u.shape[0], -1)
        cases.append(ValidationCase(label=label, scale=float(scale), t=t, u=us, y_true=y, y_net=z,
                                    diff_norm=matlab_norm(y - z), max_abs=float(np.max(np.abs(y - z)))))
    return cases


def plot_validation(case: ValidationCase, path, title_prefix: str = "Neural Network Approx"):
    """True against net output as held-sample stairs, their difference below, and the reference's
    ``norm`` of the difference in the title (:func:`blockloop.viz.scope.plot_comparison`); saved
    to ``path`` (PNG), returns the Figure."""
    from ..viz.scope import plot_comparison

    scale = "" if case.scale == 1 else f" (input ×{case.scale:g})"
    return plot_comparison(case.y_true, case.y_net, labels=("true", "net"), t=case.t, signal="y",
                           title=f"{title_prefix}{scale}", file=path, dpi=110)
