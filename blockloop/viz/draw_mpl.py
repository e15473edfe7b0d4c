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
                 sizes: bool = True, title: str | None = None, max_loops: int = 10_000):
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

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ParameterError
        Unknown ``highlight``.
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
    flat = graph_of(diagram)
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
    fig.savefig(path, format=fmt, dpi=dpi)
    logger.debug("wrote %s with matplotlib", path)
    return path


def diagram_svg(diagram, **kwargs) -> str:
    """The matplotlib drawing as SVG text (used by ``Diagram._repr_svg_`` without Graphviz)."""
    buf = io.StringIO()
    draw_diagram(diagram, **kwargs).savefig(buf, format="svg")
    return buf.getvalue()


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
    """A dot where one output port feeds several wires (Simulink's branch point)."""
    fan: dict[tuple[str, str], list[Route]] = {}
    for r in lay.routes:
        fan.setdefault((r.src, r.src_port), []).append(r)
    for routes in fan.values():
        if len(routes) > 1:
            x, y = routes[0].points[1]
            if y == routes[0].points[0][1]:
                ax.plot([x], [y], "o", ms=3.2, color=WIRE_COLOR, zorder=4)


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
        text = g.text or ("" if g.shape == "bar" else short_name(name))
        dx = -box.w * 0.12 if g.shape == "triangle" else 0.0
        if block.type_name == "Sum" and "-" in block.signs:  # Simulink's round sum: signs, not Σ
            text = ""
            for k, sign in enumerate(block.signs):
                x, y = box.port("in", k, len(block.signs))
                ax.text(box.x - box.w * 0.12, y, "−" if sign == "-" else "+", fontsize=8, ha="center",
                        va="center", zorder=6, weight="bold")
        size = 8.5 if len(text) > 3 else 11
        ax.text(box.x + dx, box.y, text, ha="center", va="center", fontsize=size, zorder=6,
                color="white" if g.shape == "bar" else "#111111")
        if g.caption:
            ax.text(box.x, box.bottom + 0.04, short_name(name), ha="center", va="top", fontsize=7, color="#333333",
                    zorder=6)


def _shape(ax, g, box: Box, edge: str) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch, Polygon, Rectangle

    left, top = box.x - box.w / 2, box.top
    kw = {"fc": g.fill, "ec": edge, "lw": 1.0, "zorder": 5}
    if g.shape == "circle":
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
