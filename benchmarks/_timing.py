"""Round-robin timing, progress lines, tables and the machine description (not part of the package).

Every runner is called once per round and the median time per step over the rounds is kept,
so that a noisy shared machine slows all runners alike. A fast runner (under ``WARM_BELOW_S``
a call) is called once untimed just before its timed call, so that it does not pay for the
caches its predecessor in the round left cold (measured: a 1 ms ``simulate`` takes 25–45 %
longer right after bdsim or the numpy loop than right after itself). A slow runner may take part in fewer
rounds (spread evenly over them), and each runner has its own number of steps per call, so
its time is still reported per step. The scripts beside this file import it as ``_timing``:
Python puts a script's own folder first on ``sys.path``.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def progress(message: str) -> None:
    """A progress line on stderr (stdout stays free for tables or one JSON object)."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Runner:
    """One contender: ``fn()`` runs ``steps`` steps; ``before()`` (untimed) runs just before each call.

    ``rounds``: take part in only this many of the rounds (spread evenly), for slow runners;
    None means every round. ``note``: shown in the table (thread count, fewer steps, …).
    """

    name: str
    fn: Callable[[], object]
    steps: int
    rounds: int | None = None
    before: Callable[[], object] | None = None
    note: str = ""

    def call(self) -> float:
        """Seconds taken by one call of ``fn`` (``before`` untimed, garbage collector off, as timeit)."""
        if self.before is not None:
            self.before()
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            self.fn()
            return time.perf_counter() - t0
        finally:
            if gc_was_on:
                gc.enable()


@dataclass(frozen=True)
class Timing:
    """A runner's median µs per step over ``samples`` rounds (and the fastest round, for noise)."""

    us_per_step: float
    min_us_per_step: float
    samples: int
    steps: int


#: Runners faster than this (seconds a call) get an untimed warm-up call before each timed one.
WARM_BELOW_S = 0.02


def _takes_part(r: int, n: int | None, rounds: int) -> bool:
    """Whether a runner with ``n`` of ``rounds`` rounds takes part in round ``r`` (evenly spread)."""
    if n is None or n >= rounds:
        return True
    return (r + 1) * n // rounds > r * n // rounds


def round_robin(runners: Sequence[Runner], rounds: int, label: str = "") -> dict[str, Timing]:
    """Median µs per step of each runner over ``rounds`` round-robin rounds (progress on stderr)."""
    samples: dict[str, list[float]] = {r.name: [] for r in runners}
    last: dict[str, float] = {}
    t_start = time.perf_counter()
    for r in range(rounds):
        gc.collect()
        for runner in runners:
            if _takes_part(r, runner.rounds, rounds):
                if last.get(runner.name, 0.0) < WARM_BELOW_S:
                    runner.call()
                last[runner.name] = runner.call()
                samples[runner.name].append(last[runner.name] / runner.steps * 1e6)
        if label:
            progress(f"  {label}: round {r + 1}/{rounds} ({time.perf_counter() - t_start:.1f} s)")
    return {r.name: Timing(statistics.median(samples[r.name]), min(samples[r.name]), len(samples[r.name]), r.steps)
            for r in runners}


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls."""
    return statistics.median(Runner("", fn, 1).call() for _ in range(repeats))


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]],
                 notes: Sequence[str] = ()) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned; floats to 4 digits."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1e5 else f"{v:,.0f}"
        return "—" if v is None else str(v)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) if body else len(str(h)) for i, h in enumerate(headers)]
    line = "  ".join
    out = [title, line(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths,
                                                                                         strict=True)))]
    out.append(line("-" * w for w in widths))
    for r in body:
        out.append(line(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    out.extend(notes)
    return "\n".join(out)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu() -> dict[str, object]:
    """Model name, family/model numbers and SIMD flags of the first CPU in /proc/cpuinfo.

    (A VM may report only "AMD EPYC"; family 25 model 1 is then Zen 3, "Milan".)
    """
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name") or platform.processor() or platform.machine(),
            "cpu_family_model": f"{fields['cpu family']}/{fields['model']}" if "cpu family" in fields else None,
            "simd": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags) or None}


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def machine() -> dict[str, object]:
    """CPU model, cores, load and the versions that matter for the timings."""
    info: dict[str, object] = {
        **_cpu(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    for package in ("numpy", "numba", "torch", "bdsim", "blockloop"):
        info[package] = _version(package)
    if hasattr(os, "getloadavg"):
        info["loadavg_1min"] = round(os.getloadavg()[0], 2)
    return info
