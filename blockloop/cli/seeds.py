"""``blockloop seeds``: the study's two trainings over many seeds, as distributions (and variants)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._args import LazyChoices, positive_int

__all__ = ["register", "run", "parse_seeds", "MAX_SEEDS"]

#: More seeds than this is a typo (each seed is two trainings of seconds each).
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` → 0 … 9, ``"1,4,7"`` → [1, 4, 7] (ranges and lists may be mixed)."""
    import argparse

    seeds: list[int] = []
    for part in text.split(","):
        a, dash, b = part.strip().partition("-")
        try:
            lo, hi = int(a), int(b) if dash else int(a)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seeds like 0-9 or 1,4,7, got {text!r}") from None
        if lo > hi:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is an empty range: write it in ascending order, "
                                             f"{hi}-{lo}")
        if not 0 <= lo <= hi < 2**32:
            raise argparse.ArgumentTypeError(f"{part.strip()!r}: expected seeds from 0 to 2**32 - 1")
        if hi - lo + 1 + len(seeds) > MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"{text!r}: at most {MAX_SEEDS} seeds (each trains for seconds)")
        seeds.extend(range(lo, hi + 1))
    return seeds


def register(sub) -> None:
    p = sub.add_parser("seeds", help="rerun the study's two trainings over seeds and summarize the spread",
                       description=__doc__)
    p.add_argument("--seeds", type=parse_seeds, default=list(range(10)), metavar="0-9",
                   help="seeds (default 0-9): each draws the training input and run 2's random start")
    p.add_argument("--epochs", type=positive_int, default=10_000, help="epochs per run (default 10 000)")
    p.add_argument("--trainer", choices=("diagram", "torch"), default="diagram", help="trainer (default diagram)")
    p.add_argument("--variant", choices=LazyChoices("blockloop.study.seeds", "VARIANTS"), action="append",
                   default=None, metavar="NAME",
                   help="one change to the training set-up, repeatable (default: reference): %(choices)s "
                        "(blockloop.study.seeds.VARIANTS says what each changes)")
    p.add_argument("--run", dest="runs", choices=("from_computed", "from_random"), action="append", default=None,
                   help="train only this run, repeatable (default both)")
    p.add_argument("--out", type=Path, metavar="FILE.json", help="write every run and the summary as JSON")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..study.seeds import run_seeds, summarize

    rows = []
    for variant in args.variant or ["reference"]:
        rows += run_seeds(args.seeds, epochs=args.epochs, trainer=args.trainer, variant=variant,
                          runs=tuple(args.runs or ("from_computed", "from_random")),
                          progress=None if args.no_progress else sys.stderr)
    table = summarize(rows)
    if args.out is not None:
        args.out.write_text(json.dumps({"runs": [r.as_dict() for r in rows], "summary": table}, indent=1))
    print(json.dumps(table, indent=1) if args.json else format_table(table))
    return 0


def format_table(table: dict) -> str:
    lines = [f"{'variant':<13}{'run':<15}{'last loss: median [min, max]':<34}{'MATLAB':>8}   "
             f"{'read-back DC gain: median [min, max]':<38}{'MATLAB':>8}"]
    for variant, runs in table.items():
        for run, e in runs.items():
            ll, dc = e["last_loss"], e["dcgain"]
            pub_dc = "" if dc["published"] is None else f"{dc['published']:g}"
            lines.append(f"{variant:<13}{run:<15}{ll['median']:<9.3g}[{ll['min']:.3g}, {ll['max']:.3g}]".ljust(62)
                         + f"{ll['published']:>8g}   "
                         + f"{dc['median']:<9.4g}[{dc['min']:.4g}, {dc['max']:.4g}]".ljust(38) + f"{pub_dc:>8}")
    return "\n".join(lines)
