"""One entry point for pictures: Graphviz when it is installed, matplotlib otherwise.

``.dot`` files are always written (pure text). ``.svg``/``.png``/``.pdf`` use Graphviz's ``dot``
when :func:`~blockloop.viz.dot.dot_program` finds it, else the matplotlib renderer; the
choice is logged, and ``renderer="dot"`` or ``"mpl"`` forces one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..errors import ParameterError
from .dot import dot_program, render_dot, to_dot
from .style import check_highlight

__all__ = ["write_picture", "picture_svg", "choose_renderer", "RENDERERS", "FILE_FORMATS"]

logger = logging.getLogger(__name__)

RENDERERS = ("auto", "dot", "mpl")
FILE_FORMATS = ("dot", "svg", "png", "pdf")


def choose_renderer(renderer: str = "auto") -> str:
    """``"dot"`` or ``"mpl"``: ``"auto"`` picks Graphviz when its ``dot`` program is installed.

    Raises
    ------
    ParameterError
        An unknown renderer name.
    """
    if renderer not in RENDERERS:
        raise ParameterError(f"renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    if renderer == "auto":
        return "dot" if dot_program() else "mpl"
    return renderer


def write_picture(diagram, path, *, renderer: str = "auto", highlight: str = "all",
                  names: Mapping[str, str] | None = None, sizes: bool = True) -> tuple[Path, str]:
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

    Returns
    -------
    (Path, str)
        The path written and the renderer used (``"text"`` for ``.dot``).

    Raises
    ------
    ParameterError
        Unknown suffix, renderer or highlight.
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
                names: Mapping[str, str] | None = None) -> str:
    """SVG text of the diagram's picture (Graphviz if installed, else matplotlib).

    Raises
    ------
    ParameterError, BlockloopError
        As for :func:`write_picture`.
    """
    if choose_renderer(renderer) == "dot":
        return render_dot(to_dot(diagram, highlight=highlight, names=names), "svg").decode("utf-8")
    from .draw_mpl import diagram_svg

    return diagram_svg(diagram, highlight=highlight, names=names)
