"""fit: train a diagram's parameters by backpropagation through time, the way MATLAB's Adam does.

One epoch is one full-batch iteration: forward over all steps (with a trace), the loss and its
cotangents, the reverse sweep, then :class:`~blockloop.study.matlab_adam.MatlabAdam` (L2 on
weights, per-parameter L2-norm clipping, ε outside the bias correction) with the piecewise
learning-rate schedule of :class:`~blockloop.study.training.TrainingOptions`. On the compiled
backend an epoch is two kernel calls on a :class:`~blockloop.compiled.tape.Tape` made once;
without numba (or for blocks without a compiled op) each epoch calls :func:`.gradient` on the
interpreter.

Everything is float64 by default and deterministic: no fast-math, no reassociation, a fixed
evaluation order and no threads, so a run gives the same bits every time on one machine.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import DifferentiationError, NonFiniteError, ParameterError
from .gradient import _check_target_names, _target_array, _targets, checked_params, gradient
from .losses import signals_loss
from .parameters import _as_paths, checked_value

__all__ = ["fit", "FitResult"]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """A training run of a diagram.

    ``loss`` and ``lr`` are (epochs,) arrays: ``loss[e−1]`` is measured at epoch e before its
    update (as MATLAB logs it). ``values`` are the trained parameters by path, ``final_loss``
    their loss, ``program`` the program with them; ``wall_s`` the training time in seconds.
    """

    values: dict
    initial: dict
    loss: np.ndarray
    lr: np.ndarray
    final_loss: float
    program: object
    log: list = field(default_factory=list)
    wall_s: float = math.nan
    backend: str = "compiled"

    @property
    def us_per_epoch(self) -> float:
        return 1e6 * self.wall_s / max(len(self.loss), 1)


def default_weights(paths) -> set[str]:
    """Parameters that get L2 regularization by default: gains (``.K``); not biases or initial states."""
    return {p for p in paths if p.endswith(".K")}


def fit(program, inputs, targets, params, options=None, *, weights=None, initial_states=None, progress=None,
        on_log=None, label: str = "", backend: str = "auto") -> FitResult:
    """Train ``params`` of ``program`` so its signals match ``targets`` (see :func:`.gradient`).

    Parameters
    ----------
    program, inputs, targets, params, initial_states, backend : as for :func:`.gradient`
        (``params`` as paths, or a mapping path → starting value)
    options : :class:`~blockloop.study.training.TrainingOptions` (lr0, schedule, epochs,
        grad_threshold, l2, β1, β2, ε, loss, verbose_every); MATLAB's defaults if None
    weights : paths that get L2 regularization (default: the gains' ``K``)
    progress : a text stream for tqdm's progress bar (e.g. ``sys.stderr``), or None; the bar is
        drawn only when the stream is a terminal (silent in files, pipes and logs)
    on_log : called with each :class:`~blockloop.study.training_log.LogRow`

    Returns
    -------
    FitResult

    Raises
    ------
    NonFiniteError
        The loss became NaN or infinite (the epoch is named; lower ``lr0``).

    Examples
    --------
    Fit the gain of ``y[k] = u[k] + K·y[k−1]`` to data made with K = 0.8:

    >>> import numpy as np
    >>> from blockloop.diagrams.examples import gain_feedback
    >>> from blockloop.study.training import TrainingOptions
    >>> p = gain_feedback().compile()                         # K = 0.5
    >>> u = np.random.default_rng(0).standard_normal((200, 1))
    >>> y = p.with_parameters({"g.K": 0.8}).simulate(u)["y"]
    >>> res = fit(p, u, y, ["g.K"], TrainingOptions(lr0=0.05, epochs=300, l2=0.0))
    >>> round(float(res.values["g.K"]), 3)
    0.8
    """
    from ..study.matlab_adam import rmse_from_loss
    from ..study.training import TrainingOptions
    from ..study.training_log import LogRow, ProgressBar

    options = TrainingOptions() if options is None else options
    if not isinstance(options, TrainingOptions):
        raise ParameterError(f"options: expected a TrainingOptions, got {type(options).__name__}")
    _check_callbacks(progress, on_log)
    paths, values = checked_params(program, params, initial_states)
    values = {p: checked_value(program, p, v) for p, v in values.items()} if values else program.parameters(paths)
    weights = default_weights(paths) if weights is None else set(_as_paths(weights, "weights"))
    if weights - set(paths):
        raise DifferentiationError(f"weights: {sorted(weights - set(paths))} are not among the trained "
                                   f"parameters {list(paths)}")
    step = _stepper(program, inputs, targets, paths, options.loss, initial_states, backend)
    initial = {p: v.copy() for p, v in values.items()}
    losses, lrs, log = np.full(options.epochs, np.nan), np.full(options.epochs, np.nan), []
    bar = ProgressBar(options.epochs, progress, label)
    updates = _compiled_updates(step, values, weights, options) if getattr(step, "tape", None) else \
        _python_updates(step, values, weights, options)
    start = time.perf_counter()
    epoch = 0
    while epoch < options.epochs:
        stop = _next_stop(epoch, options)
        lrs[epoch:stop] = [options.lr(e) for e in range(epoch + 1, stop + 1)]
        got = updates.run(lrs[epoch:stop])
        losses[epoch:epoch + len(got)] = got
        if len(got) < stop - epoch or not np.all(np.isfinite(got)):
            bad = epoch + int(np.argmax(~np.isfinite(got))) + 1
            raise NonFiniteError(f"training {label or 'run'}: the loss is {losses[bad - 1]} at epoch {bad}; "
                                 f"lower the initial learning rate (lr0 = {options.lr0:g})")
        epoch = stop
        if epoch == 1 or epoch % options.verbose_every == 0 or epoch == options.epochs:
            value = losses[epoch - 1]
            rmse = rmse_from_loss(value, options.loss, _responses(step))
            log.append(LogRow(epoch, epoch, time.perf_counter() - start, rmse, value, lrs[epoch - 1]))
            if on_log is not None:
                bar.clear()
                on_log(log[-1])
        bar.update(epoch, losses[epoch - 1])
    values = updates.values()
    wall = time.perf_counter() - start
    bar.close(losses[-1])
    final, _ = step(values)
    logger.info("fitted %s: %d epochs in %.2f s, final loss %.3g", label or program.name, options.epochs, wall, final)
    return FitResult(values=values, initial=initial, loss=losses, lr=lrs, final_loss=final,
                     program=program.with_parameters(values), log=log, wall_s=wall,
                     backend="compiled" if getattr(step, "tape", None) else "interpreter")


def _check_callbacks(progress, on_log) -> None:
    if progress is not None and not callable(getattr(progress, "write", None)):
        raise ParameterError(f"progress: expected a text stream such as sys.stderr, got {type(progress).__name__}")
    if on_log is not None and not callable(on_log):
        raise ParameterError(f"on_log: expected a function of one LogRow, got {type(on_log).__name__}")


def _responses(step) -> int:
    """R, the number of target responses (for RMSE from an "mse" loss)."""
    return int(sum(t.shape[2] for t in step.targets.values()))


def _next_stop(epoch: int, options, chunk: int = 100) -> int:
    """End of the next block of epochs: the next logged epoch, at most ``chunk`` epochs on."""
    if epoch == 0:
        return 1
    next_log = min((epoch // options.verbose_every + 1) * options.verbose_every, options.epochs)
    return min(next_log, epoch + chunk)


class _python_updates:
    """Epochs one at a time: ``step(values)`` for the loss and gradients, then MatlabAdam in numpy."""

    def __init__(self, step, values, weights, options):
        from ..study.matlab_adam import MatlabAdam

        self.step, self.current, self.weights = step, dict(values), weights
        self.opt = MatlabAdam(options.l2, options.grad_threshold, options.beta1, options.beta2, options.eps)

    def run(self, lrs):
        losses = []
        for lr in lrs:
            loss, grads = self.step(self.current)
            losses.append(loss)
            if not math.isfinite(loss):
                break
            delta = self.opt.step(self.current, grads, lr, self.weights)
            self.current = {p: self.current[p] - delta[p] for p in self.current}
        return np.array(losses)

    def values(self):
        return self.current


def _compiled_updates(step, values, weights, options):
    """Whole blocks of epochs in one compiled call (:class:`~blockloop.compiled.tape.CompiledAdam`)."""
    from ..compiled.tape import CompiledAdam

    return CompiledAdam(step.tape, values, weights, step.targets, options)


def _stepper(program, inputs, targets, paths, loss, initial_states, backend):
    """A function values → (loss, grads by path) for one epoch, on a reused Tape when compiled."""
    from ..engine.simulate import plan_run

    targets = _targets(program, targets)
    _check_target_names(program, targets)
    plan = plan_run(program, inputs, probes=[n for n in targets if n not in program.outputs
                                              and n not in program.probes], initial_states=initial_states)
    targets = {n: _target_array(n, a, plan, program.dtype) for n, a in targets.items()}
    from .gradient import _select

    if _select(program, backend) is None:
        def interpreted(values):
            r = gradient(program, inputs, targets=_unbatched(targets, plan), params=values, loss=loss,
                         initial_states=initial_states, backend="interpreter", check_finite=False)
            return r.loss, r.grads  # a non-finite loss is reported by fit, with its epoch
        interpreted.targets = targets
        return interpreted

    from ..compiled.tape import Tape

    tape = Tape(program, plan, list(targets))

    def compiled(values):
        tape.set_values(values)
        value, cotangents = signals_loss(tape.forward(), targets, loss, program.dtype)
        gfpar, gsig0 = tape.backward(cotangents)
        return value, tape.grads(paths, gfpar, gsig0)

    compiled.tape, compiled.targets = tape, targets
    return compiled


def _unbatched(targets, plan):
    return targets if plan.batch is not None else {n: a[:, 0, :] for n, a in targets.items()}
