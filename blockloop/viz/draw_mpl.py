"""Draw a diagram with matplotlib alone: no Graphviz needed, so a picture is always possible.

The layout is :func:`~blockloop.viz.routing.layout_diagram` (layered, left to right, feedback
on return lanes below the loops). Blocks use Simulink-like glyphs; loop delays are blue
``z⁻¹`` boxes; wires on feedback loops are coloured by role (see
:func:`~blockloop.viz.style.highlighted_wires`); a wire on an inner and an outer loop is drawn
in the inner colour over a wider band of the outer colour. Small grey numbers are signal
sizes (when they can be inferred).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path

from ..engine.loops import feedback_loops
from ..errors import ParameterError
from .collapse import collapse
from .layout import Box
from .routing import Layout, Route, layout_diagram
from .style import (
    DELAY_FILL,
    ROLE_COLORS,
    WIRE_COLOR,
    check_highlight,
    delay_colors,
    glyph,
    graph_of,
    highlighted_wires,
    legend_entries,
    short_name,
    wire_sizes,
)

__all__ = ["draw_diagram", "save_diagram_image", "diagram_svg", "MPL_FORMATS"]

logger = logging.getLogger(__name__)

MPL_FORMATS = ("png", "svg", "pdf")
INCH_PER_UNIT = 0.85
MAX_INCHES = 60.0


def draw_diagram(diagram, *, highlight: str = "all", names: Mapping[str, str] | None = None,
                 sizes: bool = True, title: str | None = None, max_loops: int = 10_000, depth: int | None = None):
    """Draw a diagram on a new matplotlib ``Figure`` (pyplot is not used).

    Parameters
    ----------
    diagram : Diagram or networkx.MultiDiGraph
        A diagram or a flattened graph.
    highlight : {"all", "inner", "outer", "none"}
        Which feedback loops to colour (algebraic loops are coloured unless ``"none"``).
    names : mapping, optional
        Loop label words by delay name, e.g. ``{"c_delay": "cell"}``.
    sizes : bool
        Write signal sizes on the wires.
    title : str, optional
        Defaults to the diagram's name.
    max_loops : int
        Cap on the loop enumeration (see :func:`~blockloop.engine.loops.feedback_loops`).
    depth : int, optional
        Draw only ``depth`` levels of subsystems; deeper ones are one block each (0: every
        top-level subsystem is one block). See :func:`~blockloop.viz.collapse.collapse`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ParameterError
        Unknown ``highlight``, or a ``depth`` that is not an integer ≥ 0.
    WiringError
        The diagram cannot be flattened.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> fig = draw_diagram(lstm_network(NetworkWeights.random(4, 3, 2)), highlight="inner")
    >>> bool(fig.get_figwidth() > fig.get_figheight())
    True
    """
    from matplotlib.figure import Figure

    check_highlight(highlight)
    flat = graph_of(collapse(diagram, depth))
    report = feedback_loops(flat, max_loops=max_loops, names=names)
    marks = highlighted_wires(report, highlight)
    lay = layout_diagram(flat)
    legend = legend_entries(report, highlight)
    x0, y0, x1, y1 = lay.bounds
    y0 -= 0.45  # title
    y1 += 0.3 * len(legend) + (0.2 if legend else 0.0)
    scale = min(INCH_PER_UNIT, MAX_INCHES / max(x1 - x0, y1 - y0))
    fig = Figure(figsize=((x1 - x0) * scale, (y1 - y0) * scale))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.set_aspect("equal")
    ax.axis("off")
    _draw_frames(ax, lay)
    _draw_routes(ax, lay, marks)
    _draw_branch_points(ax, lay)
    _draw_boxes(ax, flat, lay, delay_colors(report, marks))
    if sizes:
        _draw_sizes(ax, flat, lay, wire_sizes(flat))
    ax.text(x0 + 0.15, y0 + 0.15, title if title is not None else flat.graph.get("name", ""), fontsize=11,
            va="top", ha="left", weight="bold", color="#333333")
    for k, (color, text) in enumerate(legend):
        y = lay.bounds[3] + 0.15 + 0.3 * k
        ax.plot([x0 + 0.2, x0 + 0.65], [y, y], color=color, lw=2.2, solid_capstyle="butt")
        ax.text(x0 + 0.75, y, text, va="center", ha="left", fontsize=8.5, color=color)
    return fig


def save_diagram_image(diagram, path, *, fmt: str | None = None, dpi: int = 150, **kwargs) -> Path:
    """Draw with :func:`draw_diagram` and write ``path`` (PNG, SVG or PDF, from the suffix or ``fmt``).

    Raises
    ------
    ParameterError
        A format other than png, svg or pdf.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in MPL_FORMATS:
        raise ParameterError(f"image format: expected one of {', '.join(MPL_FORMATS)}, got {fmt!r} (from '{path}')")
    fig = draw_diagram(diagram, **kwargs)
    _save(fig, path, fmt, dpi=dpi)
    logger.debug("wrote %s with matplotlib", path)
    return path


