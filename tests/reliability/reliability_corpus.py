"""A generated corpus of malformed diagram files and bad API calls, and the oracle that judges them.

Nothing here is hand-listed case by case: the file corpus saves real diagrams and mutates every
node of their JSON by type substitution (``SUBSTITUTES``), then applies semantic mutations (unknown
block types, dangling and duplicate wires, huge counts, deep nesting) and damages the ``.npz``
(truncation, bad deflate data, a member without the ``.npy`` magic, an absurd declared shape, a
pickled object array). The API corpus substitutes the same values for every argument of the block
constructors, ``Diagram.add``/``connect``, ``simulate`` and the LSTM/torch builders.

The oracle (:func:`judge`) runs a case and sorts its outcome:

* ``"ok"``: it ran, and what was accepted is exactly what was written (:func:`same_value`: the
  block parameters read back equal the file's values, type for type: no ``"0.5"`` read as 0.5, no
  ``true`` as 1, no 3.7 as 3, no ``null`` as NaN);
* ``"typed"``: a :class:`blockloop.errors.BlockloopError` whose message names the place (or, for
  a value that overflowed while running, the block and step where it first became non-finite:
  a legal but extreme parameter, say x0 = 1e308, is reported where its consequence overflows);
* a failure: ``"bare"`` (any other exception), ``"unlocated"`` (typed, but the message names
  none of the expected places), ``"silent"`` (accepted, but read back as something else),
  ``"slow"`` (over :data:`TIME_LIMIT_S`).

Run as a script to print the failure counts per class (used to measure before and after fixes).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import json
import math
import signal
import struct
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blockloop.blocks import (
    BLOCK_TYPES,
    Abs,
    Constant,
    DeadZone,
    Demux,
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    FromArray,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Probe,
    Product,
    Pulse,
    Ramp,
    Saturation,
    Selector,
    Sigmoid,
    Sine,
    Step,
    Sum,
    Switch,
    Tanh,
    UnitDelay,
)
from blockloop.diagrams import NetworkWeights, lstm_network, state_space_diagram
from blockloop.diagrams.examples import accumulator, delay_line, gain_feedback, wrapped
from blockloop.engine import Diagram
from blockloop.errors import BlockloopError
from blockloop.io import decode_diagram, encode_diagram, load_diagram, save_diagram

TIME_LIMIT_S = 1.0
HARD_LIMIT_S = 5.0  # a case still running then is stopped (and counted as slow)

#: What every node of a saved file is replaced by, in turn (and every argument of an API call).
SUBSTITUTES = {
    "str_num": "0.5",
    "str_pad": " 2 ",
    "str_empty": "",
    "str_digits": "3333",
    "true": True,
    "false": False,
    "float": 3.7,
    "float_int": 2.0,
    "int": 2,
    "zero": 0,
    "negative": -1,
    "null": None,
    "list_empty": [],
    "list_int": [1],
    "list_bool": [True],
    "list_str": ["1.0"],
    "dict_empty": {},
    "dict": {"x": 1},
    "huge_int": 10**30,
    "huge_float": 1e308,
    "nan": float("nan"),
    "inf": float("inf"),
}


#: Values a diagram's ``sample_time`` field is also set to (besides :data:`SUBSTITUTES`): refused
#: (an int beyond a float, −0.0, a negative tiny number) or kept exactly (a subnormal, a huge float).
SAMPLE_TIME_MUTATIONS = (10**400, -(10**400), -0.0, -1e-300, 5e-324, 1.5e300)


# -- the diagrams that are saved and mutated -----------------------------------------------------
def kitchen_sink() -> Diagram:
    """Every library block type once, wired into one diagram that compiles and runs."""
    d = Diagram("kitchen")
    for name, block in [
        ("u", Inport(2)), ("c", Constant([1.0, 2.0])), ("g1", Gain(0.5)), ("g2", Gain([1.0, -1.0])),
        ("p", Product(3)), ("s", Sum("+-")), ("z", UnitDelay([0.0, 0.5])), ("fa", FromArray(np.ones((5, 1)))),
        ("m", Mux(2)), ("dm", Demux([2, 1], names=["a", "b"])), ("sel", Selector([1, 0, 1])),
        ("gm", Gain(np.arange(6.0).reshape(2, 3))), ("sg", Sigmoid()), ("th", Tanh()), ("pr", Probe()),
        ("y", Outport()), ("y2", Outport()),
    ]:
        d.add(name, block)
    d.chain("u", "g1", "g2", "p.u1")
    d.connect("u", "p.u2")
    d.connect("c", "p.u3")
    d.connect("p", "s.u1")
    d.connect("z", "s.u2")
    d.connect("s", "z")
    d.connect("s", "m.u1")
    d.connect("fa", "m.u2")
    d.connect("m", "dm")
    d.chain("dm.a", "sel", "gm", "sg", "y")
    d.chain("dm.b", "th", "pr")
    d.connect("th", "y2")
    return d


def control_sink() -> Diagram:
    """The non-smooth, math, matrix and source blocks, each once, every parameter written, in one runnable diagram.

    u (2) → Saturation → DeadZone → Abs → MathFunction(exp); [exp; u] (a 2×2 matrix) · Saturation's
    output (2×1) → MatrixProduct → MinMax(min) with Abs → y. Step, Ramp, Sine → Switch; Switch,
    Pulse, Step → MinMax(max) → y2.
    """
    d = Diagram("control")
    for name, block in [
        ("u", Inport(2)), ("sat", Saturation(-1.0, 1.0)), ("dz", DeadZone(-0.25, 0.5)), ("ab", Abs()),
        ("mf", MathFunction("exp")), ("mx", Mux(2)), ("mp", MatrixProduct(2, 2, 1)), ("lo", MinMax("min", 2)),
        ("st", Step(2, initial=0.0, final=1.5)), ("rp", Ramp(0.5, start=1, initial=-1.0)),
        ("sn", Sine(1.0, 0.125, phase=0.25, bias=0.0)), ("pl", Pulse(2.0, period=4, width=2, delay=1)),
        ("sw", Switch(0.0, ">=")), ("hi", MinMax("max", 3)), ("y", Outport()), ("y2", Outport()),
    ]:
        d.add(name, block)
    d.chain("u", "sat", "dz", "ab", "mf", "mx.u1")
    d.connect("u", "mx.u2")
    d.connect("mx", "mp.u1")
    d.connect("sat", "mp.u2")
    d.connect("mp", "lo.u1")
    d.connect("ab", "lo.u2")
    d.connect("lo", "y")
    d.connect("st", "sw.u1")
    d.connect("sn", "sw.control")
    d.connect("rp", "sw.u2")
    d.connect("sw", "hi.u1")
    d.connect("pl", "hi.u2")
    d.connect("st", "hi.u3")
    d.connect("hi", "y2")
    return d


def linear_sink() -> Diagram:
    """The stateful linear blocks, each with and without feedthrough, every parameter written, in one runnable diagram.

    u (2) → DiscreteStateSpace (D ≠ 0) → Sum ← DiscreteStateSpace (D = 0) fed back from the Sum (a loop
    closed by the D = 0 block, no UnitDelay); the Sum → DiscreteTransferFunction (num[0] ≠ 0) → Sum2 ←
    DiscreteTransferFunction (num[0] = 0) fed back from Sum2; Sum2 → DiscreteIntegrator (backward) →
    DiscreteIntegrator (forward, K, Ts, x0 written) → y.
    """
    d = Diagram("linear")
    for name, block in [
        ("u", Inport(2)),
        ("ss", DiscreteStateSpace([[0.5, 0.1], [0.0, 0.25]], [[1.0, 0.0], [0.5, 1.0]], [[1.0, -1.0]], [[0.5, 0.25]],
                                  x0=[0.0, 1.0])),
        ("s1", Sum("++")),
        ("fb", DiscreteStateSpace([[0.5]], [[1.0]], [[-0.25]], [[0.0]], x0=0.5)),
        ("tf", DiscreteTransferFunction([1.0, 0.5], [1.0, -0.5, 0.06], x0=[0.0, 0.25])),
        ("s2", Sum("+-")),
        ("tf0", DiscreteTransferFunction([0.0, 0.5], [2.0, 0.5], x0=0.0)),
        ("ib", DiscreteIntegrator(K=0.5, Ts=0.1, method="backward", x0=0.0)),
        ("if", DiscreteIntegrator(K=2.0, Ts=1, method="forward", x0=[1.0])),
        ("y", Outport()),
    ]:
        d.add(name, block)
    d.chain("u", "ss", "s1.u1")
    d.chain("s1", "fb", "s1.u2")
    d.chain("s1", "tf", "s2.u1")
    d.chain("s2", "tf0", "s2.u2")
    d.chain("s2", "ib", "if", "y")
    return d


def nested(levels: int = 3) -> Diagram:
    """An accumulator inside ``levels`` wrappers, with a Probe at the bottom."""
    inner = Diagram("leaf")
    for name, block in [("x", Inport()), ("g", Gain(2.0)), ("pr", Probe()), ("o", Outport())]:
        inner.add(name, block)
    inner.chain("x", "g", "o")
    inner.connect("g", "pr")
    d = inner
    for k in range(levels):
        sub = wrapped(d, f"w{k}", block="m", ports=("x", "o"))
        d = sub
    return wrapped(d, "top", block="m")


def timed_nested() -> Diagram:
    """:func:`nested` with a sample time at the top level (0.25 s) and on its first subsystem (an int, 2 s).

    Saved, both are ``"sample_time"`` fields (schema 2), so the corpus substitutes and mutates them.
    """
    d = nested()
    d.Ts = 0.25
    d.blocks["m"].Ts = 2
    return d


def small_network() -> Diagram:
    w = NetworkWeights.random(ni=2, nn=2, no=1, seed=3)
    return lstm_network(NetworkWeights(layers=w.layers, F=w.F, F_bias=np.array([0.25])))


def base_diagrams() -> dict:
    """Name → diagram: the examples, the LSTM network, a state-space system, nesting, every block type."""
    return {
        "accumulator": accumulator(),
        "gain_feedback": gain_feedback(),
        "delay_line": delay_line(),
        "state_space": state_space_diagram(([[0.9, 0.1], [0.0, 0.8]], [[1.0], [0.5]], [[1.0, 0.0]], [[0.0]])),
        "lstm": small_network(),
        "nested": timed_nested(),
        "kitchen": kitchen_sink(),
        "control": control_sink(),
        "linear": linear_sink(),
    }


# -- comparing what was written with what was read back -------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(value):
    """The leaves of a number or nested list of numbers, or None if anything else is in it."""
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        elif _is_number(v) and math.isfinite(v):
            out.append(float(v))
        else:
            return None
    return out


def same_value(written, read, arrays_written, arrays_read) -> bool:
    """Whether a file value ``written`` was read back as ``read`` without any coercion.

    JSON values must come back identical, type for type (``2`` is not ``2.0`` is not ``true``). An
    array reference must come back as an array of the same dtype and bits; an inline number or list
    of numbers (the documented hand-written form) as a float64 array of the same values.
    """
    if isinstance(read, dict) and "$array" in read:
        got = arrays_read[read["$array"]]
        if isinstance(written, dict) and "$array" in written:
            want = arrays_written.get(written["$array"])
            return (want is not None and want.dtype == got.dtype and want.shape == got.shape
                    and want.tobytes() == got.tobytes())
        leaves = _numbers(written)
        return (leaves is not None and got.dtype == np.float64 and got.size == len(leaves)
                and got.reshape(-1).tolist() == leaves)
    if type(written) is not type(read):
        return False
    if isinstance(written, list):
        return len(written) == len(read) and all(
            same_value(a, b, arrays_written, arrays_read) for a, b in zip(written, read, strict=True))
    if isinstance(written, dict):
        return written.keys() == read.keys() and all(
            same_value(written[k], read[k], arrays_written, arrays_read) for k in written)
    if isinstance(written, float) and math.isnan(written):
        return False
    return written == read


def _normalised(doc: dict) -> dict:
    """The document as :func:`encode_diagram` would write it: optional fields filled in."""
    doc = copy.deepcopy(doc)
    stack = [doc]
    while stack:
        d = stack.pop()
        for b in d.get("blocks", []):
            if isinstance(b, dict) and b.get("type") == "Diagram":
                stack.append(b["diagram"])
            elif isinstance(b, dict):
                b.setdefault("params", {})
                cls = BLOCK_TYPES.get(b.get("type"))
                if cls is not None and isinstance(b["params"], dict):  # a parameter left out takes its default
                    for p in inspect.signature(cls).parameters.values():
                        if p.default is not inspect.Parameter.empty and p.name not in b["params"]:
                            b["params"][p.name] = _plain_default(p.default)
                if b.get("type") == "Selector" and _is_number(b["params"].get("indices")):
                    b["params"]["indices"] = [b["params"]["indices"]]  # documented: one int is one index
        d.setdefault("inputs", None)
        d.setdefault("outputs", None)
        if "sample_time" in d and d["sample_time"] is None:  # documented: null is the same as no sample time
            del d["sample_time"]
    return doc


def _plain_default(value):
    """A constructor default as the file would write it (an array default as its number)."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _fill_io(written: dict, read: dict) -> None:
    """Optional inputs/outputs lists that the file left out are compared as what was read."""
    stack = [(written, read)]
    while stack:
        w, r = stack.pop()
        for key in ("inputs", "outputs"):
            if w.get(key) is None:
                w[key] = r[key]
        for bw, br in zip(w.get("blocks", []), r.get("blocks", []), strict=False):
            if isinstance(bw, dict) and bw.get("type") == "Diagram" and isinstance(br, dict) and "diagram" in br:
                stack.append((bw["diagram"], br["diagram"]))


