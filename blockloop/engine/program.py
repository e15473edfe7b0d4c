"""Program: the compiled, immutable form of a diagram (structure only, no run state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import networkx as nx
import numpy as np

from ..blocks import Block, FromArray, Inport

__all__ = ["Program", "StateSpec", "PartialOutput"]


class StateSpec(NamedTuple):
    """A stateful block's name and state length."""

    block: str
    size: int


class Op(NamedTuple):
    """One block evaluation in the per-step loop: ``sig[outs] = fn([sig[i] for i in ins], state)``.

    ``single`` is the one output slot of a single-output block (the common case, stored
    directly to save the inner loop), else -1; ``state`` is the state slot, or -1 for none.
    """

    fn: object
    ins: tuple[int, ...]
    outs: tuple[int, ...]
    state: int
    single: int = -1


class PartialOutput:
    """Some outputs of a block that the schedule computes in parts: ``fn(u, x)`` → those outputs.

    Calls the block's own ``output`` (the numpy rule) and keeps the outputs at ``keep``
    (indices into ``block.outputs``). ``__self__`` is the block, as for a bound ``block.output``;
    ``all_outs`` are the signal indices of all the block's outputs and ``outs`` those kept, so
    the reverse sweep can call ``output_vjp`` with zero cotangents for the outputs of the
    other parts.
    """

    def __init__(self, block: Block, keep: tuple[int, ...], all_outs: tuple[int, ...]):
        self.__self__ = block
        self.keep = keep
        self.all_outs = all_outs
        self.outs = tuple(all_outs[i] for i in keep)

    def __call__(self, u, x):
        ys = self.__self__.output(u, x)
        return tuple(ys[i] for i in self.keep)


