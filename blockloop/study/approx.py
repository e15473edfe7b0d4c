"""How well the computed-weight LSTM reproduces the linear system: simulate both, compare, sweep.

Conventions: input u is (T, m), time along axis 0 (like ``lsim``); outputs are (T, p);
the error is MATLAB's ``norm(y − z)`` (largest singular value of the (T, p) difference, the
2-norm of the sequence for p = 1), as the reference's plot titles report it.

The reference's input is MATLAB's ``randn(51, m)``, whose stream cannot be reproduced here;
:func:`validation_input` uses ``numpy.random.default_rng(seed).standard_normal`` instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..diagrams import NetworkWeights, lstm_network
from ..errors import ParameterError
from ..interop.torch import matlab_norm
from .lstm_from_ss import lstm_weights_from_ss
from .systems import as_statespace, sample_time

__all__ = ["default_realization", "validation_input", "simulate_lstm", "simulate_linear", "approximation_error",
           "approximate", "Approximation", "sweep", "format_sweep", "plot_sweep", "plot_response"]

log = logging.getLogger(__name__)


def default_realization(system=None) -> str:
    """The realization used when none is named, by :func:`approximate`, :func:`sweep` and ``blockloop approx``.

    ``"matlab"`` (MATLAB's ``ss(zpk)``, the reference's coordinates, whose weights it prints) for
    the reference system (``system`` None); ``"as_given"`` (the coordinates the system comes in)
    for a system you pass.

    Examples
    --------
    >>> default_realization(), default_realization("plant.json")
    ('matlab', 'as_given')
    """
    return "matlab" if system is None else "as_given"


def validation_input(m: int = 1, steps: int = 51, seed: int = 0) -> np.ndarray:
    """Unit-variance white input (steps, m): ``numpy.random.default_rng(seed).standard_normal``.

    Examples
    --------
    >>> validation_input(2, 51).shape
    (51, 2)
    """
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps: expected a positive integer, got {steps!r}")
    return np.random.default_rng(seed).standard_normal((int(steps), int(m)))


def _input(u, m: int, where: str) -> np.ndarray:
    arr = np.asarray(u, dtype=np.float64)
    if arr.ndim == 1 and m == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != m or arr.shape[0] == 0:
        raise ParameterError(f"{where} u: expected shape (T, {m}) (time along axis 0, one column per input), "
                             f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{where} u: has NaN or infinite samples")
    return arr


def simulate_lstm(weights: NetworkWeights, u, Ts: float = 1.0, engine: str = "diagram",
                  dtype: str = "float64") -> np.ndarray:
    """Output z (T, No) of the LSTM network for input u (T, Ni), zero-based time ``k·Ts``.

    Parameters
    ----------
    engine : {"diagram", "torch"}
        ``"diagram"``: the blockloop diagram (:func:`~blockloop.diagrams.lstm_network`);
        ``"torch"``: ``nn.LSTM`` + ``nn.Linear`` (needs PyTorch).
    dtype : {"float64", "float32"}

    Raises
    ------
    ParameterError
        u of the wrong shape, or an unknown engine.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights
    >>> simulate_lstm(NetworkWeights.random(1, 3, 1), validation_input(1, 5)).shape
    (5, 1)
    """
    u = _input(u, weights.ni, "simulate_lstm")
    if engine == "diagram":
        return lstm_network(weights).compile(dtype=dtype).simulate({"u": u}, Ts=Ts)["y"].astype(np.float64)
    if engine == "torch":
        from ..interop.torch import torch_forward

        return torch_forward(weights, u, dtype)
    raise ParameterError(f"engine: expected 'diagram' or 'torch', got {engine!r}")


def simulate_linear(system, u) -> np.ndarray:
    """Output y (T, p) of the discrete system from x0 = 0 (python-control ``forced_response``).

    Examples
    --------
    >>> import control
    >>> simulate_linear(control.ss([[0.5]], [[1.0]], [[1.0]], 0, 0.1), [1.0, 1.0, 1.0]).ravel().tolist()
    [0.0, 1.0, 1.5]
    """
    import control

    sys = as_statespace(system)
    Ts = sample_time(sys)
    u = _input(u, sys.ninputs, "simulate_linear")
    if u.shape[0] == 1:  # forced_response needs two time points; from x0 = 0, y[0] = D·u[0]
        return u @ np.asarray(sys.D, dtype=np.float64).T
    t = np.arange(u.shape[0]) * (Ts if sys.dt is not True else 1.0)
    resp = control.forced_response(sys, T=t, U=u.T, X0=np.zeros(sys.nstates), squeeze=False)
    return np.asarray(resp.outputs, dtype=np.float64).reshape(sys.noutputs, -1).T


def approximation_error(system, weights: NetworkWeights, u) -> float:
    """MATLAB's ``norm(y − z)``: linear system output y versus LSTM (diagram) output z.

    Examples
    --------
    >>> from blockloop.study.systems import reference_system
    >>> sys = reference_system()
    >>> w, _ = lstm_weights_from_ss(sys, realization="unit_covariance", state_std=0.1)
    >>> approximation_error(sys, w, validation_input()) < 1e-5
    True
    """
    sys = as_statespace(system)
    y = simulate_linear(sys, u)
    z = simulate_lstm(weights, u, sample_time(sys))
    return matlab_norm(y - z)


@dataclass
class Approximation:
    """One comparison run: weights, input, both outputs and the error.

    Attributes
    ----------
    t : (T,) seconds; u : (T, m); y : (T, p) linear system; z : (T, p) LSTM diagram
    error_norm : MATLAB ``norm(y − z)``
    torch_diff : MATLAB norm of (diagram − nn.LSTM) outputs in float64, or None if not run
    """

    weights: NetworkWeights
    info: dict
    t: np.ndarray
    u: np.ndarray
    y: np.ndarray
    z: np.ndarray
    error_norm: float
    torch_diff: float | None = None


def approximate(system=None, units: str = "n+m", scl: float = 1e-3, beta: float = 100.0,
                realization: str | None = None, u=None, steps: int = 51, seed: int = 0,
                crosscheck: bool = False, state_std: float | None = None) -> Approximation:
    """Compute the weights, simulate both models on the same input and measure the error.

    Parameters
    ----------
    system : control.StateSpace or path, optional
        Default: :func:`~blockloop.study.systems.reference_system`.
    u : (T, m) array, optional
        Default: :func:`validation_input` (``steps`` samples, ``seed``).
    crosscheck : bool
        Also run ``nn.LSTM`` (PyTorch) and record the diagram-vs-torch difference.
    realization : str, optional
        State coordinates (see :func:`~blockloop.study.realizations.realize`); default
        :func:`default_realization`: ``"matlab"`` for the reference system, ``"as_given"`` for yours.
    units, scl, beta, state_std
        As in :func:`~blockloop.study.lstm_from_ss.lstm_weights_from_ss`.

    Examples
    --------
    >>> run = approximate()
    >>> run.info["realization"], run.y.shape, round(run.error_norm, 3)
    ('matlab', (51, 1), 0.164)
    """
    from .systems import reference_system

    if realization is None:
        realization = default_realization(system)
    sys = as_statespace(reference_system() if system is None else system)
    weights, info = lstm_weights_from_ss(sys, units=units, scl=scl, beta=beta, realization=realization,
                                         state_std=state_std)
    u = validation_input(sys.ninputs, steps, seed) if u is None else _input(u, sys.ninputs, "approximate")
    Ts = info["Ts"]
    y = simulate_linear(sys, u)
    z = simulate_lstm(weights, u, Ts)
    torch_diff = matlab_norm(z - simulate_lstm(weights, u, Ts, engine="torch")) if crosscheck else None
    return Approximation(weights=weights, info=info, t=np.arange(u.shape[0]) * Ts, u=u, y=y, z=z,
                         error_norm=matlab_norm(y - z), torch_diff=torch_diff)


def sweep(system=None, scls=(1e-1, 1e-2, 1e-3, 1e-4, 1e-5), betas=(2.0, 5.0, 10.0, 20.0, 100.0),
          realizations=None, units: str = "n+m", steps: int = 51, seed: int = 0,
          state_std: float | None = None) -> list[dict]:
    """Approximation error over a grid of scl × β × realization, on one validation input.

    ``state_std`` is passed to the ``"unit_covariance"`` realization only; ``realizations``
    defaults to the one :func:`default_realization` picks.

    Returns
    -------
    list of dict
        One row per combination: ``realization``, ``units``, ``scl``, ``beta``,
        ``error_norm``, ``max_hidden`` (largest |h| reached in the run) and
        ``max_hidden_expected`` (3σ prediction from the state covariance).

    Examples
    --------
    >>> rows = sweep(scls=(1e-2, 1e-3), betas=(100.0,))
    >>> rows[0]["error_norm"] > rows[1]["error_norm"]
    True
    """
    from .systems import reference_system

    if realizations is None:
        realizations = (default_realization(system),)
    sys = as_statespace(reference_system() if system is None else system)
    u = validation_input(sys.ninputs, steps, seed)
    y = simulate_linear(sys, u)
    rows = []
    for realization in realizations:
        for beta in betas:
            for scl in scls:
                weights, info = lstm_weights_from_ss(
                    sys, units=units, scl=scl, beta=beta, realization=realization,
                    state_std=state_std if realization == "unit_covariance" else None)
                res = lstm_network(weights).simulate({"u": u}, Ts=info["Ts"], probes=["lstm1/h_prod.y"])
                rows.append({"realization": realization, "units": units, "scl": float(scl), "beta": float(beta),
                             "error_norm": matlab_norm(y - res["y"]),
                             "max_hidden": float(np.max(np.abs(res["lstm1/h_prod.y"]))),
                             "max_hidden_expected": info["max_hidden_expected"]})
    return rows


def format_sweep(rows: list[dict]) -> str:
    """The sweep as a fixed-width text table (one line per row)."""
    lines = [f"{'realization':<16}{'units':>6}{'scl':>10}{'beta':>8}{'norm(y-z)':>14}{'max|h|':>12}"]
    for r in rows:
        lines.append(f"{r['realization']:<16}{r['units']:>6}{r['scl']:>10.0e}{r['beta']:>8g}"
                     f"{r['error_norm']:>14.4e}{r['max_hidden']:>12.3e}")
    return "\n".join(lines)


def plot_sweep(rows: list[dict], path) -> None:
    """Log-log plot of ``norm(y − z)`` against scl: one panel per realization, one line per β; PNG."""
    from matplotlib.figure import Figure

    from ..viz.plot_style import style_axes

    realizations = list(dict.fromkeys(r["realization"] for r in rows))
    betas = sorted({r["beta"] for r in rows})
    fig = Figure(figsize=(3.2 * len(realizations) + 1.2, 4.2))
    axes = fig.subplots(1, len(realizations), sharey=True, squeeze=False)[0]
    colors = [f"C{k}" for k in range(len(betas))]
    for ax, realization in zip(axes, realizations, strict=True):
        for beta, color in zip(betas, colors, strict=True):
            rs = sorted((r for r in rows if r["realization"] == realization and r["beta"] == beta),
                        key=lambda r: r["scl"])
            ax.loglog([r["scl"] for r in rs], [max(r["error_norm"], 1e-300) for r in rs], marker="o",
                      markersize=3, color=color, label=f"β = {beta:g}")
        style_axes(ax, xlabel="input scaling scl (1)", title=realization)
    axes[0].set_ylabel("norm(y − z) (output units)")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle("LSTM with computed weights vs linear system (error against input scaling)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_response(run: Approximation, path, title: str | None = None):
    """The linear output y ("true") and the LSTM output z ("net") as held-sample stairs, their
    difference below (:func:`blockloop.viz.scope.plot_comparison`); saved to ``path``, returns the Figure."""
    from ..viz.scope import plot_comparison

    return plot_comparison(run.y, run.z, labels=("true", "net"), t=run.t, Ts=run.info.get("Ts"), signal="y",
                           title=title or f"Neural Network Approx ({run.info['realization']}, "
                                          f"scl={run.info['scl']:g}, β={run.info['beta']:g})", file=path)
