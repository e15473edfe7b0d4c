"""A small report document (headings, text, tables, figures, code) written as Markdown and HTML.

No template engine: the document is a list of typed parts, each rendered by both writers. The
only inline markup in text is ``code`` in backticks. Everything is escaped for HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParameterError

__all__ = ["Report", "fmt", "FORMATS"]

FORMATS = ("md", "html")

_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #bbb;padding:.2em .6em;"
        "text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}"
        "pre{background:#f6f6f6;padding:.6em;overflow-x:auto}img{max-width:100%}")


def fmt(value, digits: int = 5) -> str:
    """A number for a table: ``digits`` significant digits; None/absent as an en dash.

    Examples
    --------
    >>> fmt(7.535113629), fmt(None), fmt(120000), fmt(3.1e-2), fmt([[325.49113, -78.88231]])
    ('7.5351', '–', '120000', '0.031', '[[325.49, -78.882]]')
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return str(value)


def _inline_html(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@dataclass
class Report:
    """An ordered document. Add parts with the methods below, then :meth:`write` it.

    Examples
    --------
    >>> r = Report("Study")
    >>> r.heading("Numbers"); r.table([["quantity", "ours", "published"], ["DC gain", "7.5351", "7.5351"]])
    >>> print(r.to_markdown().splitlines()[2])
    ## Numbers
    """

    title: str
    parts: list = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        if level not in (2, 3, 4):
            raise ParameterError(f"heading level: expected 2, 3 or 4 (1 is the title), got {level}")
        self.parts.append(("heading", level, text))

    def paragraph(self, text: str) -> None:
        self.parts.append(("paragraph", text))

    def table(self, rows: list[list]) -> None:
        """A table; the first row is the header. Cells are converted with ``str``."""
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ParameterError("table: expected a header row and rows of the same length")
        self.parts.append(("table", [[str(c) for c in r] for r in rows]))

    def image(self, src: str, alt: str) -> None:
        """A figure; ``src`` is a path relative to the report's folder."""
        self.parts.append(("image", src, alt))

    def code(self, text: str) -> None:
        self.parts.append(("code", text))

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, *rest in self.parts:
            if kind == "heading":
                out += ["#" * rest[0] + " " + rest[1], ""]
            elif kind == "paragraph":
                out += [rest[0], ""]
            elif kind == "table":
                rows = rest[0]
                out.append("| " + " | ".join(_md_cell(c) for c in rows[0]) + " |")
                out.append("|" + "|".join("---" for _ in rows[0]) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows[1:]]
                out.append("")
            elif kind == "image":
                out += [f"![{rest[1]}]({rest[0]})", ""]
            else:
                out += ["```", rest[0], "```", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for kind, *rest in self.parts:
            if kind == "heading":
                body.append(f"<h{rest[0]}>{_inline_html(rest[1])}</h{rest[0]}>")
            elif kind == "paragraph":
                body.append(f"<p>{_inline_html(rest[0])}</p>")
            elif kind == "table":
                rows = rest[0]
                head = "".join(f"<th>{_inline_html(c)}</th>" for c in rows[0])
                cells = ["<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in r) + "</tr>" for r in rows[1:]]
                body.append(f"<table><tr>{head}</tr>{''.join(cells)}</table>")
            elif kind == "image":
                body.append(f'<figure><img src="{html.escape(rest[0])}" alt="{html.escape(rest[1])}">'
                            f"<figcaption>{html.escape(rest[1])}</figcaption></figure>")
            else:
                body.append(f"<pre>{html.escape(rest[0])}</pre>")
        return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")

    def write(self, folder, formats=FORMATS) -> list[Path]:
        """Write ``report.md`` and/or ``report.html`` into ``folder``; returns the paths written."""
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise ParameterError(f"report formats: expected some of {FORMATS}, got {sorted(unknown)}")
        folder = Path(folder)
        paths = []
        for f in formats:
            path = folder / f"report.{f}"
            path.write_text(self.to_markdown() if f == "md" else self.to_html(), encoding="utf-8")
            paths.append(path)
        return paths
