"""The time-varying Kalman filter (covariance recursion) as one block, and the model checks it shares.

The linear-Gaussian state-space model, at step k (u[k] known, w and v white, independent)::

    x[k+1] = A·x[k] + B·u[k] + w[k],     w[k] ~ N(0, Q)
    z[k]   = H·x[k] + D·u[k] + v[k],     v[k] ~ N(0, R)
    x[0] ~ N(x0, P0)

So u[k] reaches the state at k + 1 (through B) and the measurement at k (through D) — the
convention of pykalman (``transition_offsets[k] = B·u[k]``, ``observation_offsets[k] = D·u[k]``),
statsmodels and python-control's ``ss``. Some texts write ``x[k] = A·x[k−1] + B·u[k]``, where u[k]
acts one step earlier; feed them u shifted by one step.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import Block, as_float_array

__all__ = ["KalmanFilter", "check_model"]


def _matrix(value, what: str) -> np.ndarray:
    arr = as_float_array(value, what).astype(np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2:
        raise ParameterError(f"{what}: expected a matrix, got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{what}: has non-finite values")
    return arr


def _covariance(value, what: str, size: int, definite: bool) -> np.ndarray:
    M = _matrix(value, what)
    if M.shape != (size, size):
        raise ParameterError(f"{what}: expected shape ({size}, {size}), got shape {M.shape}")
    scale = max(1.0, float(np.max(np.abs(M))))
    asym = float(np.max(np.abs(M - M.T)))
    if asym > 1e-12 * scale:
        raise ParameterError(f"{what}: not symmetric (max |M − Mᵀ| = {asym:.3g}); a covariance equals its transpose")
    lowest = float(np.linalg.eigvalsh(M).min())
    if definite and lowest <= 1e-14 * scale:
        raise ParameterError(f"{what}: not positive definite (smallest eigenvalue {lowest:.3g}); the measurement "
                             "noise covariance must be invertible")
    if lowest < -1e-12 * scale:
        raise ParameterError(f"{what}: not positive semi-definite (smallest eigenvalue {lowest:.3g}); a covariance "
                             "has no negative eigenvalue")
    return M


def check_model(A, B, H, D, Q, R, x0=None, P0=None, where: str = "KalmanFilter") -> dict[str, np.ndarray]:
    """The model's matrices as float64 arrays, checked; or :class:`ParameterError` naming the matrix.

    Shapes: A (n, n), B (n, m), H (p, n), D (p, m), Q (n, n) symmetric positive semi-definite,
    R (p, p) symmetric positive definite, x0 (n,) (zeros by default), P0 (n, n) positive
    semi-definite (the identity by default). A scalar is a 1×1 matrix. m ≥ 1: a model without
    input takes B = zeros((n, 1)), D = zeros((p, 1)) and u = 0.
    """
    A = _matrix(A, f"{where} A")
    if A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ParameterError(f"{where} A: expected a square n×n state matrix, got shape {A.shape}")
    n = A.shape[0]
    B = _matrix(B, f"{where} B")
    if B.shape[0] != n or B.shape[1] == 0:
        raise ParameterError(f"{where} B: expected shape ({n}, m) with m ≥ 1 (A is {n}×{n}), got shape {B.shape}")
    H = _matrix(H, f"{where} H")
    if H.shape[1] != n or H.shape[0] == 0:
        raise ParameterError(f"{where} H: expected shape (p, {n}) (A is {n}×{n}), got shape {H.shape}")
    p, m = H.shape[0], B.shape[1]
    D = _matrix(D, f"{where} D")
    if D.shape != (p, m):
        raise ParameterError(f"{where} D: expected shape ({p}, {m}) (rows of H × columns of B), got shape {D.shape}")
    Q = _covariance(Q, f"{where} Q", n, definite=False)
    R = _covariance(R, f"{where} R", p, definite=True)
    x0 = np.zeros(n) if x0 is None else as_float_array(x0, f"{where} x0").astype(np.float64).reshape(-1)
    if x0.shape != (n,) or not np.all(np.isfinite(x0)):
        raise ParameterError(f"{where} x0: expected {n} finite numbers, got shape {x0.shape}")
    P0 = np.eye(n) if P0 is None else _covariance(P0, f"{where} P0", n, definite=False)
    return {"A": A, "B": B, "H": H, "D": D, "Q": Q, "R": R, "x0": x0, "P0": P0}


class KalmanFilter(Block):
    """The time-varying Kalman filter: state estimate and error covariance, one measurement per step.

    Ports: inputs ``u`` (m, the known input) and ``z`` (p, the measurement); outputs ``x_pred``
    (n), ``x_filt`` (n), ``z_pred`` (p), ``e`` (p). ``x_pred`` has no direct feedthrough; the
    other outputs depend on u[k] (through D) and, but for ``z_pred``, on z[k].

    State: ``[x̂[k|k−1], P[k|k−1] (row-major)]``, n + n² per sequence, starting at ``[x0, P0]``
    (the prior of x[0]); a per-run initial state of that size overrides it. At step k (see
    :mod:`blockloop.blocks.kalman` for the model and when u[k] enters)::

        z_pred = H·x̂[k|k−1] + D·u[k]                 ẑ[k|k−1]: z[k] predicted from z[0..k−1], u[0..k]
        e      = z[k] − z_pred                        innovation, covariance S = H·P·Hᵀ + R
        K      = P·Hᵀ·S⁻¹                             filter gain (P = P[k|k−1])
        x_filt = x̂[k|k−1] + K·e                       x̂[k|k]: uses z[0..k]
        x̂[k+1|k]  = A·x_filt + B·u[k]                 (update; u[k] enters the prediction here)
        P[k|k]    = P − K·H·P, symmetrized;  P[k+1|k] = A·P[k|k]·Aᵀ + Q

    These are pykalman's ``filter`` equations (``predicted_state_means``, ``filtered_state_means``)
    with ``transition_offsets[k] = B·u[k]`` and ``observation_offsets[k] = D·u[k]``.

    Backends: the numpy rules here and the compiled op ``kalman`` (:mod:`blockloop.compiled.vm`:
    the same equations per sequence, S⁻¹ by a Cholesky solve instead of numpy's LU, so the two
    agree to rounding, ≤ 1e-12 tested). It declares no adjoint (``gradient`` raises a
    ``DifferentiationError`` naming it), and it is not in ``BLOCK_TYPES`` (a diagram holding it
    cannot be saved to a file). Its parameters are not trainable (``arrays()`` is empty).

    Parameters
    ----------
    A, B, H, D, Q, R, x0, P0 : see :func:`check_model`.
    """

    has_state = True

    def __init__(self, A, B, H, D, Q, R, x0=None, P0=None):
        m = check_model(A, B, H, D, Q, R, x0, P0)
        self.A, self.B, self.H, self.D, self.Q, self.R, self.x0, self.P0 = (
            m[k] for k in ("A", "B", "H", "D", "Q", "R", "x0", "P0"))
        self.n, self.m, self.p = self.A.shape[0], self.B.shape[1], self.H.shape[0]
        self.inputs = ("u", "z")
        self.outputs = ("x_pred", "x_filt", "z_pred", "e")

    def params(self):
        return {"A": self.A, "B": self.B, "H": self.H, "D": self.D, "Q": self.Q, "R": self.R,
                "x0": self.x0, "P0": self.P0}

    def arrays(self):
        return {}

    def feedthrough(self):
        return frozenset({("u", "x_filt"), ("z", "x_filt"), ("u", "z_pred"), ("u", "e"), ("z", "e")})

    def declared_input_sizes(self):
        return {"u": self.m, "z": self.p}

    def output_sizes(self, in_sizes):
        return {"x_pred": self.n, "x_filt": self.n, "z_pred": self.p, "e": self.p}

    def state_size(self, in_sizes, out_sizes):
        return self.n + self.n * self.n

    def initial_state(self, size):
        return np.concatenate([self.x0, self.P0.reshape(-1)])

    def check_initial_state(self, x):
        """The P part of each sequence's [x̂, P] must be a symmetric positive semi-definite n×n matrix."""
        n = self.n
        for b, P in enumerate(np.asarray(x, dtype=np.float64)[:, n:].reshape(-1, n, n)):
            if not np.all(np.isfinite(P)):
                continue  # reported as non-finite where check_finite asks for it
            scale = max(1.0, float(np.max(np.abs(P))))
            seq = f"sequence {b}: " if len(x) > 1 else ""
            if float(np.max(np.abs(P - P.T))) > 1e-12 * scale:
                return f"{seq}P (elements {n}… of the state) is not symmetric; a covariance equals its transpose"
            lowest = float(np.linalg.eigvalsh(P).min())
            if lowest < -1e-12 * scale:
                return (f"{seq}P (elements {n}… of the state) is not positive semi-definite (smallest eigenvalue "
                        f"{lowest:.3g}); the state is [x̂ (n), P (n×n, row-major)]")
        return None

    def _correct(self, u, z, x):
        n = self.n
        xp = x[:, :n]
        P = x[:, n:].reshape(-1, n, n)
        PHt = P @ self.H.T                                       # (B, n, p)
        S = self.H @ PHt + self.R                                # (B, p, p)
        K = np.linalg.solve(S, PHt.transpose(0, 2, 1)).transpose(0, 2, 1)  # P·Hᵀ·S⁻¹ (S symmetric)
        zp = xp @ self.H.T + u @ self.D.T
        e = z - zp
        xf = xp + (K @ e[:, :, None])[:, :, 0]
        return xp, P, K, zp, e, xf

    def output(self, u, x):
        xp, _, _, zp, e, xf = self._correct(u[0], u[1], x)
        return xp, xf, zp, e

    def lowering(self):
        """The compiled op ``kalman``: A, B, H, D, Q, R flattened row-major, then (n, m, p)."""
        from .base import Lowering

        params = np.concatenate([M.reshape(-1) for M in (self.A, self.B, self.H, self.D, self.Q, self.R)])
        return Lowering("kalman", params, (self.n, self.m, self.p))

    def update(self, u, x):
        _, P, K, _, _, xf = self._correct(u[0], u[1], x)
        Pf = P - K @ (self.H @ P)
        Pf = 0.5 * (Pf + Pf.transpose(0, 2, 1))
        P_next = self.A @ Pf @ self.A.T + self.Q
        x_next = xf @ self.A.T + u[0] @ self.B.T
        return np.concatenate([x_next, P_next.reshape(len(x_next), -1)], axis=1)
