"""Rebuild a :class:`~blockloop.engine.Diagram` from a parsed diagram document.

Every error names its place in the file, JSON-pointer-like, e.g.
``blocks[1] ("lstm1").diagram.blocks[3] ("sig_f").params.K``. Block types are looked up in
:data:`~blockloop.blocks.BLOCK_TYPES`, then among the types the program registered
(:mod:`.registry`), and built with ``cls(**params)``: nothing in the file is ever executed,
imported or unpickled.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Mapping

import numpy as np

from ..blocks import BLOCK_TYPES
from ..engine import Diagram
from ..errors import BlockloopError, DiagramFileError, WiringError
from .registry import block_class, registered_block_types

__all__ = ["decode_diagram", "run_nested", "SCHEMA_VERSION", "FORMAT", "ARRAY_DTYPES"]

FORMAT = "blockloop-diagram"
SCHEMA_VERSION = 2  # 2 added the optional "sample_time"; files without one are still written as 1
ARRAY_DTYPES = ("float32", "float64")
SUBSYSTEM = "Diagram"

_TOP_FIELDS = ("format", "schema_version", "name", "sample_time", "inputs", "outputs", "blocks", "wires")
_SUB_FIELDS = ("name", "sample_time", "inputs", "outputs", "blocks", "wires")
_BLOCK_FIELDS = ("name", "type", "params")
_SUBSYSTEM_FIELDS = ("name", "type", "diagram")
_WIRE_FIELDS = ("from", "to")
_ARRAY_FIELDS = ("$array", "dtype", "shape")
_KINDS = {str: "a string", list: "a list", dict: "an object", int: "an integer"}


class _Loc:
    """A place in the document, built lazily: ``blocks[1] ("lstm1").diagram.blocks[3]``.

    Each level only links to its parent, so a deeply nested file costs no quadratic string work;
    the text is made when an error is raised.
    """

    __slots__ = ("parent", "text", "dot")

    def __init__(self, parent: _Loc | None, text: str, dot: bool = True):
        self.parent, self.text, self.dot = parent, text, dot

    def __str__(self) -> str:
        parts, node = [], self
        while node is not None:
            parts.append(node.text if not (node.dot and node.parent is not None) else "." + node.text)
            node = node.parent
        return "".join(reversed(parts))


class _Reader:
    """What decoding needs besides the document: where it came from and the arrays."""

    def __init__(self, arrays: Mapping[str, np.ndarray] | None, source: str | None):
        self.arrays = arrays
        self.source = source

    def fail(self, message: str, location: _Loc | None) -> DiagramFileError:
        return DiagramFileError(message, path=self.source, location=str(location) if location else "(top level)")


def _at(loc: _Loc | None, key: str) -> _Loc:
    return _Loc(loc, key)


def _named(loc: _Loc, name: str) -> _Loc:
    return _Loc(loc, f' ("{name}")', dot=False)


def json_type(value) -> str:
    """How JSON calls the type of a parsed value: 'an object', 'a list', 'a number', ..."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return _KINDS.get(type(value), type(value).__name__)


def _field(r: _Reader, obj: dict, key: str, kind: type, loc: _Loc | None):
    if key not in obj:
        raise r.fail(f'missing field "{key}"', loc)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        shown = f" {value!r}" if isinstance(value, (int, float, str)) and len(repr(value)) < 40 else ""
        raise r.fail(f"expected {_KINDS[kind]}, got {json_type(value)}{shown}", _at(loc, key))
    return value


