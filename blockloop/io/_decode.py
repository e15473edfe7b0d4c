"""Rebuild a :class:`~blockloop.engine.Diagram` from a parsed diagram document.

Every error names its place in the file, JSON-pointer-like, e.g.
``blocks[1] ("lstm1").diagram.blocks[3] ("sig_f").params.K``. Block types are looked up in
:data:`~blockloop.blocks.BLOCK_TYPES` and built with ``cls(**params)``: nothing in the file is
ever executed or unpickled.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Mapping

import numpy as np

from ..blocks import BLOCK_TYPES
from ..engine import Diagram
from ..errors import BlockloopError, DiagramFileError, WiringError

__all__ = ["decode_diagram", "SCHEMA_VERSION", "FORMAT", "ARRAY_DTYPES"]

FORMAT = "blockloop-diagram"
SCHEMA_VERSION = 1
ARRAY_DTYPES = ("float32", "float64")
SUBSYSTEM = "Diagram"

_TOP_FIELDS = ("format", "schema_version", "name", "inputs", "outputs", "blocks", "wires")
_SUB_FIELDS = ("name", "inputs", "outputs", "blocks", "wires")
_BLOCK_FIELDS = ("name", "type", "params")
_SUBSYSTEM_FIELDS = ("name", "type", "diagram")
_WIRE_FIELDS = ("from", "to")
_ARRAY_FIELDS = ("$array", "dtype", "shape")
_KINDS = {str: "a string", list: "a list", dict: "an object", int: "an integer"}


class _Reader:
    """What decoding needs besides the document: where it came from and the arrays."""

    def __init__(self, arrays: Mapping[str, np.ndarray] | None, source: str | None):
        self.arrays = arrays
        self.source = source

    def fail(self, message: str, location: str) -> DiagramFileError:
        return DiagramFileError(message, path=self.source, location=location or "(top level)")


def _at(loc: str, key: str) -> str:
    return f"{loc}.{key}" if loc else key


def json_type(value) -> str:
    """How JSON calls the type of a parsed value: 'an object', 'a list', 'a number', ..."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return _KINDS.get(type(value), type(value).__name__)


def _field(r: _Reader, obj: dict, key: str, kind: type, loc: str):
    if key not in obj:
        raise r.fail(f'missing field "{key}"', loc)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise r.fail(f"expected {_KINDS[kind]}, got {json_type(value)}", _at(loc, key))
    return value


def _object(r: _Reader, value, loc: str, fields: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise r.fail(f"expected an object with fields {', '.join(fields)}; got {json_type(value)}", loc)
    extra = [k for k in value if k not in fields]
    if extra:
        raise r.fail(f"unknown field {', '.join(repr(k) for k in extra)}; the fields here are "
                     f"{', '.join(fields)}", loc)
    return value


def decode_diagram(doc, arrays: Mapping[str, np.ndarray] | None = None, source: str | None = None) -> Diagram:
    """Build the diagram a parsed diagram-file document describes.

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
    doc = _object(r, doc, "", _TOP_FIELDS)
    fmt = _field(r, doc, "format", str, "")
    if fmt != FORMAT:
        raise r.fail(f'not a blockloop diagram: "format" is {fmt!r}, expected {FORMAT!r}', "format")
    version = _field(r, doc, "schema_version", int, "")
    if version > SCHEMA_VERSION:
        raise r.fail(f"written by a newer blockloop: schema {version} > {SCHEMA_VERSION}; upgrade blockloop "
                     "(pip install -U blockloop) to read it", "schema_version")
    if version < 1:
        raise r.fail(f"schema_version must be a positive integer, got {version}", "schema_version")
    return _diagram(r, doc, "")


def _diagram(r: _Reader, obj: dict, loc: str) -> Diagram:
    d = Diagram(_field(r, obj, "name", str, loc))
    for i, entry in enumerate(_field(r, obj, "blocks", list, loc)):
        name, block, bloc = _block(r, entry, _at(loc, f"blocks[{i}]"))
        try:
            d.add(name, block)
        except WiringError as exc:
            raise r.fail(str(exc), bloc) from None
    for i, entry in enumerate(_field(r, obj, "wires", list, loc)):
        _wire(r, d, entry, _at(loc, f"wires[{i}]"))
    for key in ("inputs", "outputs"):
        if key in obj:
            written = _field(r, obj, key, list, loc)
            actual = list(getattr(d, key))
            if written != actual:
                raise r.fail(f"lists {written} but the diagram's {key[:-1]} blocks are {actual} "
                             f"({'Inport' if key == 'inputs' else 'Outport'} blocks, in block order)",
                             _at(loc, key))
    return d


def _block(r: _Reader, entry, loc: str):
    if not isinstance(entry, dict):
        raise r.fail(f"expected a block object with fields name, type, params; got {json_type(entry)}", loc)
    name = _field(r, entry, "name", str, loc)
    loc = f'{loc} ("{name}")'
    type_name = _field(r, entry, "type", str, loc)
    if type_name == SUBSYSTEM:
        _object(r, entry, loc, _SUBSYSTEM_FIELDS)
        sub = _object(r, entry.get("diagram"), _at(loc, "diagram"), _SUB_FIELDS) if "diagram" in entry else None
        if sub is None:
            raise r.fail('missing field "diagram" (a subsystem holds its own blocks and wires)', loc)
        return name, _diagram(r, sub, _at(loc, "diagram")), loc
    _object(r, entry, loc, _BLOCK_FIELDS)
    cls = BLOCK_TYPES.get(type_name)
    if cls is None:
        known = sorted(BLOCK_TYPES) + [SUBSYSTEM]
        close = difflib.get_close_matches(type_name, known, n=2)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise r.fail(f"unknown block type {type_name!r}{hint} (known types: {', '.join(known)})", _at(loc, "type"))
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise r.fail(f"expected an object of constructor arguments, got {json_type(params)}", _at(loc, "params"))
    kwargs = {k: _param(r, v, _at(loc, f"params.{k}")) for k, v in params.items()}
    return name, _construct(r, cls, kwargs, _at(loc, "params")), loc


def _param(r: _Reader, value, loc: str):
    """A constructor argument: JSON values pass as they are; ``{"$array": key}`` reads the npz."""
    if not isinstance(value, dict):
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


def _construct(r: _Reader, cls: type, kwargs: dict, loc: str):
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
    except (BlockloopError, TypeError, ValueError) as exc:
        # Block messages start "<Type> <param>: ...": point at that parameter when they do.
        m = re.match(rf"{cls.__name__} (\w+):", str(exc))
        where = _at(loc, m.group(1)) if m and m.group(1) in kwargs else loc
        raise r.fail(str(exc), where) from None


def _wire(r: _Reader, d: Diagram, entry, loc: str) -> None:
    entry = _object(r, entry, loc, _WIRE_FIELDS)
    src = _field(r, entry, "from", str, loc)
    dst = _field(r, entry, "to", str, loc)
    try:
        d.connect(src, dst)
    except WiringError as exc:
        raise r.fail(str(exc), f'{loc} ("{src}" → "{dst}")') from None
