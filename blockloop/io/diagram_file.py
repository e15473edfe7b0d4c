"""Diagram files: the structure as readable JSON, the arrays in an ``.npz`` beside it.

``save_diagram(d, "net.json")`` writes ``net.json`` (blocks with their type and small
parameters, wires, nested subsystems) and ``net.npz`` (every ndarray parameter, referenced
from the JSON as ``{"$array": "lstm1/W/K", "dtype": "float64", "shape": [12, 4]}``).
``load_diagram("net.json")`` rebuilds an identical diagram: same blocks, same wires in the
same order, same parameter bits, hence bit-for-bit the same simulation results.

The JSON is written with sorted keys and an indent of 2, blocks and wires in diagram order, so
it diffs well under git; the ``.npz`` is byte-reproducible. Loading never executes anything
from the files: block types are looked up in :data:`~blockloop.blocks.BLOCK_TYPES` and the
arrays are read with ``allow_pickle=False``. The format is described in ``docs/diagram-format.md``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..blocks import BLOCK_TYPES, Block
from ..engine import Diagram
from ..errors import DiagramFileError, ParameterError
from ._decode import ARRAY_DTYPES, FORMAT, SCHEMA_VERSION, SUBSYSTEM, decode_diagram
from ._npz import atomic_write_text, read_npz, write_npz

__all__ = ["save_diagram", "load_diagram", "encode_diagram", "decode_diagram", "arrays_path", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)


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
    body = _encode(diagram, "", arrays)
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, **body}, arrays


def _encode(diagram: Diagram, prefix: str, arrays: dict) -> dict:
    blocks = []
    for name, block in diagram.blocks.items():
        if isinstance(block, Diagram):
            blocks.append({"name": name, "type": SUBSYSTEM, "diagram": _encode(block, f"{prefix}{name}/", arrays)})
        else:
            blocks.append({"name": name, "type": _library_type(block, prefix + name),
                           "params": _encode_params(block, prefix + name, arrays)})
    wires = [{"from": str(src), "to": str(dst)} for src, dst in diagram.wires()]
    return {"name": diagram.name, "inputs": list(diagram.inputs), "outputs": list(diagram.outputs),
            "blocks": blocks, "wires": wires}


def _library_type(block: Block, path: str) -> str:
    if BLOCK_TYPES.get(block.type_name) is not type(block):
        raise ParameterError(f"cannot save block '{path}': its type {type(block).__qualname__} is not a library "
                             f"block (blockloop.blocks.BLOCK_TYPES), so no file could rebuild it")
    return block.type_name


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


def _compact(value) -> bool:
    """Scalars, lists of scalars, and objects of compact values: what may share one line."""
    if isinstance(value, dict):
        return all(_compact(v) for v in value.values())
    if isinstance(value, list):
        return not any(isinstance(v, (dict, list)) for v in value)
    return True


def dumps_json(value, level: int = 0) -> str:
    """JSON with sorted keys and an indent of 2, keeping short compact values on one line.

    A value without lists of objects or lists (a block, a wire, an array reference) stays on
    one line when it fits in 100 characters, so one wire or one block is one line in a diff.

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
    one_line = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if (_compact(value) and len(one_line) + 2 * level <= 100) or not value or not isinstance(value, (dict, list)):
        return one_line
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {dumps_json(value[k], level + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    return "[\n" + ",\n".join(pad + dumps_json(v, level + 1) for v in value) + "\n" + end + "]"


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
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DiagramFileError(f"invalid or truncated JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                               path=str(path)) from None
    return decode_diagram(doc, _LazyArrays(arrays_path(path)), source=str(path))
