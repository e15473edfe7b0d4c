"""State coordinates for the same system: as given, balanced, unit covariance, MATLAB's ``ss(zpk)``.

The transfer function does not fix the state coordinates, but the LSTM construction
does care: its hidden state is ``scl·x``, and ``tanh`` is linear only near 0, so the
approximation error grows with how large the states get. Every realization here is an
exact similarity transform ``x_given = T·z`` (or, for ``"matlab"``, a rebuild from the
zeros, poles and gain), so the input-output map is unchanged.

``realize(sys, name)`` returns ``(sys_new, T)`` with ``x_given = T·z_new``.

Names
-----
``as_given``
    The system as passed in (T = I).
``balanced``
    Balanced truncation coordinates without truncation: controllability and
    observability Gramians equal and diagonal (Hankel singular values). Computed by the
    square-root method from ``control.dlyap`` Gramians, because python-control's
    ``balred``/``gram`` need slycot, which is not installed.
``unit_covariance``
    States whitened: under unit-variance white input the stationary state covariance
    ``P = A·P·Aᵀ + B·Bᵀ`` becomes ``state_std²·I`` (T = chol(P)/state_std). With the default
    state_std = 1 the states are as large as the input; smaller values shrink them further
    (the LSTM's tanh error falls with the square of the state size).
``matlab``
    MATLAB's ``ss`` of a SISO zpk model: a cascade of balanced first- and second-order
    sections (see :func:`matlab_ss`). Reproduces the reference's printed A, B and F.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .systems import as_statespace, sample_time

__all__ = ["realize", "matlab_ss", "state_covariance", "REALIZATIONS"]

REALIZATIONS = ("as_given", "balanced", "unit_covariance", "matlab")


def realize(system, name: str = "as_given", state_std: float | None = None):
    """The same discrete system in other state coordinates.

    Parameters
    ----------
    system : control.StateSpace
        Discrete-time, stable for ``balanced`` and ``unit_covariance``, SISO for ``matlab``.
    name : {"as_given", "balanced", "unit_covariance", "matlab"}
    state_std : float, optional
        ``"unit_covariance"`` only: the stationary std of every new state under
        unit-variance white input (default 1).

    Returns
    -------
    (control.StateSpace, ndarray (n, n))
        The new system and T with ``x_given = T·z_new`` (for ``"matlab"`` the T that maps
        the new states to the given ones, found from the two controllability matrices).

    Raises
    ------
    ParameterError
        Unknown name; an unstable or non-minimal system where a Gramian is needed; a MIMO
        system for ``"matlab"``; ``state_std`` not positive or given with another name.

    Examples
    --------
    >>> from blockloop.study.systems import reference_system
    >>> sys_b, T = realize(reference_system(), "balanced")
    >>> import numpy as np, control
    >>> bool(np.isclose(control.dcgain(sys_b), control.dcgain(reference_system())))
    True
    """
    import control

    sys = as_statespace(system)
    sample_time(sys)
    n = sys.nstates
    if state_std is not None and name != "unit_covariance":
        raise ParameterError(f"state_std applies to the 'unit_covariance' realization only, not {name!r}")
    if name == "as_given":
        return sys, np.eye(n)
    if name == "balanced":
        T = _balancing_transform(sys)
    elif name == "unit_covariance":
        T = _cholesky(state_covariance(sys), "state covariance", name) / _state_std(state_std)
    elif name == "matlab":
        new = matlab_ss(sys)
        return new, _transform_between(sys, new)
    else:
        raise ParameterError(f"realization: unknown name {name!r}; choose one of {', '.join(REALIZATIONS)}")
    return control.similarity_transform(sys, T, inverse=True), T


def _state_std(value) -> float:
    if value is None:
        return 1.0
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not np.isfinite(out) or out <= 0:
        raise ParameterError(f"state_std: expected a positive number (target std of each state), got {value!r}")
    return out


def state_covariance(system) -> np.ndarray:
    """Stationary state covariance P under unit-variance white input: ``P = A·P·Aᵀ + B·Bᵀ``.

    This is also the discrete controllability Gramian. Uses ``control.dlyap``.

    Raises
    ------
    ParameterError
        The system is not stable (some |pole| ≥ 1): no stationary covariance exists.

    Examples
    --------
    >>> import control
    >>> float(state_covariance(control.ss([[0.5]], [[1.0]], [[1.0]], 0, 1.0))[0, 0])
    1.3333333333333333
    """
    import control

    sys = as_statespace(system)
    _require_stable(sys)
    P = control.dlyap(sys.A, sys.B @ sys.B.T)
    return (P + P.T) / 2


def _require_stable(sys) -> None:
    radius = float(np.max(np.abs(sys.poles()))) if sys.nstates else 0.0
    if radius >= 1.0:
        raise ParameterError(f"system is not stable (largest |pole| = {radius:.6g} ≥ 1); the 'balanced' and "
                             "'unit_covariance' realizations need stationary Gramians; use 'as_given' or 'matlab'")


def _cholesky(P: np.ndarray, what: str, name: str) -> np.ndarray:
    try:
        return np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        raise ParameterError(f"realization {name!r}: the {what} is singular, so the system is not minimal "
                             "(uncontrollable or unobservable states); reduce it first with "
                             "control.minimal_realization(sys)") from None


def _balancing_transform(sys) -> np.ndarray:
    """Square-root balancing: T with Tᵀ⁻¹·Wo·T⁻¹ … so both Gramians become diag(HSV)."""
    import control

    _require_stable(sys)
    Wc = control.dlyap(sys.A, sys.B @ sys.B.T)
    Wo = control.dlyap(sys.A.T, sys.C.T @ sys.C)
    Lc = _cholesky((Wc + Wc.T) / 2, "controllability Gramian", "balanced")
    Lo = _cholesky((Wo + Wo.T) / 2, "observability Gramian", "balanced")
    U, hsv, Vt = np.linalg.svd(Lo.T @ Lc)
    return Lc @ Vt.T / np.sqrt(hsv)  # x = T z; Wc_z = Wo_z = diag(hsv)


def _transform_between(old, new) -> np.ndarray:
    """T with x_old = T·x_new, from the controllability matrices (exact for minimal systems)."""
    import control

    Wo_old = control.ctrb(old.A, old.B)
    Wo_new = control.ctrb(new.A, new.B)
    T, *_ = np.linalg.lstsq(Wo_new.T, Wo_old.T, rcond=None)
    return T.T


def matlab_ss(system):
    """MATLAB's ``ss`` realization of a SISO model given by its zeros, poles and gain.

    Reconstructed from the reference's printout, which it reproduces to all printed
    digits (A, B and F = [C·A⁻¹, D − C·A⁻¹·B]/scl); not checked on other systems.

    Algorithm: order complex pole pairs (positive imaginary part first, as python-control
    lists them) before real poles and complex zero pairs before real zeros; section j
    takes poles 2j−1, 2j and the zeros at the same positions. Each second-order section
    with poles σ ± iω and numerator ``d·z² + e·z + f`` is realized as::

        a = [[σ, 1], [−ω², σ]]   (or [[σ, ω], [−ω, σ]] when ω ≥ 1)
        b = [0; λ],  c = [y, x]/λ,  x = 2dσ + e,  y = N(σ) − dω²,  λ = (x² + y²)^¼

    first-order sections (p, optional zero q) as a = p, b = c = √|p − q| (sign on c), and
    the sections are chained from the input (section 1) to the output, the output section
    taking the first states. The gain k is split as B·s, C·k/s with s = 2^round(log2 √|k|).

    Raises
    ------
    ParameterError
        A MIMO system, a zero transfer function, or more zeros than poles.

    Examples
    --------
    >>> from blockloop.study.systems import reference_system
    >>> matlab_ss(reference_system()).A.round(4)[1].tolist()
    [-0.0021, 0.9128, -0.3945, 2.5522]
    """
    import control

    sys = as_statespace(system)
    if sys.ninputs != 1 or sys.noutputs != 1:
        raise ParameterError(f"realization 'matlab' needs a SISO system, got {sys.noutputs} outputs × "
                             f"{sys.ninputs} inputs; use 'balanced' or 'unit_covariance'")
    tf = control.tf(sys)
    num = np.atleast_1d(np.asarray(tf.num[0][0], dtype=float))
    num = np.trim_zeros(np.where(np.abs(num) > 1e-13 * np.max(np.abs(num), initial=0.0), num, 0.0), "f")
    den = np.atleast_1d(np.asarray(tf.den[0][0], dtype=float))
    if num.size == 0:
        raise ParameterError("realization 'matlab': the transfer function is zero (C·Aᵏ·B = 0 and D = 0); "
                             "there is nothing to realize")
    cleaned = control.tf(num, den, sys.dt)
    zeros, poles = _paired(cleaned.zeros()), _paired(cleaned.poles())
    if zeros.size > poles.size:
        raise ParameterError(f"realization 'matlab': {zeros.size} zeros > {poles.size} poles (improper)")
    sections = _sections(zeros, poles)
    A, B, C, D = _chain(sections)
    k = num[0] / den[0]
    s = 2.0 ** np.round(np.log2(np.sqrt(abs(k))))
    return control.ss(A, B * s, C * (k / s), D * k, sys.dt)


def _paired(roots: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Complex roots as (r, conj r) with Im r > 0, in the given order, then real roots."""
    roots = np.asarray(roots, dtype=complex)
    scale = max(1.0, float(np.max(np.abs(roots)))) if roots.size else 1.0
    is_real = np.abs(roots.imag) <= tol * scale
    upper = roots[~is_real & (roots.imag > 0)]
    out = [v for r in upper for v in (r, np.conj(r))]
    return np.array(out + [complex(r.real, 0.0) for r in roots[is_real]], dtype=complex)


