"""Diagram files: the structure as readable JSON, the arrays in an ``.npz`` beside it.

``save_diagram(d, "net.json")`` writes ``net.json`` (blocks with their type and small
parameters, wires, nested subsystems) and ``net.npz`` (every ndarray parameter, referenced
from the JSON as ``{"$array": "lstm1/W/K", "dtype": "float64", "shape": [12, 4]}``).
``load_diagram("net.json")`` rebuilds an identical diagram: same blocks, same wires in the
same order, same parameter bits, hence bit-for-bit the same simulation results.

The JSON is written with sorted keys and an indent of 2, blocks and wires in diagram order, so
it diffs well under git; the ``.npz`` is byte-reproducible. Loading never executes anything
from the files: block types are looked up in :data:`~blockloop.blocks.BLOCK_TYPES` (then among
the program's registered types, :func:`~blockloop.io.register_block_type`) and the arrays are
read with ``allow_pickle=False``. The format is described in ``docs/diagram-format.md``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..blocks import Block
from ..engine import Diagram
from ..errors import DiagramFileError, ParameterError, WiringError
from . import _json
from ._decode import ARRAY_DTYPES, FORMAT, SCHEMA_VERSION, SUBSYSTEM, decode_diagram, run_nested
from ._npz import atomic_write_text, read_npz, write_npz
from .registry import file_type_name

__all__ = ["save_diagram", "load_diagram", "encode_diagram", "decode_diagram", "arrays_path", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

#: The schema written when no diagram in the file has a sample time (readable by older blockloop).
_SCHEMA_WITHOUT_SAMPLE_TIME = 1


def arrays_path(json_path: str | os.PathLike) -> Path:
    """The ``.npz`` that holds the arrays of diagram file ``json_path``: same name, ``.npz`` suffix."""
    return Path(json_path).with_suffix(".npz")


def encode_diagram(diagram: Diagram) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON document of ``diagram`` and the arrays it references.

    Returns
    -------
    doc : dict
        JSON-serialisable structure (see ``docs/diagram-format.md``).
    arrays : dict key → ndarray
        Every ndarray parameter, keyed ``"<block path>/<parameter>"`` (e.g. ``"lstm1/W/K"``).

    Raises
    ------
    ParameterError
        ``diagram`` is not a Diagram, a block that is not a library block (not in
        ``BLOCK_TYPES``), or a parameter that is neither an ndarray nor a plain JSON value.

    Examples
    --------
    >>> from blockloop.blocks import Gain, Inport, Outport
    >>> d = Diagram("g"); _ = d.add("u", Inport(2)); _ = d.add("k", Gain([[1.0, 2.0]]))
    >>> doc, arrays = encode_diagram(d)
    >>> doc["blocks"][1]["params"], list(arrays)
    ({'K': {'$array': 'k/K', 'dtype': 'float64', 'shape': [1, 2]}}, ['k/K'])
    """
    if not isinstance(diagram, Diagram):
        raise ParameterError(f"expected a Diagram to save, got {type(diagram).__name__}; "
                             "put a single block in a Diagram first")
    arrays: dict[str, np.ndarray] = {}
    body = run_nested(_encode(diagram, "", arrays, (id(diagram),)))
    timed = any(d.Ts is not None for d in _all_diagrams(diagram))
    version = SCHEMA_VERSION if timed else _SCHEMA_WITHOUT_SAMPLE_TIME
    return {"format": FORMAT, "schema_version": version, **body}, arrays


def _all_diagrams(diagram: Diagram):
    """``diagram`` and every subsystem in it (each once), without recursion."""
    stack, seen = [diagram], set()
    while stack:
        d = stack.pop()
        if id(d) not in seen:
            seen.add(id(d))
            yield d
            stack.extend(b for b in d.blocks.values() if isinstance(b, Diagram))


def _encode(diagram: Diagram, prefix: str, arrays: dict, on_path: tuple):
    """Generator: one diagram's document, yielding a sub-generator per subsystem (any depth, no recursion)."""
    blocks = []
    for name, block in diagram.blocks.items():
        if isinstance(block, Diagram):
            if id(block) in on_path:  # the same error as flatten (compile) gives
                raise WiringError(f"subsystem '{prefix}{name}' contains itself")
            body = yield _encode(block, f"{prefix}{name}/", arrays, (*on_path, id(block)))
            blocks.append({"name": name, "type": SUBSYSTEM, "diagram": body})
        else:
            blocks.append({"name": name, "type": _library_type(block, prefix + name),
                           "params": _encode_params(block, prefix + name, arrays)})
    wires = [{"from": str(src), "to": str(dst)} for src, dst in diagram.wires()]
    timing = {} if diagram.Ts is None else {"sample_time": diagram.Ts}
    return {"name": diagram.name, **timing, "inputs": list(diagram.inputs), "outputs": list(diagram.outputs),
            "blocks": blocks, "wires": wires}


