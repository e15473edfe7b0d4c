"""Deterministic signal sources: Step, Ramp, Sine, Pulse — functions of the step index k only.

Time is counted in steps: at sample time Ts, step k is the time k·Ts, so a step time, start or
period of N steps is N·Ts seconds, and a frequency of f Hz is f·Ts cycles per sample. Like
:class:`~blockloop.blocks.GaussianNoise`, each source declares ``samples(steps, batch, dtype)``,
computed once per run in float64 (then rounded to the program's dtype) and copied in by both
backends, so they see the same bits; every batch row gets the same signal.

Each has one output ``y`` of size 1, no inputs, no state and no direct feedthrough. Their
parameters are structure, not trainable (``arrays()`` is empty).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ._scalars import as_written, real
from .base import Block, Lowering, check_int

__all__ = ["Step", "Ramp", "Sine", "Pulse"]

#: Largest step index a parameter may name (step times, periods, delays).
MAX_STEP = 2**53


class _Source(Block):
    """A scalar signal y[k] = f(k): ``samples`` evaluates :meth:`values` at k = 0 … steps − 1."""

    is_time_source = True

    def __init__(self):
        self.inputs = ()
        self.outputs = ("y",)

    def arrays(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": 1}

    def values(self, k: np.ndarray) -> np.ndarray:
        """y[k] in float64 for an int64 array of step indices ``k``."""
        raise NotImplementedError

    def samples(self, steps: int, batch: int = 1, dtype=np.float64) -> np.ndarray:
        """The run's samples, (steps, batch, 1) in ``dtype``: the same signal in every batch row."""
        y = self.values(np.arange(steps, dtype=np.int64))
        with np.errstate(over="ignore"):  # beyond float32's range: inf, reported by check_finite
            y = y.astype(dtype)
        return np.ascontiguousarray(np.broadcast_to(y[:, None, None], (steps, batch, 1)))

    def output_vjp(self, u, x, y, gy):
        return (), None, {}

    def lowering(self):
        return Lowering("source")


class Step(_Source):
    """A step from ``initial`` to ``final`` at step ``step_time`` (Simulink "Step", bdsim ``STEP``).

    Ports: output ``y`` (size 1). No inputs, no state, no direct feedthrough.

    Rule: ``y[k] = initial for k < step_time, final for k ≥ step_time`` (k = 0, 1, …).

    Parameters
    ----------
    step_time : int
        The first step holding ``final`` (0 ≤ step_time ≤ 2⁵³); in seconds, step_time·Ts.
    initial, final : float
        Finite values before and from the step.

    Examples
    --------
    >>> Step(2, initial=0.0, final=5.0).samples(4)[:, 0, 0].tolist()
    [0.0, 0.0, 5.0, 5.0]
    """

    def __init__(self, step_time: int = 1, initial: float = 0.0, final: float = 1.0):
        super().__init__()
        self.step_time = check_int(step_time, "Step step_time", 0, MAX_STEP)
        self.initial = real(initial, "Step initial")
        self.final = real(final, "Step final")
        self._written = {"step_time": self.step_time, "initial": as_written(initial), "final": as_written(final)}

    def params(self):
        return dict(self._written)

    def values(self, k):
        return np.where(k < self.step_time, self.initial, self.final)


class Ramp(_Source):
    """A ramp of ``slope`` per step from step ``start`` (Simulink "Ramp", bdsim ``RAMP``).

    Ports: output ``y`` (size 1). No inputs, no state, no direct feedthrough.

    Rule: ``y[k] = initial for k ≤ start, initial + slope·(k − start) for k > start``
    (computed in float64: one product and one sum).

    Parameters
    ----------
    slope : float
        Increase per step (per second: slope / Ts).
    start : int
        The last step before the ramp rises, 0 ≤ start ≤ 2⁵³.
    initial : float
        The output up to ``start``.
    """

    def __init__(self, slope: float = 1.0, start: int = 0, initial: float = 0.0):
        super().__init__()
        self.slope = real(slope, "Ramp slope")
        self.start = check_int(start, "Ramp start", 0, MAX_STEP)
        self.initial = real(initial, "Ramp initial")
        self._written = {"slope": as_written(slope), "start": self.start, "initial": as_written(initial)}

    def params(self):
        return dict(self._written)

    def values(self, k):
        with np.errstate(over="ignore"):
            return self.initial + self.slope * np.maximum(k - self.start, 0).astype(np.float64)


class Sine(_Source):
    """A sampled sine wave (Simulink "Sine Wave", sample-based).

    Ports: output ``y`` (size 1). No inputs, no state, no direct feedthrough.

    Rule: ``y[k] = bias + amplitude·sin(2π·frequency·k + phase)``, numpy's ``sin`` in float64.

    Parameters
    ----------
    amplitude : float
    frequency : float
        In **cycles per sample** (f Hz at sample time Ts is f·Ts); 0.25 gives 4 samples per period.
    phase : float
        In radians.
    bias : float
        Offset added to the wave.
    """

    def __init__(self, amplitude: float = 1.0, frequency: float = 0.05, phase: float = 0.0, bias: float = 0.0):
        super().__init__()
        self.amplitude = real(amplitude, "Sine amplitude")
        self.frequency = real(frequency, "Sine frequency")
        self.phase = real(phase, "Sine phase")
        self.bias = real(bias, "Sine bias")
        self._written = {"amplitude": as_written(amplitude), "frequency": as_written(frequency),
                         "phase": as_written(phase), "bias": as_written(bias)}

    def params(self):
        return dict(self._written)

    def values(self, k):
        with np.errstate(over="ignore", invalid="ignore"):  # inf or NaN: reported by check_finite, naming the block
            return self.bias + self.amplitude * np.sin(2 * np.pi * self.frequency * k + self.phase)


class Pulse(_Source):
    """A periodic rectangular pulse (Simulink "Pulse Generator", sample-based).

    Ports: output ``y`` (size 1). No inputs, no state, no direct feedthrough.

    Rule: ``y[k] = amplitude if k ≥ delay and (k − delay) mod period < width, else 0``: the
    pulse is high for ``width`` steps, from step ``delay`` on, every ``period`` steps.

    Parameters
    ----------
    amplitude : float
    period : int
        Steps per period, ≥ 1.
    width : int
        Steps high per period, 0 ≤ width ≤ period (0: always 0, period: always on after delay).
    delay : int
        Steps before the first pulse (the phase delay), ≥ 0.
    """

    def __init__(self, amplitude: float = 1.0, period: int = 10, width: int = 5, delay: int = 0):
        super().__init__()
        self.amplitude = real(amplitude, "Pulse amplitude")
        self.period = check_int(period, "Pulse period", 1, MAX_STEP)
        self.width = check_int(width, "Pulse width", 0, MAX_STEP)
        if self.width > self.period:
            raise ParameterError(f"Pulse width ({self.width}) > Pulse period ({self.period}): "
                                 "expected width ≤ period (steps high per period)")
        self.delay = check_int(delay, "Pulse delay", 0, MAX_STEP)
        self._amplitude = as_written(amplitude)

    def params(self):
        return {"amplitude": self._amplitude, "period": self.period, "width": self.width, "delay": self.delay}

    def values(self, k):
        high = (k >= self.delay) & ((k - self.delay) % self.period < self.width)
        return np.where(high, self.amplitude, 0.0)
