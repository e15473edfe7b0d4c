"""One entry point for pictures: the built-in matplotlib renderer, or Graphviz on request.

``.dot`` files are always written (pure text). ``.svg``/``.png``/``.pdf`` use the matplotlib
renderer (orthogonal wires, feedback on return lanes; ``renderer="auto"`` or ``"mpl"``), or
Graphviz's ``dot`` with ``renderer="dot"`` (its feedback loops are drawn less clearly). The
choice is logged. ``depth=N`` collapses subsystems deeper than N levels to one block each.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import ParameterError
from .collapse import collapse
from .dot import render_dot, to_dot
from .style import check_highlight

__all__ = ["write_picture", "picture_svg", "choose_renderer", "fit_width", "RENDERERS", "FILE_FORMATS"]

logger = logging.getLogger(__name__)

RENDERERS = ("auto", "dot", "mpl")
FILE_FORMATS = ("dot", "svg", "png", "pdf")


def choose_renderer(renderer: str = "auto") -> str:
    """``"dot"`` or ``"mpl"``: ``"auto"`` is the matplotlib renderer (Graphviz only on request).

    Raises
    ------
    ParameterError
        An unknown renderer name.
    """
    if renderer not in RENDERERS:
        raise ParameterError(f"renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    return "mpl" if renderer == "auto" else renderer


def write_picture(diagram, path, *, renderer: str = "auto", highlight: str = "all",
                  names: Mapping[str, str] | None = None, sizes: bool = True,
                  depth: int | None = None) -> tuple[Path, str]:
    """Write a picture of ``diagram`` to ``path``; the format comes from the suffix.

    Parameters
    ----------
    diagram : Diagram or networkx.MultiDiGraph
    path : str or Path
        ``.dot`` (DOT text), ``.svg``, ``.png`` or ``.pdf``.
    renderer : {"auto", "dot", "mpl"}
        Ignored for ``.dot`` files.
    highlight, names, sizes
        As for :func:`~blockloop.viz.dot.to_dot`.
    depth : int, optional
        Show only ``depth`` levels of subsystems (0: each top-level subsystem is one block).

    Returns
    -------
    (Path, str)
        The path written and the renderer used (``"text"`` for ``.dot``).

    Raises
    ------
    ParameterError
        Unknown suffix, renderer or highlight, or a bad ``depth``.
    BlockloopError
        ``renderer="dot"`` but Graphviz is not installed, or it failed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "lstm.dot"
    >>> write_picture(lstm_network(NetworkWeights.random(4, 3, 2)), out)[1]
    'text'
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FILE_FORMATS:
        raise ParameterError(f"output file '{path}': the suffix must be one of "
                             f"{', '.join('.' + f for f in FILE_FORMATS)}")
    check_highlight(highlight)
    diagram = collapse(diagram, depth)
    if fmt == "dot":
        path.write_text(to_dot(diagram, highlight=highlight, names=names, sizes=sizes), encoding="utf-8")
        return path, "text"
    used = choose_renderer(renderer)
    if used == "dot":
        text = to_dot(diagram, highlight=highlight, names=names, sizes=sizes)
        path.write_bytes(render_dot(text, fmt))
    else:
        from .draw_mpl import save_diagram_image

        save_diagram_image(diagram, path, fmt=fmt, highlight=highlight, names=names, sizes=sizes)
    logger.info("wrote %s with %s", path, "Graphviz dot" if used == "dot" else "matplotlib")
    return path, used


def picture_svg(diagram, *, renderer: str = "auto", highlight: str = "all",
                names: Mapping[str, str] | None = None, depth: int | None = None) -> str:
    """SVG text of the diagram's picture, scaled to the width of its container (a notebook cell).

    The root ``<svg>`` gets ``width="100%"`` and no fixed height; its ``viewBox`` keeps the
    proportions. Text stays ``<text>``.

    Raises
    ------
    ParameterError, BlockloopError
        As for :func:`write_picture`.

    Examples
    --------
    >>> from blockloop.diagrams.examples import accumulator
    >>> svg = picture_svg(accumulator())
    >>> 'width="100%"' in svg and "viewBox" in svg and "<text" in svg
    True
    """
    diagram = collapse(diagram, depth)
    if choose_renderer(renderer) == "dot":
        return fit_width(render_dot(to_dot(diagram, highlight=highlight, names=names), "svg").decode("utf-8"))
    from .draw_mpl import diagram_svg

    return fit_width(diagram_svg(diagram, highlight=highlight, names=names))


def fit_width(svg: str) -> str:
    """The SVG with its root element's fixed width and height replaced by ``width="100%"``.

    The old width stays as a ``max-width``, so a small diagram is not blown up in a wide cell.
    """
    start = svg.find("<svg")
    end = svg.find(">", start)
    if start < 0 or end < 0:
        return svg
    width = re.search(r'\swidth="([^"%]*)"', svg[start:end])
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[start:end])
    cap = f' style="max-width: {width.group(1)}"' if width else ""
    return svg[:start] + head.replace("<svg", f'<svg width="100%"{cap}', 1) + svg[end:]
