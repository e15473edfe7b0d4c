"""``blockloop kalman``: RNN, GRU and LSTM trained on linear-Gaussian data, against the Kalman filter.

Writes ``report.md``, ``report.html``, ``results.json`` and the figures into ``--out``. With ``--json``
it prints one object: ``kf_vs_library_max_abs`` (the steady-state filter diagrams against pykalman, or
null without it), ``mse`` (held-out, mean over seeds, first system: ``kalman``, ``rnn``, ``gru``, ``lstm``,
``rnn_kalman_init``, ``rnn_kalman_computed``), ``mse_ratio`` (the same over the Kalman MSE),
``eig_true`` (eig(A)), ``eig_filter`` (eig(A − L·H)), ``eig_rnn``, ``eig_gru``, ``eig_lstm`` (first seed,
networks fed [u; z]) as ``[re, im]`` pairs, ``systems`` (every number of every system and seed),
``sweep`` (the computed Kalman RNN's error against scl), ``out`` and ``wall_s``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._args import positive_int, seed

__all__ = ["register", "run", "as_json"]


def register(sub) -> None:
    p = sub.add_parser("kalman", help="RNN, GRU and LSTM against the Kalman filter on linear-Gaussian data",
                       description="Generate data from x[k+1] = A x + B u + w, z = H x + D u + v; compare the Kalman "
                                   "filter's one-step predictions with trained Elman RNN, GRU and LSTM diagrams; "
                                   "linearise the networks (Jacobian eigenvalues vs eig(A - L H) and eig(A), transfer "
                                   "functions); write a report with plots.")
    p.add_argument("--system", metavar="FILE", help=".npz or .json with A, B, C (= H), D [, Ts] and optionally Q, R "
                   "(default: the study's reference system); a random stable system (seeded) is always added")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="steps per sequence (default 600, or 300 with --quick)")
    p.add_argument("--seed", type=seed, default=0,
                   help="first seed (data, random starts and the random system; the full run uses 3 seeds)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (default 800, 150 with --quick)")
    p.add_argument("--out", type=Path, default=Path("blockloop-kalman"),
                   help="folder for report.md/.html, results.json and figures (default ./blockloop-kalman)")
    p.add_argument("--quick", action="store_true", help="one seed, short sequences, 150 epochs (under a minute)")
    p.add_argument("--json", action="store_true", help="print one JSON object (see the module doc for its keys)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.set_defaults(run=run)


def _mean(values) -> float:
    return float(sum(values) / len(values))


def as_json(results: dict) -> dict:
    """The object ``--json`` prints (see the module docstring)."""
    first = results["systems"][0]
    seeds = first["seeds"]
    mse = {k: _mean([row["mse"][k] for row in seeds]) for k in seeds[0]["mse"]}
    out = {"kf_vs_library_max_abs": first["kf_vs_library_max_abs"], "mse": mse,
           "mse_ratio": {k: v / mse["kalman"] for k, v in mse.items()},
           "eig_true": first["eig_true"], "eig_filter": first["eig_filter"]}
    for net in ("rnn", "gru", "lstm"):
        out[f"eig_{net}"] = seeds[0]["eig"][net]
    out.update({"systems": results["systems"], "sweep": results["sweep"], "config": results["config"],
                "out": results["out"], "wall_s": results["wall_s"]})
    return out


def run(args) -> int:
    from dataclasses import replace

    from ..study.kalman_experiment import KalmanConfig, experiment_model, load_model, run_experiment, with_quick
    from ..study.kalman_report import build_report, write_figures
    from ..study.systems import random_stable_system, reference_system

    config = with_quick(KalmanConfig(seeds=(args.seed, args.seed + 1, args.seed + 2)), args.quick)
    if args.steps:
        config = replace(config, steps=args.steps)
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    models = {}
    if args.system:
        models[Path(args.system).stem] = load_model(args.system, config.process_std, config.noise_ratio)
    else:
        models["reference"] = experiment_model(reference_system(), config.process_std, config.noise_ratio)
    models["random"] = experiment_model(random_stable_system(config.random_n, seed=args.seed), config.process_std,
                                        config.noise_ratio)
    args.out.mkdir(parents=True, exist_ok=True)
    res = run_experiment(models, config, progress=None if (args.no_progress or args.json) else sys.stderr)
    results = {"systems": res.systems, "sweep": res.sweep, "config": res.config, "wall_s": res.wall_s,
               "out": str(args.out), "traces": res.traces}
    figs = write_figures(results, args.out)
    build_report(results, figs).write(args.out)
    saved = {k: v for k, v in results.items() if k != "traces"}
    (args.out / "results.json").write_text(json.dumps(saved, indent=1, default=_plain) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(as_json(saved), default=_plain))
    else:
        print(summary(saved))
    return 0


def _plain(value):
    """JSON fallback for numpy scalars and arrays."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def summary(results: dict) -> str:
    """Headline numbers per system: MSE ratios to the Kalman filter and eigenvalue matches."""
    from ..study.kalman_experiment import summarize

    lines = []
    for s in results["systems"]:
        summ = summarize(s)
        lines.append(f"{s['name']}: Kalman MSE {_mean([r['mse']['kalman'] for r in s['seeds']]):.4g} "
                     f"(theory {s['mse_theory']:.4g}); filter vs pykalman max |Δ| = "
                     f"{'n/a' if s['kf_vs_library_max_abs'] is None else format(s['kf_vs_library_max_abs'], '.2e')}")
        lines.append("  fed [u; z], MSE / Kalman: " + ", ".join(f"{k} {v['mean']:.3f}" for k, v in summ["ratio"].items()
                                                               if k != "kalman"))
        lines.append("  fed u only, MSE / optimum: " + ", ".join(
            f"{k} {v['mean']:.3f}" for k, v in summ["ratio_inputs_only"].items() if k != "optimum"))
        lines.append("  eig match to eig(A - L H): " + ", ".join(f"{k} {v['mean']:.3f}"
                                                                  for k, v in summ["eig_match"].items())
                     + "; to eig(A), u only: " + ", ".join(f"{k} {v['mean']:.3f}"
                                                          for k, v in summ["eig_match_inputs_only"].items()))
    lines.append(f"report: {results['out']}/report.html (and .md), numbers: {results['out']}/results.json "
                 f"({results['wall_s']:.1f} s)")
    return "\n".join(lines)
