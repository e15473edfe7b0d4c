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
    return _run(program, plan.steps, plan.batch or 1, plan.feeds, plan.initial_states, plan.logs, trace)


def _run(program: Program, T: int, B: int, feeds, x0, logs, trace=None) -> dict[str, np.ndarray]:
    """The per-step loop. Everything it touches was laid out before the first step."""
    dtype = program.dtype
    sig: list = [None] * len(program.signal_index)
    for idx, block in program.constants():
        value = block.output((), None)[0]
        sig[idx] = np.broadcast_to(value, (B, value.shape[-1]))
    sources = []
    for name, idx, block in program.time_sources():
        data = feeds[name] if name in feeds else block.data
        if data.ndim == 2:
            data = data[:, None, :]
        sources.append((idx, np.broadcast_to(data, (data.shape[0], B, data.shape[2]))))
    states = [np.array(np.broadcast_to(x0[s.block], (B, s.size)), dtype=dtype) for s in program.states]
    states.append(None)  # slot -1: blocks without state
    buffers = {name: np.empty((T, B, size), dtype=dtype) for name, (_, size) in logs.items()}
    log_pairs = [(buffers[name], idx) for name, (idx, _) in logs.items()]
    ops, updates = program.ops, program.updates
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are reported after the run
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
