"""Orthogonal wire routes, return lanes for feedback, and subsystem frames, on top of :mod:`~blockloop.viz.layout`.

Every wire is drawn with right angles only. Between two columns of blocks lies a *channel*;
a wire crosses a channel horizontally when its ends line up, else it turns onto a vertical
*track* of that channel (one track per net, so two different signals never share a line:
see :mod:`~blockloop.viz.channels`). A wire spanning several columns passes the columns in
between at its dummy points, which the layout keeps clear of blocks.

Every feedback path gets a horizontal *return lane* under everything it spans: the loop delay
sits flipped on the lane (input on its right, output on its left), the wire leaves its driver to
the right, drops to the lane on a track, runs left through the delay and rises on a track into
the block it feeds. Narrow loops get the upper lanes, so a small loop nested in a big one (the
LSTM's cell loop inside its hidden loop) is drawn inside it. Blocks that do not belong to a
subsystem are moved out of its frame (:mod:`~blockloop.viz.frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .channels import EDGE, Spec, place_columns
from .frames import Frame, frame_pad, frame_rects
from .layout import (
    CAPTION,
    FRAME_GAP,
    LANE_GAP,
    Box,
    Grid,
    box_size,
    common_subsystem,
    delay_column,
    layered_grid,
    within,
)
from .ordering import scopes
from .style import glyph, graph_of

__all__ = ["Route", "Frame", "Layout", "layout_diagram"]


@dataclass(frozen=True)
class Route:
    """A wire's polyline from the source port to the destination port; ``back`` for return paths."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    points: tuple[tuple[float, float], ...]
    back: bool = False


@dataclass(frozen=True)
class Layout:
    """Everything a renderer needs: ``boxes`` (blocks; dummies have ``dummy=True``), ``routes``,
    ``frames`` (outermost first) and ``bounds`` ``(x0, y0, x1, y1)``."""

    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    frames: tuple[Frame, ...]
    bounds: tuple[float, float, float, float]


def layout_diagram(diagram) -> Layout:
    """Lay out a diagram (or a flattened graph) left to right with return lanes for feedback.

    Raises
    ------
    WiringError
        The diagram cannot be flattened.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> lay = layout_diagram(lstm_network(NetworkWeights.random(4, 3, 2)))
    >>> c, h = lay.boxes["lstm1/c_delay"], lay.boxes["lstm1/h_delay"]
    >>> c.flipped and h.flipped and c.y < h.y   # the cell lane lies inside the hidden lane
    True
    >>> all(p[0] == q[0] or p[1] == q[1] for r in lay.routes for p, q in zip(r.points, r.points[1:]))
    True
    """
    flat = graph_of(diagram)
    grid = layered_grid(flat)
    ys = {n: b.y for n, b in grid.boxes.items()}
    lanes = _Lanes(flat, grid, ys)
    specs = _forward_specs(flat, grid, ys) + lanes.specs
    boxes = dict(grid.boxes)
    paths = {b.group for b in boxes.values()} | {flat.nodes[d]["subsystem"] for d in grid.delays}
    edge = max([EDGE] + [frame_pad(paths, p)[0] + 0.12 for p in paths if p])
    boxes, points = place_columns(flat, boxes, lanes.delays, specs, edge)
    routes = [Route(s.src, s.src_port, s.dst, s.dst_port, pts, s.back) for s, pts in zip(specs, points, strict=True)]
    frames = _frames(flat, boxes, routes)
    return Layout(boxes=boxes, routes=tuple(routes), frames=frames, bounds=_bounds(boxes, routes, frames))


def _forward_specs(flat, grid: Grid, ys) -> list[Spec]:
    """Forward wires: out of the source, through a track in each channel passed, into the destination."""
    specs = []
    for (a, b, k), dummies in grid.chains.items():
        e = flat.edges[a, b, k]
        spec = Spec(a, e["src_port"], b, e["dst_port"])
        path = [a, *dummies, b]
        for j, (u, v) in enumerate(zip(path, path[1:], strict=False)):
            c = grid.boxes[a].layer + j + 1
            spec.track(c, spec.pin_y(flat, grid.boxes, ys, u, "out") if j == 0 else ys[u])
            spec.track(c, spec.pin_y(flat, grid.boxes, ys, v, "in") if v == b else ys[v])
        specs.append(spec)
    return specs