def _library_type(block: Block, path: str) -> str:
    if getattr(type(block), "holds_code", False):
        raise ParameterError(f"cannot save block '{path}': a {block.type_name} wraps a Python callable, and a diagram "
                             "file never carries code; replace it by library blocks (or a Block subclass registered "
                             "with blockloop.io.register_block_type) before saving")
    name = file_type_name(block)
    if name is None:
        raise ParameterError(f"cannot save block '{path}': its type {type(block).__qualname__} is not a library "
                             f"block (blockloop.blocks.BLOCK_TYPES), so no file could rebuild it; register your own "
                             f"class first: blockloop.io.register_block_type('{type(block).__name__}', cls)")
    return name


def _encode_params(block: Block, path: str, arrays: dict) -> dict:
    params = {}
    for key, value in block.params().items():
        if isinstance(value, np.ndarray):
            if value.dtype.name not in ARRAY_DTYPES:
                raise ParameterError(f"cannot save block '{path}': parameter {key} has dtype {value.dtype}; "
                                     f"diagram files hold {', '.join(ARRAY_DTYPES)} arrays")
            ref = f"{path}/{key}"
            arrays[ref] = value
            params[key] = {"$array": ref, "dtype": value.dtype.name, "shape": list(value.shape)}
        else:
            params[key] = _plain(value, f"block '{path}' parameter {key}")
    return params


