"""One run of a sweep: start, train on the LSTM diagram, measure. This is what a Dask worker executes.

:func:`run_trial` takes a canonical configuration (:func:`.config.normalize_run`) and returns a
JSON-ready dict. Everything is the study's own code: the reference system and the computed weights
(:func:`~blockloop.study.lstm_from_ss.lstm_weights_from_ss`), the training data and the random
start (:func:`~blockloop.study.reproduce.training_setup`, seeded with ``seed``; a run with
``steps < 1001`` uses the first ``steps`` samples, which are exactly what a shorter draw from
the same seed would give), MATLAB-style Adam on the diagram (:func:`~blockloop.study.training.train`,
``trainer="diagram"``, float64, deterministic), validation on u and 3u
(:func:`~blockloop.study.validate.validate`, the study's 51-step input of seed + 1) and the
read-back (:func:`~blockloop.study.readback.readback`).

Measured per run (keys of the returned ``metrics``):

``initial_loss``, ``final_loss``, ``best_loss``
    Half-MSE per step at epoch 1 (before any update), of the trained weights, and the least of
    every epoch's loss and the final one.
``val_u``, ``val_3u``
    MATLAB ``norm(y − z)`` of the trained network against the system on u and on 3u.
``dist``, ``rel_dist``, ``max_rel_dist``; ``start_rel_dist``, ``start_max_rel_dist``
    Distance of the final (and starting) weights from the computed ones per gate block: for each
    gate i, f, g, o the Frobenius norm of the change of its rows of W, R and b together, and
    ``fc`` for F with its bias; ``rel_`` divides by the computed block's norm. The largest
    relative distance decides whether a run "ends near the computed solution" in the report.
``gate_margin``, ``cell_max``, ``near_linear``
    Whether the read-back's assumptions still hold. ``gate_margin`` is the smallest distance of a
    gate pre-activation from σ⁻¹(0.99) = 4.595 on the pinned side, bounded over every input with
    |u| ≤ 3·max|u_val| and every hidden state |h| ≤ 1 (input and output gates must stay above
    +4.595, the forget gate below −4.595); ``cell_max`` is the largest |c| on the 3u validation
    run. ``near_linear`` = gate_margin ≥ 0 and cell_max ≤ :data:`CELL_LINEAR` (tanh(0.5) is 7.6 %
    below 0.5).
``dcgain``, ``dcgain_error``, ``pole_error``
    Only when near-linear (else None): the read-back system's DC gain, its relative error against
    the system's, and the largest distance in the z-plane between a system pole and the read-back
    pole it is matched to (one-to-one matching of least total distance; the Nn − n extra poles of
    the read-back are left out).

A run whose loss becomes NaN or infinite is ``"diverged"`` (its error message kept). A
:class:`~blockloop.errors.BlockloopError` (a configuration the study rejects) is ``"failed"``
with its message; any other exception propagates, so that Dask retries the task.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import time

import numpy as np

__all__ = ["run_trial", "start_weights", "block_distances", "gate_margin", "pole_error", "CELL_LINEAR",
           "GATE_PINNED"]

#: Largest |c| for which tanh counts as linear (tanh(0.5) = 0.462).
CELL_LINEAR = 0.5
#: Gate pre-activation at which σ = 0.99 (σ(4.595) = 0.99, σ(−4.595) = 0.01).
GATE_PINNED = math.log(0.99 / 0.01)
#: Blocks of the distance measures: the four gates and the fully connected layer.
BLOCKS = ("i", "f", "g", "o", "fc")


@functools.lru_cache(maxsize=4)
def _system():
    from ..systems import reference_system

    return reference_system()


@functools.lru_cache(maxsize=32)
def _computed(units: str, scl: float, beta: float, realization: str):
    from ..lstm_from_ss import lstm_weights_from_ss

    weights, _ = lstm_weights_from_ss(_system(), units=units, scl=scl, beta=beta, realization=realization)
    return weights


def _blocks(weights) -> dict:
    """Each gate's [W R b] rows and the FC [F F_bias] as flat float64 vectors."""
    layer = weights.layers[0]
    out = {g: np.concatenate([layer.gate(g, k).ravel() for k in ("W", "R", "b")]) for g in "ifgo"}
    bias = np.zeros(weights.no) if weights.F_bias is None else np.asarray(weights.F_bias, dtype=float)
    out["fc"] = np.concatenate([np.asarray(weights.F, dtype=float).ravel(), bias])
    return out


