"""JSON reading for diagram files: the standard parser, and an iterative one for deep nesting.

``json.loads`` recurses once per nesting level and stops at Python's recursion limit (about
1 000 levels, i.e. some 330 nested subsystems). :func:`loads` uses it for ordinary files and, when
it runs out of depth, parses again with :func:`loads_deep`, which keeps its own stack: nesting is
then limited only by memory. Both reject an object with a repeated key (the standard parser
would silently keep the last one).
"""

from __future__ import annotations

import json
import re
from json.decoder import JSONDecodeError, scanstring
from json.scanner import NUMBER_RE

__all__ = ["loads", "loads_deep", "JSONDecodeError"]

_WS = re.compile(r"[ \t\n\r]*")
_CONSTANTS = {"null": None, "true": True, "false": False, "NaN": float("nan"), "Infinity": float("inf"),
              "-Infinity": float("-inf")}


def _pairs(pairs: list) -> dict:
    """``object_pairs_hook``: a dict, or ValueError naming a key given twice."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the key {key!r} appears twice in one object")
    return out


def loads(text: str):
    """Parse ``text`` as JSON, at any nesting depth.

    Raises
    ------
    JSONDecodeError
        Invalid JSON (with line and column).
    ValueError
        A key repeated within one object, or an integer too long to convert.
    """
    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except RecursionError:
        return loads_deep(text)


def loads_deep(s: str):
    """Parse JSON with an explicit stack instead of recursion (same results as ``json.loads``)."""
    stack: list = []  # frames: [list] for arrays, [pairs, key] for objects
    idx = 0
    while True:
        idx = _WS.match(s, idx).end()
        ch = s[idx:idx + 1]
        # -- a value starts at idx
        if ch == "{":
            idx = _WS.match(s, idx + 1).end()
            if s[idx:idx + 1] == "}":
                value, idx = _pairs([]), idx + 1
            else:
                key, idx = _key(s, idx)
                stack.append([[], key, "object"])
                continue
        elif ch == "[":
            idx = _WS.match(s, idx + 1).end()
            if s[idx:idx + 1] == "]":
                value, idx = [], idx + 1
            else:
                stack.append([[], None, "array"])
                continue
        elif ch == '"':
            value, idx = scanstring(s, idx + 1)
        else:
            value, idx = _scalar(s, idx)
        # -- a value is complete: close every container it completes
        while True:
            if not stack:
                idx = _WS.match(s, idx).end()
                if idx != len(s):
                    raise JSONDecodeError("Extra data", s, idx)
                return value
            frame = stack[-1]
            items, key, kind = frame
            items.append(value if kind == "array" else (key, value))
            idx = _WS.match(s, idx).end()
            ch = s[idx:idx + 1]
            if ch == ",":
                idx = _WS.match(s, idx + 1).end()
                if kind == "object":
                    frame[1], idx = _key(s, idx)
                break
            if ch == ("]" if kind == "array" else "}"):
                stack.pop()
                value, idx = (items if kind == "array" else _pairs(items)), idx + 1
                continue
            raise JSONDecodeError("Expecting ',' delimiter", s, idx)


def _key(s: str, idx: int) -> tuple[str, int]:
    """An object key and its ``:``; returns the key and the index after the colon."""
    if s[idx:idx + 1] != '"':
        raise JSONDecodeError("Expecting property name enclosed in double quotes", s, idx)
    key, idx = scanstring(s, idx + 1)
    idx = _WS.match(s, idx).end()
    if s[idx:idx + 1] != ":":
        raise JSONDecodeError("Expecting ':' delimiter", s, idx)
    return key, idx + 1


def _scalar(s: str, idx: int):
    for word, value in _CONSTANTS.items():
        if s.startswith(word, idx):
            return value, idx + len(word)
    m = NUMBER_RE.match(s, idx)
    if m is None:
        raise JSONDecodeError("Expecting value", s, idx)
    integer, frac, exp = m.groups()
    if frac or exp:
        return float(integer + (frac or "") + (exp or "")), m.end()
    return int(integer), m.end()
