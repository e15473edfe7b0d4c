"""LSTM weights computed from a discrete state-space system (A, B, C, D), as in the reference.

With Nn = n + m units (n states, m inputs) and gate order i, f, g, o:

* input and output gates forced open: ``b_i = b_o = +β``, their W and R rows zero, so
  σ(β) ≈ 1;
* forget gate closed: ``b_f = −β`` (σ(−β) ≈ 0), so the cell forgets at every step;
* cell candidate: ``R_g = blkdiag(A, 0_m)``, ``W_g = scl·[B; I_m]``, ``b_g = 0``;
* fully connected output: ``F = [C·A⁻¹, D − C·A⁻¹·B] / scl``.

Then, while ``tanh`` stays in its linear range, ``c[k] ≈ h[k] ≈ scl·[A·x̂ + B·u[k]; u[k]]``
with ``x̂ = h₁[k−1]/scl``: the first n units carry ``scl·x[k+1]`` and the last m carry
``scl·u[k]``, and ``y[k] = F·h[k] = C·x[k] + D·u[k]``. ``scl`` (default 1e-3) keeps the
hidden state small; β (default 100) saturates the gates.

The Nn = n variant drops the input copy: ``W_g = scl·B``, ``R_g = A``,
``F = C·A⁻¹ / scl``; its direct feedthrough is then ``C·A⁻¹·B`` instead of D.

Which state coordinates the system is given in matters (the states' size sets the
tanh error); see :mod:`blockloop.study.realizations`.
"""

from __future__ import annotations

import logging

import numpy as np

from ..diagrams import LayerWeights, NetworkWeights
from ..errors import ParameterError
from .realizations import REALIZATIONS, realize, state_covariance
from .systems import as_statespace, sample_time

__all__ = ["lstm_weights_from_ss", "UNITS"]

log = logging.getLogger(__name__)

UNITS = ("n+m", "n")


def _positive(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a positive number, got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ParameterError(f"{name}: expected a positive finite number, got {value!r}")
    return out


def _check_arguments(units, scl, beta, realization) -> tuple[str, float, float]:
    if units not in UNITS:
        raise ParameterError(f"units: expected 'n+m' (states + inputs, exact D) or 'n' (states only), got {units!r}")
    if realization not in REALIZATIONS:
        raise ParameterError(f"realization: unknown name {realization!r}; choose one of {', '.join(REALIZATIONS)}")
    return units, _positive(scl, "scl"), _positive(beta, "beta")


def _inverse_times(A: np.ndarray, C: np.ndarray) -> np.ndarray:
    """C·A⁻¹, refusing a singular (or numerically singular) A."""
    n = A.shape[0]
    cond = np.linalg.cond(A)
    if not np.isfinite(cond) or cond > 1e12:
        eig = np.linalg.eigvals(A)
        raise ParameterError(f"A is singular (condition number {cond:.3g}, smallest |eigenvalue| "
                             f"{np.min(np.abs(eig)):.3g}); the LSTM construction needs A⁻¹ (F = C·A⁻¹/scl). "
                             "A pole at z = 0 is a pure delay: no change of state coordinates removes it")
    return np.linalg.solve(A.T, C.T).T.reshape(C.shape[0], n)


def lstm_weights_from_ss(system, units: str = "n+m", scl: float = 1e-3, beta: float = 100.0,
                         realization: str = "as_given", state_std: float | None = None):
    """One-layer LSTM + fully connected weights that reproduce a discrete linear system.

    Parameters
    ----------
    system : control.StateSpace, or a path to a ``.npz``/``.json`` system file
        Discrete time (Ts > 0), invertible A.
    units : {"n+m", "n"}
        ``"n+m"``: Nn = n + m units, exact direct feedthrough D. ``"n"``: Nn = n units,
        feedthrough C·A⁻¹·B.
    scl : float
        Input scaling (> 0): hidden states are ``scl·x``; smaller keeps tanh more linear.
    beta : float
        Gate bias magnitude (> 0): σ(β) opens the i and o gates, σ(−β) closes f.
    realization : {"as_given", "balanced", "unit_covariance", "matlab"}
        State coordinates used for A, B, C (see :func:`~blockloop.study.realizations.realize`).
    state_std : float, optional
        With ``"unit_covariance"``: target std of each state under unit-variance input
        (default 1, as large as the input).

    Returns
    -------
    weights : NetworkWeights
        One layer (W (4·Nn, m), R (4·Nn, Nn), b (4·Nn,), zero h0 and c0) and F (p, Nn),
        no output bias.
    info : dict
        ``realization``, ``state_std``, ``system`` (the realized ``control.StateSpace``), ``T`` (x_given =
        T·z), ``scl``, ``beta``, ``units``, ``nn``, ``Ts`` (s), ``hidden_std`` (stationary std of
        each hidden unit under unit-variance white input, None if unstable) and
        ``max_hidden_expected`` (3 × the largest of those: keep it ≪ 1 for tanh to be linear).

    Raises
    ------
    ParameterError
        Continuous-time system, singular A, inconsistent matrices, bad units/scl/beta/realization.

    Examples
    --------
    >>> from blockloop.study.systems import reference_system
    >>> weights, info = lstm_weights_from_ss(reference_system(), realization="matlab")
    >>> weights.F.round(4).tolist()
    [[325.4911, -78.8823, 18.4092, 212.6357, -86.0996]]
    >>> weights.layers[0].b[:6].tolist()
    [100.0, 100.0, 100.0, 100.0, 100.0, -100.0]
    """
    units, scl, beta = _check_arguments(units, scl, beta, realization)
    given = as_statespace(system)
    Ts = sample_time(given)
    sys, T = realize(given, realization, state_std=state_std)
    A, B, C, D = (np.asarray(M, dtype=np.float64) for M in (sys.A, sys.B, sys.C, sys.D))
    n, m = B.shape
    CAi = _inverse_times(A, C)
    nn = n + m if units == "n+m" else n
    W, R = np.zeros((4 * nn, m)), np.zeros((4 * nn, nn))
    g = slice(2 * nn, 3 * nn)
    W[g] = scl * (np.vstack([B, np.eye(m)]) if units == "n+m" else B)
    R[2 * nn:2 * nn + n, :n] = A
    b = np.concatenate([np.full(nn, beta), np.full(nn, -beta), np.zeros(nn), np.full(nn, beta)])
    F = np.hstack([CAi, D - CAi @ B]) / scl if units == "n+m" else CAi / scl
    weights = NetworkWeights(layers=(LayerWeights(W=W, R=R, b=b),), F=F)
    info = {"realization": realization, "state_std": state_std, "system": sys, "T": T, "scl": scl,
            "beta": beta, "units": units, "nn": nn, "Ts": Ts, **_hidden_size(sys, scl, units)}
    log.info("LSTM weights from a %d-state system: Nn=%d (%s), scl=%g, beta=%g, realization=%s, "
             "expected max |h| ≈ %s", n, nn, units, scl, beta, realization, info["max_hidden_expected"])
    return weights, info


def _hidden_size(sys, scl: float, units: str) -> dict:
    """Stationary std of the hidden units under unit-variance white input (None if unstable)."""
    try:
        P = state_covariance(sys)
    except ParameterError:
        return {"hidden_std": None, "max_hidden_expected": None}
    std = np.sqrt(np.clip(np.diag(P), 0.0, None))
    if units == "n+m":
        std = np.concatenate([std, np.ones(sys.ninputs)])
    std = scl * std
    return {"hidden_std": std, "max_hidden_expected": float(3.0 * std.max())}