def _object(r: _Reader, value, loc: _Loc | None, fields: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise r.fail(f"expected an object with fields {', '.join(fields)}; got {json_type(value)}", loc)
    extra = [k for k in value if k not in fields]
    if extra:
        raise r.fail(f"unknown field {', '.join(repr(k) for k in extra)}; the fields here are "
                     f"{', '.join(fields)}", loc)
    return value


def decode_diagram(doc, arrays: Mapping[str, np.ndarray] | None = None, source: str | None = None) -> Diagram:
    """Build the diagram a parsed diagram-file document describes.

    Subsystems may nest to any depth: the document is walked with an explicit stack, not by
    recursion.

    Parameters
    ----------
    doc : object
        The parsed JSON (see ``docs/diagram-format.md``).
    arrays : mapping key → ndarray, optional
        The ``.npz`` contents that ``{"$array": key}`` references point to.
    source : str, optional
        The file name used in error messages.

    Returns
    -------
    Diagram

    Raises
    ------
    DiagramFileError
        Anything wrong with the document, naming the place (e.g. ``wires[4] ("W.y" → "gates.u9")``).

    Examples
    --------
    >>> doc = {"format": "blockloop-diagram", "schema_version": 1, "name": "g",
    ...        "blocks": [{"name": "u", "type": "Inport", "params": {"size": 1}},
    ...                   {"name": "k", "type": "Gain", "params": {"K": 2.0}},
    ...                   {"name": "y", "type": "Outport"}],
    ...        "wires": [{"from": "u.y", "to": "k.u"}, {"from": "k.y", "to": "y.u"}]}
    >>> decode_diagram(doc).simulate({"u": [[1.0], [2.0]]})["y"].ravel().tolist()
    [2.0, 4.0]
    """
    r = _Reader(arrays, source)
    doc = _object(r, doc, None, _TOP_FIELDS)
    fmt = _field(r, doc, "format", str, None)
    if fmt != FORMAT:
        raise r.fail(f'not a blockloop diagram: "format" is {fmt!r}, expected {FORMAT!r}', _Loc(None, "format"))
    version = _field(r, doc, "schema_version", int, None)
    if version > SCHEMA_VERSION:
        raise r.fail(f"written by a newer blockloop: schema {version} > {SCHEMA_VERSION}; upgrade blockloop "
                     "(pip install -U blockloop) to read it", _Loc(None, "schema_version"))
    if version < 1:
        raise r.fail(f"schema_version must be a positive integer, got {version}", _Loc(None, "schema_version"))
    return run_nested(_diagram(r, doc, None))


def run_nested(root):
    """Run a generator that yields sub-generators for its nested parts and receives their results.

    The nesting lives on this loop's list, not on the Python stack, so any depth works.
    """
    stack, value = [root], None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            continue
        stack.append(child)
        value = None
    return value


def _diagram(r: _Reader, obj: dict, loc: _Loc | None):
    """Generator: builds one diagram, yielding a sub-generator for each subsystem it holds."""
    d = Diagram(_field(r, obj, "name", str, loc))
    if obj.get("sample_time") is not None:
        _sample_time(r, d, obj["sample_time"], _at(loc, "sample_time"))
    for i, entry in enumerate(_field(r, obj, "blocks", list, loc)):
        bloc = _at(loc, f"blocks[{i}]")
        name, sub, bloc = _block_head(r, entry, bloc)
        block = (yield _diagram(r, sub, _at(bloc, "diagram"))) if isinstance(sub, dict) else sub
        try:
            d.add(name, block)
        except BlockloopError as exc:
            raise r.fail(str(exc), bloc) from None
    for i, entry in enumerate(_field(r, obj, "wires", list, loc)):
        _wire(r, d, entry, _at(loc, f"wires[{i}]"))
    for key in ("inputs", "outputs"):
        if key in obj:
            _port_list(r, d, obj, key, loc)
    return d


def _sample_time(r: _Reader, d: Diagram, value, loc: _Loc) -> None:
    """Set ``d.Ts`` from a ``sample_time`` field (seconds, a finite number > 0; null means none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise r.fail(f"expected a sample time in seconds (a number > 0), got {json_type(value)}", loc)
    try:
        d.Ts = value
    except BlockloopError as exc:
        raise r.fail(str(exc), loc) from None


def _port_list(r: _Reader, d: Diagram, obj: dict, key: str, loc: _Loc | None) -> None:
    """Check an ``inputs``/``outputs`` list against the diagram's Inport/Outport blocks, element by element."""
    written = _field(r, obj, key, list, loc)
    actual = list(getattr(d, key))
    kind = "Inport" if key == "inputs" else "Outport"
    for i, name in enumerate(written):
        if not isinstance(name, str):
            raise r.fail(f"expected a block name (a string), got {json_type(name)}", _at(loc, f"{key}[{i}]"))
    if written != actual:
        pairs = enumerate(zip(written, actual, strict=False))
        i = next((i for i, (a, b) in pairs if a != b), min(len(written), len(actual)))
        raise r.fail(f"lists {written} but the diagram's {key[:-1]} blocks are {actual} "
                     f"({kind} blocks, in block order)", _at(loc, f"{key}[{i}]"))


def _block_head(r: _Reader, entry, loc: _Loc):
    """``(name, block or subsystem object, location)`` of a block entry; subsystems are built by the caller."""
    if not isinstance(entry, dict):
        raise r.fail(f"expected a block object with fields name, type, params; got {json_type(entry)}", loc)
    name = _field(r, entry, "name", str, loc)
    loc = _named(loc, name)
    type_name = _field(r, entry, "type", str, loc)
    if type_name == SUBSYSTEM:
        _object(r, entry, loc, _SUBSYSTEM_FIELDS)
        if "diagram" not in entry:
            raise r.fail('missing field "diagram" (a subsystem holds its own blocks and wires)', loc)
        return name, _object(r, entry["diagram"], _at(loc, "diagram"), _SUB_FIELDS), loc
    _object(r, entry, loc, _BLOCK_FIELDS)
    cls = block_class(type_name)  # the library's types, then the program's registered ones; never an import
    if cls is None:
        known = sorted(BLOCK_TYPES) + [SUBSYSTEM] + sorted(registered_block_types())
        close = difflib.get_close_matches(type_name, known, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = type_name if len(type_name) <= 60 else type_name[:57] + "..."
        raise r.fail(f"unknown block type {shown!r}{hint} (known types: {', '.join(known)}); a block class of your "
                     "own must be registered before loading: blockloop.io.register_block_type(name, cls)",
                     _at(loc, "type"))
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise r.fail(f"expected an object of constructor arguments, got {json_type(params)}", _at(loc, "params"))
    kwargs = {k: _param(r, v, _at(loc, f"params.{k}")) for k, v in params.items()}
    return name, _construct(r, cls, kwargs, _at(loc, "params")), loc


def _param(r: _Reader, value, loc: _Loc):
    """A constructor argument: JSON values pass as they are; ``{"$array": key}`` reads the npz.

    Numbers must be finite: JSON has no NaN or Infinity (Python's reader accepts them, and reads
    ``1e999`` as infinity), so they are refused here, at their place in the file.
    """
    if not isinstance(value, dict):
        _check_finite_numbers(r, value, loc)
        return value
    ref = _object(r, value, loc, _ARRAY_FIELDS)
    key = _field(r, ref, "$array", str, loc)
    if r.arrays is None or key not in r.arrays:
        raise r.fail(f"array {key!r} is missing from the .npz file beside the JSON", loc)
    arr = r.arrays[key]
    if arr.dtype.name not in ARRAY_DTYPES:
        raise r.fail(f"array {key!r} has dtype {arr.dtype}; expected one of {', '.join(ARRAY_DTYPES)}", loc)
    if "dtype" in ref and ref["dtype"] != arr.dtype.name:
        raise r.fail(f"array {key!r} has dtype {arr.dtype} in the .npz but {ref['dtype']!r} in the JSON "
                     "(were the two files saved separately?)", loc)
    if "shape" in ref and ref["shape"] != list(arr.shape):
        raise r.fail(f"array {key!r} has shape {arr.shape} in the .npz but {ref['shape']} in the JSON "
                     "(were the two files saved separately?)", loc)
    return arr


def _check_finite_numbers(r: _Reader, value, loc: _Loc) -> None:
    stack = [(value, "")]
    while stack:
        v, at = stack.pop()
        if isinstance(v, list):
            stack.extend((x, f"{at}[{i}]") for i, x in enumerate(v))
        elif isinstance(v, float) and not math.isfinite(v):
            raise r.fail(f"{v} is not a JSON number (JSON has no NaN or Infinity; numbers beyond ±1.8e308 "
                         "overflow); store non-finite values in the .npz", _Loc(loc, at, dot=False) if at else loc)


def _construct(r: _Reader, cls: type, kwargs: dict, loc: _Loc):
    sig = inspect.signature(cls)
    try:
        sig.bind(**kwargs)
    except TypeError:
        accepted = list(sig.parameters)
        unknown = [k for k in kwargs if k not in sig.parameters]
        missing = [p.name for p in sig.parameters.values()
                   if p.default is inspect.Parameter.empty and p.name not in kwargs]
        problem = f"unknown parameter {unknown}" if unknown else f"missing parameter {missing}"
        raise r.fail(f"{problem}; {cls.__name__} takes {accepted or 'no parameters'}", loc) from None
    try:
        return cls(**kwargs)
    except (BlockloopError, TypeError, ValueError, OverflowError) as exc:
        # Block messages start "<Type> <param>: ...": point at that parameter when they do.
        m = re.match(rf"{cls.__name__} (\w+):", str(exc))
        where = _at(loc, m.group(1)) if m and m.group(1) in kwargs else loc
        raise r.fail(str(exc), where) from None


def _wire(r: _Reader, d: Diagram, entry, loc: _Loc) -> None:
    entry = _object(r, entry, loc, _WIRE_FIELDS)
    src = _field(r, entry, "from", str, loc)
    dst = _field(r, entry, "to", str, loc)
    try:
        d.connect(src, dst)
    except WiringError as exc:
        raise r.fail(str(exc), _Loc(loc, f' ("{src}" → "{dst}")', dot=False)) from None
