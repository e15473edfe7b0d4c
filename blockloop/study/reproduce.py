"""The whole study in one call: system, computed weights, sweep, cross-check, two trainings, report.

:func:`run_study` follows the reference live script from "How Well Can LSTMs Approximate Linear
Dynamical Systems?" to the end and writes, into one folder, every figure (PNG), ``results.json``
(every number, each with the reference's published value where there is one, as
``{"value": …, "published": …}``) and ``report.md`` / ``report.html``.

Inputs (MATLAB's ``randn`` stream cannot be reproduced, so numpy's is used):

- validation input u: 51 steps, :func:`blockloop.study.approx.validation_input` with ``seed + 1``
  (so ``blockloop approx --seed S+1`` shows the same approximation error);
- training input: 1001 steps, ``numpy.random.default_rng(seed).standard_normal((1001, m))``,
  through the linear system from x0 = 0;
- run 2's random start: MATLAB-style ``rand`` after ``rng(seed)`` (:func:`training.random_weights`).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from . import published as pub
from .params import lstm_parameter_counts, reference_example
from .readback import complex_list, gate_changes, readback, system_facts, zpk_string

__all__ = ["StudyConfig", "run_study", "QUICK_EPOCHS", "FULL_EPOCHS", "RESULT_KEYS"]

logger = logging.getLogger(__name__)

QUICK_EPOCHS = 50
FULL_EPOCHS = 10000
TRAIN_STEPS = 1001
VALIDATION_STEPS = 51
RESULT_KEYS = ("config", "environment", "system", "computed_weights", "crosscheck", "sweep", "training",
               "parameters", "timing")


@dataclass(frozen=True)
class StudyConfig:
    """Settings of one study run.

    Parameters
    ----------
    out : folder for figures, ``results.json`` and the report (created if missing)
    epochs : epochs per training run (10 000 as in the reference; :data:`QUICK_EPOCHS` for ``--quick``)
    seed : seed of the inputs and of the random start (see the module notes)
    trainer : ``"diagram"`` (blockloop's BPTT on the LSTM diagram, default) or ``"torch"``
    dtype : training precision, ``"float32"`` (MATLAB's single) or ``"float64"``; default
        float64 for the diagram trainer, float32 for torch
    realization : state coordinates of the computed weights; ``"matlab"`` reproduces the
        reference's printed W, R and F (see :mod:`blockloop.study.realizations`)
    scl, beta : the computed weights' input scaling and gate bias (1e-3 and 100 as in the reference)
    threads : torch threads while training (1 is fastest for these tiny matrices)
    formats : report formats, some of ``("md", "html")``
    """

    out: Path
    epochs: int = FULL_EPOCHS
    seed: int = 0
    dtype: str | None = None
    realization: str = "matlab"
    scl: float = 1e-3
    beta: float = 100.0
    threads: int | None = 1
    formats: tuple = ("md", "html")
    trainer: str = "diagram"

    def __post_init__(self):
        from .training import TRAINERS

        if int(self.epochs) < 1:
            raise ParameterError(f"epochs: expected a positive number of epochs, got {self.epochs}")
        if self.trainer not in TRAINERS:
            raise ParameterError(f"trainer: expected one of {TRAINERS}, got {self.trainer!r}")
        if self.dtype is None:
            object.__setattr__(self, "dtype", "float64" if self.trainer == "diagram" else "float32")
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        object.__setattr__(self, "out", Path(self.out))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["out"], d["formats"] = str(self.out), list(self.formats)
        return d


def vp(value, published=None) -> dict:
    """``{"value": …, "published": …}``: one of our numbers next to the reference's."""
    return {"value": value, "published": published}


def _system_section(sys) -> dict:
    facts = system_facts(sys)
    return {"dcgain": vp(facts["dcgain"], pub.SYSTEM["dcgain"]), "D": vp(facts["D"][0][0], pub.SYSTEM["D"]),
            "zpk": vp(zpk_string(sys), "0.078673 (z+3.517) (z-0.9608) (z+0.2599) / "
                                       "((z^2 - 1.826z + 0.8353) (z^2 - 1.72z + 0.9608))"),
            "zeros": vp(facts["zeros"], complex_list(pub.SYSTEM["zeros"])),
            "poles": vp(facts["poles"], complex_list(pub.SYSTEM["poles"])), "Ts": facts["Ts"],
            "states": facts["states"]}


def _computed_section(sys, cfg: StudyConfig, u_val, out: Path) -> tuple:
    """Computed weights, their approximation error (all realizations), the sweep and the cross-check."""
    from ..interop.torch import crosscheck
    from .approx import approximate, plot_response, plot_sweep, sweep
    from .realizations import REALIZATIONS

    run = approximate(sys, scl=cfg.scl, beta=cfg.beta, realization=cfg.realization, u=u_val, crosscheck=True)
    plot_response(run, out / "approx_response.png")
    by_realization = {name: approximate(sys, scl=cfg.scl, beta=cfg.beta, realization=name, u=u_val).error_norm
                      for name in REALIZATIONS}
    info = run.info
    section = {"realization": cfg.realization, "units": info["units"], "nn": info["nn"], "scl": cfg.scl,
               "beta": cfg.beta, "error_norm": vp(run.error_norm), "diagram_vs_torch_float64": run.torch_diff,
               "max_hidden_expected": info["max_hidden_expected"], "error_norm_by_realization": by_realization,
               "W": run.weights.layers[0].W.tolist(), "R": run.weights.layers[0].R.tolist(),
               "b": run.weights.layers[0].b.tolist(), "F": vp(run.weights.F.tolist(),
                                                               [[325.4911, -78.8823, 18.4092, 212.6357, -86.0996]]),
               "figure": "approx_response.png"}
    rows = sweep(sys, realizations=REALIZATIONS, seed=cfg.seed + 1, steps=u_val.shape[0])
    plot_sweep(rows, out / "sweep.png")
    check = crosscheck(run.weights, u_val, Ts=info["Ts"], tolerance_scale=None)  # |y| ≫ 1 here
    return run, section, {"rows": rows, "figure": "sweep.png"}, check.as_dict()


def _validation(name: str, weights, sys, u_val, out: Path) -> list[dict]:
    from .validate import plot_validation, validate

    cases = []
    for case in validate(weights, sys, u_val, scales=(1.0, 3.0), label=name):
        fig = f"validation_{name}_x{case.scale:g}.png"
        plot_validation(case, out / fig)
        cases.append({**case.as_dict(), "figure": fig})
    ratio = cases[1]["diff_norm"] / cases[0]["diff_norm"] if cases[0]["diff_norm"] else None
    cases[1]["ratio_to_x1"] = ratio  # 3 for a linear network; more when tanh saturates
    return cases


def training_setup(sys, cfg: StudyConfig, computed) -> tuple:
    """The study's training data and its two runs: ``(u, y, {name: (start weights, published run, options)})``.

    Run ``"from_computed"`` starts from the computed weights, ``"from_random"`` from MATLAB-style
    ``rand`` weights drawn with ``cfg.seed``; options follow the published runs.
    """
    from .approx import simulate_linear
    from .training import TrainingOptions, random_weights

    u_tr = np.random.default_rng(cfg.seed).standard_normal((TRAIN_STEPS, sys.ninputs))
    y_tr = simulate_linear(sys, u_tr)
    starts = {"from_computed": (computed, pub.RUN_COMPUTED),
              "from_random": (random_weights(sys.ninputs, computed.layers[0].nn, sys.noutputs, cfg.seed),
                              pub.RUN_RANDOM)}
    runs = {}
    for name, (start, ref) in starts.items():
        o = ref["options"]
        runs[name] = (start, ref, TrainingOptions(lr0=o["lr0"], drop_factor=o["drop_factor"],
                                                  drop_period=o["drop_period"], epochs=cfg.epochs,
                                                  grad_threshold=o["grad_threshold"], dtype=cfg.dtype,
                                                  verbose_every=500, threads=cfg.threads, trainer=cfg.trainer))
    return u_tr, y_tr, runs


def _start_training(sys, cfg: StudyConfig, computed, progress, on_log):
    """Start run 1 (from the computed weights) and run 2 (from rand weights); returns ``finish()``.

    ``finish() -> (u, y, setup, {name: TrainResult})`` waits for both. With the diagram trainer
    the two runs start at once on two threads (the compiled epochs release the GIL), so the rest
    of the study — cross-check, sweep, figures — overlaps them; each run is deterministic on its
    own, so this changes no number. The progress bar follows the first run and the logs are
    replayed in order once both are done. The PyTorch trainer runs them one after the other in
    ``finish()`` (it has its own threads).
    """
    from concurrent.futures import ThreadPoolExecutor

    from .training import train

    u_tr, y_tr, setup = training_setup(sys, cfg, computed)

    def train_one(name, start, opts, log, bar=None, label=None):
        return train(start, u_tr, y_tr, opts, progress=bar, label=label or name, on_log=log)

    if cfg.trainer != "diagram":
        def finish_in_turn():
            runs = {}
            for name, (start, _, opts) in setup.items():
                if on_log is not None:
                    on_log(name, None)
                runs[name] = train_one(name, start, opts, None if on_log is None else (
                    lambda row, n=name: on_log(n, row)), progress)
            return u_tr, y_tr, setup, runs
        return finish_in_turn

    rows: dict = {name: [] for name in setup}
    pool = ThreadPoolExecutor(max_workers=len(setup), thread_name_prefix="training")
    futures = {name: pool.submit(train_one, name, start, opts, rows[name].append, progress if i == 0 else None,
                                 f"{len(setup)} runs side by side" if i == 0 else name)
               for i, (name, (start, _, opts)) in enumerate(setup.items())}
    pool.shutdown(wait=False)

    def finish_side_by_side():
        runs = {name: f.result() for name, f in futures.items()}
        if on_log is not None:
            for name in setup:
                on_log(name, None)
                for row in rows[name]:
                    on_log(name, row)
        return u_tr, y_tr, setup, runs
    return finish_side_by_side


def _training_results(finish, sys, cfg: StudyConfig, computed, u_val, out: Path) -> dict:
    """Wait for the trainings; their sections (read-back, validation) and the loss-curve figure."""
    u_tr, y_tr, setup, runs = finish()
    results = {"data": {"steps": TRAIN_STEPS, "seed": cfg.seed, "u_std": float(u_tr.std()),
                        "y_rms": float(np.sqrt(np.mean(y_tr ** 2)))}}
    for name, (_, ref, _) in setup.items():
        results[name] = _run_section(name, runs[name], ref, computed, sys, cfg, u_val, out)
    _plot_losses(runs, out)
    results["figure"] = "loss_curves.png"
    return results


def _run_section(name: str, res, ref: dict, computed, sys, cfg: StudyConfig, u_val, out: Path) -> dict:
    full = cfg.epochs == pub.RUN_COMPUTED["options"]["epochs"]
    last = ref["log"][-1] if full else (None, None, None, None)
    summary = res.summary()
    section = {**summary, "initial_loss": vp(summary["initial_loss"], ref["log"][0][2]),
               "initial_rmse": vp(summary["initial_rmse"], ref["log"][0][1]),
               "last_logged_loss": vp(summary["last_logged_loss"], last[2]),
               "last_logged_rmse": vp(summary["last_logged_rmse"], last[1]),
               "final_lr": vp(summary["final_lr"], last[3]),
               "wall_s": vp(summary["wall_s"], pub.MATLAB_SECONDS_PER_RUN if full else None),
               "published_log": [dict(zip(("epoch", "rmse", "loss", "lr"), r, strict=True)) for r in ref["log"]],
               "loss_curve": _loss_curve(res.loss),
               "gate_changes_vs_computed": gate_changes(computed, res.weights),
               "validation": _validation(name, res.weights, sys, u_val, out)}
    if name == "from_computed":
        rb = readback(res.weights, cfg.scl, float(sys.dt))
        facts, pr = rb.facts(), ref["readback"]
        section["readback"] = {"dcgain": vp(facts["dcgain"], pr["dcgain"] if full else None),
                               "D": vp(facts["D"][0][0], pr["D"] if full else None),
                               "zpk": vp(zpk_string(rb.system), "0.0051693 (z-0.9464) (z-0.1091) (z-1.201e-07) "
                                         "(z^2 + 9.632z + 67.54) / ((z-0.1826) (z^2 - 1.822z + 0.8337) "
                                         "(z^2 - 1.721z + 0.9611))" if full else None),
                               "poles": vp(facts["poles"], complex_list(pr["poles"]) if full else None),
                               "zeros": vp(facts["zeros"], complex_list(pr["zeros"]) if full else None),
                               "max_abs_b_g": facts["max_abs_b_g"], "F_bias": facts["F_bias"]}
        section["gate_changes_published"] = ref["gate_changes"] if full else None
    else:
        section["F_bias"] = vp(float(res.weights.F_bias[0]), ref["F_bias"] if full else None)
    return section


def _loss_curve(loss) -> list:
    """The training loss of every epoch (``loss_curve[e-1]`` at epoch e, before its update, as in the
    log), each rounded to 7 significant digits (float32 precision) to keep ``results.json`` small;
    a non-finite loss becomes None in the JSON."""
    return [float(f"{float(v):.7g}") for v in np.asarray(loss, dtype=np.float64).ravel()]


def _plot_losses(runs: dict, out: Path) -> None:
    from .training_log import plot_loss_curves

    refs = {"from_computed": pub.RUN_COMPUTED, "from_random": pub.RUN_RANDOM}
    epochs = min(len(r.loss) for r in runs.values())
    marks = {k: [(e, loss) for e, _, loss, _ in refs[k]["log"] if e <= epochs] for k in runs}
    plot_loss_curves({k: r.loss for k, r in runs.items()}, out / "loss_curves.png", published=marks)


def _environment(cfg: StudyConfig) -> dict:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
            "torch_threads_training": cfg.threads, "loadavg_at_start": list(load) if load else None,
            "machine": platform.machine()}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (complex, np.complexfloating)):
        return [float(obj.real), float(obj.imag)]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def run_study(cfg: StudyConfig, progress=None, on_log=None) -> dict:
    """Run everything, write figures, ``results.json`` and the report into ``cfg.out``; return the results.

    Parameters
    ----------
    cfg : :class:`StudyConfig`
    progress : text stream for the training progress bars (tqdm, e.g. ``sys.stderr``; drawn only on a
        terminal), None for none
    on_log : called as ``on_log(run_name, None)`` when a training run starts, then
        ``on_log(run_name, LogRow)`` for each log row (epoch 1, every 500, the last)

    Raises
    ------
    ParameterError
        Bad settings (see :class:`StudyConfig`).
    """
    from .approx import validation_input
    from .lstm_from_ss import lstm_weights_from_ss
    from .reproduce_report import build_report
    from .systems import reference_system

    start = time.perf_counter()
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    sys = reference_system()
    u_val = validation_input(sys.ninputs, VALIDATION_STEPS, cfg.seed + 1)
    computed, _ = lstm_weights_from_ss(sys, scl=cfg.scl, beta=cfg.beta, realization=cfg.realization)
    t_train = time.perf_counter()
    finish_training = _start_training(sys, cfg, computed, progress, on_log)  # overlaps what follows
    results = {"config": cfg.as_dict(), "environment": _environment(cfg), "system": _system_section(sys)}
    run, results["computed_weights"], results["sweep"], results["crosscheck"] = _computed_section(
        sys, cfg, u_val, out)
    results["computed_weights"]["validation"] = _validation("computed", run.weights, sys, u_val, out)
    results["training"] = _training_results(finish_training, sys, cfg, computed, u_val, out)
    t_train = time.perf_counter() - t_train
    results["parameters"] = {"study_network": lstm_parameter_counts(sys.ninputs, [run.info["nn"]], sys.noutputs),
                             "reference_example": {**reference_example(), "published": pub.PARAMETER_EXAMPLE}}
    results["timing"] = {"training_s": t_train, "total_s": time.perf_counter() - start,
                         "matlab_s_per_run": pub.MATLAB_SECONDS_PER_RUN}
    results = _jsonable(results)
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    build_report(results).write(out, cfg.formats)
    logger.info("study written to %s in %.1f s", out, results["timing"]["total_s"])
    return results
