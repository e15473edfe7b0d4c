"""Feedback-loop analysis: which loops a diagram has, and which delay closes each one.

A *feedback loop* is an elementary cycle of the **dependency port graph**: the port graph of
:func:`~blockloop.engine.port_graph.port_graph` (wires and feedthrough pairs) plus one
``"delay"`` hop from each input to each output of every stateful block (a ``UnitDelay``'s
output depends on its input one step earlier). A loop with no delay hop is an algebraic loop,
which :func:`~blockloop.engine.compile_diagram` rejects; it is still listed here, so that the
analysis also explains a diagram that does not compile.

Loops are grouped two ways:

* by **family**: the delay(s) on the loop, e.g. ``"lstm1/c_delay"``; several delays on one
  loop are joined with ``"+"``; loops without a delay form the family ``"algebraic"``;
* by **strongly connected component** (``scc``): loops sharing ports are in one component.

The number of elementary loops can grow exponentially, so at most ``max_loops`` are listed. When
there are more, the list starts with one loop of every family that can be found without
enumerating them all (one algebraic loop per delay-free component, then the shortest loop through
each delay, in insertion order) and is filled up in enumeration order: a truncated list still
shows, e.g., the LSTM's short cell loop next to a hidden loop.

Each family gets a **role**. Within one strongly connected component, a family is
``"inner"`` when another family of the same component passes through *more* blocks and
shares at least one block with it (its loops are nested inside the bigger family's loops);
every other family with a delay is ``"outer"`` (a lone loop is therefore ``"outer"``). When
the list is truncated, roles are decided on the listed loops plus, for each pair of delays in
one component, a loop through one of them that passes a block of the other's shortest loop
(searched for directly), so a truncated list labels the families as the full one does.
For one LSTM layer this gives the cell loop ``c_delay → f_c → c_sum`` as *inner* and the
hidden loops through ``h_delay`` as *outer*, as in the reference's Simulink figure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import networkx as nx

from ..errors import ParameterError
from .diagram import Diagram
from .flatten import flatten
from .port_graph import port_graph

__all__ = ["FeedbackLoop", "LoopFamily", "LoopReport", "feedback_loops", "dependency_graph"]

logger = logging.getLogger(__name__)

ALGEBRAIC = "algebraic"
PortNode = tuple[str, str, str]


@dataclass(frozen=True)
class FeedbackLoop:
    """One elementary feedback loop.

    Attributes
    ----------
    blocks : tuple of str
        Leaf block paths in signal-flow order, starting at the (first) delay; each once.
    ports : tuple of str
        ``"block.port"`` in flow order: the delay's output first, the delay's input last (an
        algebraic loop starts at an output port of its first block in insertion order), so
        output ports sit at even positions.
    delays : tuple of str
        The stateful blocks on the loop (empty for an algebraic loop).
    family : str
        ``"+".join(delays)``, or ``"algebraic"``.
    scc : int
        Index of the strongly connected component (numbered in block insertion order).
    role : str
        ``"inner"``, ``"outer"`` or ``"algebraic"`` (see the module notes).
    label : str
        Human label of the family, e.g. ``"inner (cell)"``.
    """

    blocks: tuple[str, ...]
    ports: tuple[str, ...]
    delays: tuple[str, ...]
    family: str
    scc: int
    role: str = ""
    label: str = ""

    def describe(self, strip: str = "") -> str:
        """The loop as ``"c_delay → f_c → c_sum → c_delay"``; paths lose the prefix ``strip``.

        A block's output port is named (``"split.o"``) unless it is the usual ``y``.
        """
        steps = []
        for port in self.ports[::2]:
            block, name = port.rsplit(".", 1)
            if strip and block.startswith(strip):
                block = block[len(strip):]
            steps.append(block if name == "y" else f"{block}.{name}")
        return " → ".join(steps + steps[:1])

    @property
    def is_algebraic(self) -> bool:
        """True when no delay breaks the loop."""
        return not self.delays

    def as_dict(self) -> dict:
        """Plain JSON-ready dict of every attribute."""
        return {"blocks": list(self.blocks), "ports": list(self.ports), "delays": list(self.delays),
                "family": self.family, "scc": self.scc, "role": self.role, "label": self.label}


@dataclass(frozen=True)
class LoopFamily:
    """The loops closed by the same delay(s).

    Attributes
    ----------
    name : str
        The family name (the delay path, or ``"algebraic"``).
    delays : tuple of str
    role : str
        ``"inner"``, ``"outer"`` or ``"algebraic"``.
    label : str
        E.g. ``"outer (hidden)"``.
    scc : int
        The component of its first loop.
    loops : tuple of FeedbackLoop
    blocks : tuple of str
        Every block any of its loops passes, in first-seen order.
    """

    name: str
    delays: tuple[str, ...]
    role: str
    label: str
    scc: int
    loops: tuple[FeedbackLoop, ...]
    blocks: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"name": self.name, "delays": list(self.delays), "role": self.role, "label": self.label,
                "scc": self.scc, "n_loops": len(self.loops), "blocks": list(self.blocks)}


@dataclass(frozen=True)
class LoopReport:
    """What :func:`feedback_loops` returns: iterate it for the loops.

    Attributes
    ----------
    loops : tuple of FeedbackLoop
        Sorted by component, family, length and blocks.
    families : tuple of LoopFamily
    truncated : bool
        True when enumeration stopped at ``max_loops`` (the lists are then incomplete).
    max_loops : int
    """

    loops: tuple[FeedbackLoop, ...]
    families: tuple[LoopFamily, ...]
    truncated: bool = False
    max_loops: int = 0

    def __iter__(self) -> Iterator[FeedbackLoop]:
        return iter(self.loops)

    def __len__(self) -> int:
        return len(self.loops)

    def __getitem__(self, index: int) -> FeedbackLoop:
        return self.loops[index]

    def family(self, name: str) -> LoopFamily:
        """The family called ``name``; :class:`KeyError` listing the families otherwise."""
        for fam in self.families:
            if fam.name == name:
                return fam
        raise KeyError(f"no loop family {name!r}; families: {', '.join(f.name for f in self.families) or '(none)'}")

    def by_role(self, role: str) -> tuple[FeedbackLoop, ...]:
        """Loops whose family has ``role`` (``"inner"``, ``"outer"`` or ``"algebraic"``)."""
        return tuple(lp for lp in self.loops if lp.role == role)

    def _summary(self) -> tuple[str, list[str], list[list[str]]]:
        title = f"LoopReport: {len(self.loops)} loop{'s' * (len(self.loops) != 1)} in " \
                f"{len(self.families)} famil{'ies' if len(self.families) != 1 else 'y'}"
        notes = [f"truncated at max_loops={self.max_loops}: the lists are incomplete"] if self.truncated else []
        rows = [[fam.name, fam.label or fam.role, str(len(fam.loops)), fam.loops[0].describe() if fam.loops else ""]
                for fam in self.families]
        return title, notes, rows

    def __str__(self) -> str:
        """A summary: loop and family counts, a truncation notice, then per family its name, label,
        number of loops and its first loop (:meth:`FeedbackLoop.describe`)."""
        from .._display import text_table

        title, notes, rows = self._summary()
        table = text_table(["family", "label", "loops", "first loop"], rows) if rows else "  (no feedback loops)"
        return "\n".join([title, *("  " + n for n in notes), table])

    def _repr_html_(self) -> str:
        """The :meth:`__str__` summary as HTML (names escaped), for notebooks."""
        from .._display import html_block, html_table

        title, notes, rows = self._summary()
        return html_block(title, notes, html_table(["family", "label", "loops", "first loop"], rows))

    def as_dict(self) -> dict:
        return {"loops": [lp.as_dict() for lp in self.loops], "families": [f.as_dict() for f in self.families],
                "truncated": self.truncated, "max_loops": self.max_loops}


def dependency_graph(flat: nx.MultiDiGraph) -> nx.DiGraph:
    """The port graph plus ``kind="delay"`` hops through stateful blocks.

    Every stateful block gets an edge from each input to each output that is not already a
    feedthrough pair: its output depends on that input through its state.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> g = dependency_graph(flatten(lstm_network(NetworkWeights.random(1, 2, 1))))
    >>> g.edges[("lstm1/c_delay", "in", "u"), ("lstm1/c_delay", "out", "y")]["kind"]
    'delay'
    """
    graph = port_graph(flat)
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        if not block.has_state:
            continue
        through = block.feedthrough()
        for i in block.inputs:
            for o in block.outputs:
                if (i, o) not in through:
                    graph.add_edge((name, "in", i), (name, "out", o), kind="delay")
    return graph


def feedback_loops(diagram, *, max_loops: int = 10_000, names: Mapping[str, str] | None = None) -> LoopReport:
    """List the feedback loops of a diagram, grouped by closing delay and component.

    Parameters
    ----------
    diagram : Diagram, networkx.MultiDiGraph or Program
        A diagram (flattened here), an already flattened graph (:func:`flatten`), or a compiled
        program (its ``graph`` is used). The diagram need not compile: algebraic loops are listed.
    max_loops : int
        Stop after this many elementary cycles (their number can grow exponentially with the
        size of a densely wired diagram); the report's ``truncated`` is then True and a warning
        is logged. Default 10 000.
    names : mapping, optional
        Words for the labels, keyed by a delay's path or its last path component, e.g.
        ``{"c_delay": "cell", "h_delay": "hidden"}`` gives ``"inner (cell)"``. By default the
        label names the delay's last path component: ``"inner (c_delay)"``.

    Returns
    -------
    LoopReport
        Iterable of :class:`FeedbackLoop`; ``families`` holds the :class:`LoopFamily` groups.

    Raises
    ------
    ParameterError
        ``max_loops`` is not a positive integer, or ``diagram`` is of another type.
    WiringError
        Flattening fails (a subsystem port that is used but not connected).

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> report = feedback_loops(lstm_network(NetworkWeights.random(4, 3, 2)))
    >>> [(f.name, f.role, len(f.loops)) for f in report.families]
    [('lstm1/c_delay', 'inner', 1), ('lstm1/h_delay', 'outer', 4)]
    >>> report.family("lstm1/c_delay").loops[0].blocks
    ('lstm1/c_delay', 'lstm1/f_c', 'lstm1/c_sum')
    """
    if isinstance(max_loops, bool) or not isinstance(max_loops, int) or max_loops < 1:
        raise ParameterError(f"max_loops: expected a positive integer, got {max_loops!r}")
    flat = _as_flat(diagram)
    graph = dependency_graph(flat)
    rank = {name: k for k, name in enumerate(flat.nodes)}
    scc_of = _scc_index(graph, rank)
    delay_hops = sorted(((u, v) for u, v, kind in graph.edges(data="kind") if kind == "delay"),
                        key=lambda e: (rank[e[0][0]], e))
    cycles, truncated = _first_loops(graph, _one_loop_per_family(graph, delay_hops, scc_of), max_loops)
    structure = cycles
    if truncated:
        logger.warning("feedback_loops: stopped after max_loops=%d elementary loops; the list is incomplete "
                       "(pass a larger max_loops to see them all)", max_loops)
        structure = list({_loop_key(c): c for c in cycles + _nesting_witnesses(graph, delay_hops, scc_of)}.values())
    loops = sorted((_make_loop(c, graph, rank, scc_of) for c in cycles),
                   key=lambda lp: (lp.scc, lp.family == ALGEBRAIC, lp.family, len(lp.ports), lp.ports))
    families = _families(loops, names or {}, [_make_loop(c, graph, rank, scc_of) for c in structure])
    labelled = {f.name: f for f in families}
    loops = tuple(_with_role(lp, labelled[lp.family]) for lp in loops)
    families = tuple(_rebuild_family(f, loops) for f in families)
    logger.info("feedback_loops: %d loops in %d families", len(loops), len(families))
    return LoopReport(loops=loops, families=families, truncated=truncated, max_loops=max_loops)


def _loop_key(cycle: list[PortNode]) -> tuple[PortNode, ...]:
    """The cycle's nodes rotated to start at the smallest: one key per elementary loop."""
    start = cycle.index(min(cycle))
    return tuple(cycle[start:] + cycle[:start])


