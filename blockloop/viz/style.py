"""What both renderers agree on: block glyphs, loop colours, wire highlights and wire sizes.

Pure Python (no matplotlib, no Graphviz), so the DOT writer and the matplotlib renderer draw
the same diagram the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from ..engine.diagram import Diagram
from ..engine.flatten import flatten
from ..errors import BlockloopError, ParameterError

__all__ = ["Glyph", "glyph", "ROLE_COLORS", "WIRE_COLOR", "HIGHLIGHTS", "highlighted_wires", "wire_sizes",
           "Wire", "check_highlight", "LSTM_LOOP_NAMES", "delay_colors", "legend_entries", "short_name"]

logger = logging.getLogger(__name__)

# Colour per loop role (colour-blind safe pair: vermilion and blue) and for plain wires.
ROLE_COLORS = {"inner": "#d55e00", "outer": "#0072b2", "algebraic": "#cc00cc"}
WIRE_COLOR = "#444444"
DELAY_FILL = "#cfe3f7"

HIGHLIGHTS = ("all", "inner", "outer", "none")

# Words for the LSTM's loop labels: "inner (cell)", "outer (hidden)".
LSTM_LOOP_NAMES = {"c_delay": "cell", "h_delay": "hidden"}

Wire = tuple[str, str, str, str]  # (src block, src port, dst block, dst port)


@dataclass(frozen=True)
class Glyph:
    """How a block looks: ``shape`` (box, circle, triangle, bar, port, delay) and its text."""

    shape: str
    text: str
    fill: str = "white"
    caption: bool = True  # write the block's name under the shape


_POINTWISE = {"Sigmoid": "σ", "Tanh": "tanh"}


def glyph(block) -> Glyph:
    """The :class:`Glyph` of a leaf block, after the usual Simulink symbols.

    Examples
    --------
    >>> from blockloop.blocks import UnitDelay, Sum
    >>> glyph(UnitDelay()).text, glyph(Sum("+-")).text
    ('z⁻¹', 'Σ')
    """
    kind = block.type_name
    if kind == "UnitDelay":
        return Glyph("delay", "z⁻¹", DELAY_FILL)
    if kind == "Sum":
        return Glyph("circle", "Σ")
    if kind == "Product":
        return Glyph("box", "×")
    if kind in _POINTWISE:
        return Glyph("box", _POINTWISE[kind], "#f3f3f3")
    if kind == "Gain":
        return Glyph("triangle", "", "#fff7d6", caption=False)
    if kind in ("Demux", "Mux"):
        return Glyph("bar", "", "#222222")
    if kind in ("Inport", "Outport"):
        return Glyph("port", "", "#e8f3e8", caption=False)
    if kind == "Constant":
        return Glyph("box", "", "#fff7d6", caption=False)
    if kind in _LINEAR_SYSTEMS:
        return _LINEAR_SYSTEMS[kind](block)
    if kind in _CONTROL_BLOCKS:
        return _CONTROL_BLOCKS[kind](block)
    return Glyph("box", kind)


#: Stateful linear systems: their transfer function or equation, on a light blue (they hold state).
_LINEAR_SYSTEMS = {
    "DiscreteStateSpace": lambda b: Glyph("box", "Ax+Bu", "#eef4fb"),
    "DiscreteTransferFunction": lambda b: Glyph("box", "B(z)/A(z)", "#eef4fb"),
    "DiscreteIntegrator": lambda b: Glyph("box", "KTsz/(z−1)" if getattr(b, "method", "") == "backward"
                                      else "KTs/(z−1)", "#eef4fb"),
}


_MATH_TEXT = {"exp": "eᵘ", "log": "ln", "sqrt": "√u", "sin": "sin", "cos": "cos", "square": "u²", "reciprocal": "1/u"}

#: Memoryless control blocks (grey, like σ and tanh) and generated sources (pale yellow, like Constant).
_CONTROL_BLOCKS = {
    "Saturation": lambda b: Glyph("box", "sat", "#f3f3f3"),
    "DeadZone": lambda b: Glyph("box", "dead zone", "#f3f3f3"),
    "Abs": lambda b: Glyph("box", "|u|", "#f3f3f3"),
    "Switch": lambda b: Glyph("box", "switch", "#f3f3f3"),
    "MinMax": lambda b: Glyph("box", b.function, "#f3f3f3"),
    "MathFunction": lambda b: Glyph("box", _MATH_TEXT[b.function], "#f3f3f3"),
    "MatrixProduct": lambda b: Glyph("box", "U₁·U₂", "#f3f3f3"),
    "Step": lambda b: Glyph("box", "step", "#fff7d6"),
    "Ramp": lambda b: Glyph("box", "ramp", "#fff7d6"),
    "Sine": lambda b: Glyph("box", "sine", "#fff7d6"),
    "Pulse": lambda b: Glyph("box", "pulse", "#fff7d6"),
}


def check_highlight(highlight: str) -> str:
    """Return ``highlight`` or raise :class:`ParameterError` listing the choices."""
    if highlight not in HIGHLIGHTS:
        raise ParameterError(f"highlight: expected one of {', '.join(HIGHLIGHTS)}, got {highlight!r}")
    return highlight


def highlighted_wires(report, highlight: str = "all") -> dict[Wire, tuple[str, ...]]:
    """Wires on highlighted loops → the roles of the loops through them (outer first).

    ``highlight`` picks roles: ``"inner"``, ``"outer"``, ``"all"`` or ``"none"``. Algebraic
    loops (an error the user must see) are highlighted whenever ``highlight`` is not ``"none"``.
    """
    check_highlight(highlight)
    wanted = {"all": {"inner", "outer", "algebraic"}, "inner": {"inner", "algebraic"},
              "outer": {"outer", "algebraic"}, "none": set()}[highlight]
    out: dict[Wire, set[str]] = {}
    for loop in report:
        if loop.role not in wanted:
            continue
        ports = list(loop.ports)
        for a, b in zip(ports, ports[1:] + ports[:1], strict=True):
            src, src_port = a.rsplit(".", 1)
            dst, dst_port = b.rsplit(".", 1)
            if src != dst:  # a wire (hops inside a block are feedthrough or delay)
                out.setdefault((src, src_port, dst, dst_port), set()).add(loop.role)
    order = ("outer", "inner", "algebraic")
    return {w: tuple(r for r in order if r in roles) for w, roles in out.items()}


def graph_of(diagram) -> nx.MultiDiGraph:
    """The flattened graph of a Diagram (or the graph itself, when already flattened)."""
    return flatten(diagram) if isinstance(diagram, Diagram) else diagram


def wire_sizes(flat: nx.MultiDiGraph) -> Mapping[tuple[str, str], int]:
    """Output-port sizes ``(block, port) → n`` when they can be inferred, else an empty dict."""
    from ..engine.sizes import infer_sizes

    try:
        return infer_sizes(flat)[1]
    except BlockloopError as exc:
        logger.info("wire sizes not shown: %s", exc)
        return {}


def short_name(path: str) -> str:
    """The last component of a block path: ``"lstm1/c_delay"`` → ``"c_delay"``."""
    return path.rsplit("/", 1)[-1]


def delay_colors(report, marks: dict[Wire, tuple[str, ...]]) -> dict[str, str]:
    """Delay block → the colour of the highlighted loop it closes (inner wins over outer)."""
    colors: dict[str, str] = {}
    for lp in report:
        for d in lp.delays:
            if any(w[0] == d and lp.role in roles for w, roles in marks.items()):
                if colors.get(d) != ROLE_COLORS["inner"]:
                    colors[d] = ROLE_COLORS[lp.role]
    return colors


def legend_entries(report, highlight: str) -> list[tuple[str, str]]:
    """``(colour, text)`` for each highlighted loop family, e.g. ``"inner (cell): lstm1/c_delay, 1 loop"``."""
    wanted = {r for w in highlighted_wires(report, highlight).values() for r in w}
    entries = []
    for fam in report.families:
        if fam.role in wanted:
            n = len(fam.loops)
            where = fam.name if fam.delays else "through " + ", ".join(fam.blocks[:4]) + (
                ", …" if len(fam.blocks) > 4 else "")
            entries.append((ROLE_COLORS[fam.role], f"{fam.label}: {where}, {n} loop{'s' if n != 1 else ''}"))
    return entries
