"""Wire routes, return lanes for feedback, and subsystem frames, on top of :mod:`~blockloop.viz.layout`.

Forward wires run left to right through their dummy points. Every feedback path gets a
horizontal *return lane* under everything it spans: the loop delay sits flipped on the lane
(input on its right, output on its left), the wire leaves its driver to the right, drops to
the lane, runs left through the delay and rises into the block it feeds. Narrow loops get
the upper lanes, so a small loop nested in a big one (the LSTM's cell loop inside its hidden
loop) is drawn inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout import LANE_GAP, Box, Grid, box_size, common_subsystem, layered_grid, port_index, within
from .style import graph_of

__all__ = ["Route", "Frame", "Layout", "layout_diagram"]

STUB = 0.12
CHANNEL = 0.2
CHANNEL_STEP = 0.09


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
class Frame:
    """A subsystem's rectangle: ``path`` and corners ``(x0, y0)`` top-left, ``(x1, y1)`` bottom-right."""

    path: str
    x0: float
    y0: float
    x1: float
    y1: float


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
    """
    flat = graph_of(diagram)
    grid = layered_grid(flat)
    boxes = dict(grid.boxes)
    routes = [_forward_route(flat, boxes, grid, w) for w in grid.chains]
    routes += _return_routes(flat, grid, boxes)
    frames = _frames(flat, boxes, routes)
    return Layout(boxes=boxes, routes=tuple(routes), frames=frames, bounds=_bounds(boxes, routes, frames))


def _port_point(flat, boxes, name, side, port) -> tuple[float, float]:
    k, n = port_index(flat, name, side, port)
    return boxes[name].port(side, k, n)


def _forward_route(flat, boxes, grid: Grid, wire) -> Route:
    a, b, k = wire
    e = flat.edges[a, b, k]
    p = _port_point(flat, boxes, a, "out", e["src_port"])
    q = _port_point(flat, boxes, b, "in", e["dst_port"])
    mids = [(boxes[d].x, boxes[d].y) for d in grid.chains[wire]]
    pts = [p, (p[0] + STUB, p[1]), *mids, (q[0] - STUB, q[1]), q]
    return Route(a, e["src_port"], b, e["dst_port"], tuple(pts))


class _Lanes:
    """Return lanes placed so far, and how many vertical channels each block side uses."""

    def __init__(self, boxes: dict[str, Box]):
        self.boxes = boxes
        self.lanes: list[tuple[float, float, float, str]] = []  # (x0, x1, lowest y used, scope)
        self.channels: dict[tuple[str, str], int] = {}

    def channel(self, name: str, side: str, least: float = CHANNEL) -> float:
        """Offset of the next vertical channel beside ``name`` (at least ``least``)."""
        used = self.channels.get((name, side), 0)
        self.channels[(name, side)] = used + 1
        return max(least, CHANNEL) + CHANNEL_STEP * used

    def lane_y(self, x0: float, x1: float, half: float, scope: str) -> float:
        """Centre y of a new lane over [x0, x1] for a box of half-height ``half``: under every
        block and lane of subsystem ``scope`` (and its subsystems) in that span."""
        low = [b.bottom for b in self.boxes.values()
               if b.x + b.w / 2 >= x0 and b.x - b.w / 2 <= x1 and within(b.group, scope)]
        low += [y for a, b, y, g in self.lanes if b >= x0 and a <= x1 and within(g, scope)]
        y = max(low, default=0.0) + LANE_GAP + half
        self.lanes.append((x0, x1, y + half, scope))
        return y


def _return_routes(flat, grid: Grid, boxes: dict[str, Box]) -> list[Route]:
    lanes = _Lanes(boxes)
    plans = [_plan(flat, boxes, w) for w in grid.back if w[0] not in grid.delays and w[1] not in grid.delays]
    plans += [_delay_plan(flat, boxes, d) for d in grid.delays]
    routes = []
    # inner subsystems first, then narrow loops first: nested loops get the upper lanes
    for plan in sorted(plans, key=lambda p: (-p["scope"].count("/") - bool(p["scope"]), p["x1"] - p["x0"], p["key"])):
        routes += _place(flat, boxes, lanes, plan)
    return routes


def _plan(flat, boxes, wire) -> dict:
    a, b, _ = wire
    x0 = boxes[b].x - boxes[b].w / 2
    x1 = boxes[a].x + boxes[a].w / 2
    scope = common_subsystem(flat.nodes[a]["subsystem"], flat.nodes[b]["subsystem"])
    return {"key": f"{a}>{b}", "x0": min(x0, x1), "x1": max(x0, x1), "wires": [wire], "delay": None,
            "scope": scope}


def _delay_plan(flat, boxes, delay: str) -> dict:
    ins = list(flat.in_edges(delay, keys=True))
    outs = list(flat.out_edges(delay, keys=True))
    xs = [boxes[a].x + boxes[a].w / 2 for a, _, _ in ins if a in boxes]
    xs += [boxes[b].x - boxes[b].w / 2 for _, b, _ in outs if b in boxes]
    return {"key": delay, "x0": min(xs, default=0.0), "x1": max(xs, default=0.0), "wires": ins + outs,
            "delay": delay, "scope": flat.nodes[delay]["subsystem"]}


def _place(flat, boxes, lanes: _Lanes, plan) -> list[Route]:
    delay = plan["delay"]
    w, h = box_size(flat.nodes[delay]["block"]) if delay else (0.0, 0.0)
    least = CHANNEL + max(0.0, (w - (plan["x1"] - plan["x0"])) / 2)  # channels clear of the delay box
    y = lanes.lane_y(plan["x0"] - least, plan["x1"] + least, h / 2, plan["scope"])
    if delay:
        boxes[delay] = Box(delay, (plan["x0"] + plan["x1"]) / 2, y, w, h, layer=-1, flipped=True,
                           group=plan["scope"])
    return [_lane_route(flat, boxes, lanes, wire, y, least) for wire in plan["wires"]
            if wire[0] in boxes and wire[1] in boxes]


def _lane_route(flat, boxes, lanes: _Lanes, wire, y: float, least: float) -> Route:
    a, b, k = wire
    e = flat.edges[a, b, k]
    p = _port_point(flat, boxes, a, "out", e["src_port"])
    q = _port_point(flat, boxes, b, "in", e["dst_port"])
    pts = [p]
    if not boxes[a].flipped:  # leave the driver to the right, drop to the lane
        xa = p[0] + lanes.channel(a, "out", least)
        pts += [(xa, p[1]), (xa, y)]
    if boxes[a].flipped and not boxes[b].flipped and q[0] > boxes[a].x:  # right of the delay: turn under it
        under = boxes[a].bottom + 0.3  # below the caption
        lanes.lanes.append((p[0] - STUB, q[0], under, boxes[a].group))
        xb = q[0] - lanes.channel(b, "in", least)
        pts += [(p[0] - STUB, p[1]), (p[0] - STUB, under), (xb, under), (xb, q[1])]
    elif not boxes[b].flipped:  # run along the lane, rise into the block from its left
        xb = q[0] - lanes.channel(b, "in", least)
        pts += [(xb, y), (xb, q[1])]
    pts.append(q)
    return Route(a, e["src_port"], b, e["dst_port"], tuple(pts), back=True)


def _frames(flat, boxes, routes) -> tuple[Frame, ...]:
    paths = {p for _, sub in flat.nodes(data="subsystem") if sub
             for p in ("/".join(sub.split("/")[: i + 1]) for i in range(sub.count("/") + 1))}
    depth_below = {p: max(q.count("/") - p.count("/") for q in paths if q == p or q.startswith(p + "/"))
                   for p in paths}
    frames = []
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        inside = {n for n, sub in flat.nodes(data="subsystem") if sub == path or sub.startswith(path + "/")}
        xs, ys = [], []
        for n in inside & boxes.keys():
            b = boxes[n]
            xs += [b.x - b.w / 2, b.x + b.w / 2]
            ys += [b.top, b.bottom + 0.18]  # room for the caption under the block
        for r in routes:
            if r.src in inside and r.dst in inside:
                xs += [x for x, _ in r.points]
                ys += [y for _, y in r.points]
        pad = 0.2 + 0.18 * depth_below[path]
        frames.append(Frame(path, min(xs) - pad, min(ys) - pad - 0.22, max(xs) + pad, max(ys) + pad))
    return tuple(frames)


def _bounds(boxes, routes, frames) -> tuple[float, float, float, float]:
    xs = [v for b in boxes.values() for v in (b.x - b.w / 2, b.x + b.w / 2)]
    ys = [v for b in boxes.values() for v in (b.top, b.bottom + 0.25)]
    xs += [x for r in routes for x, _ in r.points] + [v for f in frames for v in (f.x0, f.x1)]
    ys += [y for r in routes for _, y in r.points] + [v for f in frames for v in (f.y0, f.y1)]
    if not xs:  # an empty diagram
        return 0.0, 0.0, 2.0, 1.0
    return min(xs) - 0.3, min(ys) - 0.3, max(xs) + 0.3, max(ys) + 0.3
