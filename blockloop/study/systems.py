"""Discrete-time linear systems for the study: the reference system, user files, random ones.

All LTI math (zpk, c2d, dcgain, zeros, poles) is python-control's; this module only
builds, loads and validates ``control.StateSpace`` objects.

A system maps an input sequence u (T, m) to an output y (T, p) through n states::

    x[k+1] = A·x[k] + B·u[k]
    y[k]   = C·x[k] + D·u[k]

with A (n, n), B (n, m), C (p, n), D (p, m) and sample time ``Ts`` in seconds (python-control's
``dt``; ``dt=True`` means discrete with an unspecified sample time).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..errors import ParameterError

__all__ = ["reference_system", "load_system", "random_stable_system", "as_statespace", "check_matrices",
           "sample_time", "system_facts", "relative_degree", "siso_transfer_function", "REFERENCE_TS"]

log = logging.getLogger(__name__)

#: The reference's sample time in seconds.
REFERENCE_TS = 0.01


def reference_system(Ts: float = REFERENCE_TS):
    """The study's plant: ``zpk(-4, [-9±5i, -2±50i], 5e5)`` discretised with zero-order hold.

    This is the system of the MATLAB example "Use LSTM Network for Linear System
    Identification": fourth order, relative degree three in continuous time, with a slow
    (−9 ± 5i) and a fast lightly damped (−2 ± 50i) pole pair.

    Parameters
    ----------
    Ts : float
        Sample time in seconds (default 0.01, the reference's).

    Returns
    -------
    control.StateSpace
        Discrete, 4 states, 1 input, 1 output, in python-control's realization of the
        discretised transfer function (see :func:`blockloop.study.realizations.realize` for
        MATLAB's realization and others).

    Raises
    ------
    ParameterError
        ``Ts`` not a positive number.

    Examples
    --------
    >>> import control
    >>> sys = reference_system()
    >>> round(float(control.dcgain(sys)), 4), sys.dt
    (7.5351, 0.01)
    """
    import control

    Ts = _positive_ts(Ts, "reference_system Ts")
    plant = control.zpk([-4.0], [-9 + 5j, -9 - 5j, -2 + 50j, -2 - 50j], 5e5)
    return control.ss(control.c2d(plant, Ts, "zoh"))


def _positive_ts(Ts, what: str) -> float:
    try:
        value = float(Ts)
    except (TypeError, ValueError):
        raise ParameterError(f"{what}: expected a sample time in seconds, got {Ts!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{what}: expected a positive sample time in seconds, got {Ts!r}")
    return value


def check_matrices(A, B, C, D, where: str = "system") -> tuple[np.ndarray, ...]:
    """Validate (A, B, C, D) as float matrices of consistent shapes; return them as 2-D arrays.

    A 1-D ``B`` of length n is read as a column (one input), a 1-D ``C`` as a row (one
    output), and a scalar ``D`` as the 1×1 matrix when m = p = 1 (or zeros when it is 0).

    Raises
    ------
    ParameterError
        Naming ``where``, the field, the shape found and the shape expected.

    Examples
    --------
    >>> A, B, C, D = check_matrices([[0.5]], [1.0], [2.0], 0)
    >>> B.shape, C.shape, D.shape
    ((1, 1), (1, 1), (1, 1))
    """
    A = _matrix(A, "A", where)
    if A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ParameterError(f"{where}: A must be square n×n with n ≥ 1 (the state matrix), got shape {A.shape}")
    n = A.shape[0]
    B = _matrix(B, "B", where, vector_as="column")
    C = _matrix(C, "C", where, vector_as="row")
    if B.shape[0] != n:
        raise ParameterError(f"{where}: B must have n = {n} rows (one per state, A is {n}×{n}), got shape {B.shape}")
    if C.shape[1] != n:
        raise ParameterError(f"{where}: C must have n = {n} columns (one per state, A is {n}×{n}), "
                             f"got shape {C.shape}")
    m, p = B.shape[1], C.shape[0]
    D = _matrix(D, "D", where, scalar_shape=(p, m))
    if D.shape != (p, m):
        raise ParameterError(f"{where}: D must be p×m = {p}×{m} (outputs of C × inputs of B), got shape {D.shape}")
    return A, B, C, D


def _matrix(value, field: str, where: str, vector_as: str | None = None, scalar_shape=None) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: {field} must be a matrix of real numbers, got {value!r}") from None
    if arr.ndim == 0 and scalar_shape is not None:
        if scalar_shape == (1, 1) or arr == 0:
            arr = np.full(scalar_shape, float(arr))
        else:
            raise ParameterError(f"{where}: {field} is a scalar but must be {scalar_shape[0]}×{scalar_shape[1]}; "
                                 "give the full matrix")
    elif arr.ndim == 1 and vector_as is not None:
        arr = arr[:, None] if vector_as == "column" else arr[None, :]
    if arr.ndim != 2:
        raise ParameterError(f"{where}: {field} must be a 2-D matrix, got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{where}: {field} has NaN or infinite entries")
    return arr


def as_statespace(system, where: str = "system"):
    """A ``control.StateSpace`` from a StateSpace, any python-control LTI model, or a file path.

    Raises
    ------
    ParameterError
        Anything else, or a model whose matrices are inconsistent.

    Examples
    --------
    >>> as_statespace(reference_system()).nstates
    4
    """
    import control

    if isinstance(system, (str, Path)):
        return load_system(system)
    if isinstance(system, control.StateSpace):
        check_matrices(system.A, system.B, system.C, system.D, where)
        return system
    if isinstance(system, control.LTI):
        return control.ss(system)
    raise ParameterError(f"{where}: expected a control.StateSpace (or a .npz/.json file path), "
                         f"got {type(system).__name__}")


def sample_time(system, where: str = "system") -> float:
    """The sample time in seconds of a discrete system (1.0 when python-control's dt is True).

    Raises
    ------
    ParameterError
        A continuous-time system (dt = 0) or one with an unspecified time base (dt = None).

    Examples
    --------
    >>> sample_time(reference_system())
    0.01
    """
    dt = system.dt
    if dt is None or dt is False or (not isinstance(dt, bool) and float(dt) == 0.0):
        kind = "continuous-time (dt = 0)" if dt == 0 else "of unspecified time base (dt = None)"
        raise ParameterError(f"{where} is {kind}; the LSTM is a discrete-time system. Discretise it first, "
                             "e.g. control.c2d(sys, Ts, 'zoh'), or give Ts in the file")
    if dt is True:
        return 1.0
    return float(dt)


def load_system(path, Ts: float | None = None):
    """Load a state-space system from a ``.npz`` or ``.json`` file with fields A, B, C, D [, Ts].

    ``.npz`` files are read with ``allow_pickle=False``; ``.json`` files hold an object
    ``{"A": [[…]], "B": [[…]], "C": [[…]], "D": [[…]], "Ts": 0.01}`` (nested lists, MATLAB
    layout: rows first). Nothing in the file is evaluated.

    Parameters
    ----------
    path : str or Path
    Ts : float, optional
        Sample time in seconds used when the file has none. With neither, the system is
        discrete with an unspecified sample time (python-control ``dt=True``, 1 s per step).
        A file ``Ts`` of 0 gives a continuous-time system.

    Returns
    -------
    control.StateSpace

    Raises
    ------
    ParameterError
        Missing file, unknown suffix, unreadable content, a missing field, or matrices of
        inconsistent shapes — naming the file and the field.

    Examples
    --------
    >>> import json, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "first_order.json")
    >>> _ = open(f, "w").write(json.dumps({"A": [[0.9]], "B": [[1]], "C": [[0.1]], "D": [[0]], "Ts": 0.1}))
    >>> load_system(f).dt
    0.1
    """
    import control

    path = Path(path)
    fields = _read_fields(path)
    missing = [k for k in ("A", "B", "C", "D") if k not in fields]
    if missing:
        raise ParameterError(f"{path}: missing field(s) {', '.join(missing)}; a system file needs A, B, C, D "
                             "(D = zeros p×m for a strictly proper system) and optionally Ts")
    A, B, C, D = check_matrices(fields["A"], fields["B"], fields["C"], fields["D"], where=str(path))
    dt = fields.get("Ts", Ts)
    if dt is None:
        dt = True
        log.info("%s has no Ts: discrete system with unspecified sample time (1 s per step)", path)
    elif np.ndim(dt) != 0 or not np.isfinite(float(np.asarray(dt))) or float(np.asarray(dt)) < 0:
        raise ParameterError(f"{path}: Ts must be one non-negative number of seconds, got {dt!r}")
    else:
        dt = float(np.asarray(dt))
    return control.ss(A, B, C, D, dt)


def _read_fields(path: Path) -> dict:
    if not path.is_file():
        raise ParameterError(f"{path}: no such system file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise ParameterError(f"{path}: cannot read as .npz ({exc})") from None
    if suffix == ".json":
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParameterError(f"{path}: cannot read as JSON ({exc})") from None
        if not isinstance(content, dict):
            raise ParameterError(f"{path}: expected a JSON object with fields A, B, C, D, got {type(content).__name__}")
        return content
    raise ParameterError(f"{path}: unknown system file type {path.suffix!r}; use .npz or .json with A, B, C, D")


def random_stable_system(n: int, m: int = 1, p: int = 1, Ts: float = REFERENCE_TS, seed: int = 0):
    """A random stable discrete system (``drss``-like) with an invertible A, reproducible by seed.

    Poles are drawn inside the annulus 0.2 ≤ |z| ≤ 0.95 (real poles and complex pairs,
    about half each), placed in real modal form and rotated by a random orthogonal
    similarity; B, C, D are standard normal. Since no pole is near 0, A is invertible, as
    the LSTM construction needs.

    Parameters
    ----------
    n, m, p : int
        States, inputs, outputs (all ≥ 1).
    Ts : float
        Sample time in seconds.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    control.StateSpace

    Raises
    ------
    ParameterError
        A non-positive size or sample time.

    Examples
    --------
    >>> import numpy as np
    >>> sys = random_stable_system(4, 2, 3, seed=1)
    >>> bool(np.all(np.abs(sys.poles()) < 1)), sys.B.shape, sys.C.shape
    (True, (4, 2), (3, 4))
    """
    import control

    for name, val in (("n", n), ("m", m), ("p", p)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
            raise ParameterError(f"random_stable_system {name}: expected a positive integer, got {val!r}")
    Ts = _positive_ts(Ts, "random_stable_system Ts")
    rng = np.random.default_rng(seed)
    A_modal = np.zeros((n, n))
    k = 0
    while k < n:
        radius = rng.uniform(0.2, 0.95)
        if k + 1 < n and rng.random() < 0.5:
            angle = rng.uniform(0.05, np.pi - 0.05)
            re, im = radius * np.cos(angle), radius * np.sin(angle)
            A_modal[k:k + 2, k:k + 2] = [[re, im], [-im, re]]
            k += 2
        else:
            A_modal[k, k] = radius * rng.choice([-1.0, 1.0])
            k += 1
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ A_modal @ Q.T
    B, C, D = rng.standard_normal((n, m)), rng.standard_normal((p, n)), rng.standard_normal((p, m))
    return control.ss(A, B, C, D, Ts)


def relative_degree(system) -> int | None:
    """The relative degree r of a SISO system: 0 when D ≠ 0, else the first k with C·Aᵏ⁻¹·B ≠ 0.

    G(z) = D + C·B·z⁻¹ + C·A·B·z⁻² + …, so the numerator of G over its monic denominator has
    degree n − r and leading coefficient D (r = 0) or C·Aʳ⁻¹·B (the zpk gain). A Markov
    parameter counts as zero when it is within the rounding error of computing it:
    |C·Aᵏ⁻¹·B| ≤ 10·n·k·ε·(|C|·|A|ᵏ⁻¹·|B|) with absolute values taken entrywise (a bound on the
    error of the matrix products). None when every C·Aᵏ⁻¹·B, k = 1…n, is zero and D = 0: then
    G ≡ 0 (Cayley–Hamilton).

    Examples
    --------
    >>> import control
    >>> relative_degree(control.ss([[0.9, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.0]], 0, 0.01))
    2
    """
    return _leading_markov(system)[0]


def _leading_markov(system) -> tuple[int | None, float]:
    """``(r, g)``: the relative degree (see :func:`relative_degree`) and the leading coefficient g
    (D for r = 0, C·Aʳ⁻¹·B otherwise; 0.0 when the transfer function is zero)."""
    sys = as_statespace(system)
    A, B, C, D = (np.asarray(M, dtype=np.float64) for M in (sys.A, sys.B, sys.C, sys.D))
    if D.shape != (1, 1) or B.shape[1] != 1:
        raise ParameterError(f"relative_degree: expected a SISO system, got {D.shape[0]} outputs × {D.shape[1]} inputs")
    if D[0, 0] != 0.0:
        return 0, float(D[0, 0])
    n = A.shape[0]
    x, bound = B, np.abs(B)
    for k in range(1, n + 1):
        markov = float((C @ x)[0, 0])
        if abs(markov) > 10 * n * k * np.finfo(np.float64).eps * float((np.abs(C) @ bound)[0, 0]):
            return k, markov
        x, bound = A @ x, np.abs(A) @ bound
    return None, 0.0


def siso_transfer_function(system) -> tuple[np.ndarray, np.ndarray]:
    """``(num, den)``: a SISO system's transfer function, highest power first, without spurious
    leading numerator coefficients.

    ``den`` is python-control's (monic, degree n). ``num`` has degree n − r exactly, r the
    :func:`relative_degree`: the coefficients python-control returns above that degree are
    rounding noise (e.g. 2.2e-16 where the true coefficient is 0) and are dropped, and the
    leading one is the Markov parameter C·Aʳ⁻¹·B (or D) itself, computed directly rather than
    through the characteristic polynomials. So ``num[0] / den[0]`` is the zpk gain and
    ``np.roots(num)`` the zeros. A zero transfer function gives ``num = []``.

    Examples
    --------
    >>> import control
    >>> num, den = siso_transfer_function(control.ss([[0.9, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.0]], 0, 0.01))
    >>> num.tolist(), den.round(12).tolist()
    ([0.1], [1.0, -1.7, 0.72])
    >>> len(siso_transfer_function(reference_system())[0])  # 4 poles, 3 zeros: relative degree 1
    4
    """
    import control

    sys = as_statespace(system)
    r, lead = _leading_markov(sys)
    tf = control.tf(sys)
    num = np.atleast_1d(np.asarray(tf.num[0][0], dtype=np.float64))
    den = np.atleast_1d(np.asarray(tf.den[0][0], dtype=np.float64))
    n = den.size - 1
    if r is None:
        return np.zeros(0), den
    num = np.concatenate([np.zeros(max(0, n + 1 - num.size)), num])[-(n + 1):][r:]
    num[0] = lead * den[0]
    return num, den


def system_facts(system) -> dict:
    """DC gain, zeros, poles, zpk gain (SISO), D and sample time of a discrete system.

    Returns
    -------
    dict
        ``dcgain`` (p, m) array, ``zeros`` and ``poles`` (complex arrays), ``zpk_gain``
        (float for SISO, else None), ``D``, ``Ts`` (seconds), ``n``, ``m``, ``p``. For a SISO
        system the zeros and the zpk gain come from :func:`siso_transfer_function` (the roots
        and leading coefficient of the numerator, of degree n − relative degree); for MIMO the
        zeros are python-control's invariant zeros.

    Examples
    --------
    >>> round(system_facts(reference_system())["zpk_gain"], 6)
    0.078673
    """
    import control

    sys = as_statespace(system)
    facts = {"n": sys.nstates, "m": sys.ninputs, "p": sys.noutputs, "Ts": sample_time(sys),
             "D": np.array(sys.D, dtype=float), "dcgain": np.atleast_2d(np.asarray(control.dcgain(sys))),
             "zeros": np.asarray(sys.zeros()), "poles": np.asarray(sys.poles()), "zpk_gain": None}
    if sys.ninputs == 1 and sys.noutputs == 1:
        num, den = siso_transfer_function(sys)
        facts["zpk_gain"] = float(num[0] / den[0]) if num.size else 0.0
        facts["zeros"] = np.roots(num).astype(complex) if num.size > 1 else np.zeros(0, dtype=complex)
    return facts
