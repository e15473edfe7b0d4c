"""Run a sweep on Dask: an embedded ``LocalCluster`` by default, or an existing cluster by address.

Each distinct configuration that the store does not hold yet becomes one Dask task,
:func:`~.trial.run_trial` (``pure=False``, ``retries`` from the sweep file). The client — this
process — waits on the futures in the order they finish and writes each result to the SQLite
store at once, so an interrupted sweep loses no run whose result had reached the client.

Faults:

- a task that raises (anything but a :class:`~blockloop.errors.BlockloopError`, which
  :func:`~.trial.run_trial` records itself) is retried ``retries`` times by the scheduler, then
  stored as ``failed`` with the exception's type, message and the last line of its traceback;
- a worker that dies while running a task (killed, out of memory) makes the scheduler run that
  task again on another worker; after ``distributed.scheduler.allowed-failures`` deaths (Dask's
  default: 3) the task ends in ``KilledWorker`` and is stored as ``failed``;
- a loss that becomes NaN or infinite is stored as ``diverged``;
- Ctrl-C (``KeyboardInterrupt``) cancels the pending tasks and re-raises; what was stored stays,
  and ``--resume`` runs the rest.
"""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BlockloopError, ParameterError
from .config import SweepPlan
from .store import DONE, SweepStore

__all__ = ["SweepSummary", "run_sweep", "local_cluster"]

logger = logging.getLogger(__name__)


@dataclass
class SweepSummary:
    """What a sweep did.

    ``runs``: distinct configurations in the plan; ``completed``, ``diverged``, ``failed``: how
    many of them the store now holds with that status (earlier runs included); ``executed``: runs
    done by this call; ``skipped``: runs already in the store (``--resume``); ``duplicates``:
    configurations of the file that repeated another; ``wall_s``: seconds of this call.
    """

    runs: int
    completed: int = 0
    diverged: int = 0
    failed: int = 0
    executed: int = 0
    skipped: int = 0
    duplicates: int = 0
    store: str = ""
    workers: int = 0
    scheduler: str | None = None
    dashboard: str | None = None
    wall_s: float = math.nan
    failures: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def local_cluster(workers: int | None = None):
    """An embedded ``distributed.LocalCluster``: ``workers`` processes (default one per core), one thread each.

    The scheduler's HTTP server (the dashboard when bokeh is installed, else a page saying so)
    listens on a free port of 127.0.0.1, not on Dask's default 8787, which another cluster may hold.
    """
    from distributed import LocalCluster

    n = int(workers or os.cpu_count() or 1)
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                        silence_logs=logging.ERROR)


class _Progress:
    """tqdm's bar over runs on ``stream``, with counts of diverged and failed runs; silent unless a terminal."""

    def __init__(self, total: int, stream, label: str = "runs"):
        from ..training_log import tqdm_bar

        self.other = {"diverged": 0, "failed": 0}
        self.bar = None if stream is None else tqdm_bar(total, stream, label, unit="run")

    def update(self, status: str = "completed") -> None:
        """One more run done, with its status (``completed``, ``diverged`` or ``failed``)."""
        if status in self.other:
            self.other[status] += 1
        if self.bar is not None:
            if any(self.other.values()):
                self.bar.set_postfix({k: v for k, v in self.other.items() if v}, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _failure(exc: BaseException) -> str:
    """``Type: message`` of a task's exception, with the last traceback line when there is one."""
    text = f"{type(exc).__name__}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if tb:
        last = tb[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno} in {last.name})"
    return text


