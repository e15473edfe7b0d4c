"""Linear-Gaussian state-space models and Kalman filters drawn as block diagrams.

The model (see :mod:`blockloop.blocks.kalman`), at step k::

    x[k+1] = A·x[k] + B·u[k] + w[k],     w[k] ~ N(0, Q)
    z[k]   = H·x[k] + D·u[k] + v[k],     v[k] ~ N(0, R)

u[k] enters the state at k + 1 and the measurement at k. Diagrams here:

* :func:`lgssm_diagram` — the model itself, with two :class:`~blockloop.blocks.GaussianNoise` sources;
* :func:`kalman_predictor_diagram` — the steady-state one-step predictor (gains, sums, one delay);
* :func:`kalman_filter_diagram` — the steady-state filter form (x̂[k|k] as well);
* :func:`kalman_time_varying_diagram` — the covariance recursion (:class:`~blockloop.blocks.kalman.KalmanFilter`).

The steady-state gain comes from the discrete algebraic Riccati equation (:func:`steady_state`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blocks import Gain, GaussianNoise, Inport, Outport, Sum, UnitDelay
from ..blocks.kalman import KalmanFilter, check_model
from ..engine import Diagram
from ..errors import ParameterError

__all__ = ["LinearGaussianModel", "SteadyState", "steady_state", "lgssm_diagram", "kalman_predictor_diagram",
           "kalman_filter_diagram", "kalman_time_varying_diagram"]


@dataclass(frozen=True)
class LinearGaussianModel:
    """x[k+1] = A·x[k] + B·u[k] + w[k],  z[k] = H·x[k] + D·u[k] + v[k],  w ~ N(0, Q), v ~ N(0, R).

    Shapes: A (n, n), B (n, m), H (p, n), D (p, m), Q (n, n) symmetric positive semi-definite,
    R (p, p) symmetric positive definite; the prior of x[0] is N(x0, P0) (x0 = 0 and P0 = I by
    default). A model without input takes B = zeros((n, 1)), D = zeros((p, 1)) and u = 0.
    ``Ts`` (seconds, optional) is only carried along for plots.

    Raises
    ------
    ParameterError
        A shape that does not fit, a non-square A, Q not positive semi-definite, R not positive
        definite, non-finite values — naming the matrix.
    """

    A: np.ndarray
    B: np.ndarray
    H: np.ndarray
    D: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    x0: np.ndarray | None = None
    P0: np.ndarray | None = None
    Ts: float | None = None

    def __post_init__(self):
        checked = check_model(self.A, self.B, self.H, self.D, self.Q, self.R, self.x0, self.P0,
                              where="LinearGaussianModel")
        for key, value in checked.items():
            value.setflags(write=False)
            object.__setattr__(self, key, value)

    @property
    def n(self) -> int:
        """Number of states."""
        return self.A.shape[0]

    @property
    def m(self) -> int:
        """Number of known inputs."""
        return self.B.shape[1]

    @property
    def p(self) -> int:
        """Number of measurements."""
        return self.H.shape[0]

    def matrices(self) -> dict[str, np.ndarray]:
        """A, B, H, D, Q, R, x0, P0 by name."""
        return {k: getattr(self, k) for k in ("A", "B", "H", "D", "Q", "R", "x0", "P0")}


@dataclass(frozen=True)
class SteadyState:
    """The steady-state Kalman filter of a model.

    Attributes
    ----------
    P : (n, n) a-priori (one-step prediction) error covariance, the DARE's stabilizing solution:
        P = A·P·Aᵀ − A·P·Hᵀ·(H·P·Hᵀ + R)⁻¹·H·P·Aᵀ + Q
    K : (n, p) filter gain P·Hᵀ·S⁻¹ (x̂[k|k] = x̂[k|k−1] + K·e[k])
    L : (n, p) predictor gain A·K (what python-control's ``dlqe`` returns)
    S : (p, p) innovation covariance H·P·Hᵀ + R
    P_filt : (n, n) a-posteriori covariance (I − K·H)·P
    poles : eig(A − L·H), the predictor's error dynamics (all inside the unit circle)
    """

    P: np.ndarray
    K: np.ndarray
    L: np.ndarray
    S: np.ndarray
    P_filt: np.ndarray
    poles: np.ndarray


def _rank_deficient_modes(A: np.ndarray, M: np.ndarray, side: str, which) -> list[complex]:
    """Eigenvalues λ of A selected by ``which(λ)`` where [λI − A; M] (side "rows") or [λI − A, M] loses rank."""
    n = A.shape[0]
    scale = max(1.0, float(np.linalg.norm(A, 2)), float(np.linalg.norm(M, 2)) if M.size else 0.0)
    bad = []
    for lam in np.linalg.eigvals(A):
        if not which(lam):
            continue
        pencil = lam * np.eye(n) - A
        stacked = np.vstack([pencil, M]) if side == "rows" else np.hstack([pencil, M])
        if np.linalg.svd(stacked, compute_uv=False)[-1 if side == "rows" else n - 1] < 1e-9 * scale:
            bad.append(complex(lam))
    return bad


def _noise_factor(Q: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(Q)
    return V * np.sqrt(np.clip(lam, 0.0, None))


def _fmt_modes(modes) -> str:
    return ", ".join(f"{z.real:.4g}{z.imag:+.4g}j" if abs(z.imag) > 0 else f"{z.real:.4g}" for z in modes)


def steady_state(model: LinearGaussianModel) -> SteadyState:
    """The steady-state gains from the DARE (``scipy.linalg.solve_discrete_are(Aᵀ, Hᵀ, Q, R)``).

    Requires (A, H) detectable (every mode with |λ| ≥ 1 is seen by H) and no mode on the unit
    circle that the process noise Q leaves unexcited; then the DARE has a unique stabilizing
    solution and the filter's error dynamics eig(A − L·H) lie inside the unit circle.

    Raises
    ------
    ParameterError
        Undetectable (an unstable or marginal mode unobservable from z), or a unit-circle mode not
        excited by Q (unstabilizable), naming the eigenvalues; or the DARE solver failed.

    Examples
    --------
    A random walk measured in unit noise with unit process noise: P = φ = (1 + √5)/2.

    >>> m = LinearGaussianModel(A=1.0, B=0.0, H=1.0, D=0.0, Q=1.0, R=1.0)
    >>> ss = steady_state(m)
    >>> round(float(ss.P[0, 0]), 6), round(float(ss.K[0, 0]), 6)
    (1.618034, 0.618034)
    """
    import scipy.linalg

    if not isinstance(model, LinearGaussianModel):
        raise ParameterError(f"steady_state: expected a LinearGaussianModel, got {type(model).__name__}")
    A, H, Q, R = model.A, model.H, model.Q, model.R
    undetectable = _rank_deficient_modes(A, H, "rows", lambda lam: abs(lam) >= 1 - 1e-9)
    if undetectable:
        raise ParameterError(f"LinearGaussianModel (A, H): not detectable — the mode(s) at λ = "
                             f"{_fmt_modes(undetectable)} (|λ| ≥ 1) are unobservable from z = H·x, so no "
                             "steady-state Kalman gain exists (the DARE has no stabilizing solution); measure "
                             "those states or make them stable")
    unexcited = _rank_deficient_modes(A, _noise_factor(Q), "cols", lambda lam: abs(abs(lam) - 1) < 1e-9)
    if unexcited:
        raise ParameterError(f"LinearGaussianModel (A, Q^½): not stabilizable — the mode(s) at λ = "
                             f"{_fmt_modes(unexcited)} on the unit circle get no process noise from Q, so the "
                             "filter's gain for them decays to zero and no stabilizing steady state exists; "
                             "add process noise to those states")
    try:
        P = scipy.linalg.solve_discrete_are(A.T, H.T, Q, R)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ParameterError(f"LinearGaussianModel: the discrete algebraic Riccati equation has no "
                             f"stabilizing solution ({exc})") from None
    P = 0.5 * (P + P.T)
    S = H @ P @ H.T + R
    K = np.linalg.solve(S, H @ P).T            # P·Hᵀ·S⁻¹ (P, S symmetric)
    L = A @ K
    poles = np.linalg.eigvals(A - L @ H)
    if np.max(np.abs(poles), initial=0.0) >= 1:
        raise ParameterError(f"LinearGaussianModel: the Riccati solution is not stabilizing (|eig(A − L·H)| up to "
                             f"{np.max(np.abs(poles)):.6g})")
    P_filt = P - K @ H @ P
    return SteadyState(P=P, K=K, L=L, S=S, P_filt=0.5 * (P_filt + P_filt.T), poles=poles)


def _model(model) -> LinearGaussianModel:
    if not isinstance(model, LinearGaussianModel):
        raise ParameterError(f"expected a LinearGaussianModel, got {type(model).__name__}")
    return model


def _delay(x0: np.ndarray) -> UnitDelay:
    return UnitDelay(x0 if x0.shape[0] > 1 else float(x0[0]))


def lgssm_diagram(model: LinearGaussianModel, seed: int = 0, name: str = "lgssm") -> Diagram:
    """The model as a diagram: gains A, B, H, D, sums, a unit delay and two noise sources.

    Blocks: ``w`` = GaussianNoise(Q, seed), ``v`` = GaussianNoise(R, seed + 1), ``x_delay``
    (x[0] = x0; pass ``initial_states={"x_delay": ...}`` for a random or per-sequence x[0]).
    At step k: ``z[k] = H·x[k] + D·u[k] + v[k]``, ``x[k+1] = A·x[k] + B·u[k] + w[k]``.

    Ports: Inport ``u`` (m); Outports ``z`` (p, the measurements) and ``x`` (n, the true state
    x[k]). With a batch of inputs (T, B, m) every sequence gets its own noise.
    """
    model = _model(model)
    d = Diagram(name)
    d.add("u", Inport(model.m))
    for key in ("A", "B", "H", "D"):
        d.add(key, Gain(getattr(model, key)))
    d.add("w", GaussianNoise(model.Q, seed=seed))
    d.add("v", GaussianNoise(model.R, seed=seed + 1))
    d.add("x_next", Sum("+++"))
    d.add("x_delay", _delay(model.x0))
    d.add("z_sum", Sum("+++"))
    d.add("z", Outport())
    d.add("x", Outport())
    d.connect("u", "B")
    d.connect("u", "D")
    d.connect("A", "x_next.u1")
    d.connect("B", "x_next.u2")
    d.connect("w", "x_next.u3")
    d.chain("x_next", "x_delay", "A")
    d.connect("x_delay", "H")
    d.connect("H", "z_sum.u1")
    d.connect("D", "z_sum.u2")
    d.connect("v", "z_sum.u3")
    d.connect("z_sum", "z")
    d.connect("x_delay", "x")
    return d


def _gain(model, gain, which: str) -> np.ndarray:
    if gain is None:
        ss = steady_state(model)
        return ss.L if which == "L" else ss.K
    G = np.asarray(gain, dtype=np.float64)
    if G.ndim == 1 and model.p == 1:
        G = G[:, None]
    if G.shape != (model.n, model.p):
        raise ParameterError(f"gain {which}: expected shape ({model.n}, {model.p}) (n × p), got shape {G.shape}")
    return G


def _common(model, name: str) -> Diagram:
    """Inports u, z; gains H, D; z_pred = H·x̂[k|k−1] + D·u[k]; innovation e = z − z_pred; the delay."""
    d = Diagram(name)
    d.add("u", Inport(model.m))
    d.add("z", Inport(model.p))
    for key in ("A", "B", "H", "D"):
        d.add(key, Gain(getattr(model, key)))
    d.add("x_delay", _delay(model.x0))
    d.add("z_pred_sum", Sum("++"))
    d.add("e_sum", Sum("+-"))
    d.connect("u", "B")
    d.connect("u", "D")
    d.connect("x_delay", "H")
    d.connect("H", "z_pred_sum.u1")
    d.connect("D", "z_pred_sum.u2")
    d.connect("z", "e_sum.u1")
    d.connect("z_pred_sum", "e_sum.u2")
    for out in ("x_pred", "z_pred", "e"):
        d.add(out, Outport())
    d.connect("x_delay", "x_pred")
    d.connect("z_pred_sum", "z_pred")
    d.connect("e_sum", "e")
    return d


def kalman_predictor_diagram(model: LinearGaussianModel, L=None, name: str = "kalman_predictor") -> Diagram:
    """The steady-state Kalman one-step predictor (innovations form) as a diagram.

    At step k, with x̂[k|k−1] the output of ``x_delay`` (x̂[0|−1] = x0)::

        z_pred[k]  = H·x̂[k|k−1] + D·u[k]                  ẑ[k|k−1]
        e[k]       = z[k] − z_pred[k]                       innovation
        x̂[k+1|k]  = A·x̂[k|k−1] + B·u[k] + L·e[k]          (block "x_next", into the delay)

    u[k] enters z_pred[k] and e[k] at step k (through D, direct feedthrough) and the state
    estimate at k + 1 (through B); z[k] enters x̂[k+1|k], never x̂[k|k−1] (no feedthrough).

    Parameters
    ----------
    model : LinearGaussianModel
    L : (n, p), optional
        Predictor gain; default ``steady_state(model).L`` = A·K (python-control's ``dlqe`` gain).

    Ports: Inports ``u`` (m), ``z`` (p); Outports ``x_pred`` (n), ``z_pred`` (p), ``e`` (p).
    Gains ``A``, ``B``, ``H``, ``D``, ``L``; the loop x_delay → A → x_next → x_delay and the
    correction loop x_delay → H → z_pred_sum → e_sum → L → x_next are closed by ``x_delay``.
    """
    model = _model(model)
    G = _gain(model, L, "L")
    d = _common(model, name)
    d.add("L", Gain(G))
    d.add("x_next", Sum("+++"))
    d.connect("e_sum", "L")
    d.connect("A", "x_next.u1")
    d.connect("B", "x_next.u2")
    d.connect("L", "x_next.u3")
    d.chain("x_next", "x_delay", "A")
    return d


def kalman_filter_diagram(model: LinearGaussianModel, K=None, name: str = "kalman_filter") -> Diagram:
    """The steady-state Kalman filter (measurement update, then time update) as a diagram.

    At step k, with x̂[k|k−1] the output of ``x_delay`` (x̂[0|−1] = x0)::

        z_pred[k]  = H·x̂[k|k−1] + D·u[k]
        e[k]       = z[k] − z_pred[k]
        x̂[k|k]    = x̂[k|k−1] + K·e[k]                     (block "x_filt_sum"; uses z[k] once)
        x̂[k+1|k]  = A·x̂[k|k] + B·u[k]                     (block "x_next", into the delay)

    u[k] enters x̂[k|k] at step k through D (the innovation) and x̂[k+1|k] through B; z[k]
    enters x̂[k|k] at step k. Each measurement is used exactly once.

    Parameters
    ----------
    K : (n, p), optional
        Filter gain; default ``steady_state(model).K`` = P·Hᵀ·(H·P·Hᵀ + R)⁻¹.

    Ports: Inports ``u`` (m), ``z`` (p); Outports ``x_filt`` (n), ``x_pred`` (n), ``z_pred`` (p),
    ``e`` (p).
    """
    model = _model(model)
    G = _gain(model, K, "K")
    d = _common(model, name)
    d.add("K", Gain(G))
    d.add("x_filt_sum", Sum("++"))
    d.add("x_next", Sum("++"))
    d.add("x_filt", Outport())
    d.connect("e_sum", "K")
    d.connect("x_delay", "x_filt_sum.u1")
    d.connect("K", "x_filt_sum.u2")
    d.chain("x_filt_sum", "A")
    d.connect("A", "x_next.u1")
    d.connect("B", "x_next.u2")
    d.chain("x_next", "x_delay")
    d.connect("x_filt_sum", "x_filt")
    return d


def kalman_time_varying_diagram(model: LinearGaussianModel, name: str = "kalman_tv") -> Diagram:
    """The time-varying Kalman filter (covariance recursion from P0) around one KalmanFilter block ``kf``.

    Same ports as :func:`kalman_filter_diagram`: Inports ``u``, ``z``; Outports ``x_filt``,
    ``x_pred``, ``z_pred``, ``e``. Its gain K[k] = P[k|k−1]·Hᵀ·S[k]⁻¹ converges to the steady
    state's when the model is detectable and stabilizable. Runs on both backends (see
    :class:`~blockloop.blocks.kalman.KalmanFilter`; no adjoint).
    """
    model = _model(model)
    d = Diagram(name)
    d.add("u", Inport(model.m))
    d.add("z", Inport(model.p))
    d.add("kf", KalmanFilter(**model.matrices()))
    d.connect("u", "kf.u")
    d.connect("z", "kf.z")
    for out in ("x_filt", "x_pred", "z_pred", "e"):
        d.add(out, Outport())
        d.connect(f"kf.{out}", out)
    return d
