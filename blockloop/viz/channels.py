"""Channel routing: vertical tracks between columns, and the columns' final x positions.

A wire is first described symbolically (:class:`Spec`): its two ports and, in between, points
``(channel, y)`` on a vertical track of channel ``channel`` (channel c lies left of column c).
Each net (one output port and every wire it drives) gets its own track in each channel it turns
in, so different signals never share a line. Tracks are ordered so that a net's horizontal
stub never runs along another net's stub at the same height or within ``WIRE_SEP`` of it (that
would look like a short), and, among the orders that allow it, so that few stubs cross other nets' tracks. Channels
widen to fit their tracks and the subsystem frames' margins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import COLUMN_GAP, WIRE_SEP, Box, box_size, port_index

__all__ = ["Spec", "place_columns", "TRACK", "EDGE"]

TRACK = 0.13  # distance between neighbouring tracks
EDGE = 0.42  # least room between a column and the first track (frame margins fit in it)
EPS = 1e-9


@dataclass
class Spec:
    """A wire before x positions are known: its ports and its ``(channel, y)`` track points."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    back: bool = False
    tracks: list[tuple[int, float]] = field(default_factory=list)

    @property
    def net(self) -> tuple[str, str]:
        return self.src, self.src_port

    def track(self, channel: int, y: float) -> None:
        """Append a point on this wire's track in ``channel``, at height ``y``."""
        self.tracks.append((channel, y))

    def pin_y(self, flat, boxes, ys, name: str, side: str) -> float:
        """Height of this wire's port on block ``name`` (``side`` "out" or "in"); a dummy's own y."""
        if boxes[name].dummy:
            return ys[name]
        k, n = port_index(flat, name, side, self.src_port if side == "out" else self.dst_port)
        return ys[name] + boxes[name].h * ((k + 1) / (n + 1) - 0.5)


def _pins(specs, column, side) -> dict[int, dict]:
    """Channel → net → {"ys": heights used, "pins": [(y, "L"/"R")] horizontal stubs leaving the track,
    "sides": which subsystem frame, ending left (-1) or starting right (+1) of the channel, holds it}."""
    chans: dict[int, dict] = {}
    for s in specs:
        items = [("port", s.src), *s.tracks, ("port", s.dst)]
        for i in range(1, len(items) - 1):
            c, y = items[i]
            info = chans.setdefault(c, {}).setdefault(s.net, {"ys": [], "pins": [], "sides": set()})
            info["sides"].add(side(s, c))
            info["ys"].append(y)
            for nb in (items[i - 1], items[i + 1]):
                if nb[0] == "port":
                    info["pins"].append((y, "R" if c <= column(nb[1]) else "L"))
                elif nb[0] != c:
                    info["pins"].append((y, "R" if nb[0] > c else "L"))
    return chans


def _cost(a: dict, b: dict) -> float:
    """Cost of putting net ``a``'s track left of net ``b``'s: crossings, and (heavily) a shared stub."""
    lo_a, hi_a = min(a["ys"]), max(a["ys"])
    lo_b, hi_b = min(b["ys"]), max(b["ys"])
    cost = sum(lo_b + EPS < y < hi_b - EPS for y, d in a["pins"] if d == "R")
    cost += sum(lo_a + EPS < y < hi_a - EPS for y, d in b["pins"] if d == "L")
    clash = any(abs(ya - yb) < WIRE_SEP - 1e-7
                for ya, da in a["pins"] if da == "R" for yb, db in b["pins"] if db == "L")
    return cost + 1000.0 * clash + 100.0 * (_side(a) > _side(b))


def _side(info: dict) -> int:
    """-1: the net's track belongs in the frame left of the channel, +1: right of it, 0: either.

    A net with one wire inside such a frame and others leaving it keeps its track in the frame
    (the frame reaches out to the track, so the track must keep clear of the other side's frames).
    """
    sides = info["sides"] - {0}
    return sides.pop() if len(sides) == 1 else 0


def _frame_sides(flat, boxes, delays):
    """``side(spec, channel)``: whether the wire lies inside a frame ending (-1) or starting (+1) there."""
    from .layout import common_subsystem, scopes

    cols: dict[str, list[int]] = {}
    for b in boxes.values():
        for scope in scopes(b.group):
            cols.setdefault(scope, []).append(b.layer)
    for col, _, sub in delays.values():
        for scope in scopes(sub):
            cols.setdefault(scope, []).append(col)

    def side(spec: Spec, c: int) -> int:
        path = common_subsystem(flat.nodes[spec.src]["subsystem"], flat.nodes[spec.dst]["subsystem"])
        for scope in reversed(scopes(path)):
            lo, hi = min(cols.get(scope, [c])), max(cols.get(scope, [c]))
            if lo <= c - 1 <= hi < c:
                return -1
            if c - 1 < lo <= c <= hi:
                return 1
        return 0

    return side


