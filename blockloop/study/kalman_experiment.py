"""What does a recurrent network learn from linear-Gaussian data? RNN, GRU and LSTM against the Kalman filter.

For each system (the study's reference plant and a seeded random stable one, or a user's), with
process noise Q and measurement noise R (:func:`experiment_model`):

1. data: B sequences of T steps of x[k+1] = A·x + B·u + w, z = H·x + D·u + v (u white, unit variance),
   from :func:`~blockloop.diagrams.kalman.lgssm_diagram`; training and held-out sets from different seeds;
2. the task (:func:`~blockloop.study.kalman_rnn.prediction_task`): from v[k] = [u[k]; z[k]] predict
   y[k] = z[k+1] − D·u[k+1]. The steady-state Kalman predictor's H·x̂[k+1|k] is the optimum; its
   MSE → trace(H·P·Hᵀ + R)/p;
3. networks (one layer of n units, a linear head), trained by blockloop's own BPTT on their diagrams
   (:func:`blockloop.autodiff.fit`, MATLAB's Adam, float64) on scaled data (each channel divided by its
   std; the MSEs are reported in the original units): an Elman RNN from random weights and from the
   computed Kalman weights (:func:`~blockloop.study.kalman_rnn.kalman_rnn_weights`), a GRU and an LSTM;
   and, fed u only (the LSTM study's setting), an RNN, a GRU and an LSTM, whose optimum is the
   noise-free model (the predictor with L = 0);
4. each trained network's one-step map is linearised at its equilibrium under zero input: the
   Jacobian with respect to its state (h, or [h; c] for the LSTM) by reverse-mode differentiation of
   the diagram (checked against central finite differences), and with respect to its input. Its
   eigenvalues are compared with eig(A − L·H) (fed the measurements: it should learn the filter) or
   eig(A) (fed u only: it should learn the system), and — since the state basis is arbitrary — its
   transfer functions from u and z to the prediction with the filter's (or the system's).

Nothing here is tuned per system: the same options for every network and seed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..diagrams.kalman import LinearGaussianModel, lgssm_diagram, steady_state
from ..errors import ParameterError

__all__ = ["KalmanConfig", "experiment_model", "load_model", "generate", "run_system", "run_experiment",
           "ExperimentResult", "state_jacobian", "kf_vs_library", "summarize", "with_quick", "NETS", "INPUT_ONLY_NETS",
           "MSE_ROWS"]

logger = logging.getLogger(__name__)

#: Networks fed [u; z] (learn the filter) and fed u only (learn the system).
NETS = ("rnn", "rnn_kalman_init", "gru", "lstm")
#: Rows of the MSE table of the networks fed the measurements (the computed Kalman RNN is not trained).
MSE_ROWS = ("kalman", "rnn_kalman_computed") + NETS
INPUT_ONLY_NETS = ("rnn", "gru", "lstm")


@dataclass(frozen=True)
class KalmanConfig:
    """Settings of the experiment (defaults: the full run; :meth:`quick` for ``--quick``).

    steps : T, steps per sequence; train_batch, test_batch : sequences per set
    seeds : one training per network per seed (data and random starts change with the seed)
    epochs, lr0 : Adam epochs (full batch) and initial learning rate, halved every epochs/4
    burn : first steps left out of every MSE (all predictors start from a zero state)
    process_std : Q = process_std²·B·Bᵀ (noise entering like the input) unless a system file gives Q
    noise_ratio : R = noise_ratio²·diag(Var(H·x + D·u)) (stationary) unless a system file gives R
    random_n : states of the random stable system (1 input, 1 output)
    scl : hidden scale of the computed Kalman RNN start, as a fraction: 3·scl·std(x̂) = scl_target
    """

    steps: int = 600
    train_batch: int = 4
    test_batch: int = 8
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 800
    lr0: float = 0.01
    burn: int = 50
    process_std: float = 0.5
    noise_ratio: float = 0.3
    random_n: int = 3
    scl_target: float = 0.05

    def __post_init__(self):
        for name in ("steps", "train_batch", "test_batch", "epochs", "random_n"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"{name}: expected a positive integer, got {v!r}")
        if self.steps <= self.burn + 10:
            raise ParameterError(f"steps: expected more than burn + 10 = {self.burn + 10} steps, got {self.steps}")
        if not self.seeds:
            raise ParameterError("seeds: expected at least one seed")

    @classmethod
    def quick(cls, **overrides) -> KalmanConfig:
        """A run of well under a minute: short sequences, one seed, 150 epochs."""
        return cls(**{"steps": 300, "train_batch": 4, "test_batch": 4, "seeds": (0,), "epochs": 150,
                      "lr0": 0.02, **overrides})


def experiment_model(system, process_std: float = 0.5, noise_ratio: float = 0.3, Q=None, R=None,
                     realization: str = "balanced") -> LinearGaussianModel:
    """A :class:`LinearGaussianModel` from a discrete ``control.StateSpace`` (A, B, C, D) and noise levels.

    The system is put in ``realization`` coordinates first (balanced by default, so the states are of
    similar size; eigenvalues, transfer functions and the filter's predictions do not depend on it; a
    given Q, in the system's own coordinates, is transformed with it). Q defaults to
    ``process_std²·B·Bᵀ``; R to ``noise_ratio²·diag(Var(H·x + D·u))`` under unit-variance u and the
    process noise. ``Ts`` is the system's sample time.
    """
    import control

    from .realizations import realize

    T = None
    if realization != "as_given":
        try:
            system, T = realize(system, realization)
        except ParameterError:  # e.g. an unstable system has no balanced realization
            pass
    A, B, C, D = (np.asarray(M, dtype=np.float64) for M in (system.A, system.B, system.C, system.D))
    if Q is None:
        Q = process_std**2 * (B @ B.T)
    else:  # given in the file's coordinates x = T·x_new: w_new = T⁻¹·w
        Q = np.asarray(Q, dtype=np.float64)
        if T is not None and Q.shape == (A.shape[0],) * 2:
            Ti = np.linalg.inv(np.asarray(T, dtype=np.float64))
            Q = Ti @ Q @ Ti.T
    if R is None:
        if np.max(np.abs(np.linalg.eigvals(A))) >= 1:
            raise ParameterError("R: the system is not stable, so R cannot be set from the output variance; "
                                 "give R in the system file")
        Sigma = control.dlyap(A, B @ B.T + Q)
        var = np.diag(C @ Sigma @ C.T + D @ D.T)
        R = np.diag(noise_ratio**2 * np.maximum(var, 1e-12))
    Ts = float(system.dt) if system.dt not in (None, True, 0) else None
    return LinearGaussianModel(A=A, B=B, H=C, D=D, Q=0.5 * (Q + Q.T), R=R, Ts=Ts)


def load_model(path, process_std: float = 0.5, noise_ratio: float = 0.3) -> LinearGaussianModel:
    """:func:`experiment_model` of a system file (A, B, C, D [, Ts], see :func:`.systems.load_system`),
    with its optional ``Q`` (n × n) and ``R`` (p × p) fields as the noise covariances."""
    from .systems import _read_fields, load_system, sample_time

    system = load_system(path)
    sample_time(system, where=str(path))  # discrete time only
    fields = _read_fields(Path(path))
    Q, R = (None if fields.get(k) is None else np.asarray(fields[k], dtype=np.float64) for k in ("Q", "R"))
    return experiment_model(system, process_std, noise_ratio, Q=Q, R=R)


def generate(model: LinearGaussianModel, steps: int, batch: int, seed: int):
    """(u, z, x): unit-variance white u (T, B, m) from ``default_rng(seed)``, the model's z and x, x[0] = 0."""
    u = np.random.default_rng(seed).standard_normal((steps, batch, model.m))
    res = lgssm_diagram(model, seed=2 * seed + 1000).simulate(
        {"u": u}, initial_states={"x_delay": np.zeros((batch, model.n))})
    return u, res["z"], res["x"]


# -- networks ----------------------------------------------------------------------------------
def _uniform(rng, shape, nn):
    k = 1.0 / np.sqrt(nn)
    return rng.uniform(-k, k, shape)


def _start(cell: str, ni: int, nn: int, no: int, seed: int):
    """Random starting weights (PyTorch's uniform ±1/√Nn), zero initial state, an output bias."""
    from ..diagrams import GRUNetworkWeights, LayerWeights, NetworkWeights, RNNNetworkWeights

    if cell == "rnn":
        return RNNNetworkWeights.random(ni, nn, no, seed=seed)
    if cell == "gru":
        return GRUNetworkWeights.random(ni, nn, no, seed=seed)
    rng = np.random.default_rng(seed)
    layer = LayerWeights(W=_uniform(rng, (4 * nn, ni), nn), R=_uniform(rng, (4 * nn, nn), nn),
                         b=_uniform(rng, 4 * nn, nn))
    return NetworkWeights(layers=(layer,), F=_uniform(rng, (no, nn), nn), F_bias=np.zeros(no))


#: cell → (diagram builder, trainable paths, [(delay, next-state signal)] of the state, output gain on the state)
def _cell_info(cell: str):
    from ..diagrams import gru_network, lstm_network, rnn_network

    if cell == "rnn":
        return rnn_network, ["rnn1/W.K", "rnn1/R.K", "rnn1/b.value", "F.K", "F_bias.value"], \
            [("rnn1/h_delay", "rnn1/tanh_h.y")]
    if cell == "gru":
        return gru_network, ["gru1/W.K", "gru1/R.K", "gru1/b_ih.value", "gru1/b_hh.value", "F.K", "F_bias.value"], \
            [("gru1/h_delay", "gru1/h_sum.y")]
    return lstm_network, ["lstm1/W.K", "lstm1/R.K", "lstm1/b.value", "F.K", "F_bias.value"], \
        [("lstm1/h_delay", "lstm1/h_prod.y"), ("lstm1/c_delay", "lstm1/c_sum.y")]


def _train(cell, weights, v, y, config: KalmanConfig, label: str, progress):
    from ..autodiff import fit
    from .training import TrainingOptions

    build, paths, _ = _cell_info(cell)
    program = build(weights).compile()
    options = TrainingOptions(lr0=config.lr0, epochs=config.epochs, drop_factor=0.5,
                              drop_period=max(1, config.epochs // 4), grad_threshold=1.0, l2=0.0, loss="mse",
                              verbose_every=max(1, config.epochs))
    weights_l2 = {p for p in paths if p.endswith(".K")}
    res = fit(program, {"u": v}, {"y": y}, paths, options, weights=weights_l2, progress=progress, label=label)
    return res


# -- linearisation ---------------------------------------------------------------------------
def state_jacobian(program, cell: str, state: dict, v_op: np.ndarray, check: bool = True):
    """Jacobians of the one-step map s[k] = f(s[k−1], v[k]) at (state, v_op).

    ``state``: delay path → (n,) values of s[k−1]. Returns ``(J, G, fd_error)``: J = ∂s[k]/∂s[k−1]
    by reverse-mode differentiation of the diagram (one gradient per state component: with the
    delay's x0 at the operating point, a 1-step run and residual e_i on the next-state signal, the
    half-MSE gradient with respect to x0 is row i of J), G = ∂s[k]/∂v[k] by central differences, and
    the largest |J − J_fd| (central differences, step 1e-6), or None without ``check``.
    """
    from ..autodiff import gradient

    _, _, signals = _cell_info(cell)
    delays = [d for d, _ in signals]
    prog = program.with_parameters({f"{d}.x0": state[d] for d in delays})
    v1 = np.asarray(v_op, dtype=np.float64)[None, :]
    probes = [s for _, s in signals]
    base = prog.simulate({"u": v1}, probes=probes, backend="interpreter")
    outs = [base[s][0] for s in probes]
    sizes = [len(o) for o in outs]
    N = sum(sizes)
    J = np.zeros((N, N))
    i = 0
    for j in range(len(probes)):
        for c in range(sizes[j]):
            targets = {p: (outs[q] - (np.eye(sizes[q])[c] if q == j else 0.0))[None, :] for q, p in enumerate(probes)}
            r = gradient(prog, {"u": v1}, targets, [f"{d}.x0" for d in delays], backend="interpreter")
            J[i] = np.concatenate([r.grads[f"{d}.x0"] for d in delays])
            i += 1

    def step(states_b: np.ndarray, v_b: np.ndarray) -> np.ndarray:
        """Next states (Bp, N) for a batch of previous states (Bp, N) and inputs (Bp, Ni)."""
        init, col = {}, 0
        for d, n in zip(delays, sizes, strict=True):
            init[d] = states_b[:, col:col + n]
            col += n
        res = program.simulate({"u": v_b[None]}, probes=probes, initial_states=init, backend="interpreter")
        return np.concatenate([res[s][0] for s in probes], axis=1)

    s0 = np.concatenate([np.asarray(state[d], dtype=np.float64) for d in delays])
    h = 1e-6
    ni = v1.shape[1]
    E = np.eye(N) * h
    Ev = np.eye(ni) * h
    states_b = np.vstack([s0 + E, s0 - E, np.tile(s0, (2 * ni, 1))])
    v_b = np.vstack([np.tile(v1, (2 * N, 1)), v1 + Ev, v1 - Ev])
    nxt = step(states_b, v_b)
    J_fd = ((nxt[:N] - nxt[N:2 * N]) / (2 * h)).T
    G = ((nxt[2 * N:2 * N + ni] - nxt[2 * N + ni:]) / (2 * h)).T
    return J, G, float(np.abs(J - J_fd).max()) if check else None


def _equilibrium(program, cell: str, ni: int, steps: int = 400) -> dict:
    """The state reached from zero under zero input (the operating point), delay → (n,)."""
    _, _, signals = _cell_info(cell)
    res = program.simulate({"u": np.zeros((steps, ni))}, probes=[s for _, s in signals])
    return {d: res[s][-1] for d, s in signals}


def _freq(Jm, G, C, omegas) -> np.ndarray:
    """T(e^{jω}) = C·(I − J·e^{−jω})⁻¹·G for each ω: (len(ω), p, ni)."""
    n = Jm.shape[0]
    out = np.empty((len(omegas), C.shape[0], G.shape[1]), dtype=complex)
    for i, w in enumerate(omegas):
        out[i] = C @ np.linalg.solve(np.eye(n) - Jm * np.exp(-1j * w), G)
    return out


def _tf_error(T_net, T_ref, cols) -> float:
    ref = np.abs(T_ref[:, :, cols]).max()
    return float(np.abs(T_net[:, :, cols] - T_ref[:, :, cols]).max() / max(ref, 1e-300))


def _eig_match(net_eigs, true_eigs) -> float:
    """Largest distance between each true eigenvalue and the network eigenvalue matched to it (one-to-one)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.abs(np.asarray(true_eigs)[:, None] - np.asarray(net_eigs)[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


def _pairs(values) -> list[list[float]]:
    return [[float(np.real(v)), float(np.imag(v))] for v in sorted(np.asarray(values).ravel(),
                                                                    key=lambda z: (-abs(z), z.imag))]


def _mse(pred, target, burn) -> float:
    return float(np.mean((pred[burn:] - target[burn:]) ** 2))


# -- one system ------------------------------------------------------------------------------
def run_system(model: LinearGaussianModel, config: KalmanConfig, name: str, progress=None,
               keep_traces: bool = False) -> dict:
    """The experiment on one model, every seed: MSEs, eigenvalues, transfer-function errors (a dict)."""
    from ..diagrams import rnn_network
    from .kalman_rnn import kalman_prediction, kalman_rnn_weights, prediction_task

    ss = steady_state(model)
    out = {"name": name, "n": model.n, "m": model.m, "p": model.p, "Ts": model.Ts,
           "A": model.A.tolist(), "B": model.B.tolist(), "H": model.H.tolist(), "D": model.D.tolist(),
           "Q": model.Q.tolist(), "R": model.R.tolist(), "K": ss.K.tolist(), "L": ss.L.tolist(),
           "eig_true": _pairs(np.linalg.eigvals(model.A)), "eig_filter": _pairs(ss.poles),
           "mse_theory": float(np.trace(ss.S) / model.p), "seeds": []}
    omegas = np.linspace(0.0, np.pi, 129)
    u_cols = list(range(model.m))
    T_filter = _freq(model.A - ss.L @ model.H, np.hstack([model.B - ss.L @ model.D, ss.L]), model.H, omegas)
    T_system = _freq(model.A, model.B, model.H, omegas)
    for seed in config.seeds:
        t0 = time.perf_counter()
        u, z, x = generate(model, config.steps, config.train_batch, seed=10 * seed + 1)
        ut, zt, xt = generate(model, config.steps, config.test_batch, seed=10 * seed + 2)
        v, y = prediction_task(model, u, z)
        vt, yt = prediction_task(model, ut, zt)
        in_scale, out_scale = v.reshape(-1, v.shape[-1]).std(axis=0), y.reshape(-1, y.shape[-1]).std(axis=0)
        kf_test = kalman_prediction(model, ut, zt)
        sim_test = kalman_prediction(model, ut, zt, L=np.zeros_like(ss.L))
        row = {"seed": seed, "mse": {"kalman": _mse(kf_test, yt, config.burn)},
               "mse_inputs_only": {"optimum": _mse(sim_test, yt, config.burn)}, "eig": {}, "eig_inputs_only": {},
               "eig_match": {}, "eig_match_inputs_only": {}, "tf_error_u": {}, "tf_error_z": {},
               "tf_error_inputs_only": {}, "jacobian_fd_error": {}}
        x_std = float(np.max(np.std(x[config.burn:], axis=(0, 1))))
        scl = config.scl_target / (3 * max(x_std, 1e-12))
        traces = {"kalman": kf_test[:, 0], "target": yt[:, 0], "z": zt[:, 0], "x": xt[:, 0]}
        for task, nets, vin, vin_t, in_sc in (("measurements", NETS, v, vt, in_scale),
                                              ("inputs_only", INPUT_ONLY_NETS, v[..., u_cols], vt[..., u_cols],
                                               in_scale[u_cols])):
            for net in nets:
                cell = "rnn" if net.startswith("rnn") else net
                lr0 = config.lr0
                if net == "rnn_kalman_init":  # fine-tuning from the computed filter: a tenth of the step size
                    start = kalman_rnn_weights(model, scl, L=ss.L, in_scale=in_sc, out_scale=out_scale)
                    computed = rnn_network(start).simulate({"u": vin_t / in_sc})["y"] * out_scale
                    row["mse"]["rnn_kalman_computed"] = _mse(computed, yt, config.burn)
                    lr0 = config.lr0 / 10
                else:
                    start = _start(cell, vin.shape[-1], model.n, model.p, seed=1000 * seed + len(net))
                label = f"{name} seed {seed} {net}{'' if task == 'measurements' else ' (u only)'}"
                res = _train(cell, start, vin / in_sc, y / out_scale, replace(config, lr0=lr0), label, progress)
                pred = res.program.simulate({"u": vin_t / in_sc})["y"] * out_scale
                key_mse = "mse" if task == "measurements" else "mse_inputs_only"
                row[key_mse][net] = _mse(pred, yt, config.burn)
                if task == "measurements":
                    traces[net] = pred[:, 0]
                op = _equilibrium(res.program, cell, vin.shape[-1])
                J, G, fd = state_jacobian(res.program, cell, op, np.zeros(vin.shape[-1]))
                C = _output_from_values(res.values, cell)
                Tn = _freq(J, G / in_sc[None, :], out_scale[:, None] * C, omegas)
                eigs = np.linalg.eigvals(J)
                suffix = "" if task == "measurements" else "_inputs_only"
                row[f"eig{suffix}"][net] = _pairs(eigs)
                target_eigs = ss.poles if task == "measurements" else np.linalg.eigvals(model.A)
                row[f"eig_match{suffix}"][net] = _eig_match(eigs, target_eigs)
                row["jacobian_fd_error"][f"{net}{suffix}"] = fd
                if task == "measurements":
                    row["tf_error_u"][net] = _tf_error(Tn, T_filter, u_cols)
                    row["tf_error_z"][net] = _tf_error(Tn, T_filter, list(range(len(u_cols), Tn.shape[2])))
                else:
                    row["tf_error_inputs_only"][net] = _tf_error(Tn, T_system, u_cols)
        row["ratio"] = {k: v_ / row["mse"]["kalman"] for k, v_ in row["mse"].items()}
        row["ratio_inputs_only"] = {k: v_ / row["mse_inputs_only"]["optimum"]
                                    for k, v_ in row["mse_inputs_only"].items()}
        row["wall_s"] = time.perf_counter() - t0
        if keep_traces and seed == config.seeds[0]:
            out["traces"] = {k: np.asarray(val) for k, val in traces.items()}
        out["seeds"].append(row)
        logger.info("%s seed %d: %.1f s", name, seed, row["wall_s"])
    out["kf_vs_library_max_abs"] = kf_vs_library(model, ut[:, 0], zt[:, 0])
    return out


def _output_from_values(values: dict, cell: str) -> np.ndarray:
    F = np.asarray(values["F.K"], dtype=np.float64)
    return np.hstack([F, np.zeros_like(F)]) if cell == "lstm" else F


def kf_vs_library(model: LinearGaussianModel, u: np.ndarray, z: np.ndarray) -> float | None:
    """max |x̂[k|k] of the steady-state filter diagram − pykalman's| started at the Riccati P (None without pykalman)."""
    try:
        import pykalman
    except ImportError:
        return None
    from ..diagrams.kalman import kalman_filter_diagram, kalman_predictor_diagram

    ss = steady_state(model)
    kf = pykalman.KalmanFilter(
        transition_matrices=model.A, observation_matrices=model.H, transition_covariance=model.Q,
        observation_covariance=model.R, transition_offsets=u[:-1] @ model.B.T,
        observation_offsets=u @ model.D.T, initial_state_mean=model.x0, initial_state_covariance=ss.P)
    filt, _ = kf.filter(z)
    pred = np.vstack([model.x0[None], filt[:-1] @ model.A.T + u[:-1] @ model.B.T])
    f = kalman_filter_diagram(model).simulate({"u": u, "z": z})
    p = kalman_predictor_diagram(model).simulate({"u": u, "z": z})
    return float(max(np.abs(f["x_filt"] - filt).max(), np.abs(p["x_pred"] - pred).max()))


# -- the whole experiment --------------------------------------------------------------------
@dataclass
class ExperimentResult:
    """Per-system results (:func:`run_system` dicts), the scl sweep, the config and the wall time."""

    systems: list
    sweep: list
    config: dict
    wall_s: float
    traces: dict = field(default_factory=dict)


def run_experiment(models: dict, config: KalmanConfig, progress=None) -> ExperimentResult:
    """:func:`run_system` for each ``name → model`` (first one: traces and the scl sweep are kept for it)."""
    from .kalman_rnn import scl_sweep

    t0 = time.perf_counter()
    systems = []
    for i, (name, model) in enumerate(models.items()):
        systems.append(run_system(model, config, name, progress=progress, keep_traces=(i == 0)))
    first = next(iter(models.values()))
    u, z, _ = generate(first, min(config.steps, 500), 1, seed=7)
    sweep = scl_sweep(first, u[:, 0], z[:, 0])
    cfg = asdict(config)
    cfg["seeds"] = list(config.seeds)
    return ExperimentResult(systems=systems, sweep=sweep, config=cfg, wall_s=time.perf_counter() - t0,
                            traces=systems[0].pop("traces", {}))


def summarize(system: dict) -> dict:
    """Mean, min and max over seeds of every MSE ratio, eigenvalue match and transfer-function error."""
    out = {}
    for key in ("ratio", "ratio_inputs_only", "eig_match", "eig_match_inputs_only", "tf_error_u", "tf_error_z",
                "tf_error_inputs_only"):
        names = system["seeds"][0][key]
        out[key] = {n: {"mean": float(np.mean([s[key][n] for s in system["seeds"]])),
                        "min": float(np.min([s[key][n] for s in system["seeds"]])),
                        "max": float(np.max([s[key][n] for s in system["seeds"]]))} for n in names}
    return out


def with_quick(config: KalmanConfig, quick: bool) -> KalmanConfig:
    """``config`` shortened as :meth:`KalmanConfig.quick` when ``quick``."""
    if not quick:
        return config
    q = KalmanConfig.quick()
    return replace(config, steps=min(config.steps, q.steps), train_batch=q.train_batch, test_batch=q.test_batch,
                   seeds=config.seeds[:1], epochs=q.epochs, lr0=q.lr0)
