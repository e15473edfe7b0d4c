"""Subsystem frames: their margins, and the rectangles the return lanes are fitted around.

A frame is the rectangle around a subsystem's blocks, wires and return lanes. The layout
(:mod:`~blockloop.viz.stacking`) keeps every frame clear of the blocks of other subsystems and of
its sibling frames; :func:`frame_rects` tells the router where the inner frames are, so that a
return lane of an outer subsystem passes under them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout import CAPTION, box_size, frame_pad, within
from .ordering import scopes

__all__ = ["Frame", "frame_pad", "frame_rects"]


@dataclass(frozen=True)
class Frame:
    """A subsystem's rectangle: ``path`` and corners ``(x0, y0)`` top-left, ``(x1, y1)`` bottom-right."""

    path: str
    x0: float
    y0: float
    x1: float
    y1: float


def _extent(grid, ys, n: str) -> tuple[float, float]:
    b = grid.boxes[n]
    if b.dummy:
        return ys[n] - 0.02, ys[n] + 0.02
    return ys[n] - b.h / 2, ys[n] + b.h / 2 + CAPTION


def frame_rects(flat, grid, ys, lane_bottoms: dict[str, float], delays) -> dict[str, tuple[int, int, float, float]]:
    """Subsystem path → ``(first column, last column, top, bottom)`` of its frame, lanes included.

    ``delays`` maps each loop delay to ``(column, lane y, subsystem)``.
    """

    paths = {g for b in grid.boxes.values() for g in scopes(b.group)}
    paths |= {g for g in lane_bottoms if g}
    rects = {}
    for path in paths:
        members = [n for n, b in grid.boxes.items() if within(b.group, path) and path]
        if not members:
            continue
        pad, title = frame_pad(paths, path)
        own = [(c, y, box_size(flat.nodes[d]["block"])[1] / 2) for d, (c, y, g) in delays.items() if within(g, path)]
        cols = [grid.boxes[n].layer for n in members] + [c for c, _, _ in own]
        top = min(_extent(grid, ys, n)[0] for n in members) - pad - title
        bottom = max([_extent(grid, ys, n)[1] for n in members] + [y + h + CAPTION for _, y, h in own]
                     + [y for g, y in lane_bottoms.items() if g and within(g, path)]) + pad
        rects[path] = (min(cols), max(cols), top, bottom)
    return rects
