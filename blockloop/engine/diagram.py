"""The diagram container: blocks and wires in a ``networkx.MultiDiGraph`` users may read.

Nodes are block names with the attribute ``block``; edges carry ``src_port`` and
``dst_port`` (and ``order``, a counter that keeps the order wires were made in). A
:class:`Diagram` can itself be added to another diagram as a subsystem; its
:class:`~blockloop.blocks.Inport` and :class:`~blockloop.blocks.Outport` blocks are its ports.
"""

from __future__ import annotations

import difflib
from typing import NamedTuple

import networkx as nx
import numpy as np

from ..blocks import Block, Inport, Outport
from ..errors import ParameterError, SizeMismatchError, WiringError

__all__ = ["Diagram", "PortRef", "BlockHandle"]


class PortRef(NamedTuple):
    """A port of a named block, written ``"block.port"``."""

    block: str
    port: str

    def __str__(self) -> str:
        return f"{self.block}.{self.port}"


class BlockHandle:
    """What :meth:`Diagram.add` returns: ``handle["port"]`` is a :class:`PortRef`.

    A handle may be passed to :meth:`Diagram.connect` directly when the block has a single
    port in the direction needed.
    """

    def __init__(self, diagram: Diagram, name: str):
        self.diagram = diagram
        self.name = name

    @property
    def block(self) -> Block | Diagram:
        return self.diagram.graph.nodes[self.name]["block"]

    def __getitem__(self, port: str) -> PortRef:
        block = self.block
        if port not in block.inputs and port not in block.outputs:
            raise WiringError(f"block '{self.name}' ({_type_name(block)}) has no port '{port}'; "
                              f"inputs: {_listing(block.inputs)}; outputs: {_listing(block.outputs)}")
        return PortRef(self.name, port)

    def __repr__(self) -> str:
        return f"<BlockHandle {self.name!r}: {self.block!r}>"


def _type_name(block) -> str:
    return "Diagram" if isinstance(block, Diagram) else block.type_name


def _listing(names) -> str:
    return ", ".join(names) if names else "(none)"


def check_sample_time(value, what: str = "Ts", allow_none: bool = False) -> float | None:
    """``value`` (an int or float, Python or numpy) as a finite number > 0 (seconds), or None when
    ``allow_none``; else a ParameterError naming ``what``. A Python int stays an int (``2`` is saved
    as ``2``, not ``2.0``); an int too large for a float is refused, not an OverflowError."""
    if value is None and allow_none:
        return None
    number = float("nan")
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        # a Python float bound: int vs float compares exactly (a numpy float would convert 10**400)
        if not isinstance(value, (int, np.integer)) or abs(value) <= float(np.finfo(np.float64).max):
            number = float(value)
    if not np.isfinite(number) or number <= 0:
        none = " or None" if allow_none else ""
        raise ParameterError(f"{what}: expected a finite sample time > 0 in seconds{none}, got {value!r}")
    return int(value) if isinstance(value, (int, np.integer)) else number


def _check_name(name) -> str:
    if not isinstance(name, str) or not name or "." in name or "/" in name or name != name.strip():
        raise WiringError(f"invalid block name {name!r}: use a non-empty string without '.', '/' "
                          "or surrounding spaces")
    return name


