"""Round-robin timing shared by the benchmark scripts (not part of the package).

Every runner is called once per round, ``repeats`` rounds, and the median time per step is
kept, so that a noisy shared machine slows all runners alike. The scripts import it as
``_timing``: Python puts a script's own folder first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping


def parse_args(doc: str, repeats: int, steps: int = 1001, batch: bool = False) -> argparse.Namespace:
    """``--repeats``, ``--steps``, ``--json`` (and ``--batch`` if asked); description: ``doc``'s first line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--steps", type=int, default=steps)
    if batch:
        parser.add_argument("--batch", type=int, default=1, help="sequences simulated at once (default 1)")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def round_robin(runners: Mapping[str, Callable[[], object]], repeats: int, steps: int) -> dict[str, float]:
    """Median µs per step of each runner (``steps`` steps per call), over ``repeats`` rounds."""
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) / steps * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def report(med: Mapping[str, float], args: argparse.Namespace, extra: Mapping[str, object] | None = None,
           footer: str | None = None, base: str = "blockloop diagram") -> None:
    """Print the medians and their ratio to runner ``base``: JSON with ``args.json``, else a table.

    ``extra`` adds JSON fields (after the ratios); ``footer`` is a last line of the table.
    """
    base = med[base]
    if args.json:
        print(json.dumps({"us_per_step": dict(med), "ratio_to_blockloop": {k: v / base for k, v in med.items()},
                          **(extra or {}), "steps": args.steps, "batch": getattr(args, "batch", 1),
                          "repeats": args.repeats}, indent=2))
        return
    batch = getattr(args, "batch", 1)
    print(f"LSTM Ni=1 Nn=5 T={args.steps} batch {batch}, float64; median of {args.repeats} round-robin runs "
          f"(µs per step of the whole batch)")
    print(f"{'runner':<20}{'µs/step':>10}{'× blockloop':>14}")
    for name, v in med.items():
        print(f"{name:<20}{v:>10.1f}{v / base:>14.2f}")
    if footer:
        print(footer)