def _shortest_loop(graph, hop: tuple[PortNode, PortNode]) -> list[PortNode] | None:
    """The shortest elementary loop through the edge ``hop`` (u → v): a shortest path v ⇝ u, or None."""
    try:
        return nx.shortest_path(graph, hop[1], hop[0])
    except nx.NetworkXNoPath:
        return None


def _one_loop_per_family(graph, delay_hops, scc_of) -> list[list[PortNode]]:
    """One algebraic loop per delay-free strongly connected component, then the shortest loop
    through each delay hop (in the order given), without enumerating all loops."""
    out = []
    without_delays = nx.DiGraph((u, v) for u, v, kind in graph.edges(data="kind") if kind != "delay")
    for comp in sorted((c for c in nx.strongly_connected_components(without_delays) if len(c) > 1), key=min):
        out.append([u for u, _ in nx.find_cycle(without_delays.subgraph(comp), source=min(comp))])
    for hop in delay_hops:
        loop = _shortest_loop(graph, hop)
        if loop is not None:
            out.append(loop)
    return out


def _first_loops(graph, first: list[list[PortNode]], max_loops: int) -> tuple[list[list[PortNode]], bool]:
    """At most ``max_loops`` distinct elementary loops, ``first`` ones first, then in enumeration
    order; and whether more loops exist than were returned."""
    chosen = {}
    for cycle in first:
        chosen.setdefault(_loop_key(cycle), cycle)
    if len(chosen) > max_loops:
        return list(chosen.values())[:max_loops], True
    for cycle in nx.simple_cycles(graph):
        key = _loop_key(cycle)
        if key not in chosen:
            if len(chosen) == max_loops:
                return list(chosen.values()), True
            chosen[key] = cycle
    return list(chosen.values()), False


