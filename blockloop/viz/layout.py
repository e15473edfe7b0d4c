"""A layered left-to-right layout (Sugiyama style) for block diagrams, in plain Python.

Steps, on the flattened diagram:

1. **Return paths out.** A unit delay that closes a feedback loop (a *loop delay*) is taken
   out of the layering; it will sit flipped on a return lane below the loop, as in Simulink.
   Other wires out of stateful blocks, and one wire of each remaining (algebraic) cycle, are
   *back wires*; what is left is acyclic.
2. **Layers.** Longest path from the sources; a source (a Constant, or a Gain fed only by a
   loop delay) moves right next to the first block it feeds, and a sink fed only by return
   paths goes to the last layer of its subsystem. Wires spanning several layers get a dummy
   point per layer.
3. **Order.** Barycenter sweeps (port-aware) reduce crossings; blocks of one subsystem stay
   together; blocks fed by a loop delay are pulled down, towards the return lane. Then every
   subsystem gets one rank, so subsystems come in one order in every column (a column a
   subsystem's frame spans without holding its blocks gets a zero-size *ghost* of it).
4. **Coordinates.** Columns from the widest block of each layer; vertical positions from
   :func:`~blockloop.viz.stacking.stack_columns`: frames (with room for their return lanes)
   never overlap, and blocks line up with the ports they are wired to where they can.

Routing of the wires and the subsystem frames is in :mod:`blockloop.viz.routing`. Units are
abstract (about one inch each); y grows downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .ordering import common_subsystem, group_of, neighbours, order_layers, port_frac, scopes, within
from .stacking import stack_columns
from .style import glyph

__all__ = ["Box", "Grid", "layered_grid", "loop_delays", "box_size", "within", "common_subsystem", "port_index",
           "scopes"]

COLUMN_GAP = 0.95
ROW_GAP = 0.32
DUMMY_GAP = 0.14
CAPTION = 0.14  # room for the block name written under a box
LANE_GAP = 0.38  # vertical room above a return lane
FRAME_GAP = 0.25  # room for a subsystem frame's border (and title) between blocks of different frames
TITLE = 0.22  # room above a frame's blocks for its title
WIRE_SEP = 0.1  # least distance between parallel wires of different signals (thick lines look shorted closer)


@dataclass(frozen=True)
class Box:
    """A placed block (or a wire's dummy point, ``dummy=True``, of zero size).

    ``x``, ``y`` are the centre; ``flipped`` boxes (loop delays) take input on the right.
    """

    name: str
    x: float
    y: float
    w: float
    h: float
    layer: int
    dummy: bool = False
    flipped: bool = False
    group: str = ""  # the subsystem path it belongs to ("" at top level)

    def port(self, side: str, k: int, n: int) -> tuple[float, float]:
        """The point of port ``k`` of ``n`` on side ``"in"`` or ``"out"``."""
        left = (side == "in") != self.flipped
        x = self.x - self.w / 2 if left else self.x + self.w / 2
        return x, self.y + self.h * ((k + 1) / (n + 1) - 0.5)

    @property
    def top(self) -> float:
        return self.y - self.h / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Grid:
    """Layering and coordinates of the forward (acyclic) part of a diagram.

    Attributes
    ----------
    boxes : dict name → Box
        Blocks and dummy points (loop delays are placed later, by the router).
    chains : dict (src, dst, key) → list of dummy names
        For every forward wire, the dummy points it passes, left to right.
    back : list of (src, dst, key)
        Wires drawn as return paths (out of loop delays, into them, or closing algebraic cycles).
    delays : tuple of str
        The loop delays.
    """

    boxes: dict[str, Box]
    chains: dict[tuple, list[str]]
    back: list[tuple]
    delays: tuple[str, ...]


def box_size(block) -> tuple[float, float]:
    """Width and height of a block's box, growing with its number of ports."""
    shape = glyph(block).shape
    n = max(len(block.inputs), len(block.outputs), 1)
    w, h = {"circle": (0.42, 0.42), "triangle": (0.6, 0.55), "bar": (0.1, 0.6),
            "port": (0.6, 0.34), "delay": (0.7, 0.5)}.get(shape, (0.78, 0.5))  # any other shape: a box
    if shape == "circle" and n > 3:  # a tall sum: one sign next to each input port
        return 0.5, 0.22 * (n + 1)
    if shape == "circle":
        return w, h
    return w, max(h, (0.34 if shape == "bar" else 0.2) * (n + (1 if shape == "bar" else 0)))


def loop_delays(flat: nx.MultiDiGraph) -> tuple[str, ...]:
    """Single-input, single-output stateful blocks without feedthrough on a cycle of the block graph.

    A delay driven by (or driving) another such delay, or by itself, stays in the layering, so
    that every return lane runs from a placed block to a placed block; so does a delay driven
    from outside its own subsystem (its lane would have to leave the subsystem's frame).
    """
    simple = nx.DiGraph(flat)
    on_cycle = {n for comp in nx.strongly_connected_components(simple) if len(comp) > 1 for n in comp}
    chosen: list[str] = []
    for n, b in flat.nodes(data="block"):
        if (n in on_cycle and b.has_state and len(b.inputs) == 1 and len(b.outputs) == 1 and not b.feedthrough()
                and not simple.has_edge(n, n) and _fed_from_within(flat, n)
                and not any(m in chosen for m in (*simple.predecessors(n), *simple.successors(n)))):
            chosen.append(n)
    return tuple(chosen)


def _fed_from_within(flat, n: str) -> bool:
    return all(within(flat.nodes[a]["subsystem"], flat.nodes[n]["subsystem"]) for a in flat.predecessors(n))


def layered_grid(flat: nx.MultiDiGraph) -> Grid:
    """Layer, order and place the blocks of a flattened diagram (see the module notes).

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> from blockloop.engine import flatten
    >>> grid = layered_grid(flatten(lstm_network(NetworkWeights.random(4, 3, 2))))
    >>> grid.boxes["u"].layer < grid.boxes["lstm1/gates"].layer < grid.boxes["F"].layer
    True
    >>> grid.delays
    ('lstm1/c_delay', 'lstm1/h_delay')
    """
    delays = loop_delays(flat)
    forward, back = _split_wires(flat, set(delays))
    layer = _layers(flat, forward, set(delays))
    nodes, chains = _dummies(flat, forward, layer)
    order, ghosts = order_layers(flat, nodes, chains, layer, back, set(delays))
    spacing = _Spacing(flat, nodes, ghosts)
    stubs = _Stubs(flat, nodes, chains, back, spacing.size)
    boxes = _coordinates(flat, nodes, order, chains, spacing, _lane_reserve(flat, layer, delays, back), stubs)
    return Grid(boxes=boxes, chains=chains, back=back, delays=delays)


def _split_wires(flat, delays: set[str]) -> tuple[list[tuple], list[tuple]]:
    """Forward wires (acyclic) and back wires, each as (src, dst, key)."""
    stateful = {n for n, b in flat.nodes(data="block") if b.has_state}
    simple = nx.DiGraph(flat)
    on_cycle = {n for comp in nx.strongly_connected_components(simple) if len(comp) > 1 for n in comp}
    forward, back = [], []
    for a, b, k in flat.edges(keys=True):
        is_back = a in delays or b in delays or (a in stateful and a in on_cycle) or a == b
        (back if is_back else forward).append((a, b, k))
    dag = nx.DiGraph([(a, b) for a, b, _ in forward])
    while True:  # break algebraic cycles: one wire per cycle becomes a back wire
        try:
            cycle = nx.find_cycle(dag)
        except nx.NetworkXNoCycle:
            break
        a, b = cycle[-1][:2]
        dag.remove_edge(a, b)
        moved = [w for w in forward if w[0] == a and w[1] == b]
        forward = [w for w in forward if not (w[0] == a and w[1] == b)]
        back += moved
    return forward, back


def _layers(flat, forward, delays: set[str]) -> dict[str, int]:
    dag = nx.DiGraph()
    dag.add_nodes_from(n for n in flat.nodes if n not in delays)
    dag.add_edges_from((a, b) for a, b, _ in forward)
    layer: dict[str, int] = {}
    for n in nx.topological_sort(dag):
        layer[n] = max((layer[p] + 1 for p in dag.predecessors(n)), default=0)
    for n in reversed(list(nx.topological_sort(dag))):  # sources move right, next to their first user
        succ = list(dag.successors(n))
        if succ and not any(True for _ in dag.predecessors(n)):
            layer[n] = min(layer[s] for s in succ) - 1
    low = min(layer.values(), default=0)
    layer = {n: v - low for n, v in layer.items()}
    stray = [n for n in dag if not dag.in_degree(n) and not dag.out_degree(n) and flat.in_degree(n)]
    for n in stray:  # a sink fed only by return paths (an Outport of a delay's state) goes right, in its subsystem
        sub = flat.nodes[n]["subsystem"]
        last = [v for m, v in layer.items() if m not in stray and within(flat.nodes[m]["subsystem"], sub)]
        layer[n] = max(last, default=layer[n])
    return layer


def _dummies(flat, forward, layer) -> tuple[dict[str, int], dict[tuple, list[str]]]:
    nodes = dict(layer)
    chains = {}
    for a, b, k in forward:
        names = [f"~{a}~{b}~{k}~{j}" for j in range(layer[a] + 1, layer[b])]
        for j, name in zip(range(layer[a] + 1, layer[b]), names, strict=True):
            nodes[name] = j
        chains[(a, b, k)] = names
    return nodes, chains


def delay_column(flat, layer: dict[str, int], delay: str):
    """Where loop delay ``delay`` sits and which wires out of it run along its own lane.

    ``layer`` gives the column of every layered block. Returns ``(column, direct, first)``: the
    delay's column (between its driver and the leftmost block of its subsystem that it feeds,
    where it can, never right of its driver and never outside its subsystem's columns), the wires
    ``(delay, dst, key)`` that leave along the delay's lane, and the lane's first column.
    """
    (a, _, _), = flat.in_edges(delay, keys=True)
    sub = flat.nodes[delay]["subsystem"]
    la = layer[a]
    outs = list(flat.out_edges(delay, keys=True))
    near = [layer[b] for _, b, _ in outs if within(flat.nodes[b]["subsystem"], sub)]
    col = max(min(la, (la + min(near)) // 2), 0) if near and min(near) <= la else la
    span = [j for n, j in layer.items() if n in flat and n != delay and within(flat.nodes[n]["subsystem"], sub)]
    col = min(max(col, min(span)), la)  # the driver is in the subsystem: min(span) <= la
    direct = [w for w in outs if layer[w[1]] <= col and within(flat.nodes[w[1]]["subsystem"], sub)]
    return col, direct, min([col, la, *(layer[w[1]] for w in direct)])


def _lane_reserve(flat, layer, delays, back) -> dict[str, float]:
    """Vertical room each subsystem needs under its blocks for its own return lanes.

    Counts the lanes :mod:`~blockloop.viz.routing` will draw: one per loop delay (the delay sits
    on it), one per other wire out of a delay that does not run along it, one per other back wire
    that spans a column.
    """
    reserve: dict[str, float] = {}

    def add(scope: str, room: float) -> None:
        reserve[scope] = reserve.get(scope, 0.0) + room

    for d in delays:
        sub = flat.nodes[d]["subsystem"]
        add(sub, box_size(flat.nodes[d]["block"])[1] + LANE_GAP + CAPTION)
        col, direct, _ = delay_column(flat, layer, d)
        for w in flat.out_edges(d, keys=True):
            if w not in direct and layer[w[1]] != col:
                add(common_subsystem(flat.nodes[w[1]]["subsystem"], sub), LANE_GAP)
    for a, b, _ in back:
        if a not in delays and b not in delays and max(layer[a] + 1, layer[b]) - min(layer[a] + 1, layer[b]) >= 1:
            add(common_subsystem(flat.nodes[a]["subsystem"], flat.nodes[b]["subsystem"]), LANE_GAP)
    return reserve


class _Spacing:
    """Box sizes, groups, and the least vertical room around the blocks of one column."""

    def __init__(self, flat, nodes, ghosts: dict[str, str]):
        self.size = {n: (0.0, 0.0) if n.startswith("~") else box_size(flat.nodes[n]["block"]) for n in nodes}
        self.size |= {n: (0.0, 0.0) for n in ghosts}
        self.group = {n: group_of(flat, n) for n in nodes} | ghosts

    def extent(self, n: str) -> tuple[float, float]:
        """Room above and below the centre of ``n``: half its box, and its caption below."""
        h = self.size[n][1] / 2
        return h, h + (0.0 if n.startswith("~") else CAPTION)

    def gap(self, a: str, b: str) -> float:
        """Least distance between the centres of ``a`` and ``b`` below it, in one subsystem."""
        gap = ROW_GAP if not (a.startswith("~") or b.startswith("~")) else DUMMY_GAP
        return self.extent(a)[1] + self.extent(b)[0] + gap


def _coordinates(flat, nodes, order, chains, spacing: _Spacing, reserve: dict[str, float], stubs) -> dict[str, Box]:
    size = spacing.size
    xs, x = [], 0.0
    for j, names in enumerate(order):
        width = max((size[n][0] for n in names), default=0.0)
        prev = max((size[n][0] for n in order[j - 1]), default=0.0) if j else 0.0
        x += (prev + width) / 2 + COLUMN_GAP if j else width / 2
        xs.append(x)
    left, right = neighbours(flat, chains)
    paths = {s for g in spacing.group.values() for s in scopes(g)}

    def target(n: str, y) -> float | None:  # lined up with the ports it is wired to
        h = size[n][1]
        vals = [y[v] + fv * size[v][1] - fu * h for v, fu, fv in (*left.get(n, ()), *right.get(n, ()))]
        return float(np.mean(vals)) if vals else None

    y = stack_columns(order, spacing.group, spacing.extent, spacing.gap, lambda p: frame_pad(paths, p),
                      FRAME_GAP, reserve, target, stubs.avoid, WIRE_SEP)
    return {n: Box(n, xs[nodes[n]], y[n], size[n][0], size[n][1], nodes[n], dummy=n.startswith("~"),
                   group=spacing.group[n]) for n in nodes}


class _Stubs:
    """Where wires leave blocks into the channels: ``(channel, side, net, block, port fraction)``.

    Two signals whose wires enter one channel at one height from opposite sides may have to
    share a stretch of it, whatever the order of their tracks; :meth:`avoid` lists such heights.
    """

    def __init__(self, flat, nodes, chains, back, size):
        self.size = size
        self.by_node: dict[str, list[tuple]] = {}
        self.by_channel: dict[tuple[int, str], list[tuple]] = {}
        for (a, b, k), dummies in chains.items():
            e = flat.edges[a, b, k]
            net = (a, e["src_port"])
            path = [a, *dummies, b]
            fracs = [port_frac(flat.nodes[a]["block"], "out", e["src_port"]), *[0.0] * len(dummies),
                     port_frac(flat.nodes[b]["block"], "in", e["dst_port"])]
            for u, fu, v, fv in zip(path, fracs, path[1:], fracs[1:], strict=False):
                self._add(nodes[u] + 1, "L", net, u, fu)
                self._add(nodes[u] + 1, "R", net, v, fv)
        for a, b, k in back:
            e = flat.edges[a, b, k]
            if a in nodes:
                self._add(nodes[a] + 1, "L", (a, e["src_port"]), a, port_frac(flat.nodes[a]["block"], "out",
                                                                                e["src_port"]))
            if b in nodes:
                self._add(nodes[b], "R", (a, e["src_port"]), b, port_frac(flat.nodes[b]["block"], "in", e["dst_port"]))

    def _add(self, channel: int, side: str, net, node: str, frac: float) -> None:
        item = (channel, side, net, node, frac)
        self.by_node.setdefault(node, []).append(item)
        self.by_channel.setdefault((channel, side), []).append(item)

    def avoid(self, n: str, y) -> list[float]:
        """Centre heights of ``n`` at which a wire of it would meet another net's, end to end."""
        out = []
        h = self.size[n][1]
        for channel, side, net, _, frac in self.by_node.get(n, ()):
            for _, _, other, m, f in self.by_channel.get((channel, "R" if side == "L" else "L"), ()):
                if other != net:
                    out.append(y[m] + f * self.size[m][1] - frac * h)
        return out


def frame_pad(paths, path: str) -> tuple[float, float]:
    """``(margin, title room)`` of frame ``path``: outer frames get wider margins than the ones inside."""
    below = max((q.count("/") - path.count("/") for q in paths if within(q, path)), default=0)
    return 0.2 + 0.18 * below, TITLE


def port_index(flat, name: str, side: str, port: str) -> tuple[int, int]:
    """``(k, n)``: ``port`` is the k-th of the block's n ports on ``side`` ("in"/"out")."""
    block = flat.nodes[name]["block"]
    ports = block.inputs if side == "in" else block.outputs
    return ports.index(port), len(ports)

