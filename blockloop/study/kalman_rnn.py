"""The steady-state Kalman predictor *is* an Elman RNN: weights computed from (A, B, H, D) and the gain L.

The predictor's state update is linear in [x̂, u, z] (see :mod:`blockloop.diagrams.kalman`)::

    x̂[k+1|k] = (A − L·H)·x̂[k|k−1] + (B − L·D)·u[k] + L·z[k]

An Elman layer h[k] = tanh(W·v[k] + R·h[k−1] + b) fed v[k] = [u[k]; z[k]] reproduces it with the
hidden state scaled down by ``scl`` so that tanh stays in its linear range (as the LSTM study's scl)::

    h[k] = scl·x̂[k+1|k],   W = scl·[B − L·D, L],   R = A − L·H,   b = 0,   h0 = scl·x0
    y[k] = F·h[k] = H·x̂[k+1|k],   F = H / scl

so the network's output at step k is the filter's prediction of z[k+1] − D·u[k+1] (the part of the
next measurement that u[k+1], not yet known at step k, does not explain; exactly ẑ[k+1|k] when
D = 0). With tanh(s) = s − s³/3 + …, the error against the filter shrinks like scl² (:func:`scl_sweep`
measures it; in float64 no rounding floor shows down to scl = 1e-8 on the study's plant).
"""

from __future__ import annotations

import numpy as np

from ..diagrams.kalman import LinearGaussianModel, kalman_predictor_diagram, steady_state
from ..diagrams.rnn import RNNLayerWeights, RNNNetworkWeights, rnn_network
from ..errors import ParameterError

__all__ = ["kalman_rnn_weights", "prediction_task", "kalman_prediction", "scl_sweep", "plot_scl_sweep",
           "SWEEP_SCLS"]

SWEEP_SCLS = (1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)


def kalman_rnn_weights(model: LinearGaussianModel, scl: float = 1e-3, L=None, in_scale=None,
                       out_scale=None) -> RNNNetworkWeights:
    """One-layer Elman RNN (Nn = n, Ni = m + p, No = p) + linear head equal to the Kalman predictor.

    Parameters
    ----------
    model : LinearGaussianModel
    scl : float > 0
        Hidden-state scale: h = scl·x̂ (keep 3·scl·std(x̂) ≪ 1 for tanh to be linear).
    L : (n, p), optional
        Predictor gain (default: the steady-state ``steady_state(model).L``).
    in_scale, out_scale : (m + p,) and (p,), optional
        For a network trained on scaled data (v / in_scale, y / out_scale): the weights that
        compute the same predictions in those units (W·diag(in_scale), diag(1/out_scale)·F).

    Returns
    -------
    RNNNetworkWeights
        Inputs ordered [u; z]; ``F_bias`` = 0.
    """
    scl = float(scl)
    if not np.isfinite(scl) or scl <= 0:
        raise ParameterError(f"scl: expected a positive number, got {scl!r}")
    L = steady_state(model).L if L is None else np.asarray(L, dtype=np.float64)
    if L.shape != (model.n, model.p):
        raise ParameterError(f"L: expected shape ({model.n}, {model.p}), got {L.shape}")
    W = scl * np.hstack([model.B - L @ model.D, L])
    F = model.H / scl
    if in_scale is not None:
        W = W * np.asarray(in_scale, dtype=np.float64)[None, :]
    if out_scale is not None:
        F = F / np.asarray(out_scale, dtype=np.float64)[:, None]
    layer = RNNLayerWeights(W=W, R=model.A - L @ model.H, b=np.zeros(model.n), h0=scl * model.x0)
    return RNNNetworkWeights(layers=(layer,), F=F, F_bias=np.zeros(model.p))


def prediction_task(model: LinearGaussianModel, u: np.ndarray, z: np.ndarray):
    """The one-step prediction task: network inputs v[k] = [u[k]; z[k]] and targets z[k+1] − D·u[k+1].

    ``u`` (T, m) or (T, B, m) and ``z`` (T, p) or (T, B, p); returns ``v`` (T−1, …, m + p) and
    ``y`` (T−1, …, p) for k = 0 … T−2.
    """
    v = np.concatenate([u, z], axis=-1)[:-1]
    y = (z - u @ model.D.T)[1:]
    return v, y


def kalman_prediction(model: LinearGaussianModel, u: np.ndarray, z: np.ndarray, L=None) -> np.ndarray:
    """The steady-state predictor's H·x̂[k+1|k] for k = 0 … T−2 (the optimal answer to :func:`prediction_task`)."""
    res = kalman_predictor_diagram(model, L=L).simulate({"u": u, "z": z}, probes=["x_next.y"])
    return (res["x_next.y"] @ model.H.T)[:-1]


def scl_sweep(model: LinearGaussianModel, u: np.ndarray, z: np.ndarray, scls=SWEEP_SCLS) -> list[dict]:
    """Error of the computed Kalman RNN (diagram, float64) against the Kalman predictor, per ``scl``.

    Returns rows ``{"scl", "error_norm" (MATLAB norm of the (T−1, p) difference), "max_abs",
    "relative" (max_abs / max |prediction|), "max_hidden" (max |h|)}``.
    """
    v, _ = prediction_task(model, u, z)
    ref = kalman_prediction(model, u, z)
    L = steady_state(model).L
    rows = []
    for scl in scls:
        w = kalman_rnn_weights(model, scl, L=L)
        res = rnn_network(w).simulate({"u": v}, probes=["rnn1/tanh_h.y"])
        diff = res["y"] - ref
        flat = diff.reshape(diff.shape[0], -1)
        rows.append({"scl": float(scl), "error_norm": float(np.linalg.norm(flat, 2)),
                     "max_abs": float(np.abs(diff).max()),
                     "relative": float(np.abs(diff).max() / max(np.abs(ref).max(), 1e-300)),
                     "max_hidden": float(np.abs(res["rnn1/tanh_h.y"]).max())})
    return rows


def plot_scl_sweep(rows: list[dict], path, title: str = "Kalman-RNN vs the Kalman predictor") -> None:
    """Log-log plot of the error against scl (and max |h|), written to ``path`` (PNG)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    s = [r["scl"] for r in rows]
    ax.loglog(s, [r["error_norm"] for r in rows], "o-", label="norm(y_rnn − y_kf)")
    ax.loglog(s, [r["max_hidden"] for r in rows], "s--", color="0.5", label="max |h| (tanh input scale)")
    ax.set_xlabel("scl (hidden state = scl·x̂)")
    ax.set_ylabel("error")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
