"""Geometric checks of a computed diagram layout (:class:`blockloop.viz.routing.Layout`).

:func:`violations` lists, as readable strings, every place where a picture is not clean:

* ``diagonal``: a wire segment that is neither horizontal nor vertical;
* ``crosses``: a wire segment entering a block's box (touching its border at a port is fine);
* ``shared``: two different nets (a net is one output port and every wire it drives) lying on
  one line over a stretch, or one net's corner or end lying on another net's wire — both look
  like a connection;
* ``close``: two different nets running side by side closer than :data:`SEPARATION` over a
  stretch — drawn lines are up to 4.4 points thick, so they would look like one wire;
* ``frame``: a block outside one of its own subsystem frames, or inside another one; two
  frames of sibling subsystems that overlap, or a frame sticking out of its parent's.
"""

from __future__ import annotations

EPS = 1e-6
# Least distance between parallel wires of different nets, in layout units. draw_mpl draws at
# most INCH_PER_UNIT = 0.85 inch (61.2 points) per unit, and its thickest line is a loop's outer
# band, 4.4 points wide = 0.072 units: two such bands touch at 0.072 apart. 0.1 units (6.1 points)
# leaves a visible gap of at least 1.7 points; the tightest port spacing (three ports on a
# 0.42-high circle, 0.105) and the track pitch (0.13) are wider.
SEPARATION = 0.1


def segments(lay):
    """``(net, (x0, y0), (x1, y1))`` for every non-empty segment of every route."""
    out = []
    for r in lay.routes:
        net = (r.src, r.src_port)
        for p, q in zip(r.points, r.points[1:], strict=False):
            if abs(p[0] - q[0]) > EPS or abs(p[1] - q[1]) > EPS:
                out.append((net, p, q))
    return out


def _diagonal(segs):
    return [f"diagonal: {net} {p}→{q}" for net, p, q in segs if abs(p[0] - q[0]) > EPS and abs(p[1] - q[1]) > EPS]


def _enters(p, q, box) -> bool:
    """True when segment p–q (axis-parallel) meets the open interior of ``box``."""
    x0, x1 = sorted((p[0], q[0]))
    y0, y1 = sorted((p[1], q[1]))
    bx0, bx1 = box.x - box.w / 2 + EPS, box.x + box.w / 2 - EPS
    by0, by1 = box.top + EPS, box.bottom - EPS
    return x0 < bx1 and x1 > bx0 and y0 < by1 and y1 > by0


def _crossings(lay, segs):
    boxes = [b for b in lay.boxes.values() if not b.dummy]
    return [f"crosses: {net} {p}→{q} enters {b.name}" for net, p, q in segs for b in boxes if _enters(p, q, b)]


def _on(pt, p, q) -> bool:
    """True when point ``pt`` lies on the axis-parallel segment p–q (ends included)."""
    return (min(p[0], q[0]) - EPS <= pt[0] <= max(p[0], q[0]) + EPS
            and min(p[1], q[1]) - EPS <= pt[1] <= max(p[1], q[1]) + EPS)


def _overlap(a, b) -> bool:
    """Two axis-parallel segments on one line sharing at least a point."""
    (_, p1, q1), (_, p2, q2) = a, b
    for axis in (0, 1):
        other = 1 - axis
        if (abs(p1[axis] - q1[axis]) < EPS and abs(p2[axis] - q2[axis]) < EPS
                and abs(p1[axis] - p2[axis]) < EPS):
            lo1, hi1 = sorted((p1[other], q1[other]))
            lo2, hi2 = sorted((p2[other], q2[other]))
            return min(hi1, hi2) - max(lo1, lo2) > -EPS
    return False


def _close(a, b) -> bool:
    """Two parallel axis-parallel segments on different lines less than SEPARATION apart, overlapping
    over a stretch."""
    (_, p1, q1), (_, p2, q2) = a, b
    for axis in (0, 1):
        other = 1 - axis
        if (abs(p1[axis] - q1[axis]) < EPS and abs(p2[axis] - q2[axis]) < EPS
                and EPS <= abs(p1[axis] - p2[axis]) < SEPARATION - EPS):
            lo1, hi1 = sorted((p1[other], q1[other]))
            lo2, hi2 = sorted((p2[other], q2[other]))
            return min(hi1, hi2) - max(lo1, lo2) > EPS
    return False


def _shared(segs):
    found = []
    for i, a in enumerate(segs):
        for b in segs[i + 1:]:
            if a[0] == b[0]:
                continue
            if _overlap(a, b):
                found.append(f"shared: {a[0]} {a[1]}→{a[2]} and {b[0]} {b[1]}→{b[2]}")
            elif _close(a, b):
                found.append(f"close: {a[0]} {a[1]}→{a[2]} runs beside {b[0]} {b[1]}→{b[2]}")
            elif any(_on(pt, b[1], b[2]) for pt in (a[1], a[2])) or any(_on(pt, a[1], a[2]) for pt in (b[1], b[2])):
                found.append(f"shared: {a[0]} touches {b[0]} at a corner ({a[1]}→{a[2]}, {b[1]}→{b[2]})")
    return found


def _frames(lay, flat):
    found = []
    for name, b in lay.boxes.items():
        if b.dummy:
            continue
        sub = flat.nodes[name]["subsystem"]
        for f in lay.frames:
            own = sub == f.path or sub.startswith(f.path + "/")
            inside = f.x0 <= b.x - b.w / 2 and b.x + b.w / 2 <= f.x1 and f.y0 <= b.top and b.bottom <= f.y1
            apart = b.x + b.w / 2 <= f.x0 or b.x - b.w / 2 >= f.x1 or b.bottom <= f.y0 or b.top >= f.y1
            if own and not inside:
                found.append(f"frame: {name} is not inside its frame {f.path}")
            elif not own and not apart:
                found.append(f"frame: {name} lies in the frame of {f.path}")
    return found + _frame_pairs(lay)


def _frame_pairs(lay):
    found = []
    for i, f in enumerate(lay.frames):
        for g in lay.frames[i + 1:]:
            if g.path.startswith(f.path + "/") or f.path.startswith(g.path + "/"):
                outer, inner = (f, g) if g.path.startswith(f.path + "/") else (g, f)
                if not (outer.x0 < inner.x0 and inner.x1 < outer.x1 and outer.y0 < inner.y0 and inner.y1 < outer.y1):
                    found.append(f"frame: {inner.path} sticks out of {outer.path}")
            elif not (f.x1 <= g.x0 or g.x1 <= f.x0 or f.y1 <= g.y0 or g.y1 <= f.y0):
                found.append(f"frame: {f.path} overlaps {g.path}")
    return found


def violations(lay, flat) -> list[str]:
    """Every geometric fault of layout ``lay`` of flattened graph ``flat`` (empty when clean)."""
    segs = segments(lay)
    return _diagonal(segs) + _crossings(lay, segs) + _shared(segs) + _frames(lay, flat)
