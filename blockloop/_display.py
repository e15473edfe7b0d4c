"""Small text/HTML helpers behind the notebook displays (``__str__`` / ``_repr_html_``) of result objects.

Every cell is passed through :func:`html.escape`, so block and signal names such as ``<script>`` show
as text in a notebook. Standard library only (``import blockloop`` stays light).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["text_table", "html_table", "html_block"]


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """Left-aligned plain-text table: ``header`` then ``rows``, columns padded to the widest cell."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML ``<table>`` of ``header`` and ``rows``; every cell HTML-escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_block(title: str, lines: Sequence[str] = (), table: str = "") -> str:
    """A ``<div>``: bold escaped ``title``, escaped ``lines`` (one ``<br>`` each), then ``table`` (already HTML)."""
    parts = [f"<b>{html.escape(title)}</b>"] + [html.escape(line) for line in lines]
    return "<div>" + "<br>".join(parts) + table + "</div>"