def _plain(value, what: str):
    """``value`` as plain JSON (str, int, finite float, bool, None, lists of them)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, what) for v in value]
    raise ParameterError(f"cannot save {what}: {value!r} is neither an ndarray nor a plain JSON value")


_LINE = 100  # characters a compact value may take on one line
_MAX_INDENT = 32  # nesting levels beyond which the indent stops growing (keeps deep files linear in size)


def _one_line_lengths(value) -> dict[int, int]:
    """``id(container) → length of its one-line JSON`` for every compact container in ``value``.

    Compact: a list of scalars, or an object whose values are all compact (what may share one
    line). Lengths are those of ``json.dumps(v, sort_keys=True, ensure_ascii=False)``, computed
    bottom-up in one pass without recursion, and capped just above the line length.
    """
    lengths: dict[int, int] = {}
    stack = [(value, False)]
    while stack:
        v, done = stack.pop()
        if not isinstance(v, (dict, list)):
            continue
        children = list(v.values()) if isinstance(v, dict) else v
        if not done:
            stack.append((v, True))
            stack.extend((c, False) for c in children if isinstance(c, (dict, list)))
            continue
        if isinstance(v, list) and any(isinstance(c, (dict, list)) for c in v):
            continue
        if isinstance(v, dict) and any(isinstance(c, (dict, list)) and id(c) not in lengths for c in children):
            continue
        total = 2 + 2 * max(len(children) - 1, 0)
        for c in children:
            total += lengths[id(c)] if isinstance(c, (dict, list)) else len(json.dumps(c, ensure_ascii=False))
            if total > 10 * _LINE:
                break
        if isinstance(v, dict):
            total += sum(len(json.dumps(k, ensure_ascii=False)) + 2 for k in v)
        lengths[id(v)] = min(total, 10 * _LINE + 1)
    return lengths


def dumps_json(value, level: int = 0) -> str:
    """JSON with sorted keys and an indent of 2, keeping short compact values on one line.

    A value without lists of objects or lists (a block, a wire, an array reference) stays on
    one line when it fits in 100 characters, so one wire or one block is one line in a diff.
    Beyond 32 levels of nesting (some 10 nested subsystems) the indent stops growing, so the
    file stays linear in size however deep the subsystems go. Written without recursion.

    Examples
    --------
    >>> print(dumps_json({"b": [1, 2], "a": {"y": [{"k": 1}]}}))
    {
      "a": {
        "y": [
          {"k": 1}
        ]
      },
      "b": [1, 2]
    }
    """
    lengths = _one_line_lengths(value)
    out: list[str] = []
    tasks: list = [(value, level)]  # a str is written as it is; a (value, level) pair is rendered
    while tasks:
        task = tasks.pop()
        if isinstance(task, str):
            out.append(task)
            continue
        v, lvl = task
        lvl = min(lvl, _MAX_INDENT)
        n = lengths.get(id(v)) if isinstance(v, (dict, list)) else None
        if not isinstance(v, (dict, list)) or not v or (n is not None and n + 2 * lvl <= _LINE):
            out.append(json.dumps(v, sort_keys=True, ensure_ascii=False))
            continue
        pad, end = "  " * (lvl + 1), "  " * lvl
        pieces: list = ["{\n" if isinstance(v, dict) else "[\n"]
        items = ([(f"{pad}{json.dumps(k, ensure_ascii=False)}: ", v[k]) for k in sorted(v)] if isinstance(v, dict)
                 else [(pad, x) for x in v])
        for i, (head, x) in enumerate(items):
            pieces += [",\n" if i else "", head, (x, lvl + 1)]
        pieces.append("\n" + end + ("}" if isinstance(v, dict) else "]"))
        tasks.extend(reversed(pieces))
    return "".join(out)


def save_diagram(diagram: Diagram, path: str | os.PathLike) -> Path:
    """Write ``diagram`` to ``path`` (``.json``) and its arrays to the ``.npz`` beside it.

    Both files are replaced atomically. The ``.npz`` is always written (empty when the
    diagram has no array parameters) so a diagram is always the same two files.

    Parameters
    ----------
    diagram : Diagram
        Any diagram made of library blocks and sub-diagrams.
    path : str or path-like
        The JSON file; must end in ``.json``. The arrays go to :func:`arrays_path` ``(path)``.

    Returns
    -------
    Path
        The JSON file written.

    Raises
    ------
    ParameterError
        ``path`` does not end in ``.json``, or the diagram holds a block no file can rebuild.

    Examples
    --------
    >>> import tempfile, os
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> net = lstm_network(NetworkWeights.random(ni=4, nn=3, no=2))
    >>> p = save_diagram(net, os.path.join(tempfile.mkdtemp(), "net.json"))
    >>> sorted(f.name for f in p.parent.iterdir())
    ['net.json', 'net.npz']
    >>> load_diagram(p).blocks["lstm1"].blocks["W"].K.shape
    (12, 4)
    """
    path = Path(path)
    if path.suffix != ".json":
        raise ParameterError(f"diagram file {str(path)!r}: use a name ending in .json, e.g. '{path.stem}.json' "
                             "(the arrays go to the .npz of the same name)")
    doc, arrays = encode_diagram(diagram)
    write_npz(arrays_path(path), arrays)
    atomic_write_text(path, dumps_json(doc) + "\n")
    log.info("saved diagram %r to %s (+ %d arrays in %s)", diagram.name, path, len(arrays), arrays_path(path).name)
    return path


class _LazyArrays(Mapping):
    """The ``.npz`` contents, read on first use (a diagram without arrays needs no ``.npz``)."""

    def __init__(self, path: Path):
        self.path = path
        self._arrays: dict | None = None

    def _load(self) -> dict:
        if self._arrays is None:
            try:
                self._arrays = read_npz(self.path)
            except OSError as exc:
                raise DiagramFileError(f"cannot read the arrays file ({exc.strerror or exc}); it must sit beside "
                                       "the JSON with the same name", path=str(self.path)) from None
            except ValueError as exc:
                raise DiagramFileError(f"corrupt arrays file: {exc}", path=str(self.path)) from None
        return self._arrays

    def __getitem__(self, key):
        return self._load()[key]

    def __iter__(self):
        return iter(self._load())

    def __len__(self):
        return len(self._load())


def load_diagram(path: str | os.PathLike) -> Diagram:
    """Read a diagram written by :func:`save_diagram` (or by hand, see ``docs/diagram-format.md``).

    Parameters
    ----------
    path : str or path-like
        The ``.json`` file; arrays are read from :func:`arrays_path` ``(path)`` when referenced.

    Returns
    -------
    Diagram

    Raises
    ------
    DiagramFileError
        Missing or unreadable file, invalid or truncated JSON (with line and column), a newer
        schema, an unknown block type, a missing field, a bad parameter or array, a dangling
        wire, or a missing or corrupt ``.npz`` — each naming the place in the file.

    Examples
    --------
    >>> load_diagram("no/such/file.json")
    Traceback (most recent call last):
    ...
    blockloop.errors.DiagramFileError: no/such/file.json: cannot read the diagram file (No such file or directory)
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DiagramFileError(f"cannot read the diagram file ({exc.strerror or exc})", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DiagramFileError(f"not UTF-8 text (byte {exc.start}); is this a diagram .json file?",
                               path=str(path)) from None
    try:
        doc = _json.loads(text)
    except json.JSONDecodeError as exc:
        raise DiagramFileError(f"invalid or truncated JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                               path=str(path)) from None
    except ValueError as exc:  # a repeated key, an integer too long to read
        raise DiagramFileError(f"invalid JSON: {exc}", path=str(path)) from None
    return decode_diagram(doc, _LazyArrays(arrays_path(path)), source=str(path))