def run_sweep(plan: SweepPlan, store, *, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress=None, on_result=None) -> SweepSummary:
    """Run every configuration of ``plan`` that ``store`` does not hold yet, on Dask.

    Parameters
    ----------
    plan : the distinct runs (:func:`~.config.load_config`)
    store : a :class:`~.store.SweepStore` or the path of its SQLite file
    workers : worker processes of the embedded LocalCluster (default: one per core, at most one
        per run); ignored with ``scheduler``
    scheduler : address of an existing Dask scheduler (``tcp://host:8786``); its workers need
        blockloop installed
    resume : run only what the store lacks (and its ``failed`` runs again). Without it, a store
        that already holds runs is an error, so that two sweeps are not mixed by accident.
    progress : text stream for the progress bar (tqdm, drawn only when the stream is a terminal) and
        the dashboard link (``sys.stderr``), or None
    on_result : called as ``on_result(config, outcome)`` after each run is stored

    Returns
    -------
    SweepSummary

    Raises
    ------
    ParameterError
        A store that holds runs without ``resume``; a scheduler that cannot be reached.
    KeyboardInterrupt
        After cancelling what was pending; finished runs are in the store.
    """
    t0 = time.perf_counter()
    own_store = not isinstance(store, SweepStore)
    store = SweepStore(store) if own_store else store
    try:
        existing = store.statuses()
        if existing and not resume:
            raise ParameterError(f"store {store.path} already holds {len(existing)} runs; pass --resume to run "
                                 "only the missing ones, or choose another --store")
        todo = [(h, cfg) for h, cfg in zip(plan.hashes, plan.runs, strict=True) if existing.get(h) not in DONE]
        summary = SweepSummary(runs=len(plan), skipped=len(plan) - len(todo), duplicates=plan.duplicates,
                               store=str(store.path), scheduler=scheduler)
        store.set_meta("name", plan.name)
        if plan.source:
            store.set_meta("config_file", plan.source)
        if todo:
            _execute(plan, store, todo, summary, workers, scheduler, progress, on_result)
        in_plan = set(plan.hashes)
        statuses = {h: s for h, s in store.statuses().items() if h in in_plan}
        summary.completed = sum(s == "completed" for s in statuses.values())
        summary.diverged = sum(s == "diverged" for s in statuses.values())
        summary.failed = sum(s == "failed" for s in statuses.values())
        logger.info("store %s: %s", store.path, store.count())
        summary.wall_s = time.perf_counter() - t0
        return summary
    finally:
        if own_store:
            store.close()


#: How long to try reaching ``--scheduler`` before giving up.
CONNECT_TIMEOUT = "20s"


def _connect(workers, scheduler, n_runs):
    """``(client, cluster or None, number of workers)``."""
    try:
        from distributed import Client
    except ImportError:
        raise BlockloopError("blockloop sweep runs on dask.distributed, which is not installed: "
                             "pip install 'blockloop[sweep]' (or pip install 'dask[distributed]')") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address ("missing port number")
            raise ParameterError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        return client, None, len(client.scheduler_info().get("workers", {}))
    n = max(1, min(int(workers or os.cpu_count() or 1), n_runs))
    cluster = local_cluster(n)
    try:
        return Client(cluster), cluster, n
    except BaseException:
        cluster.close()
        raise


def _execute(plan, store, todo, summary, workers, scheduler, progress, on_result) -> None:
    from .trial import run_trial

    client, cluster, summary.workers = _connect(workers, scheduler, len(todo))
    from distributed import as_completed  # importable: _connect checked

    bar = None
    try:
        link = None
        if cluster is None or _have("bokeh"):
            try:
                link = client.dashboard_link
            except (KeyError, AttributeError, TypeError):
                link = None
        summary.dashboard = link
        if progress is not None:
            where = f"scheduler {scheduler}" if scheduler else f"a local Dask cluster of {summary.workers} workers"
            progress.write(f"sweep {plan.name!r}: {len(todo)} runs on {where}"
                           + (f"; {summary.skipped} already stored" if summary.skipped else "")
                           + (f"; dashboard {link}" if link else "")
                           + ("; the scheduler has no workers yet, waiting for some" if not summary.workers else "")
                           + "\n")
            progress.flush()
        token = uuid.uuid4().hex[:8]
        futures, runs = [], {}
        for h, cfg in todo:
            fut = client.submit(run_trial, cfg, key=f"blockloop-sweep-{h[:16]}-{token}", pure=False,
                                retries=plan.retries)
            futures.append(fut)
            runs[fut.key] = (h, cfg)
        bar = _Progress(len(todo), progress)
        try:
            for fut in as_completed(futures):
                h, cfg = runs[fut.key]
                if fut.status == "finished":
                    outcome = fut.result()
                elif fut.status == "error":
                    outcome = {"status": "failed", "error": _failure(fut.exception()), "metrics": {},
                               "worker": None, "wall_s": None}
                else:  # cancelled: not run, not stored; --resume runs it
                    continue
                store.put(cfg, outcome)
                summary.executed += 1
                if outcome["status"] == "failed":
                    summary.failures.append({"hash": h, "error": outcome["error"]})
                bar.update(outcome["status"])
                if on_result is not None:
                    on_result(cfg, outcome)
        except BaseException:
            client.cancel(futures, force=True)
            raise
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()

