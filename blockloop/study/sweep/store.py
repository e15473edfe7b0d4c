"""The sweep's store: one SQLite file, one row per run, written by the client as each run finishes.

Why SQLite and not Parquet: results arrive one at a time, in any order, from a run that may be
interrupted at any moment. SQLite appends one row in one committed transaction (with a
write-ahead log, so a report can read the file while the sweep writes), a crash or Ctrl-C
leaves every committed row intact, ``hash`` as the primary key makes a duplicate impossible and
``--resume`` a single query, and it is in Python's standard library. Parquet files are immutable
column chunks: appending a row means a new file (or rewriting one) per run, with no transaction
and no uniqueness check; it is the better format for analysing millions of finished rows, which
:meth:`SweepStore.rows` can feed (e.g. into pandas) at any time.

Table ``runs`` (one row per distinct configuration):

- ``hash`` (primary key): :func:`~.config.config_hash` of the configuration;
  ``config``: its canonical JSON (:func:`~.config.canonical_json`);
- one column per run field (``init``, ``noise``, …, see :data:`~.config.FIELDS`), copied from the
  configuration so that SQL can filter and group on them;
- ``status``: ``completed``, ``diverged`` or ``failed``; ``error``: the message, else NULL;
- one column per scalar measure (:data:`METRIC_COLUMNS`), NULL where not measured;
  ``metrics``: every measure as JSON (per-block distances included; non-finite numbers as null);
- ``worker``, ``wall_s`` (seconds on the worker), ``finished_at`` (UTC, ISO 8601), ``version``
  (blockloop's).

Table ``meta`` holds ``schema`` (:data:`SCHEMA_VERSION`), the sweep's ``name`` and when it was created.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ...errors import ParameterError
from .config import FIELDS, canonical_json, config_hash

__all__ = ["SweepStore", "STATUSES", "METRIC_COLUMNS", "SCHEMA_VERSION", "DONE"]

SCHEMA_VERSION = 1
#: Outcomes of a run. ``failed`` runs are done again by ``--resume``; the other two are results.
STATUSES = ("completed", "diverged", "failed")
#: Statuses that ``--resume`` does not run again.
DONE = ("completed", "diverged")
#: Scalar measures copied into their own columns (name → SQL type); see :mod:`.trial`.
METRIC_COLUMNS = {"initial_loss": "REAL", "final_loss": "REAL", "best_loss": "REAL", "val_u": "REAL",
                  "val_3u": "REAL", "max_rel_dist": "REAL", "start_max_rel_dist": "REAL", "gate_margin": "REAL",
                  "cell_max": "REAL", "near_linear": "INTEGER", "dcgain": "REAL", "dcgain_error": "REAL",
                  "pole_error": "REAL"}
_SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL"}


def _finite(obj):
    """A JSON-ready copy with NaN and ±inf as None (JSON has no such numbers)."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class SweepStore:
    """An open store. Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path : the SQLite file; created (with its folder) if missing
    readonly : open an existing file for reading only (``sweep-report``); a missing file is an error

    Raises
    ------
    ParameterError
        A file that is not a sweep store (or of a newer schema), or a missing one with ``readonly``.

    Examples
    --------
    >>> import tempfile, os
    >>> from blockloop.study.sweep.config import normalize_run
    >>> path = os.path.join(tempfile.mkdtemp(), "s.sqlite")
    >>> with SweepStore(path) as store:
    ...     cfg = normalize_run({"seed": 1})
    ...     h = store.put(cfg, {"status": "completed", "metrics": {"final_loss": 0.5}, "worker": "w", "wall_s": 1.0})
    ...     store.statuses() == {h: "completed"}, store.rows()[0]["final_loss"]
    (True, 0.5)
    """

    def __init__(self, path, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise ParameterError(f"store {self.path}: no such file")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"{self.path.resolve().as_uri()}?mode={'ro' if readonly else 'rwc'}"
        try:
            self.db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self._create()
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise ParameterError(f"store {self.path}: not a sweep store ({exc})") from None

    # -- schema ---------------------------------------------------------------------------------
    def _create(self) -> None:
        fields = ", ".join(f'"{k}" {_SQL_TYPES[f.kind]}' for k, f in FIELDS.items())
        metrics = ", ".join(f'"{k}" {t}' for k, t in METRIC_COLUMNS.items())
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS runs (hash TEXT PRIMARY KEY, config TEXT NOT NULL, {fields}, "
                f"status TEXT NOT NULL CHECK (status IN {STATUSES!r}), error TEXT, {metrics}, "
                "metrics TEXT NOT NULL, worker TEXT, wall_s REAL, finished_at TEXT NOT NULL, version TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (_now(),))

    def _check_schema(self) -> None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None:
            raise ParameterError(f"store {self.path}: not a sweep store (no meta table with a schema version)")
        if int(row[0]) > SCHEMA_VERSION:
            raise ParameterError(f"store {self.path}: schema {row[0]} is newer than this blockloop's "
                                 f"({SCHEMA_VERSION}); upgrade blockloop to read it")

    # -- writing --------------------------------------------------------------------------------
    @staticmethod
    def hash_of(config: dict) -> str:
        return config_hash(config)

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def put(self, config: dict, outcome: dict) -> str:
        """Write one finished run (one committed transaction); returns its hash.

        ``outcome`` is :func:`~.trial.run_trial`'s dict (``status``, ``error``, ``metrics``,
        ``worker``, ``wall_s``). A row of the same configuration is replaced only if it had
        ``failed``; a ``completed`` or ``diverged`` row is kept (the run is not written twice).
        """
        from ... import __version__

        status = outcome.get("status")
        if status not in STATUSES:
            raise ParameterError(f"status: expected one of {STATUSES}, got {status!r}")
        metrics = _finite(dict(outcome.get("metrics") or {}))
        h = config_hash(config)
        cols = ["hash", "config", *FIELDS, "status", "error", *METRIC_COLUMNS, "metrics", "worker", "wall_s",
                "finished_at", "version"]
        values = [h, canonical_json(config), *(config.get(k) for k in FIELDS), status, outcome.get("error"),
                  *(_sql_value(metrics.get(k)) for k in METRIC_COLUMNS), json.dumps(metrics, sort_keys=True),
                  outcome.get("worker"), _sql_value(outcome.get("wall_s")), _now(), __version__]
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM runs WHERE hash = ? AND status = 'failed'", (h,))
            self.db.execute(f"INSERT OR IGNORE INTO runs ({names}) VALUES ({marks})", values)
        return h

    # -- reading --------------------------------------------------------------------------------
    def statuses(self) -> dict[str, str]:
        """``{hash: status}`` of every stored run."""
        return dict(self.db.execute("SELECT hash, status FROM runs").fetchall())

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def rows(self) -> list[dict]:
        """Every run as a dict: the columns, with ``config`` and ``metrics`` parsed from JSON."""
        cur = self.db.execute("SELECT * FROM runs ORDER BY finished_at, hash")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            row["config"] = json.loads(row["config"])
            row["metrics"] = json.loads(row["metrics"])
            if row["near_linear"] is not None:
                row["near_linear"] = bool(row["near_linear"])
            out.append(row)
        return out

    def count(self) -> dict[str, int]:
        """Number of runs per status (every status present, 0 when none)."""
        counts = dict(self.db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        return {s: int(counts.get(s, 0)) for s in STATUSES}

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _sql_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