# -- running a case ------------------------------------------------------------------------------
@dataclass
class Outcome:
    kind: str               # ok, typed, bare, unlocated, silent, slow
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.kind not in ("ok", "typed")


def run_program(diagram: Diagram, steps: int = 3):
    """Compile and simulate (interpreter, ``steps`` steps, zero inputs of the inferred sizes)."""
    program = diagram.compile()
    inputs = {name: np.zeros((steps, program.size(name, "y"))) for name in program.inputs}
    return program.simulate(inputs, steps=steps, backend="interpreter")


class _Timeout(BaseException):
    """Raised by the alarm of :func:`_deadline` (a BaseException, so no ``except Exception`` eats it)."""


@contextlib.contextmanager
def _deadline(seconds: float):
    """Interrupt the block after ``seconds`` (main thread on POSIX; elsewhere no limit)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def judge(action, places, accepted=None, valid: bool | None = None) -> Outcome:
    """Run ``action()``; judge a typed error by ``places`` and an accepted value by ``accepted``.

    ``places``: strings of which the error message must contain at least one. ``accepted``: called
    with ``action()``'s result when it succeeded; returns "" when the result is faithful, else why not.
    ``valid``: True when the documentation says the call is valid (an error is then a failure,
    ``"rejected"``), False when it says it is not (success is then ``"silent"``).
    """
    t0 = time.perf_counter()
    try:
        with _deadline(HARD_LIMIT_S):
            result = action()
    except _Timeout:
        return Outcome("slow", f"stopped after {HARD_LIMIT_S} s", time.perf_counter() - t0)
    except BlockloopError as exc:
        dt = time.perf_counter() - t0
        msg = str(exc)
        if valid:
            return Outcome("rejected", f"{type(exc).__name__}: {msg[:300]}", dt)
        if dt > TIME_LIMIT_S:
            return Outcome("slow", f"{dt:.2f} s: {msg[:200]}", dt)
        overflow_site = getattr(exc, "block", None) is not None and f"'{exc.block}" in msg
        if places and not overflow_site and not any(
                (p in msg) if isinstance(p, str) else all(q in msg for q in p) for p in places):
            return Outcome("unlocated", f"{type(exc).__name__}: {msg[:300]} (expected one of {places[:4]})", dt)
        return Outcome("typed", f"{type(exc).__name__}: {msg[:200]}", dt)
    except Exception as exc:  # noqa: BLE001 - the point is to catch what should not escape
        dt = time.perf_counter() - t0
        return Outcome("bare", f"{type(exc).__name__}: {str(exc)[:300]}", dt)
    dt = time.perf_counter() - t0
    if dt > TIME_LIMIT_S:
        return Outcome("slow", f"{dt:.2f} s (accepted)", dt)
    why = accepted(result) if accepted is not None else ""
    if valid is False and not why:
        why = "a bad value was accepted"
    return Outcome("silent", why, dt) if why else Outcome("ok", "", dt)


# -- file corpus ---------------------------------------------------------------------------------
@dataclass
class FileCase:
    """A mutated document (or damaged files) and the places its error must name."""

    name: str
    kind: str                       # node, semantic, npz
    doc: dict | None = None
    places: list = field(default_factory=list)
    files: tuple | None = None      # (json path) for cases run through load_diagram
    strict: bool = True             # compare what was read with what was written


@dataclass
class Saved:
    name: str
    diagram: Diagram
    doc: dict
    arrays: dict
    json_path: Path


def save_bases(folder: Path) -> list[Saved]:
    out = []
    for name, d in base_diagrams().items():
        path = save_diagram(d, folder / f"{name}.json")
        doc = json.loads(path.read_text())
        _, arrays = encode_diagram(d)
        out.append(Saved(name, d, doc, arrays, path))
    return out


def _walk(doc):
    """Every (path, value) of a JSON document, root excluded, parents before children."""
    stack = [((), doc)]
    while stack:
        path, value = stack.pop()
        if path:
            yield path, value
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def places_for(doc: dict, path: tuple) -> list[str]:
    """Where an error caused at ``path`` may be reported: its file location, or a block path.

    The file location is the decoder's ``blocks[1] ("lstm1").diagram.blocks[3]`` form, cut at the
    innermost block or wire entry (without its name, which the mutation may have changed); the
    block forms are that entry's flattened block path, quoted (``'lstm1/W'``, ``'lstm1/W.``, or for
    a subsystem port ``'lstm1.x'``), and for a wire both ends' blocks.
    """
    parts, cut, forms, prefix, node = [], None, [], [], doc
    for i, p in enumerate(path):
        parent_key = path[i - 1] if i else None
        entry = node[p] if isinstance(node, list) and isinstance(p, int) and p < len(node) else None
        if isinstance(p, int):
            parts.append(f"[{p}]")
            if parent_key in ("blocks", "wires"):
                cut = "".join(parts)
                if parent_key == "blocks" and isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    parts.append(f' ("{entry["name"]}")')
                    forms = _block_forms(prefix, entry["name"])
                    if i + 2 < len(path) and path[i + 1] == "diagram":
                        prefix = [*prefix, entry["name"]]
                elif parent_key == "wires" and isinstance(entry, dict):
                    forms = [f for end in (entry.get("from"), entry.get("to")) if isinstance(end, str)
                             for f in _block_forms(prefix, end.partition(".")[0])]
        else:
            parts.append(f".{p}" if parts else str(p))
        if isinstance(node, dict):
            node = node.get(p)
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            node = None
    location = cut if cut is not None else "".join(parts)
    places = ([location] if location else []) + forms
    # a load error inside a subsystem names blocks by their local names, next to the subsystem's location
    diagram_path = path[:-2] if len(path) >= 2 and path[-2] in ("blocks", "wires") else None
    for i in range(len(path) - 1, 0, -1):
        if path[i - 1] in ("blocks", "wires") and isinstance(path[i], int):
            diagram_path = path[:i - 1]
            break
    if diagram_path is not None:
        sub = _get(doc, diagram_path)
        sub_loc = "".join(parts[:_rendered_length(doc, diagram_path)])
        local = []
        for f in forms:
            name = f.strip("'./").rpartition("/")[2]
            local += [f"'{name}.", f"'{name}'"]
        places += [(sub_loc, f) for f in dict.fromkeys(local)] if sub_loc else list(dict.fromkeys(local))
    if path and path[-1] in ("wires", "blocks"):  # the whole list replaced: any of the diagram's blocks
        sub = _get(doc, path[:-1])
        names = [b["name"] for b in sub.get("blocks", []) if isinstance(b, dict) and isinstance(b.get("name"), str)]
        prefix_text = "/".join(prefix)
        places += [f"'{prefix_text + '/' if prefix_text else ''}{n}." for n in names]
        places += [f"'{prefix_text + '/' if prefix_text else ''}{n}'" for n in names]
    return places


def _rendered_length(doc, path) -> int:
    """How many of places_for's rendered parts the location of ``path`` (a diagram) takes."""
    count, node = 0, doc
    for i, p in enumerate(path):
        count += 1
        if isinstance(p, int) and i > 0 and path[i - 1] == "blocks":
            count += 1  # the (" name") part
        node = node[p]
    return count


