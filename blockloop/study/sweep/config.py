"""Sweep configuration: a TOML or JSON file → the list of distinct training runs to do.

A file has these top-level keys (all optional; anything else is a :class:`~blockloop.errors.ConfigError`):

``name``, ``description``
    Text stored with the sweep.
``retries``
    How often Dask reruns a run whose task raised an unexpected error (0–10, default 2).
``base``
    A table of run fields shared by every run (see :data:`FIELDS`).
``grid``
    A table ``field → list of values`` (a single value counts as a one-element list): every
    combination is a run. Several grids are an array of tables (``[[grid]]`` in TOML).
``runs``
    An array of tables, each one more run (its fields over ``base``).

The runs are the grids' products in order (last field varying fastest) followed by ``runs``.

Run fields (:data:`FIELDS`): ``init`` (``"computed"`` — the LSTM weights computed from (A, B, C, D);
``"perturbed"`` — those plus noise of size ``noise``; ``"random"`` — MATLAB-style ``rand`` weights),
``noise`` and ``noise_kind``, ``seed``, ``lr0``, ``drop_factor``, ``drop_period``, ``epochs``,
``steps`` (training samples), ``units``, ``realization``, ``scl``, ``beta``, ``grad_threshold``.

Normalization (so that one training has exactly one canonical form and one hash):

- ``noise`` and ``noise_kind`` only mean something for ``init = "perturbed"``; for the other two
  inits they are set to 0 and null. ``"perturbed"`` with ``noise = 0`` *is* ``"computed"``.
  A grid ``init × noise`` therefore holds each computed and random run once, and the other
  combinations are counted as duplicates rather than trained again.
- ``lr0``, ``drop_factor``, ``drop_period`` and ``grad_threshold`` left out take the published
  run's values: run 1's (1e-4, 0.99, 100, 1) for computed and perturbed starts, run 2's
  (0.04, 0.98, 100, 1) for random ones. ``grad_threshold = "none"`` (or JSON null) turns
  clipping off.
- integers given for float fields become floats; the canonical JSON has sorted keys and no
  spaces, and the run's identity is the SHA-256 of it (:func:`config_hash`).

Nothing in a file is evaluated: TOML is read with :mod:`tomllib` (Python ≥ 3.11; ``tomli`` on
3.10), JSON with :mod:`json` (duplicate keys rejected); values are checked one by one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError
from ..realizations import REALIZATIONS

__all__ = ["FIELDS", "INITS", "NOISE_KINDS", "SweepPlan", "load_config", "parse_config", "normalize_run",
           "canonical_json", "config_hash", "demo_config_path", "MAX_RUNS", "HASH_VERSION"]

#: Starting points of a run.
INITS = ("computed", "perturbed", "random")
#: ``relative``: every weight w becomes w·(1 + noise·ε); ``absolute``: w + noise·ε (ε ~ N(0, 1)).
NOISE_KINDS = ("relative", "absolute")
#: More runs than this in one file is a typo.
MAX_RUNS = 100_000
#: Part of every hash: bump it when a run's meaning changes, so old rows are not taken for new ones.
HASH_VERSION = "blockloop-sweep-run-v1"
#: Top-level keys of a sweep file.
TOP_KEYS = ("name", "description", "retries", "base", "grid", "runs")
#: The study's training sequence length, the longest a run may use (see :func:`steps`).
TRAIN_STEPS = 1001


@dataclass(frozen=True)
class Field:
    """One run field: its kind (``"str"``, ``"int"``, ``"float"``), default, allowed values and meaning."""

    kind: str
    default: object
    help: str
    choices: tuple | None = None
    lo: float | None = None          # smallest allowed value
    lo_open: bool = False            # lo itself not allowed
    hi: float | None = None          # largest allowed value
    nullable: bool = False           # "none" / null allowed


#: Every run field, its type, default and range. ``None`` defaults are resolved per ``init``.
FIELDS: dict[str, Field] = {
    "init": Field("str", "computed", "starting weights: computed, perturbed (computed + noise) or random",
                  choices=INITS),
    "noise": Field("float", 0.0, "perturbation size for init = perturbed (relative: fraction of each weight)",
                   lo=0.0, hi=1e6),
    "noise_kind": Field("str", "relative", "relative (w·(1 + noise·ε)) or absolute (w + noise·ε)",
                        choices=NOISE_KINDS, nullable=True),
    "seed": Field("int", 0, "draws the training input, the random start and the noise", lo=0, hi=2**32 - 1),
    "lr0": Field("float", None, "initial learning rate (default: the published run's)", lo=0.0, lo_open=True),
    "drop_factor": Field("float", None, "learning-rate drop factor, 0 < f ≤ 1 (default: the published run's)",
                         lo=0.0, lo_open=True, hi=1.0),
    "drop_period": Field("int", None, "epochs between learning-rate drops (default: the published run's)",
                         lo=1, hi=10**9),
    "epochs": Field("int", 1000, "epochs (full-batch Adam iterations)", lo=1, hi=10**8),
    "steps": Field("int", TRAIN_STEPS, f"training samples, the first of the study's {TRAIN_STEPS}", lo=2,
                   hi=TRAIN_STEPS),
    "units": Field("str", "n+m", "n+m (states + inputs, exact D) or n (states only)", choices=("n+m", "n")),
    "realization": Field("str", "matlab", "state coordinates of the computed weights",
                         choices=REALIZATIONS),
    "scl": Field("float", 1e-3, "input scaling of the computed weights", lo=0.0, lo_open=True, hi=1e6),
    "beta": Field("float", 100.0, "gate bias of the computed weights", lo=0.0, lo_open=True, hi=1e6),
    "grad_threshold": Field("float", None, "per-learnable gradient clipping norm, or \"none\" "
                            "(default: the published run's, 1)", lo=0.0, lo_open=True, nullable=True),
}


def _published_defaults(init: str) -> dict:
    from .. import published as pub

    opts = (pub.RUN_RANDOM if init == "random" else pub.RUN_COMPUTED)["options"]
    return {k: opts[k] for k in ("lr0", "drop_factor", "drop_period", "grad_threshold")}


@dataclass(frozen=True)
class SweepPlan:
    """The distinct runs of a sweep file, in order.

    Attributes
    ----------
    runs : canonical run configurations (dicts with every field of :data:`FIELDS`), no two equal
    hashes : their :func:`config_hash`, same order
    duplicates : how many configurations of the file repeated an earlier one (not listed again)
    name, description : from the file; retries : Dask retries per run
    source : the file read (None for a dict)
    """

    runs: tuple
    hashes: tuple
    duplicates: int = 0
    name: str = "sweep"
    description: str = ""
    retries: int = 2
    source: str | None = None
    raw: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.runs)


def canonical_json(config: Mapping) -> str:
    """The one JSON text of a run configuration: sorted keys, no spaces, floats as Python's repr.

    Examples
    --------
    >>> canonical_json({"seed": 1, "lr0": 0.0001, "init": "computed"})
    '{"init":"computed","lr0":0.0001,"seed":1}'
    """
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: Mapping) -> str:
    """SHA-256 (64 hex digits) of :data:`HASH_VERSION` and the :func:`canonical_json` of a run."""
    return hashlib.sha256(f"{HASH_VERSION}\n{canonical_json(config)}".encode()).hexdigest()


def _type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _check_value(name: str, value, where: str, path) -> object:
    """One field's value, converted (int → float for float fields) and range-checked."""
    spec = FIELDS[name]
    if spec.nullable and (value is None or (isinstance(value, str) and value.lower() == "none")):
        return None
    if spec.kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, one of {list(spec.choices)}, got {_type_name(value)} {value!r}",
                              path, where)
        if value not in spec.choices:
            raise ConfigError(f"expected one of {list(spec.choices)}, got {value!r}", path, where)
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected an integer, got {_type_name(value)} {value!r}", path, where)
        out = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = ' or "none"' if spec.nullable else ""
            raise ConfigError(f"expected a number{extra}, got {_type_name(value)} {value!r}", path, where)
        out = float(value)
        if not math.isfinite(out):
            raise ConfigError(f"expected a finite number, got {value!r}", path, where)
    low_ok = spec.lo is None or (out > spec.lo if spec.lo_open else out >= spec.lo)
    high_ok = spec.hi is None or out <= spec.hi
    if not (low_ok and high_ok):
        lo = "" if spec.lo is None else f"{'>' if spec.lo_open else '≥'} {spec.lo:g}"
        hi = "" if spec.hi is None else f"≤ {spec.hi:g}"
        raise ConfigError(f"{value!r} is out of range: expected {' and '.join(p for p in (lo, hi) if p)} "
                          f"({spec.help})", path, where)
    return out