def order_tracks(nets: dict) -> list:
    """Nets that need a track in one channel, left to right: each net in turn moves to the place
    that lowers the summed pair costs most, until no move helps."""
    order = sorted((n for n, info in nets.items() if max(info["ys"]) - min(info["ys"]) > EPS),
                   key=lambda n: (min(y for y, _ in nets[n]["pins"]), n))
    pair = {(a, b): _cost(nets[a], nets[b]) for a in order for b in order if a != b}

    def total(seq) -> float:
        return sum(pair[(a, b)] for i, a in enumerate(seq) for b in seq[i + 1:])

    best = total(order)
    for _ in range(len(order)):
        improved = False
        for net in list(order):
            rest = [n for n in order if n != net]
            for i in range(len(rest) + 1):
                seq = rest[:i] + [net] + rest[i:]
                cost = total(seq)
                if cost < best - 1e-9:
                    order, best, improved = seq, cost, True
        if not improved:
            break
    return order


def place_columns(flat, boxes: dict[str, Box], delays: dict, specs: list[Spec], edge: float = EDGE):
    """Final x of every column and track; returns ``(boxes, points)`` (delays added, one polyline per spec).

    ``delays`` maps each loop delay to ``(column, lane y, subsystem)``; ``edge`` is the least room
    between a column and a track.
    """
    n_cols = max((b.layer for b in boxes.values()), default=-1) + 1

    def column(name: str) -> int:
        return delays[name][0] if name in delays else boxes[name].layer

    width = [0.0] * n_cols
    for b in boxes.values():
        width[b.layer] = max(width[b.layer], b.w)
    for d, (col, _, _) in delays.items():
        width[col] = max(width[col], box_size(flat.nodes[d]["block"])[0])
    chans = _pins(specs, column, _frame_sides(flat, boxes, delays))
    orders = {c: order_tracks(nets) for c, nets in chans.items()}
    centre, track_x, x = [], {}, 0.0
    for c in range(n_cols + 1):
        order = orders.get(c, [])
        steps = [TRACK + (2 * edge if _side(chans[c][a]) != _side(chans[c][b]) else 0.0)
                 for a, b in zip(order, order[1:], strict=False)]  # room for frame borders between
        span = sum(steps)
        # a frame reaching out to its tracks needs room for its border and the next frame's
        before = 2 * edge if order and _side(chans[c][order[0]]) > 0 else edge
        after = 2 * edge if order and _side(chans[c][order[-1]]) < 0 else edge
        gap = max(COLUMN_GAP, before + span + after) if 0 < c < n_cols or order else 0.0
        for net in chans.get(c, {}):
            track_x[(c, net)] = x + gap / 2
        pos = x + before + (gap - before - span - after) / 2
        for i, net in enumerate(order):
            track_x[(c, net)] = pos
            pos += steps[i] if i < len(steps) else 0.0
        x += gap
        if c < n_cols:
            centre.append(x + width[c] / 2)
            x += width[c]
    placed = {n: Box(n, centre[b.layer], b.y, b.w, b.h, b.layer, dummy=b.dummy, group=b.group)
              for n, b in boxes.items()}
    for d, (col, y, scope) in delays.items():
        w, h = box_size(flat.nodes[d]["block"])
        placed[d] = Box(d, centre[col], y, w, h, col, flipped=True, group=scope)
    return placed, [_points(flat, placed, track_x, s) for s in specs]


def _points(flat, boxes, track_x, s: Spec) -> tuple[tuple[float, float], ...]:
    k, n = port_index(flat, s.src, "out", s.src_port)
    pts = [boxes[s.src].port("out", k, n)]
    pts += [(track_x[(c, s.net)], y) for c, y in s.tracks]
    k, n = port_index(flat, s.dst, "in", s.dst_port)
    pts.append(boxes[s.dst].port("in", k, n))
    return simplify(pts)


def simplify(pts) -> tuple[tuple[float, float], ...]:
    """Drop repeated points and points in the middle of a straight run."""
    out: list[tuple[float, float]] = []
    for p in pts:
        if out and abs(p[0] - out[-1][0]) < EPS and abs(p[1] - out[-1][1]) < EPS:
            continue
        if len(out) >= 2 and any(abs(out[-2][i] - out[-1][i]) < EPS and abs(out[-1][i] - p[i]) < EPS
                                 for i in (0, 1)):
            out[-1] = p
            continue
        out.append(p)
    return tuple(out)