def block_distances(reference, weights) -> tuple[dict, dict]:
    """``(dist, rel_dist)``: per block (i, f, g, o, fc) ‖Δ‖_F and ‖Δ‖_F / ‖reference block‖_F.

    Both networks are one-layer with the same shapes; a reference block of norm 0 gives a
    relative distance of 0 if unchanged, else infinity.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights
    >>> w = NetworkWeights.random(1, 2, 1)
    >>> dist, rel = block_distances(w, w)
    >>> sorted(dist), max(dist.values())
    (['f', 'fc', 'g', 'i', 'o'], 0.0)
    """
    a, b = _blocks(reference), _blocks(weights)
    dist, rel = {}, {}
    for k in BLOCKS:
        d = float(np.linalg.norm(b[k] - a[k]))
        n = float(np.linalg.norm(a[k]))
        dist[k] = d
        rel[k] = d / n if n > 0 else (0.0 if d == 0 else math.inf)
    return dist, rel


def start_weights(config: dict, computed, random_start):
    """The run's starting weights: computed, computed + noise (seeded with ``(seed, 1)``), or random.

    ``relative`` noise multiplies every element of W, R, b and F by (1 + noise·ε), so zeros stay
    zero and the gates' ±β biases move by β·noise; ``absolute`` noise adds noise·ε. ε ~ N(0, 1)
    is drawn for W, R, b, F in that order from ``numpy.random.default_rng([seed, 1])``; the FC
    bias and the initial states are not perturbed.
    """
    from ...diagrams import LayerWeights, NetworkWeights

    if config["init"] == "computed":
        return computed
    if config["init"] == "random":
        return random_start
    rng = np.random.default_rng([config["seed"], 1])
    layer = computed.layers[0]
    noisy = {}
    for name, value in (("W", layer.W), ("R", layer.R), ("b", layer.b), ("F", computed.F)):
        eps = rng.standard_normal(value.shape)
        noisy[name] = value * (1.0 + config["noise"] * eps) if config["noise_kind"] == "relative" \
            else value + config["noise"] * eps
    return NetworkWeights(layers=(LayerWeights(W=noisy["W"], R=noisy["R"], b=noisy["b"], h0=layer.h0, c0=layer.c0),),
                          F=noisy["F"], F_bias=computed.F_bias)


def gate_margin(weights, u_max: float) -> float:
    """Smallest margin by which gates i and o stay above +4.595 and gate f below −4.595 (σ = 0.99 / 0.01).

    Bounded over all inputs |u| ≤ ``u_max`` and hidden states |h| ≤ 1: a gate row's
    pre-activation lies within b ± (‖W_row‖₁·u_max + ‖R_row‖₁). Negative: some gate may leave its
    pinned state, so the read-back's linear model no longer holds.

    Examples
    --------
    >>> import numpy as np
    >>> from blockloop.diagrams import LayerWeights, NetworkWeights
    >>> b = np.r_[[100.0], [-100.0], [0.0], [100.0]]        # one unit, gates open / shut / open
    >>> w = NetworkWeights(layers=(LayerWeights(W=np.zeros((4, 1)), R=np.zeros((4, 1)), b=b),), F=[[1.0]])
    >>> round(gate_margin(w, 3.0), 3)
    95.405
    """
    layer = weights.layers[0]
    margins = []
    for g, sign in (("i", 1.0), ("o", 1.0), ("f", -1.0)):
        spread = np.abs(layer.gate(g, "W")).sum(axis=1) * u_max + np.abs(layer.gate(g, "R")).sum(axis=1)
        margins.append(np.min(sign * layer.gate(g, "b") - spread) - GATE_PINNED)
    return float(min(margins))