def _nesting_witnesses(graph, delay_hops, scc_of) -> list[list[PortNode]]:
    """For each ordered pair of delays (d, e) in one component whose shortest loops share no block:
    the shortest loop found through d that passes a port of a block on e's shortest loop.

    Found as a shortest path from d's output to that port, then a shortest path back to d's input
    that avoids the first path (a heuristic: it may miss a loop, it never returns a non-loop).
    """
    shortest = {hop: _shortest_loop(graph, hop) for hop in delay_hops}
    ports_of: dict[str, list[PortNode]] = {}
    for node in graph.nodes:
        ports_of.setdefault(node[0], []).append(node)
    out = []
    for outer in delay_hops:
        for inner in delay_hops:
            a, b = shortest[outer], shortest[inner]
            if inner == outer or a is None or b is None or scc_of.get(outer[0]) != scc_of.get(inner[0]):
                continue
            if {n[0] for n in a} & {n[0] for n in b}:
                continue
            candidates = []
            for port in sorted({p for n in b for p in ports_of[n[0]]}):
                try:
                    there = nx.shortest_path(graph, outer[1], port)
                    keep = set(graph.nodes) - set(there[:-1])
                    back = nx.shortest_path(graph.subgraph(keep), port, outer[0])
                except (nx.NetworkXNoPath, nx.NodeNotFound):
                    continue
                candidates.append(there + back[1:])
            if candidates:
                out.append(min(candidates, key=len))
    return out


