"""compile_diagram: diagram (structure being edited) → Program (frozen, runnable)."""

from __future__ import annotations

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
    loops; infer and check signal sizes; order the blocks topologically along feedthrough
    wires; cast every parameter to ``dtype``. The diagram is not modified, so compiling twice
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
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        np_dtype = None
    if np_dtype is None or np_dtype not in _DTYPES:  # (a dtype compares equal to None: float64)
        raise ParameterError(f"dtype: expected float64 or float32, got {dtype!r}")
    dtype = np_dtype
    flat = flatten(diagram)
    _check_inputs_driven(flat)
    check_algebraic_loops(flat)
    in_sizes, out_sizes = infer_sizes(flat)
    order = _schedule(flat)
    blocks = {name: flat.nodes[name]["block"].astype(dtype) for name in order}
    if check_finite:
        _check_finite_params(blocks)
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


def _schedule(flat: nx.MultiDiGraph) -> list[str]:
    """Topological order of blocks along wires into feedthrough inputs (ties: insertion order)."""
    rank = {n: i for i, n in enumerate(flat.nodes)}
    dep = nx.DiGraph()
    dep.add_nodes_from(flat.nodes)
    for a, b, e in flat.edges(data=True):
        through = {i for i, _ in flat.nodes[b]["block"].feedthrough()}
        if e["dst_port"] in through:
            dep.add_edge(a, b)
    try:
        return list(nx.lexicographical_topological_sort(dep, key=rank.__getitem__))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(dep)
        names = [u for u, _ in cycle]
        raise AlgebraicLoopError(
            "blocks " + " → ".join(names) + " depend on each other's outputs within one step through "
            "blocks that pass only some inputs through; split those blocks or insert a UnitDelay",
            [(n, "block", "") for n in names],
        ) from None


def _check_finite_params(blocks) -> None:
    for name, block in blocks.items():
        for pname, arr in block.arrays().items():
            if arr.size and not np.all(np.isfinite(arr)):
                bad = np.argwhere(~np.isfinite(arr))[0]
                raise NonFiniteError(
                    f"block '{name}' ({block.type_name}) parameter '{pname}' has a non-finite value "
                    f"at index {tuple(int(i) for i in bad)}; pass check_finite=False to allow it"
                )