def _block_forms(prefix: list, name: str) -> list[str]:
    full = "/".join([*prefix, name])
    forms = [f"'{full}'", f"'{full}.", f"'{full}/"]
    if prefix:
        forms.append(f"'{'/'.join(prefix)}.{name}'")
    return forms


def node_cases(saved: Saved, substitutes=SUBSTITUTES):
    """Every node of the saved JSON replaced by every substitute of another type or value."""
    for path, value in list(_walk(saved.doc)):
        for key, sub in substitutes.items():
            if type(sub) is type(value) and (sub == value or (isinstance(sub, (dict, list)) and not sub and not value)):
                continue
            doc = copy.deepcopy(saved.doc)
            parent = _get(doc, path[:-1])
            parent[path[-1]] = copy.deepcopy(sub)
            where = "/".join(map(str, path))
            yield FileCase(f"{saved.name}:{where}={key}", "node", doc, places_for(saved.doc, path))


def _entries(doc, prefix=()):
    """(path, entry, block path) of every block entry, depth first."""
    stack = [(doc, (), ())]
    while stack:
        d, path, names = stack.pop()
        for i, b in enumerate(d["blocks"]):
            bp = (*path, "blocks", i)
            yield bp, b, "/".join((*names, b["name"]))
            if b["type"] == "Diagram":
                stack.append((b["diagram"], (*bp, "diagram"), (*names, b["name"])))