def _as_flat(diagram) -> nx.MultiDiGraph:
    if isinstance(diagram, Diagram):
        return flatten(diagram)
    if isinstance(diagram, nx.MultiDiGraph):
        return diagram
    graph = getattr(diagram, "graph", None)
    if isinstance(graph, nx.MultiDiGraph):
        return graph
    raise ParameterError(f"feedback_loops: expected a Diagram, a flattened graph or a Program, "
                         f"got {type(diagram).__name__}")


def _scc_index(graph: nx.DiGraph, rank: Mapping[str, int]) -> dict[PortNode, int]:
    comps = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    comps.sort(key=lambda c: min(rank[n[0]] for n in c))
    return {node: k for k, comp in enumerate(comps) for node in comp}


def _make_loop(cycle: list[PortNode], graph: nx.DiGraph, rank, scc_of) -> FeedbackLoop:
    hops = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
    delay_hops = [k for k, (u, v) in enumerate(hops) if graph.edges[u, v]["kind"] == "delay"]
    if delay_hops:  # start at the output of the first delay (in insertion order)
        first = min(delay_hops, key=lambda k: rank[hops[k][0][0]])
        start = (first + 1) % len(cycle)
    else:
        start = min(range(len(cycle)), key=lambda k: (rank[cycle[k][0]], cycle[k][1] != "out", cycle[k][2]))
    ordered = cycle[start:] + cycle[:start]
    delays = tuple(sorted({hops[k][0][0] for k in delay_hops}, key=rank.__getitem__))
    return FeedbackLoop(
        blocks=tuple(dict.fromkeys(n[0] for n in ordered)),
        ports=tuple(f"{n[0]}.{n[2]}" for n in ordered),
        delays=delays,
        family="+".join(delays) if delays else ALGEBRAIC,
        scc=scc_of[cycle[0]],
    )


