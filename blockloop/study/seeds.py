"""The study's two trainings over many seeds: distributions instead of single runs.

For each seed, the training input (and run 2's random start) are drawn from that seed exactly as
:func:`~blockloop.study.reproduce.run_study` draws them, both runs are trained, and the last
logged loss and the read-back DC gain are kept. A *variant* changes one thing in the training
set-up (precision, clipping, loss, L2, schedule) so that its effect can be measured over the
same seeds; :data:`VARIANTS` lists them.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from . import published as pub

__all__ = ["VARIANTS", "SeedRow", "run_seeds", "summarize"]

#: Named changes to the published training options (applied to both runs).
VARIANTS = {
    "reference": {},
    "float32": {"dtype": "float32"},
    "no_clipping": {"grad_threshold": None},
    "mse_loss": {"loss": "mse"},
    "no_l2": {"l2": 0.0},
    "no_schedule": {"drop_factor": 1.0},
}


@dataclass(frozen=True)
class SeedRow:
    """One training run of one seed: its last logged loss, final loss, read-back DC gain and time (s)."""

    seed: int
    run: str
    variant: str
    last_loss: float
    final_loss: float
    dcgain: float
    wall_s: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_seeds(seeds, epochs: int = 10_000, trainer: str = "diagram", variant: str = "reference",
              realization: str = "matlab", runs=("from_computed", "from_random"), progress=None) -> list[SeedRow]:
    """Train both runs for every seed; one :class:`SeedRow` per (seed, run).

    The read-back DC gain is that of the reference's linear read-back (meaningful for run 1,
    whose gates stay pinned; reported for run 2 too, where it only shows how far that network
    is from the structure the read-back assumes).
    """
    from .approx import approximate
    from .readback import readback
    from .reproduce import StudyConfig, training_setup
    from .systems import reference_system
    from .training import train

    seeds, runs = _checked(seeds, epochs, variant, runs)
    sys = reference_system()
    rows = []
    for seed in seeds:
        cfg = StudyConfig(out=".", epochs=epochs, seed=int(seed), trainer=trainer, realization=realization)
        computed = approximate(sys, scl=cfg.scl, beta=cfg.beta, realization=realization,
                               u=np.zeros((2, sys.ninputs))).weights
        u, y, setup = training_setup(sys, cfg, computed)
        for name, (start, _, opts) in setup.items():
            if name not in runs:
                continue
            opts = dataclasses.replace(opts, **VARIANTS[variant])
            t0 = time.perf_counter()
            res = train(start, u, y, opts, progress=progress, label=f"seed {seed} {name}")
            dc = float(np.real(np.squeeze(readback(res.weights, cfg.scl, float(sys.dt)).facts()["dcgain"])))
            rows.append(SeedRow(int(seed), name, variant, float(res.loss[-1]), float(res.final_loss), dc,
                                time.perf_counter() - t0))
    return rows


def _checked(seeds, epochs, variant, runs) -> tuple[list[int], tuple[str, ...]]:
    """The seeds as a list of ints and the runs as a tuple, or ParameterError naming the argument."""
    def whole(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    try:
        seeds = list(seeds)
    except TypeError:
        raise ParameterError(f"seeds: expected a list of integers, got {seeds!r}") from None
    bad = [s for s in seeds if not whole(s) or not 0 <= s < 2**32]
    if bad or not seeds:
        raise ParameterError(f"seeds: expected integers from 0 to 2**32 - 1, got {bad[0] if bad else 'none'}")
    if not whole(epochs) or epochs < 1:
        raise ParameterError(f"epochs: expected a positive integer, got {epochs!r}")
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ParameterError(f"variant: expected one of {list(VARIANTS)}, got {variant!r}")
    runs = (runs,) if isinstance(runs, str) else tuple(runs) if isinstance(runs, (list, tuple, set)) else None
    if not runs or set(runs) - {"from_computed", "from_random"}:
        raise ParameterError("runs: expected from_computed and/or from_random")
    return [int(s) for s in seeds], runs


def summarize(rows: list[SeedRow]) -> dict:
    """Per (variant, run): median, min and max of the last loss and DC gain, next to MATLAB's values."""
    published = {"from_computed": {"last_loss": pub.RUN_COMPUTED["log"][-1][2],
                                   "dcgain": pub.RUN_COMPUTED["readback"]["dcgain"]},
                 "from_random": {"last_loss": pub.RUN_RANDOM["log"][-1][2], "dcgain": None}}
    out: dict = {}
    for r in rows:
        out.setdefault(r.variant, {}).setdefault(r.run, []).append(r)
    table = {}
    for variant, runs in out.items():
        for run, rs in runs.items():
            entry = {"seeds": [r.seed for r in rs]}
            for key in ("last_loss", "dcgain"):
                values = [getattr(r, key) for r in rs]
                entry[key] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                              "published": published[run][key]}
            table.setdefault(variant, {})[run] = entry
    return table
