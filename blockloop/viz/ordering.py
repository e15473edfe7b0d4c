"""Column order of the layered layout: crossing reduction, then one order of subsystems in every column.

Barycenter sweeps (port-aware) reorder each layer to reduce crossings, keeping the blocks of a
subsystem together; then each subsystem gets one rank for the whole diagram, so that subsystem
frames spanning several columns can be stacked one under the other (:mod:`~blockloop.viz.stacking`).
Also the subsystem-path helpers the layout modules share.
"""

from __future__ import annotations

import numpy as np

__all__ = ["common_subsystem", "within", "scopes", "order_layers", "neighbours", "group_of", "port_frac"]


def common_subsystem(p: str, q: str) -> str:
    """The innermost subsystem path containing both ``p`` and ``q``."""
    common = []
    for x, y in zip(p.split("/"), q.split("/"), strict=False):
        if x != y:
            break
        common.append(x)
    return "/".join(common)


def within(group: str, scope: str) -> bool:
    """True when subsystem path ``group`` lies in ``scope`` ("" holds everything)."""
    return not scope or group == scope or group.startswith(scope + "/")


def scopes(group: str) -> list[str]:
    """``"a/b"`` → ``["a", "a/b"]``: the subsystem paths that hold a member of ``group``."""
    parts = group.split("/") if group else []
    return ["/".join(parts[: k + 1]) for k in range(len(parts))]


def port_frac(block, side: str, port: str) -> float:
    ports = block.inputs if side == "in" else block.outputs
    return (ports.index(port) + 1) / (len(ports) + 1) - 0.5


def neighbours(flat, chains) -> tuple[dict[str, list], dict[str, list]]:
    """For each node: [(neighbour, own port fraction, neighbour port fraction)] left and right."""
    left: dict[str, list] = {}
    right: dict[str, list] = {}
    for (a, b, k), dummies in chains.items():
        e = flat.edges[a, b, k]
        path = [a, *dummies, b]
        fracs = [port_frac(flat.nodes[a]["block"], "out", e["src_port"]), *[0.0] * len(dummies),
                 port_frac(flat.nodes[b]["block"], "in", e["dst_port"])]
        pts = list(zip(path, fracs, strict=True))
        for (u, fu), (v, fv) in zip(pts, pts[1:], strict=False):
            right.setdefault(u, []).append((v, fu, fv))
            left.setdefault(v, []).append((u, fv, fu))
    return left, right


def group_of(flat, name: str) -> str:
    if name.startswith("~"):
        a, b = name.split("~")[1:3]
        return common_subsystem(flat.nodes[a]["subsystem"], flat.nodes[b]["subsystem"])
    return flat.nodes[name]["subsystem"]


def order_layers(flat, nodes, chains, layer, back, delays) -> tuple[list[list[str]], dict[str, str]]:
    """Crossing reduction by barycenter sweeps; returns the layers, top to bottom, and their ghosts
    (see :func:`_consistent_groups`)."""
    rank = {n: i for i, n in enumerate(flat.nodes)}
    n_layers = max(nodes.values(), default=-1) + 1
    layers = [[] for _ in range(n_layers)]
    for name in sorted(nodes, key=lambda n: rank.get(n, len(rank))):
        layers[nodes[name]].append(name)
    left, right = neighbours(flat, chains)
    pulled = {b for a, b, _ in back if a in delays} | {a for a, b, _ in back if b in delays}
    best, best_cross = [list(x) for x in layers], _crossings(layers, right)
    for sweep in range(8):
        down = sweep % 2 == 0
        seq = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for j in seq:
            ref = {n: i for i, n in enumerate(layers[j - 1 if down else j + 1])}
            size = len(ref)
            adj = left if down else right
            layers[j] = _sorted_layer(flat, layers[j], adj, ref, pulled, size)
        cross = _crossings(layers, right)
        if cross < best_cross:
            best, best_cross = [list(x) for x in layers], cross
    return _consistent_groups(flat, best)


def _consistent_groups(flat, layers) -> tuple[list[list[str]], dict[str, str]]:
    """Reorder each layer so subsystems come in one order, top to bottom, in every column.

    Each subsystem gets one rank for the whole diagram (its members' mean relative height), so
    frames spanning several columns can be stacked without crossing each other. A column that a
    subsystem's frame spans but holds none of its blocks gets a *ghost* of it (a zero-size point,
    ``"~|path|column"``), so that the other blocks of that column keep out of the frame too.
    Returns the layers and the ghosts' subsystems.
    """
    group = {n: group_of(flat, n) for names in layers for n in names}
    rel = {n: (i + 0.5) / len(names) for names in layers for i, n in enumerate(names)}
    members: dict[str, list[float]] = {}
    cols: dict[str, set[int]] = {}
    for j, names in enumerate(layers):
        for n in names:
            for scope in scopes(group[n]):
                members.setdefault(scope, []).append(rel[n])
                cols.setdefault(scope, set()).add(j)
    rank = {scope: float(np.mean(v)) for scope, v in members.items()}
    layers = [list(names) for names in layers]
    ghosts = {}
    for scope, used in cols.items():
        for j in set(range(min(used), max(used) + 1)) - used:
            name = f"~|{scope}|{j}"
            ghosts[name] = group[name] = scope
            rel[name] = rank[scope]
            layers[j].append(name)

    def key(n: str) -> list[tuple[float, str]]:  # names break ties, so two subsystems never interleave
        return [(rank[s], s) for s in scopes(group[n])] + [(rel[n], "~" + n)]

    return [sorted(names, key=key) for names in layers], ghosts


def _sorted_layer(flat, names, adj, ref, pulled, size) -> list[str]:
    bary = {}
    for pos, n in enumerate(names):
        vals = [ref[v] + fv for v, _, fv in adj.get(n, ()) if v in ref]
        if n in pulled:
            vals.append(size + 1.0)  # towards the return lane below
        bary[n] = float(np.mean(vals)) if vals else float(pos)
    scope_of = {n: scopes(group_of(flat, n)) for n in names}
    members: dict[str, list[float]] = {}
    for n in names:
        for scope in scope_of[n]:
            members.setdefault(scope, []).append(bary[n])
    pos = {scope: float(np.mean(v)) for scope, v in members.items()}
    # subsystems stay together, nested ones inside their parents: sort by each enclosing scope's place
    return sorted(names, key=lambda n: (*(pos[s] for s in scope_of[n]), bary[n]))


def _crossings(layers, right) -> int:
    total = 0
    for j in range(len(layers) - 1):
        pos_a = {n: i for i, n in enumerate(layers[j])}
        pos_b = {n: i for i, n in enumerate(layers[j + 1])}
        segs = [(pos_a[u] + fu * 0.5, pos_b[v] + fv * 0.5) for u in layers[j] for v, fu, fv in right.get(u, ())
                if v in pos_b]
        total += sum(1 for i, (a1, b1) in enumerate(segs) for a2, b2 in segs[i + 1:] if (a1 - a2) * (b1 - b2) < 0)
    return total