def _group(loops: list[FeedbackLoop]) -> tuple[dict[str, list[FeedbackLoop]], dict[str, tuple[str, ...]]]:
    grouped: dict[str, list[FeedbackLoop]] = {}
    for lp in loops:
        grouped.setdefault(lp.family, []).append(lp)
    blocks = {name: tuple(dict.fromkeys(b for lp in group for b in lp.blocks)) for name, group in grouped.items()}
    return grouped, blocks


def _families(loops: list[FeedbackLoop], names: Mapping[str, str], structure: list[FeedbackLoop]) -> list[LoopFamily]:
    """The families of the listed ``loops``; roles are decided on ``structure`` (the listed loops, or
    more when the list is truncated)."""
    grouped, blocks = _group(loops)
    grouped_s, blocks_s = _group(structure)
    families = []
    for name, group in grouped.items():
        role = _role(name, group[0].scc, grouped_s, blocks_s)
        families.append(LoopFamily(name=name, delays=group[0].delays, role=role,
                                   label=_label(role, group[0].delays, names), scc=group[0].scc,
                                   loops=tuple(group), blocks=blocks[name]))
    return families


def _role(name: str, scc: int, grouped: dict, blocks: dict) -> str:
    if name == ALGEBRAIC:
        return ALGEBRAIC
    mine = set(blocks[name])
    for other, group in grouped.items():
        if other in (name, ALGEBRAIC) or group[0].scc != scc:
            continue
        if len(blocks[other]) > len(mine) and mine & set(blocks[other]):
            return "inner"
    return "outer"


def _label(role: str, delays: tuple[str, ...], names: Mapping[str, str]) -> str:
    if role == ALGEBRAIC:
        return "algebraic (no delay)"
    words = [names.get(d, names.get(d.rsplit("/", 1)[-1], d.rsplit("/", 1)[-1])) for d in delays]
    return f"{role} ({' + '.join(words)})"


def _with_role(lp: FeedbackLoop, fam: LoopFamily) -> FeedbackLoop:
    return FeedbackLoop(lp.blocks, lp.ports, lp.delays, lp.family, lp.scc, fam.role, fam.label)


def _rebuild_family(fam: LoopFamily, loops: tuple[FeedbackLoop, ...]) -> LoopFamily:
    return LoopFamily(fam.name, fam.delays, fam.role, fam.label, fam.scc,
                      tuple(lp for lp in loops if lp.family == fam.name), fam.blocks)
