"""compile_diagram: diagram (structure being edited) → Program (frozen, runnable)."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np

from ..blocks import Inport, Outport, Probe
from ..errors import AlgebraicLoopError, NonFiniteError, ParameterError, WiringError
from .diagram import Diagram
from .flatten import flatten
from .port_graph import check_algebraic_loops
from .program import Program, StateSpec
from .sizes import infer_sizes

__all__ = ["compile_diagram"]

_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def compile_diagram(diagram: Diagram, dtype=np.float64, check_finite: bool = True) -> Program:
    """Check a diagram and turn it into an executable :class:`Program`.

    Steps: flatten subsystems; check every input is driven exactly once; reject algebraic
    loops (loops of the port graph: feedthrough is per (input, output) pair); infer and check
    signal sizes; order the blocks topologically along feedthrough wires, evaluating in parts
    the blocks whose outputs are needed at different places of a step; cast every parameter to
    ``dtype``. The diagram is not modified, so compiling twice
    gives two identical programs.

    Parameters
    ----------
    diagram : Diagram
    dtype : float64 (default) or float32
        Every signal, state and parameter of the program has this dtype.
    check_finite : bool
        Reject NaN/inf parameters (default). Pass False to allow them on purpose.

    Raises
    ------
    WiringError, SizeMismatchError, AlgebraicLoopError, ParameterError, NonFiniteError

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> program = compile_diagram(lstm_network(NetworkWeights.random(ni=4, nn=3, no=2)))
    >>> program.inputs, program.outputs
    (('u',), ('y',))
    """
    dtype = program_dtype(dtype)
    check_flag(check_finite, "check_finite")
    if not isinstance(diagram, Diagram):
        raise ParameterError(f"compile: expected a Diagram, got {type(diagram).__name__}")
    flat = flatten(diagram)
    _check_inputs_driven(flat)
    check_algebraic_loops(flat)
    in_sizes, out_sizes = infer_sizes(flat)
    order, evaluation = _schedule(flat)
    originals = {name: flat.nodes[name]["block"] for name in order}
    blocks = {name: block.astype(dtype) for name, block in originals.items()}
    if check_finite:
        _check_finite_params(blocks, originals)
    states = tuple(
        StateSpec(name, b.state_size(_ports(in_sizes, name, b.inputs), _ports(out_sizes, name, b.outputs)))
        for name, b in blocks.items() if b.has_state
    )
    return Program(
        name=diagram.name, dtype=dtype, order=tuple(order), blocks=blocks, graph=flat,
        in_sizes=in_sizes, out_sizes=out_sizes, states=states,
        inputs=tuple(n for n in order if isinstance(blocks[n], Inport)),
        outputs=tuple(n for n in flat.nodes if isinstance(flat.nodes[n]["block"], Outport)),
        probes=tuple(n for n in flat.nodes if isinstance(flat.nodes[n]["block"], Probe)),
        evaluation=evaluation,
    )


def _ports(table, name, ports):
    return {p: table[(name, p)] for p in ports}


def _check_inputs_driven(flat: nx.MultiDiGraph) -> None:
    seen: dict[tuple[str, str], str] = {}
    for a, b, e in flat.edges(data=True):
        key = (b, e["dst_port"])
        if key in seen:
            raise WiringError(f"input '{b}.{e['dst_port']}' is driven twice, by '{seen[key]}' and "
                              f"'{a}.{e['src_port']}'; an input takes exactly one wire")
        seen[key] = f"{a}.{e['src_port']}"
    for name, attrs in flat.nodes(data=True):
        block = attrs["block"]
        for port in block.inputs:
            if (name, port) not in seen:
                raise WiringError(f"input '{name}.{port}' ({block.type_name}) is not connected; "
                                  f"wire a source to it, e.g. diagram.connect('<block>.<port>', '{name}.{port}')")


def _schedule(flat: nx.MultiDiGraph) -> tuple[list[str], tuple]:
    """Block order, and where needed the evaluation order of parts of blocks: ``(order, evaluation)``.

    Blocks are ordered topologically along wires into feedthrough inputs (ties: insertion
    order). Feedthrough is declared per (input, output) pair, so a diagram without an algebraic
    loop at port level may still have a cycle between blocks: a block with several outputs,
    some of which do not depend on an input that is computed from them (a KalmanFilter's
    ``x_pred`` fed back into its ``u``). Then the blocks on such cycles are evaluated in parts
    (:func:`_split_schedule`) and ``evaluation`` lists ``(block, output ports)`` in order;
    otherwise it is empty (every block evaluated once, in ``order``).
    """
    rank = {n: i for i, n in enumerate(flat.nodes)}
    dep = nx.DiGraph()
    dep.add_nodes_from(flat.nodes)
    for a, b, e in flat.edges(data=True):
        through = {i for i, _ in flat.nodes[b]["block"].feedthrough()}
        if e["dst_port"] in through:
            dep.add_edge(a, b)
    try:
        return list(nx.lexicographical_topological_sort(dep, key=rank.__getitem__)), ()
    except nx.NetworkXUnfeasible:
        return _split_schedule(flat, dep, rank)


def _split_schedule(flat: nx.MultiDiGraph, dep: nx.DiGraph, rank: dict) -> tuple[list[str], tuple]:
    """The schedule of a diagram whose blocks form cycles that no port-level loop closes.

    Each block on a cycle of ``dep`` is split into groups of outputs that depend on the same
    inputs (its feedthrough pairs); an edge runs from the group (or whole block) producing a
    signal to each group that needs it without delay. A cycle of this graph would be a loop of
    the port graph, which :func:`check_algebraic_loops` has ruled out. Consecutive groups of one
    block are merged; a block left with one group is evaluated whole.
    """
    cyclic = {n for comp in nx.strongly_connected_components(dep)
              if len(comp) > 1 or dep.has_edge(*(next(iter(comp)),) * 2) for n in comp}
    node_of: dict[tuple[str, str], tuple[str, int]] = {}
    needs: dict[tuple[str, int], set] = {}
    ports_of: dict[tuple[str, int], list] = {}
    for name in flat.nodes:
        block = flat.nodes[name]["block"]
        pairs = block.feedthrough()
        if name not in cyclic:
            needs[(name, -1)] = {i for i, _ in pairs}
            ports_of[(name, -1)] = list(block.outputs)
            node_of.update({(name, o): (name, -1) for o in block.outputs})
            continue
        groups: dict[frozenset, int] = {}
        for o in block.outputs:
            key = frozenset(i for i, out in pairs if out == o)
            gi = groups.setdefault(key, len(groups))
            needs[(name, gi)] = set(key)
            ports_of.setdefault((name, gi), []).append(o)
            node_of[(name, o)] = (name, gi)
    graph = nx.DiGraph()
    graph.add_nodes_from(needs)
    nodes_of: dict[str, list] = {}
    for node in needs:
        nodes_of.setdefault(node[0], []).append(node)
    for a, b, e in flat.edges(data=True):
        src = node_of[(a, e["src_port"])]
        for node in nodes_of[b]:
            if e["dst_port"] in needs[node]:
                graph.add_edge(src, node)
    try:
        nodes = list(nx.lexicographical_topological_sort(graph, key=lambda n: (rank[n[0]], n[1])))
    except nx.NetworkXUnfeasible:  # not reached after check_algebraic_loops; kept as a guard
        cycle = nx.find_cycle(graph)
        names = list(dict.fromkeys(u[0] for u, _ in cycle))
        raise AlgebraicLoopError("blocks " + " → ".join(names) + " depend on each other's outputs within one step",
                                 [(n, "block", "") for n in names]) from None
    evaluation: list[tuple[str, list]] = []
    for node in nodes:
        if evaluation and evaluation[-1][0] == node[0]:
            evaluation[-1][1].extend(ports_of[node])
        else:
            evaluation.append((node[0], list(ports_of[node])))
    order = list(dict.fromkeys(name for name, _ in evaluation))
    parts = Counter(name for name, _ in evaluation)
    return order, tuple((name, None if parts[name] == 1 else tuple(ports)) for name, ports in evaluation)


def program_dtype(dtype) -> np.dtype:
    """``dtype`` as float64 or float32: a dtype, a numpy type or a name; anything else is a ParameterError.

    No guessing: ``None``, a number or a numpy scalar (``np.float64(2.5)``) is not a dtype.
    """
    ok = isinstance(dtype, (str, np.dtype)) or (isinstance(dtype, type) and issubclass(dtype, np.generic))
    try:
        np_dtype = np.dtype(dtype) if ok else None
    except TypeError:
        np_dtype = None
    if np_dtype is None or np_dtype not in _DTYPES:  # (np.dtype("float64") == None is True)
        raise ParameterError(f"dtype: expected float64 or float32, got {dtype!r}")
    return np_dtype


def check_flag(value, what: str) -> bool:
    """``value`` if it is a bool (or numpy bool), else :class:`ParameterError`: ``"no"`` is not False."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{what}: expected True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def _check_finite_params(blocks, originals) -> None:
    for name, block in blocks.items():
        before = originals[name].arrays()
        for pname, arr in block.arrays().items():
            if arr.size and not np.all(np.isfinite(arr)):
                bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                was = before.get(pname)
                if was is not None and was.shape == arr.shape and np.isfinite(was[bad]):
                    raise NonFiniteError(
                        f"block '{name}' ({block.type_name}) parameter '{pname}' = {float(was[bad]):.6g} at index "
                        f"{bad} overflows {arr.dtype} (largest {np.finfo(arr.dtype).max:.6g}); scale it, or "
                        "compile in float64")
                raise NonFiniteError(
                    f"block '{name}' ({block.type_name}) parameter '{pname}' has a non-finite value "
                    f"at index {bad}; pass check_finite=False to allow it"
                )