class Diagram:
    """A discrete-time block diagram.

    Parameters
    ----------
    name : str
        Used in messages and as the default name when the diagram is a subsystem.
    Ts : float or None
        Sample time in seconds (finite, > 0), stored in diagram files. None (default): the
        diagram has none, and a simulation steps in units of 1 s (``t = k``) unless given a
        ``Ts``. A simulation's explicit ``Ts`` argument overrides it; a subsystem's own ``Ts``
        is kept (and saved) but only the top-level diagram's is used.

    Examples
    --------
    >>> from blockloop import Diagram
    >>> from blockloop.blocks import Inport, Sum, UnitDelay, Outport
    >>> d = Diagram("accumulator")
    >>> u = d.add("u", Inport(1)); s = d.add("s", Sum("++"))
    >>> z = d.add("z", UnitDelay(0.0)); y = d.add("y", Outport())
    >>> d.connect(u, "s.u1"); d.connect("z.y", "s.u2"); d.connect(s, z); d.connect(s, y)
    >>> d.simulate({"u": [[1.0], [2.0], [3.0]]})["y"].ravel().tolist()
    [1.0, 3.0, 6.0]
    """

    def __init__(self, name: str = "diagram", Ts: float | None = None):
        if not isinstance(name, str):
            raise ParameterError(f"Diagram name: expected a string, got {name!r} ({type(name).__name__})")
        self.name = name
        self.graph = nx.MultiDiGraph(name=name)
        self.Ts = Ts

    @property
    def Ts(self) -> float | None:
        """The sample time in seconds, or None (see the class docstring)."""
        return self._Ts

    @Ts.setter
    def Ts(self, value) -> None:
        self._Ts = check_sample_time(value, f"diagram '{self.name}' Ts", allow_none=True)

    # -- building ----------------------------------------------------------------------------
    def add(self, name: str, block: Block | Diagram) -> BlockHandle:
        """Add ``block`` (or a sub-``Diagram``) under ``name``; return its handle."""
        _check_name(name)
        if name in self.graph:
            raise WiringError(f"diagram '{self.name}' already has a block named '{name}'")
        if not isinstance(block, (Block, Diagram)):
            raise WiringError(f"block '{name}': expected a Block or a Diagram, got {type(block).__name__}")
        if block is self:
            raise WiringError(f"diagram '{self.name}' cannot contain itself")
        self.graph.add_node(name, block=block)
        return BlockHandle(self, name)

    def connect(self, src, dst) -> None:
        """Wire an output port to an input port.

        ``src`` and ``dst`` are ``"block.port"`` strings, :class:`PortRef` s, or handles (or
        bare block names) of blocks with a single output / input port.

        Raises
        ------
        WiringError
            Unknown block or port, or ``dst`` already driven by another wire.
        SizeMismatchError
            Both ends have sizes fixed by their parameters, and they differ.
        """
        s = self._resolve(src, "output")
        d = self._resolve(dst, "input")
        existing = self.driver(d)
        if existing is not None:
            raise WiringError(f"input '{d}' is already driven by '{existing}'; an input takes exactly one "
                              "wire (combine signals with a Sum, Product or Mux block)")
        s_size = self._static_size(s, "output")
        d_size = self._static_size(d, "input")
        if s_size is not None and d_size is not None and s_size != d_size:
            raise SizeMismatchError(f"wire '{s}' → '{d}': '{s}' has size {s_size} but '{d}' expects size {d_size}")
        order = self.graph.graph["wires_made"] = self.graph.graph.get("wires_made", 0) + 1
        self.graph.add_edge(s.block, d.block, src_port=s.port, dst_port=d.port, order=order)

    def chain(self, *refs) -> None:
        """Connect ``refs[0] → refs[1] → …`` (each through its single input/output port)."""
        for a, b in zip(refs[:-1], refs[1:], strict=True):
            self.connect(a, b)

    # -- reading -----------------------------------------------------------------------------
    @property
    def blocks(self) -> dict[str, Block | Diagram]:
        """Blocks by name, in insertion order."""
        return {n: a["block"] for n, a in self.graph.nodes(data=True)}

    def block(self, name: str) -> Block | Diagram:
        """The block called ``name``; :class:`WiringError` with suggestions if there is none."""
        if name not in self.graph:
            raise WiringError(self._unknown_block(name))
        return self.graph.nodes[name]["block"]

    def wires(self) -> list[tuple[PortRef, PortRef]]:
        """All wires as ``(source, destination)`` pairs, in the order they were made."""
        edges = sorted(self.graph.edges(data=True), key=lambda edge: edge[2]["order"])
        return [(PortRef(a, e["src_port"]), PortRef(b, e["dst_port"])) for a, b, e in edges]

    def driver(self, dst: PortRef) -> PortRef | None:
        """The output port that drives input ``dst``, or None."""
        for a, _, e in self.graph.in_edges(dst.block, data=True):
            if e["dst_port"] == dst.port:
                return PortRef(a, e["src_port"])
        return None

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the diagram's input ports (its Inport blocks), in insertion order."""
        return tuple(n for n, b in self.blocks.items() if isinstance(b, Inport))

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the diagram's output ports (its Outport blocks), in insertion order."""
        return tuple(n for n, b in self.blocks.items() if isinstance(b, Outport))

    # -- running -----------------------------------------------------------------------------
    def compile(self, dtype=np.float64, check_finite: bool = True):
        """Compile to an immutable :class:`~blockloop.engine.program.Program` (see ``compile_diagram``)."""
        from .compile import compile_diagram

        return compile_diagram(self, dtype=dtype, check_finite=check_finite)

    def simulate(self, inputs=None, *, dtype=np.float64, **kwargs):
        """Compile and simulate in one call; see :meth:`Program.simulate` for the arguments."""
        return self.compile(dtype=dtype, check_finite=kwargs.get("check_finite", True)).simulate(inputs, **kwargs)

    def __repr__(self) -> str:
        ts = "" if self.Ts is None else f", Ts {self.Ts:g} s"
        return (f"<Diagram {self.name!r}: {self.graph.number_of_nodes()} blocks, "
                f"{self.graph.number_of_edges()} wires, inputs {list(self.inputs)}, outputs {list(self.outputs)}{ts}>")

    def _repr_svg_(self) -> str | None:
        """Jupyter's picture of the diagram: the matplotlib renderer's SVG (loops coloured, scaled to the cell width).

        Returns None (Jupyter then shows ``repr``) for an empty diagram or one that cannot be
        drawn; the reason is logged.
        """
        if not self.graph.number_of_nodes():
            return None
        import logging

        from ..errors import BlockloopError
        from ..viz.render import picture_svg
        from ..viz.style import LSTM_LOOP_NAMES

        try:
            return picture_svg(self, names=LSTM_LOOP_NAMES)
        except BlockloopError as exc:
            logging.getLogger(__name__).warning("diagram '%s' cannot be drawn: %s", self.name, exc)
            return None

    # -- helpers -----------------------------------------------------------------------------
    def _unknown_block(self, name: str) -> str:
        names = list(self.graph.nodes)
        lower = {str(n).lower(): str(n) for n in names}
        close = [lower[c] for c in difflib.get_close_matches(str(name).lower(), list(lower), n=3)]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"diagram '{self.name}' has no block named '{name}'{hint} (blocks: {_listing(names)})"

    def _resolve(self, ref, direction: str) -> PortRef:
        if isinstance(ref, BlockHandle):
            if ref.diagram is not self:
                raise WiringError(f"block '{ref.name}' belongs to diagram '{ref.diagram.name}', not '{self.name}'")
            ref = ref.name
        if isinstance(ref, str):
            name, _, port = ref.partition(".")
            if name not in self.graph:
                raise WiringError(f"{direction} '{ref}': {self._unknown_block(name)}")
            ref = PortRef(name, port) if port else name
        if isinstance(ref, str):
            block = self.block(ref)
            ports = block.outputs if direction == "output" else block.inputs
            if len(ports) != 1:
                raise WiringError(f"block '{ref}' ({_type_name(block)}) has {len(ports)} {direction} ports "
                                  f"({_listing(ports)}); name one, as '{ref}.<port>'")
            return PortRef(ref, ports[0])
        if not isinstance(ref, PortRef):
            raise WiringError(f"cannot read a port reference from {ref!r}; use 'block.port'")
        block = self.block(ref.block)
        ports = block.outputs if direction == "output" else block.inputs
        if ref.port not in ports:
            other = block.inputs if direction == "output" else block.outputs
            kind = "input" if direction == "output" else "output"
            extra = f" ('{ref.port}' is an {kind})" if ref.port in other else ""
            raise WiringError(f"block '{ref.block}' ({_type_name(block)}) has no {direction} port "
                              f"'{ref.port}'{extra}; its {direction}s are: {_listing(ports)}")
        return ref

    def _static_size(self, ref: PortRef, direction: str) -> int | None:
        block = self.block(ref.block)
        if isinstance(block, Diagram):
            return None
        if direction == "input":
            return block.declared_input_sizes().get(ref.port)
        try:
            return block.output_sizes(dict.fromkeys(block.inputs)).get(ref.port)  # None: not known yet
        except SizeMismatchError:
            return None
