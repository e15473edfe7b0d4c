"""Graphviz DOT text for any diagram, and rendering it with the ``dot`` program when installed.

:func:`to_dot` is pure string building and always works; :func:`render_dot` runs Graphviz's
``dot`` (found with :func:`shutil.which`) as a subprocess with an argument list, never a shell.

Picture conventions: subsystems are dashed clusters; unit delays are blue ``z⁻¹`` boxes;
wires on feedback loops are coloured by the loop's role (inner vs outer, see
:mod:`blockloop.engine.loops`), a wire on both gets both colours side by side; wire labels
give the signal size, the port a multi-output block drives, and a Sum's sign.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Mapping
from html import escape

from ..engine.loops import feedback_loops
from ..errors import BlockloopError, ParameterError
from .style import ROLE_COLORS as _COLORS
from .style import (
    WIRE_COLOR,
    delay_colors,
    glyph,
    graph_of,
    highlighted_wires,
    legend_entries,
    short_name,
    wire_sizes,
)

__all__ = ["to_dot", "render_dot", "dot_program", "DOT_FORMATS"]

logger = logging.getLogger(__name__)

DOT_FORMATS = ("svg", "png", "pdf")

_SHAPES = {
    "box": 'shape=box, style="filled", height=0.4',
    "circle": 'shape=circle, style="filled", width=0.4, fixedsize=true',
    "triangle": 'shape=triangle, orientation=270, style="filled", width=0.6, height=0.6',
    "bar": 'shape=plain',
    "port": 'shape=box, style="rounded,filled", height=0.35',
    "delay": 'shape=box, style="filled,bold", height=0.45',
}


def _q(text: str) -> str:
    """A DOT double-quoted string (backslashes and quotes escaped, newlines as ``\\n``)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(diagram, *, highlight: str = "all", names: Mapping[str, str] | None = None,
           sizes: bool = True, max_loops: int = 10_000) -> str:
    """Graphviz DOT source of a diagram, left to right, with feedback loops highlighted.

    Parameters
    ----------
    diagram : Diagram or networkx.MultiDiGraph
        A diagram, or an already flattened graph (:func:`~blockloop.engine.flatten`).
    highlight : {"all", "inner", "outer", "none"}
        Which loop roles to colour (algebraic loops are coloured unless ``"none"``).
    names : mapping, optional
        Loop label words by delay name, passed to :func:`~blockloop.engine.loops.feedback_loops`.
    sizes : bool
        Label wires with signal sizes when they can be inferred.
    max_loops : int
        Cap on the loop enumeration (see ``feedback_loops``).

    Returns
    -------
    str
        DOT text; render it with :func:`render_dot` or any Graphviz tool.

    Raises
    ------
    ParameterError
        Unknown ``highlight``.
    WiringError
        The diagram cannot be flattened.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> text = to_dot(lstm_network(NetworkWeights.random(4, 3, 2)))
    >>> text.startswith('digraph "lstm_net" {'), 'subgraph "cluster_lstm1"' in text
    (True, True)
    """
    flat = graph_of(diagram)
    report = feedback_loops(flat, max_loops=max_loops, names=names)
    marks = highlighted_wires(report, highlight)
    size_of = wire_sizes(flat) if sizes else {}
    lines = [f"digraph {_q(flat.graph.get('name') or 'diagram')} {{",
             '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.25, ranksep=0.45, newrank=true, '
             'labelloc=b, labeljust=l];',
             '  node [fontname="Helvetica", fontsize=11, color="#333333", fillcolor=white];',
             f'  edge [fontname="Helvetica", fontsize=9, color="{WIRE_COLOR}", arrowsize=0.6, fontcolor="#555555"];']
    legend = legend_entries(report, highlight)
    if legend:
        lines.append(f"  label=<{_legend_html(legend)}>;")
    lines += _cluster_lines(flat, _subsystem_tree(flat), "", 1, delay_colors(report, marks))
    closing = {d for lp in report for d in lp.delays}
    for a, b, e in flat.edges(data=True):
        lines.append("  " + _edge_line(flat, a, b, e, marks, size_of, closing))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend_html(entries) -> str:
    rows = "".join(f'<tr><td align="left"><font color="{c}">━━ {escape(t)}</font></td></tr>' for c, t in entries)
    return f'<table border="0" cellspacing="0" cellpadding="1">{rows}</table>'


def _subsystem_tree(flat) -> dict[str, list[str]]:
    """Subsystem path → its child subsystem paths (``""`` is the top level)."""
    tree: dict[str, list[str]] = {"": []}
    for _, sub in flat.nodes(data="subsystem"):
        parts = sub.split("/") if sub else []
        for k in range(len(parts)):
            parent, child = "/".join(parts[:k]), "/".join(parts[: k + 1])
            tree.setdefault(child, [])
            if child not in tree[parent]:
                tree[parent].append(child)
    return tree


