"""Run a checked :class:`~blockloop.engine.RunPlan` on the compiled step loop.

The batch is split into column chunks run on threads (the kernel releases the GIL); batch
rows never interact, and each column is computed the same way whatever the chunking, so the
result does not depend on the number of threads.
"""

from __future__ import annotations

import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .lowering import LoweredProgram, lower
from .opcodes import OUT

__all__ = ["run_plan", "lowered", "RunBuffers"]

#: Below this many batch columns per thread, one thread runs the whole batch.
MIN_CHUNK = 64

_LOWERED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POOL: list = []


def lowered(program) -> LoweredProgram:
    """The lowered form of ``program``, made once per program."""
    low = _LOWERED.get(program)
    if low is None:
        low = _LOWERED[program] = lower(program)
    return low


def default_threads() -> int:
    """Threads used for a large batch: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _pool(threads: int) -> ThreadPoolExecutor:
    if not _POOL or _POOL[0]._max_workers < threads:
        _POOL[:] = [ThreadPoolExecutor(max_workers=threads, thread_name_prefix="blockloop")]
    return _POOL[0]


class RunBuffers:
    """The arrays of one run, laid out (rows × batch) for the step loop.

    ``sig0`` (W, B) holds constants and initial states; ``src`` (T, S, B) the source samples;
    ``log`` (T, L, B) receives the logged rows, ``log_cols`` maps a logged name to its
    (column, size) in ``log``.
    """

    def __init__(self, program, low: LoweredProgram, plan):
        T, B, dtype = plan.steps, plan.batch or 1, program.dtype
        self.T, self.B = T, B
        self.sig0 = np.zeros((low.width, B), dtype=dtype)
        for row, values in low.constants:
            self.sig0[row:row + len(values)] = values[:, None]
        for name, (row, size) in low.states.items():
            x0 = np.asarray(plan.initial_states[name], dtype=dtype)
            self.sig0[row:row + size] = x0.T if x0.ndim == 2 else x0[:, None]
        self.src, self.sources = self._sources(program, low, plan)
        self.logs, self.log_cols = self._logs(low, plan.logs)
        self.log = np.empty((T, max(1, int(self.logs[:, 2].sum()) if len(self.logs) else 1), B), dtype=dtype)
        self.stage = np.empty((max(1, int(low.updates[:, 0].sum()) if len(low.updates) else 1), B), dtype=dtype)

    def _sources(self, program, low, plan):
        T, B = self.T, self.B
        width = sum(size for _, size in low.sources.values())
        src = np.empty((T, max(width, 1), B), dtype=program.dtype)
        table, col = [], 0
        for name, (row, size) in low.sources.items():
            data = (plan.feeds[name] if name in plan.feeds
                    else program.source_data(name, T, B, getattr(plan, "check_finite", False)))
            data = data[:T]
            src[:, col:col + size, :] = data.transpose(0, 2, 1) if data.ndim == 3 else data[:, :, None]
            table.append((row, col, size))
            col += size
        return src, np.array(table, dtype=np.int64).reshape(-1, 3)

    @staticmethod
    def _logs(low, logs):
        table, cols, col = [], {}, 0
        for name, (index, size) in logs.items():
            row, _ = low.signal_rows[index]
            table.append((row, col, size))
            cols[name] = (col, size)
            col += size
        return np.array(table, dtype=np.int64).reshape(-1, 3), cols

    def trace(self) -> dict[str, np.ndarray]:
        """Logged signals as the interpreter returns them: name → (T, B, n)."""
        return {name: np.ascontiguousarray(self.log[:, col:col + size, :].transpose(0, 2, 1))
                for name, (col, size) in self.log_cols.items()}


def _chunks(B: int, threads: int) -> list[slice]:
    n = max(1, min(threads, B // MIN_CHUNK))
    if n == 1:
        return [slice(0, B)]
    edges = np.linspace(0, B, n + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def run_plan(program, plan, threads: int | None = None) -> dict[str, np.ndarray]:
    """Simulate ``program`` for ``plan`` on the compiled loop; name → (T, B, n) like the interpreter.

    With ``plan.check_finite`` no NaN or ±inf goes unreported, even one that no logged signal
    shows (an overflow squashed by a tanh): every step checks the inputs of the ops that could
    hide one (:data:`.opcodes.MAY_HIDE`: σ, tanh, Selector, Saturation, Switch, MinMax, MathFunction —
    25 of the LSTM's 137 rows), and after the run the logged signals and the final states are
    checked. Only if one of these checks fails is the run repeated watching every op output that can overflow, to raise
    :class:`~blockloop.errors.NonFiniteError` naming the first block, port and step.
    """
    check = getattr(plan, "check_finite", False)
    low = lowered(program)
    buf, stopped = _run(program, low, plan, low.sentinels if check else low.sentinels[:0], threads)
    if check and (stopped or not np.all(np.isfinite(buf.log)) or not _states_finite(low, buf.sig0)):
        buf, stopped = _run(program, low, plan, low.watch, threads)  # find where, step by step
        if stopped:
            step = min(k for k, _, _ in stopped.values())
            _raise_non_finite(program, low, step, [(c, sig) for k, sig, c in sorted(stopped.values(),
                                                                                    key=lambda s: s[2])
                                                   if k == step], plan)
    return buf.trace()


def _states_finite(low: LoweredProgram, sig: np.ndarray) -> bool:
    """Whether every state row of ``sig`` (W, B), as left after the last step, is finite."""
    return all(np.all(np.isfinite(sig[row:row + size])) for row, size in low.states.values())


def _run(program, low: LoweredProgram, plan, watch: np.ndarray, threads: int | None):
    """One run on fresh buffers: ``(buffers, {chunk's first column: (stop step, its rows, first column)})``.

    A chunk stops at the first step where a ``watch`` row holds a NaN/inf; ``buf.sig0`` holds the
    rows after the last step (every column, when a chunk did not stop).
    """
    from .vm import run_steps

    buf = RunBuffers(program, low, plan)
    no_trace = np.empty((0, 1), dtype=program.dtype)
    stopped = {}

    def run(cols: slice, whole: bool = False):
        if whole:
            sig, src, log, stage = buf.sig0, buf.src, buf.log, buf.stage
        else:
            sig = np.ascontiguousarray(buf.sig0[:, cols])
            src = np.ascontiguousarray(buf.src[:, :, cols])
            log = np.empty((buf.T, buf.log.shape[1], sig.shape[1]), dtype=program.dtype)
            stage = np.empty((buf.stage.shape[0], sig.shape[1]), dtype=program.dtype)
        B = sig.shape[1]
        done = run_steps(buf.T, low.code, low.args, low.fpar, low.ipar, buf.sources, low.updates, buf.logs,
                         sig.reshape(-1), src.reshape(buf.T, -1), log.reshape(buf.T, -1), stage.reshape(-1),
                         no_trace, np.uint64(B), program.dtype.type(0), watch)
        if done < buf.T:
            stopped[cols.start] = (done, sig.copy(), cols.start)
        if not whole:
            buf.log[:, :, cols] = log
            buf.sig0[:, cols] = sig

    chunks = _chunks(buf.B, threads or default_threads())
    if len(chunks) == 1:
        run(chunks[0], whole=True)
    else:
        list(_pool(len(chunks)).map(run, chunks))
    return buf, stopped


def _raise_non_finite(program, low: LoweredProgram, step: int, chunks: list, plan) -> None:
    """The first watched op (schedule order), then sequence, holding a NaN/inf at ``step``, as the error.

    ``chunks``: (first column, signal rows (W, columns)) of each chunk that stopped at ``step``,
    in column order — the interpreter's order, so both backends name the same place.
    """
    from ..engine.interpreter import nonfinite_cause
    from ..errors import NonFiniteError

    for o, (row, size) in zip(low.watch_ops, low.watch, strict=True):
        for first_column, sig in chunks:
            values = sig[row:row + size]
            if np.all(np.isfinite(values)):
                continue
            name = low.op_blocks[o if o >= 0 else -1 - o]
            block = program.blocks[name]
            column, flat = (int(i) for i in np.argwhere(~np.isfinite(values.T))[0])
            value, element, port = values[flat, column], flat, None
            if o >= 0:  # an op's outputs lie on consecutive rows, in port order (a part's: some of them)
                element += row - int(low.code[o, OUT])
                for port in block.outputs:
                    if element < program.out_sizes[(name, port)]:
                        break
                    element -= program.out_sizes[(name, port)]
            what = f"signal '{name}.{port}'" if o >= 0 else f"the state of '{name}'"
            where = f", sequence {first_column + column}" if plan.batch else ""
            raise NonFiniteError(
                f"{what} ({block.type_name}) became non-finite at step {step}{where}, element {element} "
                f"(value {value}): {nonfinite_cause(block)}", block=name, port=port, step=step)