class _Lanes:
    """Return lanes of every feedback path: their heights, the loop delays' columns, the routes.

    A loop delay sits in a column of its own subsystem, between its driver and the leftmost
    block it feeds where it can.
    """

    def __init__(self, flat, grid: Grid, ys):
        self.flat, self.grid, self.ys = flat, grid, ys
        self.used: list[tuple[int, int, float, str]] = []  # (first column, last column, lowest y, scope)
        self.bottoms: dict[str, float] = {}  # scope → lowest y any of its lanes uses
        self.delays: dict[str, tuple[int, float, str]] = {}  # delay → (column, lane y, scope)
        self.specs: list[Spec] = []
        plans = [self._plan(w) for w in grid.back if w[0] not in grid.delays and w[1] not in grid.delays]
        plans += [self._delay_plan(d) for d in grid.delays]
        self.pending = plans  # a delay adds the lanes of its wires into outer subsystems here
        while self.pending:
            # inner subsystems first, then narrow loops first: nested loops get the upper lanes
            self.pending.sort(key=lambda p: (-p[0].count("/") - bool(p[0]), p[2] - p[1], p[3]))
            self.pending.pop(0)[4]()

    def layer(self, name: str) -> int:
        return self.grid.boxes[name].layer

    def lane_y(self, lo: int, hi: int, half: float, scope: str) -> float:
        """Centre y of a new lane over columns ``lo..hi`` for a box of half-height ``half``: under
        every block, wire and lane of subsystem ``scope`` (and its subsystems) there."""
        low = [self.ys[n] + (0.0 if b.dummy else b.h / 2 + CAPTION) for n, b in self.grid.boxes.items()
               if lo <= b.layer <= hi and within(b.group, scope)]
        low += [y for a, b, y, g in self.used if a <= hi + 1 and lo <= b + 1 and within(g, scope)]
        low += [y1 + FRAME_GAP / 2 for path, (c0, c1, _, y1) in self._frames().items()
                if path != scope and within(path, scope) and c0 <= hi and lo <= c1]  # pass under inner frames
        y = max(low, default=0.0) + LANE_GAP + half
        self.used.append((lo, hi, y + half + (CAPTION if half else 0.0), scope))
        self.bottoms[scope] = max(self.bottoms.get(scope, y), y + half + (CAPTION if half else 0.0))
        return y

    def _frames(self) -> dict:
        return frame_rects(self.flat, self.grid, self.ys, self.bottoms, self.delays)

    def _plan(self, wire):
        a, b, _ = wire
        la, lb = self.layer(a), self.layer(b)
        lo, hi = min(la + 1, lb), max(la + 1, lb) - 1
        scope = common_subsystem(self.flat.nodes[a]["subsystem"], self.flat.nodes[b]["subsystem"])
        return scope, lo, hi, f"{a}>{b}", lambda: self._back(wire, lo, hi, scope)

    def _back(self, wire, lo: int, hi: int, scope: str) -> None:
        a, b, k = wire
        e = self.flat.edges[a, b, k]
        spec = Spec(a, e["src_port"], b, e["dst_port"], back=True)
        ya = spec.pin_y(self.flat, self.grid.boxes, self.ys, a, "out")
        yb = spec.pin_y(self.flat, self.grid.boxes, self.ys, b, "in")
        spec.track(self.layer(a) + 1, ya)
        if lo <= hi:  # down to a lane under the columns between, along it, up on the other side
            y = self.lane_y(lo, hi, 0.0, scope)
            spec.track(self.layer(a) + 1, y)
            spec.track(self.layer(b), y)
        spec.track(self.layer(b), yb)
        self.specs.append(spec)

    def _delay_plan(self, delay: str):
        (a, _, ka), = self.flat.in_edges(delay, keys=True)
        outs = list(self.flat.out_edges(delay, keys=True))
        sub = self.flat.nodes[delay]["subsystem"]
        la = self.layer(a)
        layer = {n: b.layer for n, b in self.grid.boxes.items() if not b.dummy}
        col, direct, lo = delay_column(self.flat, layer, delay)
        scope = common_subsystem(self.flat.nodes[a]["subsystem"], sub)
        return scope, lo, la, delay, lambda: self._delay(delay, (a, delay, ka), outs, direct, (col, lo), scope)

    def _delay(self, delay: str, wire_in, outs, direct, cols: tuple[int, int], scope: str) -> None:
        col, lo = cols
        h = box_size(self.flat.nodes[delay]["block"])[1]
        a = wire_in[0]
        y = self.lane_y(lo, max(col, self.layer(a)), h / 2, scope)
        self.delays[delay] = (col, y, self.flat.nodes[delay]["subsystem"])
        e = self.flat.edges[wire_in]
        spec = Spec(a, e["src_port"], delay, e["dst_port"], back=True)
        spec.track(self.layer(a) + 1, spec.pin_y(self.flat, self.grid.boxes, self.ys, a, "out"))
        spec.track(self.layer(a) + 1, y)
        self.specs.append(spec)
        for w in outs:
            lb = self.layer(w[1])
            if w in direct or lb == col:
                self._delay_out(w, col, y, None)
            else:  # down from the delay's left, along a lane of its own, once inner lanes are placed
                there = common_subsystem(self.flat.nodes[w[1]]["subsystem"], self.flat.nodes[delay]["subsystem"])
                lane = (min(col, lb), max(col, lb) - 1, there)
                self.pending.append((there, *lane[:2], f"{delay}>{w[1]}",
                                     lambda w=w, lane=lane: self._delay_out(w, col, y, lane)))

    def _delay_out(self, w, col: int, y: float, lane) -> None:
        """Wire ``w`` out of a loop delay at lane height ``y``; ``lane`` ``(lo, hi, scope)``: a lane of its own."""
        e = self.flat.edges[w]
        spec = Spec(w[0], e["src_port"], w[1], e["dst_port"], back=True)
        lb = self.layer(w[1])
        if lane is not None:
            spec.track(col, y)
            y = self.lane_y(*lane[:2], 0.0, lane[2])
            spec.track(col, y)
        spec.track(lb, y)
        spec.track(lb, spec.pin_y(self.flat, self.grid.boxes, self.ys, w[1], "in"))
        self.specs.append(spec)