@dataclass(frozen=True, eq=False)
class Program:
    """An executable diagram: blocks in schedule order, cast to one dtype, sizes known.

    A Program holds no run state: every :meth:`simulate` call allocates its own signals
    and states, so simulating twice gives identical results. Its blocks' parameter arrays are
    read-only (use :meth:`with_parameters` for other values).

    Attributes
    ----------
    order : tuple of str
        Leaf block names (``"sub/block"`` paths) in execution order.
    blocks : mapping name → Block
        The leaf blocks, parameters cast to ``dtype``.
    graph : networkx.MultiDiGraph
        The flattened diagram.
    in_sizes, out_sizes : mapping (block, port) → int
    states : tuple of StateSpec
    inputs, outputs, probes : tuple of str
        Top-level Inport, Outport and Probe block names.
    evaluation : tuple of (str, tuple of str or None)
        Empty when every block's outputs are computed by one call, in ``order`` (the common
        case). Otherwise every block in evaluation order, with the output ports computed there
        (None: all of them, one call): a block whose outputs are needed at different places of
        one step (some depend on an input computed from others) is called once per part; see
        :meth:`evaluation_parts`.
    placeholders : tuple of int
        Sizes of the all-zero signals a part reads instead of an input that its outputs do not
        depend on (slots ``len(signal_index) + j`` of the interpreter's signal list).
    """

    name: str
    dtype: np.dtype
    order: tuple[str, ...]
    blocks: dict[str, Block]
    graph: nx.MultiDiGraph
    in_sizes: dict
    out_sizes: dict
    states: tuple[StateSpec, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    probes: tuple[str, ...]
    evaluation: tuple = ()
    signal_index: dict = field(init=False)
    placeholders: tuple[int, ...] = field(init=False)
    ops: tuple[Op, ...] = field(init=False)
    updates: tuple[Op, ...] = field(init=False)

    def __post_init__(self):
        set_ = object.__setattr__
        for block in self.blocks.values():  # parameters are structure: a run (or a cached lowering) can rely on them
            for value in vars(block).values():
                if isinstance(value, np.ndarray):
                    value.setflags(write=False)
        set_(self, "blocks", MappingProxyType(dict(self.blocks)))
        set_(self, "in_sizes", MappingProxyType(dict(self.in_sizes)))
        set_(self, "out_sizes", MappingProxyType(dict(self.out_sizes)))
        index = {}
        for name in self.order:
            for port in self.blocks[name].outputs:
                index[(name, port)] = len(index)
        set_(self, "signal_index", MappingProxyType(index))
        driver = {(b, e["dst_port"]): index[(a, e["src_port"])] for a, b, e in self.graph.edges(data=True)}
        slot = {s.block: i for i, s in enumerate(self.states)}
        ops, updates = [], []
        for name in self.order:
            block = self.blocks[name]
            if block.is_constant or block.is_time_source or not (block.outputs or block.has_state):
                continue
            ins = tuple(driver[(name, p)] for p in block.inputs)
            if block.has_state:
                updates.append(Op(block.update, ins, (), slot[name]))
        placeholders: list[int] = []
        for name, ports, real in self.evaluation_parts():
            block = self.blocks[name]
            if block.is_constant or block.is_time_source or not block.outputs:
                continue
            state = slot.get(name, -1)
            outs = tuple(index[(name, p)] for p in block.outputs)
            if ports is None:
                ins = tuple(driver[(name, p)] for p in block.inputs)
                ops.append(Op(block.output, ins, outs, state, outs[0] if len(outs) == 1 else -1))
                continue
            ins = []
            for p in block.inputs:
                if p in real:
                    ins.append(driver[(name, p)])
                else:
                    ins.append(len(index) + len(placeholders))
                    placeholders.append(self.in_sizes[(name, p)])
            keep = tuple(block.outputs.index(p) for p in ports)
            part = PartialOutput(block, keep, outs)
            ops.append(Op(part, tuple(ins), part.outs, state, part.outs[0] if len(keep) == 1 else -1))
        set_(self, "placeholders", tuple(placeholders))
        set_(self, "ops", tuple(ops))
        set_(self, "updates", tuple(updates))
        set_(self, "_driver", MappingProxyType(driver))
        set_(self, "_time_sources", tuple((n, index[(n, "y")], self.blocks[n]) for n in self.order
                                          if isinstance(self.blocks[n], (Inport, FromArray))
                                          or (self.blocks[n].is_time_source
                                              and callable(getattr(self.blocks[n], "samples", None)))))

    # -- lookups -----------------------------------------------------------------------------
    def evaluation_parts(self):
        """``(block, ports, real inputs)`` in evaluation order: how each step computes the outputs.

        ``ports`` is None for a block computed whole (``real`` is then None too: every input is
        read). For a part of a split block, ``ports`` are the outputs it computes and ``real``
        the inputs it reads: those its outputs, and the outputs of its earlier parts, depend on
        without delay (all computed earlier in the step). Its other inputs read zeros; the block's
        declared feedthrough says the outputs computed here do not depend on them. Both backends
        follow this list (the compiled one gives each part its own output rows; see
        :mod:`blockloop.compiled.lowering`).
        """
        if not self.evaluation:
            return [(name, None, None) for name in self.order]
        out, seen = [], {}
        for name, ports in self.evaluation:
            if ports is None:
                out.append((name, None, None))
                continue
            pairs = self.blocks[name].feedthrough()
            real = seen.setdefault(name, set())
            real.update(i for i, o in pairs if o in ports)
            out.append((name, tuple(ports), frozenset(real)))
        return out

    def size(self, block: str, port: str) -> int:
        """Size of an output port (or of an input port, if ``port`` is an input)."""
        key = (block, port)
        return self.out_sizes[key] if key in self.out_sizes else self.in_sizes[key]

    def driver_index(self, block: str, port: str) -> int:
        """Signal index of the output that drives input ``block.port``."""
        return self._driver[(block, port)]

    def time_sources(self):
        """(name, signal index, block) for every Inport, FromArray and generated source, in order."""
        return list(self._time_sources)

    def source_data(self, name: str, steps: int, batch: int, check_finite: bool = False):
        """What time source ``name`` (not an Inport) emits in a run: a FromArray's data (T, n) or
        (T, B, n), or a generated source's ``block.samples(steps, batch, dtype)`` (steps, batch, n).

        With ``check_finite``, a generated sample that is NaN or ±inf (a legal but extreme parameter:
        a ramp that overflows, a value beyond float32's range) raises :class:`NonFiniteError` naming
        the source and the step, the same on both backends (FromArray data is checked at compile).
        """
        block = self.blocks[name]
        samples = getattr(block, "samples", None)
        if samples is None:
            return block.data
        data = samples(steps, batch, self.dtype)
        if check_finite and not np.all(np.isfinite(data)):
            from ..errors import NonFiniteError

            k, b, e = (int(i) for i in np.argwhere(~np.isfinite(data))[0])
            raise NonFiniteError(f"source '{name}' ({block.type_name}) has a non-finite sample at step {k}, "
                                 f"sequence {b}, element {e} (value {data[k, b, e]}): its parameters make a NaN or a "
                                 f"value beyond {np.dtype(self.dtype).name}'s range; check them, or pass "
                                 "check_finite=False",
                                 block=name, port="y", step=k)
        return data

    def constants(self):
        """(signal index, block) of every constant block."""
        return [(self.signal_index[(n, "y")], self.blocks[n]) for n in self.order if self.blocks[n].is_constant]

    def parameters(self, paths=None) -> dict:
        """``{"block.param": copy}`` of trainable parameters (all by default), e.g. ``["lstm1/W.K"]``.

        See :mod:`blockloop.autodiff.parameters`; pass the result (or new values under the
        same paths) to :func:`blockloop.autodiff.gradient` or :meth:`with_parameters`.
        """
        from ..autodiff.parameters import parameter_values

        return parameter_values(self, paths)

    def with_parameters(self, values, check_finite: bool = True) -> Program:
        """A new Program whose parameters ``{"block.param": array}`` take the given values."""
        from ..autodiff.parameters import with_parameters

        return with_parameters(self, values, check_finite)

    def simulate(self, inputs=None, **kwargs):
        """Run the program; see :func:`blockloop.engine.simulate.simulate`."""
        from .simulate import simulate

        return simulate(self, inputs, **kwargs)

    def __repr__(self) -> str:
        return (f"<Program {self.name!r}: {len(self.order)} blocks, {len(self.states)} states, "
                f"{self.dtype}, inputs {list(self.inputs)}, outputs {list(self.outputs)}>")