def _sections(zeros: np.ndarray, poles: np.ndarray) -> list[tuple]:
    n_pairs = int(np.sum(poles.imag > 0))
    n_zpairs = int(np.sum(zeros.imag > 0))
    n_sec2 = max(n_pairs, n_zpairs)
    sections = []
    for j in range(n_sec2):
        sections.append(_second_order(zeros[2 * j:min(2 * j + 2, zeros.size)], poles[2 * j:2 * j + 2]))
    for idx in range(2 * n_sec2, poles.size):
        sections.append(_first_order(zeros[idx:idx + 1] if idx < zeros.size else zeros[:0], poles[idx]))
    return sections


def _second_order(z: np.ndarray, p: np.ndarray) -> tuple:
    d, e = {0: (0.0, 0.0), 1: (0.0, 1.0), 2: (1.0, -float(np.real(np.sum(z))))}[z.size]
    rp, ip = p.real, float(p[0].imag)
    a12, a21 = (ip, -ip) if abs(ip) >= 1 else (1.0, -ip ** 2)
    x = d * float(np.sum(rp)) + e
    y = (float(np.real(np.prod(rp[1] - z))) - d * ip ** 2) / a12
    lam = (x * x + y * y) ** 0.25
    a = np.array([[rp[0], a12], [a21, rp[1]]])
    b = np.array([[x], [y]]) / lam if lam else np.zeros((2, 1))
    c = np.array([[lam, 0.0]])
    flip = np.array([[0.0, 1.0], [1.0, 0.0]])  # MATLAB's layout is the flipped dual of (a, b, c)
    return flip @ a.T @ flip, flip @ c.T, (flip @ b).T, d