def _frames(flat, boxes, routes) -> tuple[Frame, ...]:
    paths = {p for _, sub in flat.nodes(data="subsystem") if sub for p in scopes(sub)}
    frames = []
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        inside = {n for n, sub in flat.nodes(data="subsystem") if within(sub, path)}
        xs, ys = [], []
        for n in inside & boxes.keys():
            b = boxes[n]
            xs += [b.x - b.w / 2, b.x + b.w / 2]
            ys += [b.top, b.bottom + (CAPTION if glyph(flat.nodes[n]["block"]).caption else 0.0)]
        for r in routes:
            if r.src in inside and r.dst in inside:
                xs += [x for x, _ in r.points]
                ys += [y for _, y in r.points]
        if xs:
            pad, title = frame_pad(paths, path)
            frames.append(Frame(path, min(xs) - pad, min(ys) - pad - title, max(xs) + pad, max(ys) + pad))
    return tuple(frames)


def _bounds(boxes, routes, frames) -> tuple[float, float, float, float]:
    xs = [v for b in boxes.values() for v in (b.x - b.w / 2, b.x + b.w / 2)]
    ys = [v for b in boxes.values() for v in (b.top, b.bottom + 0.25)]
    xs += [x for r in routes for x, _ in r.points] + [v for f in frames for v in (f.x0, f.x1)]
    ys += [y for r in routes for _, y in r.points] + [v for f in frames for v in (f.y0, f.y1)]
    if not xs:  # an empty diagram
        return 0.0, 0.0, 2.0, 1.0
    return min(xs) - 0.3, min(ys) - 0.3, max(xs) + 0.3, max(ys) + 0.3
