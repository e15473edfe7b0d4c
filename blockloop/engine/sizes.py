"""Signal-size inference and checking over a flattened diagram."""

from __future__ import annotations

import networkx as nx

from ..errors import SizeMismatchError, WiringError

__all__ = ["infer_sizes"]

PortKey = tuple[str, str]


def infer_sizes(flat: nx.MultiDiGraph) -> tuple[dict[PortKey, int], dict[PortKey, int]]:
    """Infer every port's size by propagating along wires until nothing changes.

    Returns ``(in_sizes, out_sizes)``, each keyed by ``(block, port)``.

    Raises
    ------
    SizeMismatchError
        A wire whose ends carry different sizes (both ends and both sizes named), or a block
        whose inputs contradict each other.
    WiringError
        A size that cannot be inferred (the message says where to state it).
    """
    driver = {(b, e["dst_port"]): (a, e["src_port"]) for a, b, e in flat.edges(data=True)}
    ins: dict[PortKey, int] = {}
    outs: dict[PortKey, int] = {}
    for name, attrs in flat.nodes(data=True):
        for port, size in attrs["block"].declared_input_sizes().items():
            ins[(name, port)] = size
    aliases = flat.graph.get("aliases", {})
    declared = {node: (aliases[node], size) for node, size in flat.graph.get("port_sizes", {}).items()
                if node in aliases}
    changed = True
    while changed:
        changed = False
        for name, attrs in flat.nodes(data=True):
            changed |= _visit(name, attrs["block"], driver, ins, outs)
        changed |= _apply_port_sizes(declared, outs)
    _check_complete(flat, ins, outs)
    return ins, outs


def _apply_port_sizes(declared: dict, outs: dict) -> bool:
    """Subsystem Inports declared with a size (spliced out by flatten) fix their driver's size."""
    changed = False
    for node, (src, size) in declared.items():
        known = outs.get(src)
        if known is None:
            outs[src] = size
            changed = True
        elif known != size:
            sub, _, port = node.rpartition("/")
            raise SizeMismatchError(f"subsystem input '{sub}.{port}' is declared with size {size} "
                                    f"(Inport({size})) but '{src[0]}.{src[1]}' drives it with size {known}")
    return changed


def _set(table: dict, key: PortKey, size, what: str) -> bool:
    if size is None:
        return False
    old = table.get(key)
    if old is None:
        table[key] = int(size)
        return True
    if old != size:
        raise SizeMismatchError(f"{what}: port '{key[0]}.{key[1]}' has size {old} but {size} is required")
    return False


def _visit(name, block, driver, ins, outs) -> bool:
    changed = False
    for port in block.inputs:
        src = driver.get((name, port))
        if src is None:
            continue
        s, d = outs.get(src), ins.get((name, port))
        if s is not None and d is not None and s != d:
            raise SizeMismatchError(f"wire '{src[0]}.{src[1]}' → '{name}.{port}': the source has size {s} "
                                    f"but the destination expects size {d}")
        if d is None and s is not None:
            ins[(name, port)] = s
            changed = True
        elif s is None and d is not None:
            outs[src] = d
            changed = True
    known_in = {p: ins.get((name, p)) for p in block.inputs}
    try:
        for port, size in block.output_sizes(known_in).items():
            changed |= _set(outs, (name, port), size, f"block '{name}' ({block.type_name})")
        known_out = {p: outs.get((name, p)) for p in block.outputs}
        for port, size in block.infer_input_sizes(known_out).items():
            changed |= _set(ins, (name, port), size, f"block '{name}' ({block.type_name})")
    except SizeMismatchError as exc:
        if str(exc).startswith("block '"):
            raise
        raise SizeMismatchError(f"block '{name}' ({block.type_name}): {exc}") from None
    return changed


def _check_complete(flat, ins, outs) -> None:
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        for port in block.outputs:
            if (name, port) not in outs:
                raise WiringError(f"cannot infer the size of '{name}.{port}' ({block.type_name}); state it "
                                  "explicitly, e.g. Inport(size=n) or a UnitDelay x0 of length n")