def _first_order(z: np.ndarray, p: complex) -> tuple:
    p = float(np.real(p))
    gain = float(np.real(np.prod(p - z)))
    lam = np.sqrt(abs(gain))
    return np.array([[p]]), np.array([[lam]]), np.array([[np.sign(gain) * lam]]), float(z.size)


def _chain(sections: list[tuple]):
    """Series connection, input → section 0 → … → output; the last section takes the first states."""
    sizes = [s[0].shape[0] for s in sections]
    n = sum(sizes)
    offsets, o = {}, 0
    for j in reversed(range(len(sections))):
        offsets[j] = slice(o, o + sizes[j])
        o += sizes[j]
    A, B, C = np.zeros((n, n)), np.zeros((n, 1)), np.zeros((1, n))
    for j, (a, b, _, _) in enumerate(sections):
        A[offsets[j], offsets[j]] = a
        through = 1.0
        for i in range(j - 1, -1, -1):
            A[offsets[j], offsets[i]] = through * (b @ sections[i][2])
            through *= sections[i][3]
        B[offsets[j]] = through * b
    for i, (_, _, c, _) in enumerate(sections):
        C[:, offsets[i]] = np.prod([s[3] for s in sections[i + 1:]]) * c
    return A, B, C, float(np.prod([s[3] for s in sections]))