def normalize_run(values: Mapping, where: str = "run", path=None) -> dict:
    """The canonical configuration of one run from its fields (defaults filled, see the module notes).

    Parameters
    ----------
    values : field → value (unknown fields are an error)
    where : how the error messages name this run (``"runs[2]"``); path : the file, for messages

    Raises
    ------
    ConfigError
        Naming the key: an unknown field, a wrong type or a value out of range.

    Examples
    --------
    >>> cfg = normalize_run({"init": "random", "noise": 0.1, "seed": 3})
    >>> cfg["noise"], cfg["noise_kind"], cfg["lr0"], cfg["drop_factor"], cfg["epochs"]
    (0.0, None, 0.04, 0.98, 1000)
    >>> normalize_run({"init": "perturbed", "noise": 0.0})["init"]
    'computed'
    """
    out = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise ConfigError(f"unknown key {key!r}; run fields are {', '.join(FIELDS)}", path,
                              f"{where}.{key}")
        out[key] = _check_value(key, value, f"{where}.{key}", path)
    for key, spec in FIELDS.items():
        if key not in out and spec.default is not None:
            out[key] = spec.default
    if out["init"] == "perturbed" and out["noise"] == 0.0:
        out["init"] = "computed"
    if out["init"] != "perturbed":
        out["noise"], out["noise_kind"] = 0.0, None
    elif out["noise_kind"] is None:
        out["noise_kind"] = FIELDS["noise_kind"].default
    for key, value in _published_defaults(out["init"]).items():
        if key not in out:
            out[key] = None if value is None else (float(value) if FIELDS[key].kind == "float" else int(value))
    return {k: out[k] for k in sorted(out)}


