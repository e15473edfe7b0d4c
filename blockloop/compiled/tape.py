"""A Tape: one lowered program, one run's buffers, forward with a trace and the reverse sweep.

Made once per training set-up and reused every epoch: only the parameter vector (``fpar``)
and the initial rows (``sig0``: constants and initial states) change between calls, so an
epoch costs two kernel calls and a few numpy operations.
"""

from __future__ import annotations

import math

import numpy as np

from .aliasing import cotangent_rows
from .backend import RunBuffers, lowered

__all__ = ["Tape", "CompiledAdam"]


class Tape:
    """Forward (with trace) and reverse sweeps of ``program`` over the run ``plan`` (one chunk).

    Parameters
    ----------
    program : Program
    plan : RunPlan from :func:`~blockloop.engine.simulate.plan_run`; its logs include every
        signal the loss targets
    targets : sequence of logged names the loss depends on (their cotangents are fed back)

    Attributes
    ----------
    fpar : the op parameters used (a copy of the lowered program's; change it through
        :meth:`set_values`, which keeps each matrix gain's Kᵀ copy in step)
    sig0 : (W, B) initial rows (constants and initial states; change freely)
    """

    def __init__(self, program, plan, targets):
        from .reverse import backward_steps  # noqa: F401 - compile/load before the first epoch
        from .vm import run_steps  # noqa: F401

        self.program, self.low = program, lowered(program)
        self.buf = RunBuffers(program, self.low, plan)
        self.T, self.B = self.buf.T, self.buf.B
        self.fpar = self.low.fpar.copy()
        self.sig0 = self.buf.sig0.copy()
        dtype = program.dtype
        self.trace = np.empty((self.T, self.low.width * self.B), dtype=dtype)
        self.targets = list(targets)
        rows, col = [], 0
        self.cot_cols = {}
        for name in self.targets:
            index, size = plan.logs[name]
            rows.append((self.low.signal_rows[index][0], col, size))
            self.cot_cols[name] = (col, size)
            col += size
        self.cotan_rows = np.array(rows, dtype=np.int64).reshape(-1, 3)
        self.cotan = np.zeros((self.T, max(col, 1) * self.B), dtype=dtype)
        self.g_rows, self.const_rows = cotangent_rows(self.low, program, self.cotan_rows)
        self.g = np.empty(self.low.width * self.B, dtype=dtype)
        self.gx = np.empty(max(1, int(self.low.updates[:, 0].sum()) if len(self.low.updates) else 1) * self.B,
                           dtype=dtype)

    def forward(self) -> dict[str, np.ndarray]:
        """Run forward from ``fpar`` and ``sig0``, keeping the trace; logged name → (T, B, n)."""
        from .vm import run_steps

        buf, low = self.buf, self.low
        sig = self.sig0.copy()
        run_steps(self.T, low.code, low.args, self.fpar, low.ipar, buf.sources, low.updates, buf.logs,
                  sig.reshape(-1), buf.src.reshape(self.T, -1), buf.log.reshape(self.T, -1),
                  buf.stage.reshape(-1), self.trace, np.uint64(self.B), self.program.dtype.type(0),
                  np.zeros((0, 2), dtype=np.int64))
        return buf.trace()

    def backward(self, cotangents: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Reverse sweep after :meth:`forward`: ``(∂loss/∂fpar, ∂loss/∂sig0 as (W, B))``.

        ``cotangents``: targeted name → (T, B, n) ∂loss/∂signal.
        """
        from .reverse import backward_steps

        cot = self.cotan.reshape(self.T, -1, self.B)
        for name, (col, size) in self.cot_cols.items():
            cot[:, col:col + size, :] = cotangents[name].transpose(0, 2, 1)
        gfpar = np.zeros_like(self.fpar)
        gsig0 = np.zeros(self.low.width * self.B, dtype=self.fpar.dtype)
        self.gx[:] = 0
        backward_steps(self.T, self.low.code, self.low.args, self.fpar, self.low.ipar, self.low.updates,
                       self.cotan_rows, self.trace, self.cotan, self.g, self.gx, gfpar, gsig0, self.const_rows,
                       np.uint64(self.B), self.g_rows)
        return gfpar, gsig0.reshape(-1, self.B)

    # -- parameters by path ------------------------------------------------------------------
    def set_values(self, values: dict[str, np.ndarray]) -> None:
        """Write parameter values (by path, already checked) into ``fpar`` / ``sig0``."""
        from .vm import transpose_gains

        for path, value in values.items():
            slot = self.low.params[path]
            flat = np.asarray(value).reshape(-1)
            if slot.kind == "fpar":
                self.fpar[slot.offset:slot.offset + slot.size] = flat
            else:
                rows = self._rows(path)
                self.sig0[rows] = flat[:, None] if flat.size == rows.stop - rows.start else flat[0]
        transpose_gains(self.low.code, self.low.args, self.fpar)

    def get_values(self, paths) -> dict[str, np.ndarray]:
        """Current parameter values by path (copies, in each parameter's shape)."""
        out = {}
        for path in paths:
            slot = self.low.params[path]
            if slot.kind == "fpar":
                out[path] = self.fpar[slot.offset:slot.offset + slot.size].reshape(slot.shape).copy()
            else:
                col = self.sig0[self._rows(path), 0]
                out[path] = (col if slot.size == len(col) else col[:1]).reshape(slot.shape).copy()
        return out

    def grads(self, paths, gfpar: np.ndarray, gsig0: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients by path from :meth:`backward`'s arrays (batch summed; a broadcast x0 folded)."""
        out = {}
        for path in paths:
            slot = self.low.params[path]
            if slot.kind == "fpar":
                out[path] = gfpar[slot.offset:slot.offset + slot.size].reshape(slot.shape).copy()
            else:
                g = gsig0[self._rows(path)].sum(axis=1)
                out[path] = (g if slot.size == len(g) else np.array([g.sum()])).reshape(slot.shape)
        return out

    def _rows(self, path: str) -> slice:
        slot = self.low.params[path]
        block = path.rpartition(".")[0]
        size = self.low.states[block][1] if slot.kind == "state" else slot.size
        return slice(slot.offset, slot.offset + size)


class CompiledAdam:
    """MATLAB's Adam over a Tape's trainable parameters, whole epochs per compiled call.

    Parameters
    ----------
    tape : Tape (its targets are the loss's signals)
    values : path → starting value
    weights : paths that get L2 regularization
    targets : name → (T, B, n) target arrays (float64)
    options : TrainingOptions (l2, grad_threshold, β1, β2, ε, loss)
    """

    def __init__(self, tape: Tape, values: dict, weights, targets: dict, options):
        self.tape, self.paths, self.options = tape, list(values), options
        low, B = tape.low, tape.B
        groups, chunks, to = [], [], 0
        for path in self.paths:
            slot = low.params[path]
            kind = {"fpar": 0, "const": 1, "state": 2}[slot.kind]
            rows = tape._rows(path).stop - slot.offset if kind else slot.size
            groups.append((kind, slot.offset, slot.size, rows, to, int(path in weights)))
            chunks.append(np.asarray(values[path], dtype=np.float64).reshape(-1))
            to += slot.size
        self.groups = np.array(groups, dtype=np.int64).reshape(-1, 6)
        self.theta = np.concatenate(chunks).astype(tape.fpar.dtype)
        self.m, self.v = np.zeros_like(self.theta), np.zeros_like(self.theta)
        self.gvec = np.zeros_like(self.theta)
        self.t = 0
        target = np.zeros_like(tape.cotan).reshape(tape.T, -1, B)
        for name, (col, size) in tape.cot_cols.items():
            target[:, col:col + size, :] = np.asarray(targets[name]).transpose(0, 2, 1)
        self.target = target.reshape(tape.T, -1)
        self.n_responses = sum(size for _, size in tape.cot_cols.values())

    def run(self, lrs: np.ndarray) -> np.ndarray:
        """Train ``len(lrs)`` epochs with these learning rates; returns their losses (NaN-padded if one diverged)."""
        from .fit_kernel import fit_epochs

        tape, low, buf, o = self.tape, self.tape.low, self.tape.buf, self.options
        losses = np.full(len(lrs), np.nan)
        sig0 = tape.sig0.reshape(-1)
        done = fit_epochs(np.asarray(lrs, dtype=np.float64), self.t, self.theta, self.gvec, self.m, self.v,
                          self.groups, float(o.l2), math.inf if o.grad_threshold is None else float(o.grad_threshold),
                          float(o.beta1), float(o.beta2), float(o.eps), o.loss == "half-mse", self.n_responses,
                          losses, tape.T, low.code, low.args, tape.fpar, low.ipar, buf.sources, low.updates,
                          buf.logs, sig0, buf.src.reshape(tape.T, -1), buf.log.reshape(tape.T, -1),
                          buf.stage.reshape(-1), tape.trace, tape.program.dtype.type(0), tape.cotan_rows,
                          self.target, tape.cotan, tape.g, tape.gx, np.zeros_like(tape.fpar),
                          np.zeros(low.width * tape.B, dtype=tape.fpar.dtype), tape.const_rows, tape.B,
                          tape.g_rows)
        self.t += done
        return losses[:max(done + 1, 0)] if done < len(lrs) else losses

    def values(self) -> dict:
        """Current parameters by path, in their shapes."""
        return self.tape.get_values(self.paths)
