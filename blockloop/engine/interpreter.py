"""The interpreter: the reference semantics, one numpy call per block per step."""

from __future__ import annotations

import numpy as np

from .program import Program

__all__ = ["run_plan"]


def run_plan(program: Program, plan, trace: list | None = None) -> dict[str, np.ndarray]:
    """Run a checked :class:`~blockloop.engine.simulate.RunPlan`; logged name → (T, B, n).

    With a ``trace`` list, each step appends ``(signals, states)``: the list of every signal
    (indexed like ``program.signal_index``) and of every state x[k], for the reverse sweep.
    """
    return _run(program, plan.steps, plan.batch or 1, plan.feeds, plan.initial_states, plan.logs, trace,
                check_finite=getattr(plan, "check_finite", False), batched=plan.batch is not None)


def _run(program: Program, T: int, B: int, feeds, x0, logs, trace=None,
         check_finite: bool = False, batched: bool = False) -> dict[str, np.ndarray]:
    """The per-step loop. Everything it touches was laid out before the first step."""
    dtype = program.dtype
    sig: list = [None] * len(program.signal_index) + [np.zeros((B, n), dtype=dtype) for n in program.placeholders]
    for idx, block in program.constants():
        value = block.output((), None)[0]
        sig[idx] = np.broadcast_to(value, (B, value.shape[-1]))
    sources = []
    for name, idx, _block in program.time_sources():
        data = feeds[name] if name in feeds else program.source_data(name, T, B, check_finite)
        if data.ndim == 2:
            data = data[:, None, :]
        sources.append((idx, np.broadcast_to(data, (data.shape[0], B, data.shape[2]))))
    states = [np.array(np.broadcast_to(x0[s.block], (B, s.size)), dtype=dtype) for s in program.states]
    states.append(None)  # slot -1: blocks without state
    buffers = {name: np.empty((T, B, size), dtype=dtype) for name, (_, size) in logs.items()}
    log_pairs = [(buffers[name], idx) for name, (idx, _) in logs.items()]
    ops, updates = program.ops, program.updates
    if check_finite:
        _loop_checked(program, T, sig, sources, states, log_pairs, trace, batched=batched)
        return buffers
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite values are reported after the run
        _loop(T, sig, sources, states, ops, updates, log_pairs, trace)
    return buffers


def _loop(T, sig, sources, states, ops, updates, log_pairs, trace) -> None:
    for k in range(T):
        for idx, data in sources:
            sig[idx] = data[k]
        for fn, ins, outs, s, single in ops:
            ys = fn([sig[i] for i in ins], states[s])
            if single >= 0:
                sig[single] = ys[0]
            else:
                for o, y in zip(outs, ys):  # noqa: B905 - hot loop; lengths fixed at compile
                    sig[o] = y
        for buf, idx in log_pairs:
            buf[k] = sig[idx]
        if trace is not None:  # blocks return new arrays, never write into old ones: a shallow copy keeps step k
            trace.append((list(sig), list(states)))
        for fn, ins, _, s, _ in updates:
            states[s] = fn([sig[i] for i in ins], states[s])


def _checked_ops(program: Program, ops) -> list[tuple]:
    """``ops`` with a sixth field: whether the op's results must be checked explicitly each step.

    An op whose block says every non-finite value it can make from finite inputs raises a numpy
    floating-point flag (``Block.nonfinite_raises_flags``, trusted only from the class that
    declares the block's rules) is watched by the flags alone, at no cost per step; any other op
    (a matrix gain, whose product may run on BLAS threads that set no flags; a user's block) gets
    an ``isfinite`` check of its results after every call.
    """
    from ..blocks.base import declares_with_rules

    out = []
    for op in ops:
        block = getattr(op.fn, "__self__", None)
        flags = (block is not None and declares_with_rules(block, "nonfinite_raises_flags")
                 and block.nonfinite_raises_flags())
        out.append((*op[:5], not flags))
    return out


def _loop_checked(program: Program, T, sig, sources, states, log_pairs, trace, batched: bool) -> None:
    """:func:`_loop` for ``check_finite=True``: stops at the first block and step making a NaN or inf.

    Every op runs with numpy's overflow, invalid and divide flags raising FloatingPointError (no
    cost until one fires); an op that raises is recomputed quietly and its results checked, so an
    intermediate overflow inside a block that still returns finite numbers is not an error. Ops
    not covered by the flags are checked explicitly (see :func:`_checked_ops`). Raises
    :class:`~blockloop.errors.NonFiniteError` with ``block``, ``port`` and ``step`` set.
    """
    ops = _checked_ops(program, program.ops)
    updates = _checked_ops(program, program.updates)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for k in range(T):
            for idx, data in sources:
                sig[idx] = data[k]
            for fn, ins, outs, s, single, check in ops:
                args = [sig[i] for i in ins]
                try:
                    ys = fn(args, states[s])
                except FloatingPointError:
                    with np.errstate(all="ignore"):
                        ys = fn(args, states[s])
                    check = True
                if single >= 0:
                    sig[single] = ys[0]
                else:
                    for o, y in zip(outs, ys):  # noqa: B905 - hot loop; lengths fixed at compile
                        sig[o] = y
                if check:
                    for o, y in zip(outs, ys):  # noqa: B905
                        if not np.isfinite(y).all():
                            _report(program, k, y, batched, signal=o)
            for buf, idx in log_pairs:
                buf[k] = sig[idx]
            if trace is not None:
                trace.append((list(sig), list(states)))
            for fn, ins, _, s, _, check in updates:
                args = [sig[i] for i in ins]
                try:
                    new = fn(args, states[s])
                except FloatingPointError:
                    with np.errstate(all="ignore"):
                        new = fn(args, states[s])
                    check = True
                if check and not np.isfinite(new).all():
                    _report(program, k, new, batched, state=s)
                states[s] = new


def _report(program: Program, k: int, values: np.ndarray, batched: bool, signal: int | None = None,
            state: int | None = None):
    """Raise the NonFiniteError for ``values`` (B, n), the first non-finite result, at step ``k``.

    Worded as the compiled backend words it: ``signal 'g.y' (Gain) became non-finite at step 1,
    element 0 (value inf)``, with ``sequence b`` for a batched run.
    """
    from ..errors import NonFiniteError

    if signal is not None:
        block, port = next(key for key, i in program.signal_index.items() if i == signal)
        what = f"signal '{block}.{port}'"
    else:
        block, port = program.states[state].block, None
        what = f"the state of '{block}'"
    column, element = (int(i) for i in np.argwhere(~np.isfinite(values))[0])
    where = f", sequence {column}" if batched else ""
    raise NonFiniteError(
        f"{what} ({program.blocks[block].type_name}) became non-finite at step {k}{where}, element {element} "
        f"(value {values[column, element]}): {nonfinite_cause(program.blocks[block])}", block=block, port=port, step=k)


def nonfinite_cause(block) -> str:
    """The likely cause and the fix, ending a non-finite-value report (worded alike on both backends)."""
    hint = block.nonfinite_hint() if callable(getattr(block, "nonfinite_hint", None)) else None
    if isinstance(hint, str) and hint:
        return hint
    return ("an overflow in the diagram, even if no logged signal shows it; check gains and initial states, "
            "or pass check_finite=False")
