"""Signal-size inference and checking over a flattened diagram."""

from __future__ import annotations

import networkx as nx

from ..errors import SizeMismatchError, WiringError

__all__ = ["infer_sizes"]

PortKey = tuple[str, str]


class _Sizes:
    """Known port sizes, and for each the block whose parameters fixed it (for messages).

    A size fixed by a block's own parameters (a matrix gain's columns, a Demux's pieces, an
    ``Inport(size)``) has that block as its origin; a size passed along a wire, or through a block
    whose output follows its input (a scalar gain, a sum), keeps the origin it came with. A
    conflict then names both the port where it shows and the blocks that caused it.
    """

    def __init__(self):
        self.ins: dict[PortKey, int] = {}
        self.outs: dict[PortKey, int] = {}
        self.origin: dict[tuple[str, str, str], str] = {}

    def table(self, side: str) -> dict:
        return self.ins if side == "in" else self.outs

    def source(self, side: str, key: PortKey) -> str | None:
        return self.origin.get((side, *key))

    def put(self, side: str, key: PortKey, size: int, origin: str | None) -> None:
        self.table(side)[key] = int(size)
        if origin is not None:
            self.origin[(side, *key)] = origin


def _by(origin: str | None, port_block: str) -> str:
    """`` (fixed by block 'X')`` when the size came from another block than the port's own."""
    return f" (fixed by block '{origin}')" if origin and origin != port_block else ""


def infer_sizes(flat: nx.MultiDiGraph) -> tuple[dict[PortKey, int], dict[PortKey, int]]:
    """Infer every port's size by propagating along wires until nothing changes.

    Returns ``(in_sizes, out_sizes)``, each keyed by ``(block, port)``.

    Raises
    ------
    SizeMismatchError
        A wire whose ends carry different sizes (both ends and both sizes named, with the blocks
        whose parameters fixed each size), or a block whose inputs contradict each other (naming
        the blocks each input's size came from).
    WiringError
        A size that cannot be inferred (the message says where to state it).
    """
    driver = {(b, e["dst_port"]): (a, e["src_port"]) for a, b, e in flat.edges(data=True)}
    sizes = _Sizes()
    fixed_out: dict[str, dict] = {}
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        for port, size in block.declared_input_sizes().items():
            sizes.put("in", (name, port), size, name)
        try:
            fixed_out[name] = {p: s for p, s in block.output_sizes(dict.fromkeys(block.inputs)).items()
                               if s is not None}
        except SizeMismatchError:
            fixed_out[name] = {}
    aliases = flat.graph.get("aliases", {})
    declared = {node: (aliases[node], size) for node, size in flat.graph.get("port_sizes", {}).items()
                if node in aliases}
    changed = True
    while changed:
        changed = False
        for name, attrs in flat.nodes(data=True):
            changed |= _visit(name, attrs["block"], driver, sizes, fixed_out[name])
        changed |= _apply_port_sizes(declared, sizes)
    _check_complete(flat, sizes.ins, sizes.outs)
    return sizes.ins, sizes.outs


def _apply_port_sizes(declared: dict, sizes: _Sizes) -> bool:
    """Subsystem Inports declared with a size (spliced out by flatten) fix their driver's size."""
    changed = False
    for node, (src, size) in declared.items():
        known = sizes.outs.get(src)
        if known is None:
            sizes.put("out", src, size, node)
            changed = True
        elif known != size:
            sub, _, port = node.rpartition("/")
            raise SizeMismatchError(f"subsystem input '{sub}.{port}' is declared with size {size} "
                                    f"(Inport({size})) but '{src[0]}.{src[1]}' drives it with size {known}"
                                    f"{_by(sizes.source('out', src), src[0])}")
    return changed


def _set(sizes: _Sizes, side: str, key: PortKey, size, what: str, origin: str | None) -> bool:
    if size is None:
        return False
    old = sizes.table(side).get(key)
    if old is None:
        sizes.put(side, key, size, origin)
        return True
    if old != size:
        raise SizeMismatchError(f"{what}: port '{key[0]}.{key[1]}' has size {old}"
                                f"{_by(sizes.source(side, key), key[0])} but {size} is required"
                                f"{_by(origin, key[0])}")
    return False


def _visit(name, block, driver, sizes: _Sizes, fixed: dict) -> bool:
    changed = False
    ins, outs = sizes.ins, sizes.outs
    for port in block.inputs:
        src = driver.get((name, port))
        if src is None:
            continue
        s, d = outs.get(src), ins.get((name, port))
        if s is not None and d is not None and s != d:
            raise SizeMismatchError(
                f"wire '{src[0]}.{src[1]}' → '{name}.{port}': the source has size {s}"
                f"{_by(sizes.source('out', src), src[0])} but the destination expects size {d}"
                f"{_by(sizes.source('in', (name, port)), name)}")
        if d is None and s is not None:
            sizes.put("in", (name, port), s, sizes.source("out", src))
            changed = True
        elif s is None and d is not None:
            sizes.put("out", src, d, sizes.source("in", (name, port)))
            changed = True
    known_in = {p: ins.get((name, p)) for p in block.inputs}
    in_origin = next((sizes.source("in", (name, p)) for p in block.inputs if known_in[p] is not None), None)
    what = f"block '{name}' ({block.type_name})"
    try:
        for port, size in block.output_sizes(known_in).items():
            origin = name if port in fixed else (in_origin or name)
            changed |= _set(sizes, "out", (name, port), size, what, origin)
        known_out = {p: outs.get((name, p)) for p in block.outputs}
        out_origin = next((sizes.source("out", (name, p)) for p in block.outputs if known_out[p] is not None), name)
        for port, size in block.infer_input_sizes(known_out).items():
            changed |= _set(sizes, "in", (name, port), size, what, out_origin)
        known_in = {p: ins.get((name, p)) for p in block.inputs}
        for port, size in block.complete_input_sizes(known_in, known_out).items():
            changed |= _set(sizes, "in", (name, port), size, what, name)
    except SizeMismatchError as exc:
        if str(exc).startswith("block '"):
            raise
        causes = []
        for p in block.inputs:
            if known_in.get(p) is None:
                continue
            src, origin = driver.get((name, p)), sizes.source("in", (name, p))
            via = f"from '{src[0]}.{src[1]}'" if src else "declared"
            shown = origin not in (None, name) and (not src or origin != src[0])
            fixed = f", size fixed by '{origin}'" if shown else ""
            causes.append(f"{p} {via}{fixed}")
        hint = f" ({'; '.join(causes)})" if causes else ""
        raise SizeMismatchError(f"{what}: {exc}{hint}") from None
    return changed


def _check_complete(flat, ins, outs) -> None:
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        for port in block.outputs:
            if (name, port) not in outs:
                raise WiringError(f"cannot infer the size of '{name}.{port}' ({block.type_name}); state it "
                                  "explicitly, e.g. Inport(size=n) or a UnitDelay x0 of length n")