def pole_error(true_poles, poles) -> float:
    """Largest |p − q| over the one-to-one matching of each true pole p to a pole q of least total distance.

    Examples
    --------
    >>> round(pole_error([0.5, 0.9], [0.0, 0.91, 0.52]), 12)
    0.02
    """
    from scipy.optimize import linear_sum_assignment

    p = np.atleast_1d(np.asarray(true_poles, dtype=complex))
    q = np.atleast_1d(np.asarray(poles, dtype=complex))
    cost = np.abs(p[:, None] - q[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(np.max(cost[rows, cols]))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def run_trial(config: dict) -> dict:
    """Train one configuration and measure it (see the module notes for every key).

    Parameters
    ----------
    config : a canonical run configuration (:func:`.config.normalize_run`)

    Returns
    -------
    dict
        ``{"status": "completed" | "diverged" | "failed", "error": str | None, "metrics": {...},
        "worker": address, "wall_s": seconds, "pid": process id}``. ``metrics`` of a diverged or
        failed run holds what was measured before it stopped (the start's distances).
    """
    from ...errors import BlockloopError, NonFiniteError
    from ..reproduce import StudyConfig, training_setup
    from .config import normalize_run

    t0 = time.perf_counter()
    out = {"status": "completed", "error": None, "metrics": {}, "worker": _worker_name(), "pid": os.getpid()}
    try:
        cfg = normalize_run(config, "run")
        sys = _system()
        computed = _computed(cfg["units"], cfg["scl"], cfg["beta"], cfg["realization"])
        study = StudyConfig(out=".", epochs=cfg["epochs"], seed=cfg["seed"], realization=cfg["realization"],
                            scl=cfg["scl"], beta=cfg["beta"], trainer="diagram", dtype="float64")
        u, y, setup = training_setup(sys, study, computed)
        start = start_weights(cfg, computed, setup["from_random"][0])
        m = out["metrics"]
        m["start_dist"], m["start_rel_dist"] = block_distances(computed, start)
        m["start_max_rel_dist"] = max(m["start_rel_dist"].values())
        _train_and_measure(cfg, sys, computed, start, u[:cfg["steps"]], y[:cfg["steps"]], m)
    except NonFiniteError as exc:
        out["status"], out["error"] = "diverged", str(exc)
    except BlockloopError as exc:
        out["status"], out["error"] = "failed", f"{type(exc).__name__}: {exc}"
    out["wall_s"] = time.perf_counter() - t0
    return out


def _train_and_measure(cfg: dict, sys, computed, start, u, y, m: dict) -> None:
    from ...diagrams import lstm_network
    from ..approx import validation_input
    from ..readback import readback
    from ..reproduce import VALIDATION_STEPS
    from ..training import TrainingOptions, train
    from ..validate import validate

    opts = TrainingOptions(lr0=cfg["lr0"], drop_factor=cfg["drop_factor"], drop_period=cfg["drop_period"],
                           epochs=cfg["epochs"], grad_threshold=cfg["grad_threshold"], dtype="float64",
                           trainer="diagram", verbose_every=cfg["epochs"])
    res = train(start, u, y, opts)
    w = res.weights
    m["initial_loss"] = float(res.loss[0])
    m["final_loss"] = float(res.final_loss)
    m["best_loss"] = float(min(np.min(res.loss), res.final_loss))
    m["train_s"] = float(res.wall_s)
    m["dist"], m["rel_dist"] = block_distances(computed, w)
    m["max_rel_dist"] = max(m["rel_dist"].values())
    u_val = validation_input(sys.ninputs, VALIDATION_STEPS, cfg["seed"] + 1)
    cases = validate(w, sys, u_val, scales=(1.0, 3.0))
    m["val_u"], m["val_3u"] = cases[0].diff_norm, cases[1].diff_norm
    Ts = float(sys.dt)
    cell = lstm_network(w).simulate({"u": 3.0 * u_val}, Ts=Ts, probes=["lstm1/c_sum.y"])["lstm1/c_sum.y"]
    m["cell_max"] = float(np.max(np.abs(cell)))
    m["gate_margin"] = gate_margin(w, 3.0 * float(np.max(np.abs(u_val))))
    m["near_linear"] = bool(m["gate_margin"] >= 0 and m["cell_max"] <= CELL_LINEAR)
    m["dcgain"] = m["dcgain_error"] = m["pole_error"] = None
    if m["near_linear"]:
        rb = readback(w, cfg["scl"], Ts).system
        gain = float(np.real(np.squeeze(rb.dcgain())))
        true_gain = float(np.real(np.squeeze(sys.dcgain())))
        m["dcgain"] = gain
        m["dcgain_error"] = (gain - true_gain) / true_gain
        m["pole_error"] = pole_error(sys.poles(), rb.poles())
