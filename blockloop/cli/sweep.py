"""``blockloop sweep`` and ``blockloop sweep-report``: many trainings on Dask, stored in SQLite, then a report."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ._args import positive_int

__all__ = ["register", "run_sweep_command", "run_report_command"]


def _positive_number(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="train many configurations (init, seed, lr0, drop factor, …) on Dask into an SQLite store",
        description="Run every training configuration of a sweep file (TOML or JSON; see docs/sweeps.md) on a "
                    "Dask cluster: an embedded local one (one worker process per core) or an existing one "
                    "(--scheduler). Each finished run is written to the store at once; --resume runs only "
                    "what the store lacks. Exit status 0 when no run failed, 1 when some did.")
    p.add_argument("config", nargs="?", type=Path, metavar="CONFIG.{toml,json}", help="the sweep file")
    p.add_argument("--demo", action="store_true",
                   help="run the small sweep shipped with blockloop (a few minutes on 2 cores)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="worker processes of the embedded cluster (default: one per core; not with --scheduler)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers need blockloop)")
    p.add_argument("--store", type=Path, metavar="PATH",
                   help="SQLite store (default: CONFIG's name with .sqlite, in the current folder)")
    p.add_argument("--resume", action="store_true",
                   help="the store may already hold runs: run only the missing (and failed) ones")
    p.add_argument("--json", action="store_true",
                   help='print {"runs", "completed", "diverged", "failed", "executed", "skipped", "store", …}')
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run_sweep_command)

    r = sub.add_parser("sweep-report", help="histograms, attraction basin, lr0 × drop-factor heat map of a sweep",
                       description="Write report.md, report.html, summary.json and figures from a sweep store.")
    r.add_argument("store", type=Path, metavar="STORE", help="the SQLite store written by blockloop sweep")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if missing)")
    r.add_argument("--near-tol", type=_positive_number, default=None, metavar="X",
                   help="a run is near the computed weights when every gate block is within X of it, relative "
                        "to the block's norm (default 0.1)")
    r.add_argument("--format", dest="formats", choices=("md", "html"), action="append", default=None,
                   help="report format, repeatable (default both)")
    r.add_argument("--json", action="store_true", help="print the summary numbers as JSON")
    r.set_defaults(run=run_report_command)


def run_sweep_command(args) -> int:
    from ..errors import ParameterError
    from ..study.sweep.config import demo_config_path, load_config
    from ..study.sweep.runner import run_sweep

    if (args.config is None) == (not args.demo):
        raise ParameterError("give a sweep file CONFIG.toml / CONFIG.json, or --demo (not both)")
    if args.workers and args.scheduler:
        raise ParameterError("--workers sizes the embedded cluster; with --scheduler the cluster's own workers run")
    path = demo_config_path() if args.demo else args.config
    plan = load_config(path)
    if not logging.getLogger().isEnabledFor(logging.INFO):  # Dask logs its start-up at INFO; -v shows it
        logging.getLogger("distributed").setLevel(logging.WARNING)
    store = args.store or Path(("sweep-demo" if args.demo else path.stem) + ".sqlite")
    progress = None if args.no_progress else sys.stderr
    try:
        summary = run_sweep(plan, store, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                            progress=progress)
    except KeyboardInterrupt:
        print(f"\nblockloop sweep: interrupted; the finished runs are in {store}. Run the same command with "
              "--resume to do the rest.", file=sys.stderr)
        return 130
    out = summary.as_dict()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{out['runs']} runs: {out['completed']} completed, {out['diverged']} diverged, {out['failed']} failed "
              f"({out['executed']} run now, {out['skipped']} already stored, {out['duplicates']} duplicate "
              f"configurations) in {out['wall_s']:.1f} s; store {out['store']}")
        for f in out["failures"]:
            print(f"  failed {f['hash'][:12]}: {f['error']}")
        print(f"report: blockloop sweep-report {out['store']} --out DIR")
    return 1 if out["failed"] else 0


def run_report_command(args) -> int:
    from ..study.sweep.report import NEAR_TOL, write_report

    result = write_report(args.store, args.out, near_tol=args.near_tol or NEAR_TOL,
                          formats=tuple(args.formats or ("md", "html")))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "files"}, indent=1))
    else:
        print("\n".join(result["files"]))
    return 0
