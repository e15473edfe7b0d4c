"""Backpropagation through time on the interpreter: each block's own numpy adjoint, step by step.

The reference reverse sweep (and the one for user blocks that declare ``output_vjp`` but have
no compiled op). For k = T−1 … 0, with the forward trace of every signal and state:

1. the loss cotangents of step k go to the logged signals;
2. each stateful block's ``update_vjp`` turns the cotangent of x[k+1] into cotangents of its
   inputs at step k (and of x[k]);
3. blocks in reverse schedule order apply ``output_vjp``: every consumer of a signal comes
   after its producer in the schedule, so a signal's cotangent is complete when its producer
   is reached;
4. what reached each state is the cotangent of x[k], carried to step k − 1.

At the end the cotangent of x[0] is the gradient with respect to the initial states.
"""

from __future__ import annotations

import numpy as np

from ..blocks.base import declares_with_rules
from ..engine import interpreter
from ..errors import DifferentiationError

__all__ = ["check_adjoints", "run_backward"]


def check_adjoints(program) -> None:
    """Raise :class:`DifferentiationError` naming the first block without a trusted adjoint."""
    for name in program.order:
        block = program.blocks[name]
        if block.is_time_source:
            continue
        needed = [("output_vjp", "output")] + ([("update_vjp", "update")] if block.has_state else [])
        for method, rule in needed:
            if not declares_with_rules(block, method, (rule,)):
                raise DifferentiationError(
                    f"block '{name}' ({block.type_name}) declares no adjoint ({method}), so gradients cannot "
                    f"flow through it; give {block.type_name} an {method} (see Block.{method}) or leave it out "
                    "of the differentiated diagram")


class _Cotangents:
    """Cotangents of one step's signals, by signal index; absent means zero."""

    def __init__(self):
        self.g: dict[int, np.ndarray] = {}

    def add(self, index: int, value) -> None:
        if value is None:
            return
        prev = self.g.get(index)
        self.g[index] = value if prev is None else prev + value

    def get(self, index: int):
        return self.g.get(index)


def run_backward(program, plan, cotangent_of, paths) -> tuple[dict, float, dict[str, np.ndarray]]:
    """Forward with a trace, the loss cotangents, then the reverse sweep.

    Parameters
    ----------
    cotangent_of : function logged → (loss, {name: (T, B, n) ∂loss/∂signal})
    paths : trainable parameter paths ("block.param")

    Returns
    -------
    (logged signals name → (T, B, n), loss, gradients path → array in the parameter's shape)
    """
    check_adjoints(program)
    trace: list = []
    logged = interpreter.run_plan(program, plan, trace)
    loss, cotangents = cotangent_of(logged)
    wanted = {tuple(p.rpartition(".")[::2]) for p in paths}
    sums: dict[tuple[str, str], np.ndarray] = {}

    def collect(name, gparams):
        for pname, g in gparams.items():
            if (name, pname) in wanted:
                sums[(name, pname)] = g if (name, pname) not in sums else sums[(name, pname)] + g

    name_of = {id(b): n for n, b in program.blocks.items()}
    slot_of = {s.block: i for i, s in enumerate(program.states)}
    gx_next: list = [None] * len(program.states)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(plan.steps - 1, -1, -1):
            sig, states = trace[k]
            g = _Cotangents()
            for name, (index, _) in plan.logs.items():
                if name in cotangents:
                    g.add(index, cotangents[name][k])
            gx = [None] * len(program.states)
            for op in reversed(program.updates):
                block = op.fn.__self__
                s = op.state
                if gx_next[s] is None:
                    continue
                gu, gxs, gp = block.update_vjp([sig[i] for i in op.ins], states[s], gx_next[s])
                _scatter(g, op.ins, gu)
                gx[s] = _plus(gx[s], gxs)
                collect(name_of[id(block)], gp)
            for op in reversed(program.ops):
                gy = [g.get(o) for o in op.outs]
                if all(v is None for v in gy):
                    continue
                outs = getattr(op.fn, "all_outs", None)
                if outs is not None:  # a part of a split block: the other parts' outputs get zero cotangents here
                    gy = [g.get(o) if o in op.outs else None for o in outs]
                else:
                    outs = op.outs
                ys = [sig[o] for o in outs]
                gy = [np.zeros_like(y) if v is None else v for v, y in zip(gy, ys, strict=True)]
                block = op.fn.__self__
                gu, gxs, gp = block.output_vjp([sig[i] for i in op.ins], states[op.state], ys, gy)
                _scatter(g, op.ins, gu)
                if op.state >= 0:
                    gx[op.state] = _plus(gx[op.state], gxs)
                collect(name_of[id(block)], gp)
            for index, block in program.constants():
                if g.get(index) is not None:
                    collect(name_of[id(block)], block.output_vjp((), None, (), (g.get(index),))[2])
            gx_next = gx
    for name, s in slot_of.items():
        if (name, "x0") in wanted and gx_next[s] is not None:
            x0 = program.blocks[name].arrays()["x0"]
            sums[(name, "x0")] = _fold(gx_next[s].sum(axis=0), x0.shape)
    grads = {}
    for path in paths:
        block, _, param = path.rpartition(".")
        shape = program.blocks[block].arrays()[param].shape
        grads[path] = np.asarray(sums.get((block, param), np.zeros(shape)), dtype=program.dtype).reshape(shape)
    return logged, loss, grads


def _scatter(g: _Cotangents, ins, gu) -> None:
    for index, value in zip(ins, gu, strict=True):
        g.add(index, value)


def _plus(a, b):
    if b is None:
        return a
    return b if a is None else a + b


def _fold(g: np.ndarray, shape: tuple) -> np.ndarray:
    """A state-size cotangent folded onto a parameter that was broadcast to it (scalar x0 → sum)."""
    return g.reshape(shape) if g.size == int(np.prod(shape)) else np.array([g.sum()]).reshape(shape)
