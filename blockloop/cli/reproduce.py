"""``blockloop reproduce``: the whole study (approximation, sweep, cross-check, two trainings) and a report."""

from __future__ import annotations

import sys
from pathlib import Path

from ._args import LazyChoices, positive_int, seed

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="rerun the reference study end to end and write a report",
                       description=__doc__)
    p.add_argument("--out", type=Path, default=Path("blockloop-study"),
                   help="folder for report.md/.html, results.json and figures (default ./blockloop-study)")
    p.add_argument("--quick", action="store_true",
                   help="50 epochs per training run instead of 10 000 (under a minute; for checks and tests)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per training run (overrides --quick)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the inputs and the random start (default 0)")
    p.add_argument("--trainer", choices=("diagram", "torch"), default="diagram",
                   help="diagram: train the LSTM diagram itself by backpropagation through time on the compiled "
                        "backend (default; float64, deterministic); torch: nn.LSTM with PyTorch autograd")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="training precision (default: float64 for the diagram trainer; float32, MATLAB's single, "
                        "for torch, whose float64 is ~40x slower: its fused CPU LSTM kernel is single precision only)")
    p.add_argument("--realization", default="matlab",
                   choices=LazyChoices("blockloop.study.realizations", "REALIZATIONS"), metavar="NAME",
                   help="state coordinates of the computed weights: %(choices)s (default matlab: the "
                        "reference's printed weights)")
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch threads while training with --trainer torch (default 1: fastest here)")
    p.add_argument("--format", choices=("md", "html", "both"), default="both", help="report format (default both)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run)


def _printer(name: str, row) -> None:
    from ..study.training_log import format_log

    if row is None:
        print(f"\n{name.replace('_', ' ')}:\n" + format_log([], header=True), flush=True)
    else:
        print(format_log([row], header=False), flush=True)


def run(args) -> int:
    from ..study.reproduce import FULL_EPOCHS, QUICK_EPOCHS, StudyConfig, run_study

    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else FULL_EPOCHS)
    formats = ("md", "html") if args.format == "both" else (args.format,)
    cfg = StudyConfig(out=args.out, epochs=epochs, seed=args.seed, dtype=args.dtype, realization=args.realization,
                      threads=args.threads, formats=formats, trainer=args.trainer)
    res = run_study(cfg, progress=None if args.no_progress else sys.stderr, on_log=_printer)
    print(summary(res))
    return 0


def summary(res: dict) -> str:
    """A few headline numbers, each with the reference's value."""
    s, c, tr = res["system"], res["computed_weights"], res["training"]
    lines = ["", f"DC gain {s['dcgain']['value']:.5g} (published {s['dcgain']['published']})",
             f"computed weights ({c['realization']}): norm(y - z) = {c['error_norm']['value']:.4g} on 51 steps"]
    for name in ("from_computed", "from_random"):
        run = tr[name]
        pub = run["last_logged_loss"]["published"]
        lines.append(f"{name.replace('_', ' ')}: last loss {run['last_logged_loss']['value']:.3g}"
                     f"{'' if pub is None else f' (published {pub:g})'}, RMSE {run['last_logged_rmse']['value']:.3g}, "
                     f"{run['wall_s']['value']:.1f} s ({run['us_per_epoch']:.0f} µs/epoch)")
    rb = tr["from_computed"]["readback"]
    lines.append(f"read-back after run 1: DC gain {rb['dcgain']['value']:.5g}, D {rb['D']['value']:.3g}"
                 + ("" if rb["dcgain"]["published"] is None else
                    f" (published {rb['dcgain']['published']}, {rb['D']['published']})"))
    lines.append(f"report: {res['config']['out']}/report.{'md' if 'md' in res['config']['formats'] else 'html'}, "
                 f"numbers: {res['config']['out']}/results.json ({res['timing']['total_s']:.1f} s in all)")
    return "\n".join(lines)
