"""The port graph: ports as nodes, wires and feedthrough pairs as edges.

Loops are judged here rather than on the block graph, because feedthrough is declared per
(input, output) pair: a cycle in the port graph is exactly an algebraic loop. A cycle through
a unit delay does not appear in it, since a delay declares no feedthrough pair.
"""

from __future__ import annotations

import networkx as nx

from ..errors import AlgebraicLoopError

__all__ = ["port_graph", "check_algebraic_loops", "describe_port"]


def port_graph(flat: nx.MultiDiGraph) -> nx.DiGraph:
    """Build the port graph of a flattened diagram.

    Nodes are ``(block, "in" | "out", port)`` triples. Edges carry ``kind="wire"`` (an output
    to the input it drives) or ``kind="feedthrough"`` (an input to an output of the same block
    that depends on it without delay).

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> from blockloop.engine import flatten
    >>> pg = port_graph(flatten(lstm_network(NetworkWeights.random(ni=1, nn=2, no=1))))
    >>> pg.has_edge(("lstm1/h_delay", "in", "u"), ("lstm1/h_delay", "out", "y"))
    False
    """
    pg = nx.DiGraph()
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        for p in block.inputs:
            pg.add_node((name, "in", p))
        for p in block.outputs:
            pg.add_node((name, "out", p))
        for i, o in sorted(block.feedthrough()):
            pg.add_edge((name, "in", i), (name, "out", o), kind="feedthrough")
    for a, b, e in flat.edges(data=True):
        pg.add_edge((a, "out", e["src_port"]), (b, "in", e["dst_port"]), kind="wire")
    return pg


def describe_port(node: tuple[str, str, str]) -> str:
    """``"block.port"`` for a port-graph node."""
    return f"{node[0]}.{node[2]}"


def check_algebraic_loops(flat: nx.MultiDiGraph) -> None:
    """Raise :class:`AlgebraicLoopError` if the diagram has a loop with no delay in it.

    The message walks the loop port by port, marks each hop as a wire or as feedthrough
    inside a block, and lists the wires where a ``UnitDelay`` would break it.
    """
    pg = port_graph(flat)
    try:
        edges = nx.find_cycle(pg)
    except nx.NetworkXNoCycle:
        return
    cycle = [u for u, _ in edges]
    hops = []
    wires = []
    for u, v in edges:
        kind = pg.edges[u, v]["kind"]
        if kind == "wire":
            hops.append(f"{describe_port(u)} → {describe_port(v)} (wire)")
            wires.append(f"{describe_port(u)} → {describe_port(v)}")
        else:
            hops.append(f"{describe_port(u)} → {describe_port(v)} (feedthrough in '{u[0]}')")
    blocks = list(dict.fromkeys(u[0] for u in cycle))
    message = (
        f"algebraic loop through blocks {', '.join(blocks)}: every block on it passes its input to "
        f"its output without delay:\n  " + "\n  ".join(hops) +
        "\nInsert a UnitDelay on one of these wires to break it: " + "; ".join(wires)
    )
    raise AlgebraicLoopError(message, cycle)