def _table(value, where: str, path) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a table (key = value pairs), got {_type_name(value)}", path, where)
    return dict(value)


def _grid_points(grid: Mapping, where: str, path) -> tuple[list[str], list[list]]:
    keys, axes = [], []
    for key, values in grid.items():
        if key not in FIELDS:
            raise ConfigError(f"unknown key {key!r}; run fields are {', '.join(FIELDS)}", path, f"{where}.{key}")
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if not values:
            raise ConfigError("empty list: give at least one value", path, f"{where}.{key}")
        for i, v in enumerate(values):  # check each value where it is written, so the message names it
            _check_value(key, v, f"{where}.{key}[{i}]" if len(values) > 1 or isinstance(grid[key], list)
                         else f"{where}.{key}", path)
        keys.append(key)
        axes.append(values)
    return keys, axes


def parse_config(data: Mapping, path: str | None = None) -> SweepPlan:
    """A :class:`SweepPlan` from an already-parsed file (a dict of the top-level keys).

    Raises
    ------
    ConfigError
        Naming the key (``grid.lr0[1]``, ``runs[0].epochs``, ``base.init``, ``retries``).

    Examples
    --------
    >>> plan = parse_config({"base": {"epochs": 5}, "grid": {"init": ["computed", "random"], "seed": [0, 1]}})
    >>> len(plan), [(r["init"], r["seed"]) for r in plan.runs]
    (4, [('computed', 0), ('computed', 1), ('random', 0), ('random', 1)])
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table of {', '.join(TOP_KEYS)} at the top, got {_type_name(data)}", path)
    for key in data:
        if key not in TOP_KEYS:
            hint = " (run fields go under [base], [grid] or [[runs]])" if key in FIELDS else ""
            raise ConfigError(f"unknown key {key!r}; expected some of {', '.join(TOP_KEYS)}{hint}", path, str(key))
    name = data.get("name", "sweep")
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {_type_name(value)} {value!r}", path, key)
    retries = data.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise ConfigError(f"expected an integer, got {_type_name(retries)} {retries!r}", path, "retries")
    if not 0 <= retries <= 10:
        raise ConfigError(f"{retries} is out of range: expected 0 … 10", path, "retries")
    base = _table(data.get("base", {}), "base", path)
    normalize_run(base, "base", path)  # names a bad base key as base.<key>

    grids = data.get("grid", [])
    grids = [grids] if isinstance(grids, Mapping) else grids
    if not isinstance(grids, list):
        raise ConfigError(f"expected a table or an array of tables, got {_type_name(grids)}", path, "grid")
    points: list[tuple[str, dict]] = []
    count = 0
    for g, grid in enumerate(grids):
        where = "grid" if len(grids) == 1 and isinstance(data.get("grid"), Mapping) else f"grid[{g}]"
        keys, axes = _grid_points(_table(grid, where, path), where, path)
        count += math.prod(len(a) for a in axes)
        if count > MAX_RUNS:
            raise ConfigError(f"the grids make more than {MAX_RUNS:,} runs", path, where)
        for combo in itertools.product(*axes):
            points.append((where, dict(zip(keys, combo, strict=True))))
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise ConfigError(f"expected an array of tables, got {_type_name(runs)}", path, "runs")
    for i, run in enumerate(runs):
        points.append((f"runs[{i}]", _table(run, f"runs[{i}]", path)))
    if len(points) > MAX_RUNS:
        raise ConfigError(f"more than {MAX_RUNS:,} runs", path, "runs")
    if not grids and not runs:
        points.append(("base", {}))

    configs, hashes, seen, duplicates = [], [], set(), 0
    for where, point in points:
        cfg = normalize_run({**base, **point}, where, path)
        h = config_hash(cfg)
        if h in seen:
            duplicates += 1
            continue
        seen.add(h)
        configs.append(cfg)
        hashes.append(h)
    return SweepPlan(runs=tuple(configs), hashes=tuple(hashes), duplicates=duplicates, name=name,
                     description=description, retries=retries, source=path, raw=dict(data))


def _no_duplicate_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"key {key!r} given twice")
        out[key] = value
    return out


def load_config(path) -> SweepPlan:
    """Read a sweep file (``.toml`` or ``.json``) into a :class:`SweepPlan`.

    Raises
    ------
    ConfigError
        A missing or unreadable file, a suffix other than .toml/.json, a syntax error, or a bad
        key or value (named).
    """
    path = Path(path)
    where = str(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"expected a .toml or .json file, got suffix {path.suffix!r}", where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", where) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}", where) from None
        except ConfigError as exc:
            raise ConfigError(str(exc), where) from None
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                raise ConfigError("reading TOML needs Python ≥ 3.11 (tomllib) or the tomli package; "
                                  "or write the sweep as JSON", where) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", where) from None
    return parse_config(data, where)


def demo_config_path() -> Path:
    """The small sweep shipped with the package (``blockloop sweep --demo``)."""
    from importlib.resources import files

    return Path(str(files("blockloop.study.sweep") / "demo.toml"))