def diagram_svg(diagram, **kwargs) -> str:
    """The matplotlib drawing as SVG text, its text kept as ``<text>`` (used by ``Diagram._repr_svg_``)."""
    buf = io.StringIO()
    _save(draw_diagram(diagram, **kwargs), buf, "svg")
    return buf.getvalue()


def _save(fig, target, fmt: str, **kwargs) -> None:
    """``fig.savefig`` with SVG text written as text (searchable, scalable), not as glyph paths."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(target, format=fmt, **kwargs)


def _draw_frames(ax, lay: Layout) -> None:
    from matplotlib.patches import FancyBboxPatch

    for f in lay.frames:
        ax.add_patch(FancyBboxPatch((f.x0, f.y0), f.x1 - f.x0, f.y1 - f.y0, boxstyle="round,pad=0,rounding_size=0.12",
                                    fc="#fbfbfb", ec="#888888", lw=0.9, ls=(0, (4, 3)), zorder=0))
        ax.text(f.x0 + 0.12, f.y0 + 0.06, short_name(f.path), fontsize=9, color="#555555", va="top", ha="left",
                zorder=1)


def _draw_routes(ax, lay: Layout, marks) -> None:
    for r in lay.routes:
        roles = marks.get((r.src, r.src_port, r.dst, r.dst_port), ())
        xs, ys = zip(*r.points, strict=True)
        if len(roles) > 1:  # outer band under the inner line
            ax.plot(xs, ys, color=ROLE_COLORS[roles[0]], lw=4.4, zorder=2, solid_joinstyle="miter")
            ax.plot(xs, ys, color=ROLE_COLORS[roles[-1]], lw=1.8, zorder=3, solid_joinstyle="miter")
            color = ROLE_COLORS[roles[-1]]
        elif roles:
            color = ROLE_COLORS[roles[0]]
            ax.plot(xs, ys, color=color, lw=2.0, zorder=3, solid_joinstyle="miter")
        else:
            color = WIRE_COLOR
            ax.plot(xs, ys, color=color, lw=0.9, zorder=2)
        _arrowhead(ax, r, color)


def _draw_branch_points(ax, lay: Layout) -> None:
    """A dot where a net splits (Simulink's branch point): three or more ways out of one point."""
    for pt in branch_points(lay):
        ax.plot([pt[0]], [pt[1]], "o", ms=3.2, color=WIRE_COLOR, zorder=4)


def branch_points(lay: Layout) -> list[tuple[float, float]]:
    """Points where the routes of one net (one output port) go three or more ways."""
    nets: dict[tuple[str, str], list[Route]] = {}
    for r in lay.routes:
        nets.setdefault((r.src, r.src_port), []).append(r)
    found = []
    for routes in nets.values():
        if len(routes) < 2:
            continue
        segs = [(p, q) for r in routes for p, q in zip(r.points, r.points[1:], strict=False)]
        for v in {p for r in routes for p in r.points[1:-1]}:
            ways = set()
            for p, q in segs:
                if _on(v, p, q):
                    ways |= {_way(v, e) for e in (p, q) if _way(v, e)}
            if len(ways) >= 3:
                found.append(v)
    return sorted(found)


def _on(v, p, q, eps: float = 1e-9) -> bool:
    return (min(p[0], q[0]) - eps <= v[0] <= max(p[0], q[0]) + eps
            and min(p[1], q[1]) - eps <= v[1] <= max(p[1], q[1]) + eps)


def _way(v, e, eps: float = 1e-9) -> str:
    """The direction from ``v`` to ``e`` on an axis-parallel segment ("" when they coincide)."""
    dx, dy = e[0] - v[0], e[1] - v[1]
    if abs(dx) > eps:
        return "R" if dx > 0 else "L"
    if abs(dy) > eps:
        return "D" if dy > 0 else "U"
    return ""


def _arrowhead(ax, r: Route, color: str) -> None:
    from matplotlib.patches import Polygon

    (xa, _), (xb, yb) = r.points[-2], r.points[-1]
    d = 1.0 if xb >= xa else -1.0
    size = 0.09
    ax.add_patch(Polygon([(xb, yb), (xb - d * size, yb - size * 0.5), (xb - d * size, yb + size * 0.5)],
                         closed=True, fc=color, ec=color, lw=0.5, zorder=4))


def _draw_boxes(ax, flat, lay: Layout, delay_colors) -> None:
    for name, box in lay.boxes.items():
        if box.dummy:
            continue
        block = flat.nodes[name]["block"]
        g = glyph(block)
        _shape(ax, g, box, delay_colors.get(name, "#333333"))
        collapsed = block.type_name == "Subsystem"  # a collapsed subsystem: its name inside
        text = short_name(name) if collapsed else g.text or ("" if g.shape == "bar" else short_name(name))
        dx = -box.w * 0.12 if g.shape == "triangle" else 0.0
        if block.type_name == "Sum" and ("-" in block.signs or len(block.signs) > 3):
            text = _sum_signs(ax, box, block.signs)
        size = 8.5 if len(text) > 3 else 11
        ax.text(box.x + dx, box.y, text, ha="center", va="center", fontsize=size, zorder=6,
                color="white" if g.shape == "bar" else "#111111")
        if g.caption and not collapsed:
            ax.text(box.x, box.bottom + 0.04, short_name(name), ha="center", va="top", fontsize=7, color="#333333",
                    zorder=6)


def _sum_signs(ax, box: Box, signs: str) -> str:
    """Write each input's sign next to its port; returns the text for the middle of the shape.

    A round sum (up to three inputs) shows only the signs, as Simulink does; a tall sum keeps
    its Σ and puts a small sign just inside each port.
    """
    tall = box.h > box.w + 1e-9
    for k, sign in enumerate(signs):
        x, y = box.port("in", k, len(signs))
        sx = x + 0.08 if tall else box.x - box.w * 0.12
        ax.text(sx, y, "−" if sign == "-" else "+", fontsize=7 if tall else 8, ha="center", va="center",
                zorder=6, weight="bold")
    return "Σ" if tall else ""


def _shape(ax, g, box: Box, edge: str) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch, Polygon, Rectangle

    left, top = box.x - box.w / 2, box.top
    kw = {"fc": g.fill, "ec": edge, "lw": 1.0, "zorder": 5}
    if g.shape == "circle" and box.h > box.w + 1e-9:  # a sum with many inputs
        patch = FancyBboxPatch((left, top), box.w, box.h, boxstyle="round,pad=0,rounding_size=0.2", **kw)
    elif g.shape == "circle":
        patch = Circle((box.x, box.y), box.w / 2, **kw)
    elif g.shape == "triangle":
        patch = Polygon([(left, top), (left, box.bottom), (box.x + box.w / 2, box.y)], closed=True, **kw)
    elif g.shape == "port":
        patch = FancyBboxPatch((left, top), box.w, box.h, boxstyle="round,pad=0,rounding_size=0.12", **kw)
    else:
        if g.shape == "delay":
            kw.update(lw=1.8, fc=DELAY_FILL)
        patch = Rectangle((left, top), box.w, box.h, **kw)
    ax.add_patch(patch)


def _draw_sizes(ax, flat, lay: Layout, size_of) -> None:
    seen = set()
    for r in lay.routes:
        key = (r.src, r.src_port)
        block = flat.nodes[r.src]["block"]
        label = r.src_port if len(block.outputs) > 1 else ""
        n = size_of.get(key)
        if key in seen or (n is None and not label):
            continue
        seen.add(key)
        text = " ".join(s for s in (label, str(n) if n is not None else "") if s)
        (xa, ya), (xb, _) = r.points[0], r.points[1]
        right = xb >= xa
        ax.text(xa + (0.03 if right else -0.03), ya - 0.03, text, fontsize=6, color="#666666", zorder=6,
                ha="left" if right else "right", va="bottom")
