"""Flatten nested diagrams into one graph of leaf blocks.

Leaf names are paths: block ``h_delay`` of subsystem ``lstm1`` becomes ``"lstm1/h_delay"``.
A subsystem's Inport and Outport blocks are spliced out: the wire that drives the
subsystem port is connected straight to the blocks inside that the port feeds.
"""

from __future__ import annotations

import networkx as nx

from ..blocks import Inport, Outport
from ..errors import WiringError
from .diagram import Diagram

__all__ = ["flatten", "walk_subsystems"]


def flatten(diagram: Diagram) -> nx.MultiDiGraph:
    """Return a new ``MultiDiGraph`` of leaf blocks with path names.

    Node attributes: ``block`` (the leaf block) and ``subsystem`` (path of the enclosing
    subsystem, ``""`` at top level). Edge attributes: ``src_port``, ``dst_port``.
    The top-level diagram's own Inport and Outport blocks are kept as leaves.

    Graph attributes: ``aliases`` maps each spliced-out subsystem port (``"lstm1/h"``) to the
    leaf output ``(block, port)`` that carries its signal, so it can still be probed;
    ``port_sizes`` maps each spliced-out Inport declared with a size to that size, which
    size inference still enforces; ``Ts`` is the top-level diagram's sample time in seconds
    (None when it has none), the default of a simulation's ``Ts``.

    Raises
    ------
    WiringError
        A subsystem input that nothing drives but something inside uses, or a subsystem
        output that is used outside but not driven inside.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> g = flatten(lstm_network(NetworkWeights.random(ni=1, nn=2, no=1)))
    >>> "lstm1/h_delay" in g
    True
    """
    if not isinstance(diagram, Diagram):
        raise WiringError(f"flatten: expected a Diagram, got {type(diagram).__name__}")
    flat = nx.MultiDiGraph(name=diagram.name, Ts=diagram.Ts)
    passthrough: dict[str, str] = {}
    for event, item, prefix in walk_subsystems(diagram):  # depth first, as a recursive walk would
        _inline(event, item, prefix, flat, passthrough)
    flat.graph["port_sizes"] = {n: flat.nodes[n]["block"].size for n in passthrough
                                if isinstance(flat.nodes[n]["block"], Inport) and flat.nodes[n]["block"].size}
    flat.graph["aliases"] = _contract(flat, passthrough)
    return flat


def walk_subsystems(diagram: Diagram):
    """Walk a diagram and its subsystems depth first, without recursion (any nesting depth).

    Yields ``("block", (name, block), prefix)`` for each leaf block in diagram order, descending
    into each subsystem where it stands, and ``("wires", d, prefix)`` once all of diagram ``d``'s
    blocks (its subsystems' included) have been yielded: the order a recursive walk would give.
    ``prefix`` is the enclosing diagram's path with a trailing ``/`` (``""`` at top level).

    Raises
    ------
    WiringError
        A subsystem that contains itself (directly or through others): ``subsystem 'a/b'
        contains itself``. :func:`blockloop.io.save_diagram` walks with this too, so it raises the
        same error as ``compile``.
    """
    stack = [(diagram, "", iter(list(diagram.blocks.items())))]
    on_path = {id(diagram)}
    while stack:
        d, prefix, items = stack[-1]
        for name, block in items:
            if isinstance(block, Diagram):
                if id(block) in on_path:
                    raise WiringError(f"subsystem '{prefix + name}' contains itself")
                on_path.add(id(block))
                stack.append((block, prefix + name + "/", iter(list(block.blocks.items()))))
                break
            yield "block", (name, block), prefix
        else:
            stack.pop()
            on_path.discard(id(d))
            yield "wires", d, prefix


def _inline(event: str, item, prefix: str, flat: nx.MultiDiGraph, passthrough: dict) -> None:
    subsystem = prefix.rstrip("/")
    if event == "block":
        name, block = item
        path = prefix + name
        flat.add_node(path, block=block, subsystem=subsystem)
        if prefix and isinstance(block, (Inport, Outport)):
            kind = "input" if isinstance(block, Inport) else "output"
            passthrough[path] = f"{kind} '{subsystem}.{name}'"
        return
    d = item
    for a, b, e in d.graph.edges(data=True):
        src = prefix + a
        dst = prefix + b
        if isinstance(d.graph.nodes[a]["block"], Diagram):
            src = f"{src}/{e['src_port']}"  # the sub-Outport node
        if isinstance(d.graph.nodes[b]["block"], Diagram):
            dst = f"{dst}/{e['dst_port']}"  # the sub-Inport node
        flat.add_edge(src, dst, src_port=e["src_port"], dst_port=e["dst_port"])


def _contract(flat: nx.MultiDiGraph, passthrough: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Remove subsystem boundary nodes, joining the wire in to the wires out.

    Returns each removed, driven node's alias: the leaf ``(block, output port)`` driving it.
    """
    aliases: dict[str, tuple[str, str]] = {}
    for node, label in passthrough.items():
        ins = list(flat.in_edges(node, data=True))
        outs = list(flat.out_edges(node, data=True))
        if not ins:
            if outs:
                users = ", ".join(f"{b}.{e['dst_port']}" for _, b, e in outs)
                raise WiringError(f"subsystem {label} is not connected, but {users} use it; "
                                  "connect a signal to that port")
            flat.remove_node(node)
            continue
        src, _, e_in = ins[0]
        aliases[node] = (src, e_in["src_port"])
        for _, dst, e_out in outs:
            flat.add_edge(src, dst, src_port=e_in["src_port"], dst_port=e_out["dst_port"])
        flat.remove_node(node)
    for node, target in aliases.items():  # a port driven by another port: follow to the leaf
        while target[0] in aliases:
            target = aliases[target[0]]
        aliases[node] = target
    return aliases
