"""The sweep report: distributions of the final loss, the attraction basin, lr0 × drop factor, a table.

:func:`write_report` reads a store and writes into one folder ``report.md``, ``report.html``,
``summary.json`` (every number of the tables) and up to three PNG figures:

- ``final_loss_hist.png``: histograms of log10(final loss), one panel per initialisation;
- ``basin.png``: for perturbed starts, the final loss and the final distance from the computed
  weights against the perturbation size (computed starts at noise 0), per noise kind;
- ``lr_drop_heatmap.png``: median log10(final loss) over lr0 × drop factor, one panel per
  initialisation that varies either.

"Near the computed solution" means every gate block (i, f, g, o and the FC layer) ends within
``near_tol`` of the computed block, relative to its norm (``max_rel_dist`` ≤ ``near_tol``, see
:mod:`.trial`). Fractions count completed and diverged runs (a diverged run is not near);
failed runs have no result and are listed separately. The **basin width** is the largest
perturbation size at which at least half of the runs end near the computed solution (None when
even the smallest size misses), per noise kind.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

from ...errors import ParameterError

__all__ = ["write_report", "summarize", "NEAR_TOL", "FIGURES"]

#: Default tolerance of "near the computed solution" (relative distance per gate block).
NEAR_TOL = 0.1
FIGURES = ("final_loss_hist.png", "basin.png", "lr_drop_heatmap.png")
_INIT_ORDER = ("computed", "perturbed", "random")


def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else None


def _near(row, near_tol: float) -> bool:
    d = row.get("max_rel_dist")
    return row["status"] == "completed" and d is not None and d <= near_tol


def _fraction(rows, near_tol):
    judged = [r for r in rows if r["status"] in ("completed", "diverged")]
    return (sum(_near(r, near_tol) for r in judged) / len(judged)) if judged else None


def summarize(rows: list[dict], near_tol: float = NEAR_TOL) -> dict:
    """The report's numbers from :meth:`~.store.SweepStore.rows` (JSON-ready).

    Returns
    -------
    dict
        ``counts`` per status; ``by_init``: per initialisation, runs, statuses, final and best
        loss (median, min, max), ``near`` (count) and ``near_fraction``, near-linear fraction,
        median DC gain and pole error; ``basin``: per noise kind, one row per noise size and the
        measured ``width``; ``heatmap``: per initialisation, cells (lr0, drop factor, runs, median
        final loss); ``failed``: hash, configuration and error of each failed run.

    Examples
    --------
    >>> rows = [{"status": "completed", "init": "computed", "noise": 0.0, "noise_kind": None, "lr0": 1e-4,
    ...          "drop_factor": 0.99, "final_loss": 0.1, "best_loss": 0.01, "max_rel_dist": 0.05,
    ...          "near_linear": True, "dcgain": 7.6, "pole_error": 0.01, "hash": "a", "config": {}, "error": None},
    ...         {"status": "diverged", "init": "computed", "noise": 0.0, "noise_kind": None, "lr0": 1.0,
    ...          "drop_factor": 0.99, "final_loss": None, "best_loss": None, "max_rel_dist": None,
    ...          "near_linear": None, "dcgain": None, "pole_error": None, "hash": "b", "config": {}, "error": "inf"}]
    >>> s = summarize(rows)
    >>> s["by_init"]["computed"]["near"], s["by_init"]["computed"]["near_fraction"], s["counts"]["diverged"]
    (1, 0.5, 1)
    """
    if not (isinstance(near_tol, (int, float)) and near_tol > 0 and math.isfinite(near_tol)):
        raise ParameterError(f"near_tol: expected a positive number, got {near_tol!r}")
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "diverged", "failed")}
    groups = defaultdict(list)
    for r in rows:
        groups[r["init"]].append(r)
    by_init = {}
    for init in sorted(groups, key=lambda k: _INIT_ORDER.index(k) if k in _INIT_ORDER else 99):
        rs = groups[init]
        done = [r for r in rs if r["status"] == "completed"]
        losses = [r["final_loss"] for r in done if r["final_loss"] is not None]
        by_init[init] = {
            "runs": len(rs), **{s: sum(r["status"] == s for r in rs) for s in ("completed", "diverged", "failed")},
            "final_loss": {"median": _median(losses), "min": min(losses, default=None),
                           "max": max(losses, default=None)},
            "best_loss_median": _median([r["best_loss"] for r in done]),
            "near": sum(_near(r, near_tol) for r in rs), "near_fraction": _fraction(rs, near_tol),
            "near_linear_fraction": (sum(bool(r["near_linear"]) for r in done) / len(done)) if done else None,
            "dcgain_median": _median([r["dcgain"] for r in done]),
            "pole_error_median": _median([r["pole_error"] for r in done])}
    return {"near_tol": near_tol, "counts": counts, "runs": len(rows), "by_init": by_init,
            "basin": _basin(rows, near_tol), "heatmap": _heatmap(rows),
            "failed": [{"hash": r["hash"], "config": r["config"], "error": r["error"]}
                       for r in rows if r["status"] == "failed"]}


#: Fields that make two runs' training comparable (everything but the start: init, noise, seed).
_SETTINGS = ("lr0", "drop_factor", "drop_period", "epochs", "steps", "units", "realization", "scl", "beta",
             "grad_threshold")


def _settings(row) -> tuple:
    return tuple(row.get(k) for k in _SETTINGS)


def _basin_rows(rows) -> tuple[list, list]:
    """``(perturbed, computed)`` runs that have a result; computed only those trained like some perturbed run."""
    perturbed = [r for r in rows if r["init"] == "perturbed" and r["status"] != "failed"]
    same = {_settings(r) for r in perturbed}
    computed = [r for r in rows if r["init"] == "computed" and r["status"] != "failed" and _settings(r) in same]
    return perturbed, computed


def _basin(rows, near_tol) -> dict:
    """Per noise kind: rows (noise, runs, near fraction, median final loss, median distances) and the width."""
    perturbed, computed = _basin_rows(rows)
    out = {}
    for kind in sorted({r["noise_kind"] for r in perturbed}):
        by_noise = defaultdict(list)
        for r in perturbed:
            if r["noise_kind"] == kind:
                by_noise[r["noise"]].append(r)
        if computed:
            by_noise[0.0] = computed
        table = []
        for noise in sorted(by_noise):
            rs = by_noise[noise]
            table.append({"noise": noise, "runs": len(rs), "near_fraction": _fraction(rs, near_tol),
                          "final_loss_median": _median([r["final_loss"] for r in rs]),
                          "start_max_rel_dist_median": _median([r["start_max_rel_dist"] for r in rs]),
                          "max_rel_dist_median": _median([r["max_rel_dist"] for r in rs])})
        width = None
        for entry in table:
            if entry["noise"] > 0 and entry["near_fraction"] is not None and entry["near_fraction"] >= 0.5:
                width = entry["noise"]
        out[kind] = {"rows": table, "width": width}
    return out


def _heatmap(rows) -> dict:
    out = {}
    for init in _INIT_ORDER:
        rs = [r for r in rows if r["init"] == init and r["status"] != "failed"]
        lrs = sorted({r["lr0"] for r in rs})
        drops = sorted({r["drop_factor"] for r in rs})
        if len(lrs) < 2 and len(drops) < 2:
            continue
        cells = []
        for lr in lrs:
            for drop in drops:
                cell = [r for r in rs if r["lr0"] == lr and r["drop_factor"] == drop]
                if cell:
                    cells.append({"lr0": lr, "drop_factor": drop, "runs": len(cell),
                                  "diverged": sum(r["status"] == "diverged" for r in cell),
                                  "final_loss_median": _median([r["final_loss"] for r in cell])})
        out[init] = {"lr0": lrs, "drop_factor": drops, "cells": cells}
    return out


# -- figures ------------------------------------------------------------------------------------
def _log10(values):
    return [math.log10(v) for v in values if v is not None and math.isfinite(v) and v > 0]


def _plot_histograms(rows, path: Path) -> bool:
    from matplotlib.figure import Figure

    inits = [i for i in _INIT_ORDER if any(r["init"] == i for r in rows)]
    data = {i: _log10([r["final_loss"] for r in rows if r["init"] == i and r["status"] == "completed"])
            for i in inits}
    if not any(data.values()):
        return False
    allv = [v for vs in data.values() for v in vs]
    lo, hi = min(allv), max(allv)
    bins = [lo + (hi - lo + 1e-9) * k / 20 for k in range(21)] if hi > lo else 10
    fig = Figure(figsize=(7, 2.2 * len(inits) + 0.6))
    axes = fig.subplots(len(inits), 1, sharex=True, squeeze=False)[:, 0]
    for ax, init in zip(axes, inits, strict=True):
        div = sum(r["init"] == init and r["status"] == "diverged" for r in rows)
        ax.hist(data[init], bins=bins, color="C0" if init == "computed" else "C1" if init == "perturbed" else "C2")
        ax.set_title(f"{init}: {len(data[init])} runs" + (f", {div} diverged (not shown)" if div else ""),
                     fontsize=10)
        ax.set_ylabel("runs")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("log10(final loss)  (half-MSE per step)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def _plot_basin(rows, near_tol, path: Path) -> bool:
    from matplotlib.figure import Figure

    perturbed, computed = _basin_rows(rows)
    pts = [r for r in perturbed + computed if r["status"] == "completed"]
    if not any(r["init"] == "perturbed" for r in pts):
        return False
    noises = sorted({r["noise"] for r in pts if r["noise"] > 0})
    fig = Figure(figsize=(7, 6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    kinds = sorted({r["noise_kind"] for r in pts if r["init"] == "perturbed"})
    for k, kind in enumerate(kinds):
        sel = [r for r in pts if r["noise_kind"] in (kind, None)]
        xs = [r["noise"] for r in sel]
        ax1.scatter(xs, [r["final_loss"] for r in sel], s=12, alpha=0.6, color=f"C{k}", label=f"{kind} noise")
        ax2.scatter(xs, [r["max_rel_dist"] for r in sel], s=12, alpha=0.6, color=f"C{k}")
        med_x = sorted(set(xs))
        ax1.plot(med_x, [_median([r["final_loss"] for r in sel if r["noise"] == x]) for x in med_x], color=f"C{k}")
        ax2.plot(med_x, [_median([r["max_rel_dist"] for r in sel if r["noise"] == x]) for x in med_x],
                 color=f"C{k}")
        ax2.plot(med_x, [_median([r["start_max_rel_dist"] for r in sel if r["noise"] == x]) or math.nan
                         for x in med_x], color=f"C{k}", ls=":", label=f"at the start ({kind})")
    ax2.axhline(near_tol, color="k", ls="--", lw=1, label=f"near: ≤ {near_tol:g}")
    for ax in (ax1, ax2):
        ax.set_xscale("symlog", linthresh=noises[0])
        ax.set_xlim(-0.3 * noises[0], 2 * noises[-1])
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3, which="both")
    ax1.set_ylabel("final loss")
    ax1.set_title("Around the computed weights (noise 0 = computed start)", fontsize=10)
    ax1.legend(fontsize=8)
    ax2.set_ylabel("final max relative\ndistance from computed")
    ax2.set_xlabel("perturbation size (noise)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def _plot_heatmap(heat: dict, path: Path) -> bool:
    from matplotlib.figure import Figure

    if not heat:
        return False
    fig = Figure(figsize=(5.2 * len(heat), 4.2))
    axes = fig.subplots(1, len(heat), squeeze=False)[0]
    for ax, (init, h) in zip(axes, heat.items(), strict=True):
        grid = [[math.nan] * len(h["lr0"]) for _ in h["drop_factor"]]
        for c in h["cells"]:
            v = c["final_loss_median"]
            grid[h["drop_factor"].index(c["drop_factor"])][h["lr0"].index(c["lr0"])] = \
                math.log10(v) if v is not None and v > 0 else math.nan
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        for c in h["cells"]:
            i, j = h["drop_factor"].index(c["drop_factor"]), h["lr0"].index(c["lr0"])
            v = c["final_loss_median"]
            text = "diverged" if v is None else f"{v:.2g}"
            ax.text(j, i, f"{text}\nn={c['runs']}", ha="center", va="center", fontsize=7, color="w")
        ax.set_xticks(range(len(h["lr0"])), [f"{v:g}" for v in h["lr0"]])
        ax.set_yticks(range(len(h["drop_factor"])), [f"{v:g}" for v in h["drop_factor"]])
        ax.set_xlabel("lr0")
        ax.set_ylabel("drop factor")
        ax.set_title(f"{init}: median final loss", fontsize=10)
        fig.colorbar(im, ax=ax, label="log10(median final loss)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


# -- document -----------------------------------------------------------------------------------
def write_report(store, out, near_tol: float = NEAR_TOL, formats=("md", "html")) -> dict:
    """Read the store, write ``report.md``/``.html``, ``summary.json`` and the figures into ``out``.

    Parameters
    ----------
    store : path of the SQLite store (opened read-only) or an open :class:`~.store.SweepStore`
    out : folder (created if missing)
    near_tol : relative distance per gate block within which a run counts as near the computed weights

    Returns
    -------
    dict
        :func:`summarize`'s numbers plus ``figures`` (the PNG names written) and ``files``.

    Raises
    ------
    ParameterError
        A missing store, a file that is not one, or a bad ``near_tol``.
    """
    from ..report import Report, fmt
    from .store import SweepStore

    own = not isinstance(store, SweepStore)
    db = SweepStore(store, readonly=True) if own else store
    try:
        rows, meta = db.rows(), db.meta()
    finally:
        if own:
            db.close()
    summary = summarize(rows, near_tol)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    if _plot_histograms(rows, out / FIGURES[0]):
        figures.append(FIGURES[0])
    if _plot_basin(rows, near_tol, out / FIGURES[1]):
        figures.append(FIGURES[1])
    if _plot_heatmap(summary["heatmap"], out / FIGURES[2]):
        figures.append(FIGURES[2])

    name = meta.get("name", "sweep")
    rep = Report(f"Sweep {name}")
    c = summary["counts"]
    rep.paragraph(f"{summary['runs']} runs in `{Path(db.path).name}`: {c['completed']} completed, "
                  f"{c['diverged']} diverged (the loss became NaN or infinite), {c['failed']} failed (no result). "
                  "Every run trains the LSTM diagram with MATLAB's Adam in float64 (deterministic). "
                  f"\"Near\" = every gate block within {near_tol:g} of the computed one, relative to its norm.")
    rep.heading("Final loss by starting point")
    rows_t = [["init", "runs", "completed", "diverged", "failed", "final loss: median [min, max]",
               "best loss: median", "near computed", "near-linear", "read-back DC gain: median",
               "pole error: median"]]
    for init, s in summary["by_init"].items():
        fl = s["final_loss"]
        frac = "–" if s["near_fraction"] is None else f"{s['near']} ({100 * s['near_fraction']:.0f} %)"
        nl = "–" if s["near_linear_fraction"] is None else f"{100 * s['near_linear_fraction']:.0f} %"
        rows_t.append([init, s["runs"], s["completed"], s["diverged"], s["failed"],
                       f"{fmt(fl['median'], 3)} [{fmt(fl['min'], 3)}, {fmt(fl['max'], 3)}]",
                       fmt(s["best_loss_median"], 3), frac, nl, fmt(s["dcgain_median"], 4),
                       fmt(s["pole_error_median"], 3)])
    rep.table(rows_t)
    rep.paragraph("The system's DC gain is 7.5351. DC gain and pole error are read back only from runs that "
                  "stay near-linear (gates pinned, |c| ≤ 0.5 at 3u).")
    if FIGURES[0] in figures:
        rep.image(FIGURES[0], "Histograms of log10(final loss) per initialisation")
    rep.heading("Attraction basin of the computed weights")
    if summary["basin"]:
        for kind, b in summary["basin"].items():
            width = "none of the sizes tried" if b["width"] is None else f"{b['width']:g}"
            rep.paragraph(f"{kind} noise: basin width (largest size with at least half the runs ending near) = "
                          f"{width}.")
            table = [["noise", "runs", "near computed", "final loss: median",
                      "max relative distance: start → end (medians)"]]
            for e in b["rows"]:
                table.append([fmt(e["noise"], 3), e["runs"],
                              "–" if e["near_fraction"] is None else f"{100 * e['near_fraction']:.0f} %",
                              fmt(e["final_loss_median"], 3),
                              f"{fmt(e['start_max_rel_dist_median'], 3)} → {fmt(e['max_rel_dist_median'], 3)}"])
            rep.table(table)
        rep.paragraph("Noise 0 is the computed start, trained with the same settings as the perturbed runs. "
                      "A start farther than the tolerance counts as near only if training brought it back.")
        if FIGURES[1] in figures:
            rep.image(FIGURES[1], "Final loss and final distance from the computed weights vs perturbation size")
    else:
        rep.paragraph("No perturbed starts in this sweep.")
    rep.heading("Learning rate × drop factor")
    if FIGURES[2] in figures:
        rep.image(FIGURES[2], "Median final loss over lr0 × drop factor")
        for init, h in summary["heatmap"].items():
            table = [["lr0", "drop factor", "runs", "diverged", "final loss: median"]]
            table += [[fmt(c["lr0"], 3), fmt(c["drop_factor"], 4), c["runs"], c["diverged"],
                       fmt(c["final_loss_median"], 3)] for c in h["cells"]]
            rep.heading(init, 3)
            rep.table(table)
    else:
        rep.paragraph("No initialisation varies lr0 or the drop factor in this sweep.")
    if summary["failed"]:
        rep.heading("Failed runs")
        rep.table([["run", "error"]] + [[f["hash"][:12], (f["error"] or "")[:300]] for f in summary["failed"]])
    files = [str(p) for p in rep.write(out, formats)]
    result = {**summary, "figures": figures, "name": name}
    (out / "summary.json").write_text(json.dumps(result, indent=1, allow_nan=False), encoding="utf-8")
    files.append(str(out / "summary.json"))
    return {**result, "files": files}