def _wire_lists(doc):
    stack = [(doc, (), ())]
    while stack:
        d, path, names = stack.pop()
        yield path, d, names
        for i, b in enumerate(d["blocks"]):
            if b["type"] == "Diagram":
                stack.append((b["diagram"], (*path, "blocks", i, "diagram"), (*names, b["name"])))


def semantic_cases(saved: Saved):
    """Unknown types, dangling/duplicate/missing wires, huge counts, huge sizes, on every entry."""
    doc0 = saved.doc
    for path, entry, full in _entries(doc0):
        quoted = [f"'{full}'", f"'{full}.", f"'{full}/"]
        loc = places_for(doc0, path)
        for bogus in ("Sigmoidd", "__import__('os')", "diagram", "Block", "object"):
            doc = copy.deepcopy(doc0)
            _get(doc, path)["type"] = bogus
            yield FileCase(f"{saved.name}:{full}:type={bogus}", "semantic", doc, loc)
        params = entry.get("params", {})
        for key in params:
            huge = {"n_inputs": [10**9, 10**6, 5000], "size": [10**9, 10**12], "signs": ["+" * 100_000],
                    "sizes": [[10**9, 10**9], [1] * 20_000], "indices": [[10**9], [10**18]],
                    "m": [10**9, 10**5], "k": [10**9, 10**5], "n": [10**9, 10**5], "step_time": [2**60, 2**53],
                    "start": [2**60], "period": [2**60, 2**53], "delay": [2**60, 2**53]}.get(key, [])
            for h in huge:
                doc = copy.deepcopy(doc0)
                _get(doc, path)["params"][key] = h
                tag = h if isinstance(h, int) else f"{type(h).__name__}{len(h)}"
                yield FileCase(f"{saved.name}:{full}:{key}={tag}", "semantic", doc, loc + quoted, strict=False)
        doc = copy.deepcopy(doc0)
        _get(doc, path[:-1]).append(copy.deepcopy(entry))
        yield FileCase(f"{saved.name}:{full}:duplicate-block", "semantic", doc, [f"'{entry['name']}'"])
    for path, d, _ in _wire_lists(doc0):
        if "sample_time" in d:  # beyond the substitutes: ints past a float, signed zero, tiny and subnormal numbers
            for value in SAMPLE_TIME_MUTATIONS:
                doc = copy.deepcopy(doc0)
                _get(doc, path)["sample_time"] = value
                where = "/".join(map(str, (*path, "sample_time")))
                yield FileCase(f"{saved.name}:{where}={str(value)[:12]}", "semantic", doc,
                               places_for(doc0, (*path, "sample_time")))
    for path, d, names in _wire_lists(doc0):
        for i, w in enumerate(d["wires"]):
            wpath = (*path, "wires", i)
            loc = places_for(doc0, wpath)
            ends = []
            for end in (w["from"], w["to"]):
                full = "/".join((*names, end.partition(".")[0]))
                ends += [f"'{full}'", f"'{full}.", f"'{full}/"]
                if names:
                    ends.append(f"'{'/'.join(names)}.{end.partition('.')[0]}'")
            for key, value in (("to", "nosuch.u"), ("from", "nosuch.y"), ("to", w["to"].partition(".")[0] + ".zz"),
                               ("from", w["from"].partition(".")[0] + ".zz"), ("from", w["to"]), ("to", w["from"])):
                doc = copy.deepcopy(doc0)
                _get(doc, wpath)[key] = value
                yield FileCase(f"{saved.name}:{'/'.join(map(str, wpath))}:{key}={value}", "semantic", doc, loc + ends)
            doc = copy.deepcopy(doc0)
            _get(doc, (*path, "wires")).append(dict(w))
            yield FileCase(f"{saved.name}:{'/'.join(map(str, wpath))}:duplicate", "semantic", doc,
                           places_for(doc0, (*path, "wires", len(d["wires"]))) + ends)
            doc = copy.deepcopy(doc0)
            del _get(doc, (*path, "wires"))[i]
            yield FileCase(f"{saved.name}:{'/'.join(map(str, wpath))}:missing", "semantic", doc, loc + ends,
                           strict=False)


