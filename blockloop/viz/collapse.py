"""Collapse subsystems below a nesting depth to one block each, for pictures of big diagrams.

``collapse(diagram, depth)`` returns a new :class:`~blockloop.Diagram` in which every subsystem
nested deeper than ``depth`` levels is replaced by a :class:`CollapsedSubsystem` block with the
subsystem's ports. The copy is only for drawing: the collapsed block cannot be simulated.
Its feedthrough pairs are the subsystem's own (an input feeds an output when a path of wires
and feedthrough pairs joins them inside), so loop colours stay right.
"""

from __future__ import annotations

import logging

import networkx as nx

from ..blocks.base import Block
from ..engine.diagram import Diagram
from ..engine.flatten import flatten
from ..engine.port_graph import port_graph
from ..errors import BlockloopError, ParameterError

__all__ = ["CollapsedSubsystem", "collapse", "check_depth"]

logger = logging.getLogger(__name__)


class CollapsedSubsystem(Block):
    """A subsystem drawn as one block: ports ``inputs``/``outputs`` named as the subsystem's.

    Ports: the subsystem's Inports (inputs) and Outports (outputs), in diagram order.
    """

    def __init__(self, sub: Diagram, sizes: dict[str, int] | None = None):
        self.name = sub.name
        self.inputs = tuple(sub.inputs)
        self.outputs = tuple(sub.outputs)
        self._sizes = dict(sizes or {})
        self._through, self._stateful = _inside(sub)

    @property
    def type_name(self) -> str:
        return "Subsystem"

    @property
    def has_state(self) -> bool:  # noqa: D102 - the subsystem's own statefulness
        return self._stateful

    def params(self) -> dict:
        raise BlockloopError(f"subsystem '{self.name}' is collapsed for drawing only; it cannot be saved")

    def __repr__(self) -> str:  # Block.__repr__ lists params(), which a drawing-only block has none of
        return f"Subsystem({self.name!r}: inputs {list(self.inputs)}, outputs {list(self.outputs)})"

    def feedthrough(self) -> frozenset[tuple[str, str]]:
        return self._through

    def output_sizes(self, in_sizes) -> dict[str, int | None]:
        return {o: self._sizes.get(o) for o in self.outputs}


def _inside(sub: Diagram) -> tuple[frozenset, bool]:
    """The subsystem's (input, output) feedthrough pairs and whether it holds state."""
    try:
        flat = flatten(sub)
    except BlockloopError as exc:  # drawn conservatively: every input feeds every output
        logger.info("subsystem '%s': feedthrough not found (%s); assuming all pairs", sub.name, exc)
        return frozenset((i, o) for i in sub.inputs for o in sub.outputs), True
    pg = port_graph(flat)
    pairs = frozenset((i, o) for i in sub.inputs for o in sub.outputs
                      if nx.has_path(pg, (i, "out", "y"), (o, "in", "u")))
    return pairs, any(b.has_state for _, b in flat.nodes(data="block"))


def check_depth(depth) -> int | None:
    """``depth`` if it is None or a non-negative int, else :class:`ParameterError`."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ParameterError(f"depth: expected None or an integer ≥ 0, got {depth!r}")
    return depth


def collapse(diagram, depth: int | None):
    """A copy of ``diagram`` showing ``depth`` levels of subsystems; deeper ones become one block.

    Parameters
    ----------
    diagram : Diagram or networkx.MultiDiGraph
        A flattened graph is returned unchanged when ``depth`` is None (it has no subsystems left
        to collapse, so any other ``depth`` raises).
    depth : int or None
        0 draws every top-level subsystem as one block; 1 opens them and collapses the
        subsystems inside; None collapses nothing.

    Returns
    -------
    Diagram or networkx.MultiDiGraph

    Raises
    ------
    ParameterError
        ``depth`` is not None or an integer ≥ 0, or a flattened graph with a ``depth``.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> net = collapse(lstm_network(NetworkWeights.random(2, 2, 1, n_layers=3)), 0)
    >>> [type(b).__name__ for b in net.blocks.values()][:4]
    ['Inport', 'CollapsedSubsystem', 'CollapsedSubsystem', 'CollapsedSubsystem']
    """
    check_depth(depth)
    if depth is None:
        return diagram
    if not isinstance(diagram, Diagram):
        raise ParameterError("depth: needs a Diagram (a flattened graph has no subsystems to collapse)")
    return _copy(diagram, depth, "", _leaf_sizes(diagram))


def _leaf_sizes(diagram: Diagram):
    """``path/port`` → size for every port of every subsystem, from the full diagram (or {})."""
    from .style import wire_sizes

    try:
        flat = flatten(diagram)
    except BlockloopError:
        return lambda key: None
    sizes, aliases = wire_sizes(flat), flat.graph.get("aliases", {})
    return lambda key: sizes.get(aliases.get(key, ("", "")))


def _copy(d: Diagram, depth: int, prefix: str, size_of) -> Diagram:
    out = Diagram(d.name)
    for name, block in d.blocks.items():
        if isinstance(block, Diagram) and depth > 0:
            block = _copy(block, depth - 1, f"{prefix}{name}/", size_of)
        elif isinstance(block, Diagram):
            block = CollapsedSubsystem(block, {o: size_of(f"{prefix}{name}/{o}") for o in block.outputs})
        out.graph.add_node(name, block=block)
    out.graph.add_edges_from(d.graph.edges(keys=True, data=True))
    out.graph.graph.update(d.graph.graph)
    return out
