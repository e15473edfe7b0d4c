"""Vertical positions of the layered blocks, with subsystem frames that never overlap.

Every subsystem frame is a rectangle over the columns of its blocks. Its top and bottom edges
are variables next to the blocks' heights, and every rule is a least distance between two of
them (``x[v] ≥ x[u] + d``):

* a block lies inside its own frame (margin, title, and room for the frame's return lanes);
* a frame lies inside its parent's frame;
* two neighbours in one column keep apart: blocks by a row gap; where the column leaves one
  frame and enters another, the frames themselves (not only the blocks) come one under the other.

The layout orders each column so that a subsystem's blocks are contiguous and subsystems come in
one order in every column, so these rules form a directed acyclic graph: the longest path gives
a compact placement that satisfies all of them. Sweeps of coordinate descent then move each block
towards the ports it is wired to, always within its bounds, so every rule still holds at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .ordering import scopes

__all__ = ["stack_columns"]

SWEEPS = 24


class _Rules:
    """Least distances ``x[v] >= x[u] + d`` between named variables (blocks and frame edges)."""

    def __init__(self):
        self.preds: dict = {}
        self.succs: dict = {}

    def node(self, n) -> None:
        self.preds.setdefault(n, [])
        self.succs.setdefault(n, [])

    def add(self, u, v, d: float) -> None:
        self.node(u)
        self.node(v)
        self.preds[v].append((u, d))
        self.succs[u].append((v, d))

    def order(self) -> list:
        """The variables in topological order (ValueError when the rules contradict each other)."""
        indeg = {n: len(p) for n, p in self.preds.items()}
        ready = [n for n, k in indeg.items() if not k]
        seq = []
        while ready:
            n = ready.pop()
            seq.append(n)
            for v, _ in self.succs[n]:
                indeg[v] -= 1
                if not indeg[v]:
                    ready.append(v)
        if len(seq) != len(indeg):
            raise ValueError("the column orders put two subsystems both above and below each other")
        return seq


def _common_depth(p: str, q: str) -> int:
    n = 0
    for x, y in zip(scopes(p), scopes(q), strict=False):
        if x != y:
            break
        n += 1
    return n


def stack_columns(order, group: dict[str, str], extent: Callable, gap: Callable, pad: Callable,
                  frame_gap: float, reserve: dict[str, float], target: Callable,
                  avoid: Callable | None = None, clear: float = 0.0) -> dict[str, float]:
    """Centre heights of the blocks, column orders kept, frames disjoint (see the module notes).

    Parameters
    ----------
    order : list of lists of str
        Each column's blocks (and wire dummies), top to bottom; a subsystem's members contiguous.
    group : dict
        Block → subsystem path (``""`` at top level).
    extent : callable
        ``extent(n) -> (above, below)``: room a block needs above and below its centre.
    gap : callable
        ``gap(u, v)``: least centre distance of ``u`` above ``v`` in one frame.
    pad : callable
        ``pad(path) -> (margin, title)`` of a frame.
    frame_gap : float
        Room between a frame and its neighbours in a column.
    reserve : dict
        Subsystem path → room under its blocks for its return lanes.
    target : callable
        ``target(n, y) -> float or None``: where block ``n`` would best sit, given heights ``y``.
    avoid : callable, optional
        ``avoid(n, y) -> list of float``: heights of block ``n`` at which one of its wires would
        meet another signal's wire end to end; a last sweep moves it off them.
    clear : float
        How far off those heights a block moves: at least ``clear`` (a few small steps if 0).

    Returns
    -------
    dict
        Block → centre height (y grows downwards).

    Raises
    ------
    ValueError
        The column orders are not consistent (a subsystem both above and below another).

    Examples
    --------
    >>> ys = stack_columns([["a", "b"]], {"a": "", "b": ""}, lambda n: (0.5, 0.5), lambda u, v: 1.5,
    ...                    lambda p: (0.2, 0.2), 0.25, {}, lambda n, y: None)
    >>> ys["b"] - ys["a"]
    1.5
    """
    rules = _rules(order, group, extent, gap, pad, frame_gap, reserve)
    seq = rules.order()
    x: dict = {}
    for n in seq:  # the longest path: everything as high as it may be
        x[n] = max((x[u] + d for u, d in rules.preds[n]), default=0.0)
    for sweep in range(SWEEPS):
        upward = sweep % 2 == 1
        for n in (seq if upward else reversed(seq)):
            lo = max((x[u] + d for u, d in rules.preds[n]), default=-math.inf)
            hi = min((x[v] - d for v, d in rules.succs[n]), default=math.inf)
            if isinstance(n, tuple):  # a frame edge makes room for the blocks it holds
                x[n] = lo if upward else hi
                continue
            want = target(n, x)
            x[n] = min(max(x[n] if want is None else want, lo), hi)
    if avoid is not None:
        _step_aside(rules, seq, x, avoid, clear)
    return {n: x[n] for n in group if n in x} | {n: 0.0 for n in group if n not in x}


def _step_aside(rules: _Rules, seq, x: dict, avoid: Callable, clear: float = 0.0, step: float = 0.035) -> None:
    """Move each block whose height is within ``clear`` of one to avoid (or on one): within its
    bounds if it can, else down, pushing down what lies under it."""
    near = max(clear, 1e-6)
    for n in seq:
        if isinstance(n, tuple):
            continue
        bad = avoid(n, x)
        if not any(abs(x[n] - b) < near - 1e-9 for b in bad):
            continue
        lo = max((x[u] + d for u, d in rules.preds[n]), default=-math.inf)
        hi = min((x[v] - d for v, d in rules.succs[n]), default=math.inf)
        ok = max(clear, 1e-3)
        # just clear of each bad height, nearest first; then plain steps
        cands = sorted({b + s * (clear + 1e-6) for b in bad for s in (1, -1)} if clear else set(),
                       key=lambda y: (abs(y - x[n]), y))
        cands += [x[n] + k * step for k in (1, -1, 2, -2, 3, -3)]
        free = [y for y in cands if lo <= y <= hi]
        base = max(x[n], max(bad) + clear + 1e-6) if clear else x[n]
        pushed = [y for y in cands if y > x[n]] + [base + k * step for k in range(1, 4 + len(bad))]
        _push(rules, x, n, next(y for y in free + pushed if all(abs(y - b) >= ok - 1e-9 for b in bad)))


def _push(rules: _Rules, x: dict, n, y: float) -> None:
    """Set ``x[n] = y`` (not above its bounds) and move down whatever must make room."""
    x[n] = y
    todo = [n]
    while todo:
        u = todo.pop()
        for v, d in rules.succs[u]:
            if x[v] < x[u] + d - 1e-12:
                x[v] = x[u] + d
                todo.append(v)


def _rules(order, group, extent, gap, pad, frame_gap, reserve) -> _Rules:
    rules = _Rules()
    for names in order:
        for n in names:
            rules.node(n)
    paths = {s for g in group.values() for s in scopes(g)}
    for n, g in group.items():
        if g:
            above, below = extent(n)
            margin, title = pad(g)
            rules.add(("top", g), n, margin + title + above)
            rules.add(n, ("bot", g), below + reserve.get(g, 0.0) + margin)
    for s in paths:
        parent = s.rpartition("/")[0]
        if parent:
            inner, outer = pad(s)[0], pad(parent)[0]
            lanes = reserve.get(parent, 0.0)
            rules.add(("top", parent), ("top", s), outer - inner)
            rules.add(("bot", s), ("bot", parent), frame_gap / 2 + lanes + outer if lanes else outer - inner)
    for names in order:
        for u, v in zip(names, names[1:], strict=False):
            _neighbours(rules, u, v, group, extent, gap, frame_gap)
    return rules


def _neighbours(rules: _Rules, u: str, v: str, group, extent, gap, frame_gap: float) -> None:
    """The rule keeping ``u`` above ``v`` in a column, through the frames left and entered between them."""
    gu, gv = group[u], group[v]
    k = _common_depth(gu, gv)
    left, entered = scopes(gu)[k:], scopes(gv)[k:]
    if not left and not entered:
        rules.add(u, v, gap(u, v))
        return
    a, da = (("bot", left[0]), 0.0) if left else (u, extent(u)[1])
    b, db = (("top", entered[0]), 0.0) if entered else (v, extent(v)[0])
    rules.add(a, b, da + db + (frame_gap / 2 if left and entered else frame_gap))