def deep_document(levels: int) -> dict:
    """A file nesting ``levels`` subsystems, each an Inport → subsystem → Outport wrapper (gain 2 inside)."""
    inner = {"name": "leaf", "blocks": [{"name": "x", "type": "Inport", "params": {"size": 1}},
                                        {"name": "g", "type": "Gain", "params": {"K": 2.0}},
                                        {"name": "o", "type": "Outport", "params": {}}],
             "wires": [{"from": "x.y", "to": "g.u"}, {"from": "g.y", "to": "o.u"}]}
    for k in range(levels):
        inner = {"name": f"w{k}", "blocks": [{"name": "x", "type": "Inport", "params": {}},
                                             {"name": "m", "type": "Diagram", "diagram": inner},
                                             {"name": "o", "type": "Outport", "params": {}}],
                 "wires": [{"from": "x.y", "to": "m.x"}, {"from": "m.o", "to": "o.u"}]}
    return {"format": "blockloop-diagram", "schema_version": 1, **inner}


# -- npz damage ----------------------------------------------------------------------------------
def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _header(shape, descr="<f8", fortran=False) -> bytes:
    """A version-1.0 ``.npy`` header declaring ``shape``, padded as numpy pads it."""
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)!r}, }}"
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def npz_damages(saved: Saved) -> list[tuple[str, bytes, list[str]]]:
    """(name, damaged .npz bytes, places) for a saved diagram with arrays."""
    raw = saved.json_path.with_suffix(".npz").read_bytes()
    key = next(iter(saved.arrays))
    member = f"{key}.npy"
    good = {f"{k}.npy": _npy_bytes(v) for k, v in saved.arrays.items()}
    npz = saved.json_path.with_suffix(".npz").name
    out = []
    for cut in (0, 3, 10, 40, len(raw) // 2, len(raw) - 1):
        out.append((f"truncated{cut}", raw[:cut], [npz]))
    stored = _zip(good, zipfile.ZIP_DEFLATED)
    body = bytearray(stored)
    offset = 30 + len(member)  # first member's data: after its local header and name
    for i in range(offset, min(offset + 12, len(body))):
        body[i] ^= 0xFF
    out.append(("bad-deflate", bytes(body), [npz]))
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0x55
    out.append(("flipped-byte", bytes(flipped), [npz]))
    out.append(("no-npy-magic", _zip({**good, member: b"not an npy file at all" * 4}), [npz, key]))
    out.append(("absurd-shape", _zip({**good, member: _header((10**6, 10**6)) + b"\0" * 64}), [npz, key]))
    out.append(("absurd-shape-overflow", _zip({**good, member: _header((2**62, 2**62)) + b"\0" * 64}), [npz, key]))
    out.append(("negative-shape", _zip({**good, member: _header((-1, 4)) + b"\0" * 64}), [npz, key]))
    out.append(("short-data", _zip({**good, member: _header((12, 4)) + b"\0" * 8}), [npz, key]))
    out.append(("huge-header", _zip({**good, member: b"\x93NUMPY\x02\x00" + struct.pack("<I", 10**8) + b"{"}),
                [npz, key]))
    pickled = b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94."
    out.append(("object-array", _zip({**good, member: _header((1,), "|O") + pickled}), [npz, key]))
    out.append(("structured", _zip({**good, member: _npy_bytes(np.zeros(3, dtype=[("a", "<f8")]))}), [key]))
    out.append(("int-array", _zip({**good, member: _npy_bytes(np.zeros((12, 4), dtype=np.int64))}), [key]))
    out.append(("single-npy", good[member], [npz]))
    out.append(("empty-zip", _zip({}), [key]))
    out.append(("not-npy-name", _zip({"x.bin": b"123"}), [npz, key]))
    out.append(("stored-unknown-method", _unknown_method(good), [npz, key]))
    out.append(("lying-size", _lying_size(good, member), [npz, key]))
    return out


def _unknown_method(good: dict) -> bytes:
    data = bytearray(_zip(good, zipfile.ZIP_STORED))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # every header's compression method → 99
        start = 0
        while (i := data.find(sig, start)) >= 0:
            at = i + (8 if sig == b"PK\x03\x04" else 10)
            data[at:at + 2] = struct.pack("<H", 99)
            start = i + 4
    return bytes(data)


def _lying_size(good: dict, member: str) -> bytes:
    """A zip whose directory claims the member is 2**40 bytes uncompressed (a decompression bomb's claim)."""
    data = bytearray(_zip({member: _header((2**37,)) + b"\0" * 64}))
    i = data.find(b"PK\x01\x02")
    data[i + 24:i + 28] = struct.pack("<I", 0xFFFFFFFF - 1)
    j = data.find(b"PK\x03\x04")
    data[j + 22:j + 26] = struct.pack("<I", 0xFFFFFFFF - 1)
    return bytes(data)


# -- summary when run as a script ----------------------------------------------------------------
def file_outcomes(folder: Path, every: int = 1):
    """(case name, kind, Outcome) for the whole file corpus (every ``every``-th node case)."""
    bases = save_bases(folder)
    for saved in bases:
        for i, case in enumerate(node_cases(saved)):
            if i % every:
                continue
            yield case.name, case.kind, run_doc_case(saved, case)
        for case in semantic_cases(saved):
            yield case.name, case.kind, run_doc_case(saved, case)
        if saved.arrays:
            for name, data, places in npz_damages(saved):
                yield f"{saved.name}:npz:{name}", "npz", run_npz_case(saved, folder, name, data, places)


def run_doc_case(saved: Saved, case: FileCase) -> Outcome:
    source = saved.json_path.name

    def action():
        d = decode_diagram(case.doc, saved.arrays, source=source)
        run_program(d)
        return d

    def accepted(d):
        doc2, arrays2 = encode_diagram(d)
        written = _normalised(case.doc)
        _fill_io(written, doc2)
        if type(written.get("schema_version")) is int and type(doc2.get("schema_version")) is int:
            # any version this reader accepts is read; the writer states the lowest that holds the
            # content (1 without a sample_time), so the number itself is not a value read back
            written["schema_version"] = doc2["schema_version"]
        if case.strict and not same_value(written, doc2, saved.arrays, arrays2):
            return "read back differently"
        return ""

    return judge(action, case.places + [source] if not case.places else case.places, accepted)


def run_npz_case(saved: Saved, folder: Path, name: str, data: bytes, places) -> Outcome:
    sub = folder / f"npz-{saved.name}-{name}"
    sub.mkdir(exist_ok=True)
    json_path = sub / saved.json_path.name
    json_path.write_text(saved.json_path.read_text())
    json_path.with_suffix(".npz").write_bytes(data)

    def action():
        d = load_diagram(json_path)
        run_program(d)
        return d

    def accepted(d):  # a damaged byte that changes nothing read (a timestamp) is no error
        _, arrays = encode_diagram(d)
        same = arrays.keys() == saved.arrays.keys() and all(
            arrays[k].dtype == saved.arrays[k].dtype and arrays[k].tobytes() == saved.arrays[k].tobytes()
            for k in arrays)
        return "" if same else "a damaged .npz was read as other numbers"

    return judge(action, places, accepted)


if __name__ == "__main__":  # pragma: no cover - measuring tool
    import resource
    import sys
    import tempfile
    from collections import Counter

    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a huge allocation fails instead of swapping
    every = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with tempfile.TemporaryDirectory() as tmp:
        counts, fails = Counter(), Counter()
        examples = {}
        for name, kind, out in file_outcomes(Path(tmp), every):
            counts[kind] += 1
            if out.failed:
                fails[(kind, out.kind)] += 1
                examples.setdefault((kind, out.kind, out.detail[:60]), f"{name}: {out.detail}")
        print("cases:", dict(counts), "failed:", sum(fails.values()))
        for k, v in sorted(fails.items()):
            print(" ", k, v)
        for _, ex in sorted(examples.items())[:200]:
            print("   ", ex[:400])