def _cluster_lines(flat, tree, path: str, depth: int, colors: dict[str, str]) -> list[str]:
    pad = "  " * depth
    lines = []
    for name, attrs in flat.nodes(data=True):
        if attrs["subsystem"] == path:
            lines.append(pad + _node_line(name, attrs["block"], colors.get(name)))
    for child in tree[path]:
        lines.append(f"{pad}subgraph {_q('cluster_' + child)} {{")
        lines.append(f'{pad}  label={_q(short_name(child))}; style="rounded,dashed"; color="#777777"; '
                     'fontcolor="#555555"; fontsize=12; labeljust=l;')
        lines += _cluster_lines(flat, tree, child, depth + 1, colors)
        lines.append(pad + "}")
    return lines


def _node_line(name: str, block, color: str | None = None) -> str:
    g = glyph(block)
    short = short_name(name)
    if g.shape == "bar":
        label = f"label=<{_bar_html(_bar_ports(block), g.fill)}>, xlabel={_q(short)}"
    elif g.shape == "circle":
        label = f"label={_q(g.text)}, xlabel={_q(short)}"
    elif g.text and g.caption:
        label = f"label={_q(g.text + chr(10) + short)}"
    else:
        label = f"label={_q(g.text or short)}"
    tooltip = _q(f"{name}: {block!r}")
    edge = f", color={_q(color)}, penwidth=2" if color else ""
    shape = _SHAPES.get(g.shape, _SHAPES["box"])  # a block type without a glyph of its own: a box
    return f"{_q(name)} [{shape}, fillcolor={_q(g.fill)}{edge}, {label}, tooltip={tooltip}];"


def _bar_ports(block) -> tuple[str, ...]:
    """The ports a Mux/Demux bar shows as cells: its outputs if several, else its inputs."""
    return block.outputs if len(block.outputs) > 1 else block.inputs


def _bar_html(ports, fill: str) -> str:
    cells = "".join(f'<tr><td port="{escape(p)}" height="18"><font color="white" point-size="8">{escape(p)}'
                    "</font></td></tr>" for p in ports)
    return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1" bgcolor="{fill}">{cells}</table>'


def _edge_line(flat, a, b, e, marks, size_of, closing: set[str]) -> str:
    attrs = []
    src_block, dst_block = flat.nodes[a]["block"], flat.nodes[b]["block"]
    size = size_of.get((a, e["src_port"]))
    if size is not None:
        attrs.append(f"label={_q(size)}")
    if dst_block.type_name == "Sum" and "-" in dst_block.signs:
        sign = dst_block.signs[dst_block.inputs.index(e["dst_port"])]
        attrs.append(f"headlabel={_q('−' if sign == '-' else '+')}")
    roles = marks.get((a, e["src_port"], b, e["dst_port"]), ())
    if roles:
        attrs.append(f"color={_q(':'.join(_COLORS[r] for r in roles))}, penwidth=2")
    if a in closing:
        attrs.append("constraint=false")  # draw the delayed wire as the loop's return path
    tail = _q(a) + (f":{_q(e['src_port'])}:e" if _is_bar_port(src_block, e["src_port"]) else ":e")
    head = _q(b) + (f":{_q(e['dst_port'])}:w" if _is_bar_port(dst_block, e["dst_port"]) else ":w")
    return f"{tail} -> {head}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"


def _is_bar_port(block, port: str) -> bool:
    return glyph(block).shape == "bar" and len(_bar_ports(block)) > 1 and port in _bar_ports(block)


def dot_program() -> str | None:
    """Path of Graphviz's ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


def render_dot(dot_text: str, fmt: str = "svg", *, timeout: float = 60.0) -> bytes:
    """Run Graphviz ``dot -T<fmt>`` on ``dot_text``; return the rendered bytes.

    Parameters
    ----------
    dot_text : str
        DOT source, e.g. from :func:`to_dot`.
    fmt : {"svg", "png", "pdf"}
    timeout : float
        Seconds before giving up.

    Raises
    ------
    ParameterError
        Unsupported ``fmt``.
    BlockloopError
        ``dot`` is not installed (install Graphviz, e.g. ``apt-get install graphviz``, or use
        the matplotlib renderer), fails, or times out.

    Examples
    --------
    >>> svg = render_dot("digraph { a -> b }") if dot_program() else b"<svg"
    >>> b"<svg" in svg
    True
    """
    if fmt not in DOT_FORMATS:
        raise ParameterError(f"fmt: expected one of {', '.join(DOT_FORMATS)}, got {fmt!r}")
    program = dot_program()
    if program is None:
        raise BlockloopError("Graphviz 'dot' is not installed; install Graphviz (e.g. 'apt-get install graphviz') "
                             "or use the matplotlib renderer (renderer='mpl')")
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BlockloopError(f"Graphviz 'dot' did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        raise BlockloopError(f"Graphviz 'dot -T{fmt}' failed (exit {done.returncode}): "
                             f"{done.stderr.decode('utf-8', 'replace').strip()}")
    logger.info("rendered %d bytes of %s with %s", len(done.stdout), fmt, program)
    return done.stdout
