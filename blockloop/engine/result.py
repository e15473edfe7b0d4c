"""Result: the time vector and the logged signals of one simulation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Result"]


@dataclass(frozen=True)
class Result:
    """Signals logged by :func:`~blockloop.engine.simulate.simulate`.

    Attributes
    ----------
    t : ndarray (T,)
        Sample times ``k·Ts`` in seconds.
    outputs : dict name → ndarray
        Diagram outputs, each (T, n) or (T, B, n) when ``batched``.
    probes : dict name → ndarray
        Probe blocks and probed ports, same shapes.
    Ts : float
        Sample time in seconds.
    batched : bool
        Whether signals carry a batch axis (axis 1).
    """

    t: np.ndarray
    outputs: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    Ts: float = 1.0
    batched: bool = False

    @property
    def signals(self) -> dict[str, np.ndarray]:
        """Outputs and probes together."""
        return {**self.outputs, **self.probes}

    def __getitem__(self, name: str) -> np.ndarray:
        signals = self.signals
        if name not in signals:
            raise KeyError(f"no logged signal '{name}'; logged: {', '.join(signals)}")
        return signals[name]

    def plot(self, signals=None, *, ax=None, file=None, batch: int = 0, **kwargs):
        """Stairs plot of the logged signals, one axes per signal; returns the Figure.

        ``signals``: names (default all); ``ax``: a Figure, or one Axes per signal; ``file``:
        save there (no pyplot involved); ``batch``: the row shown of a batched result. See
        :func:`blockloop.viz.scope.plot_result` (needs matplotlib).
        """
        from ..viz.scope import plot_result

        return plot_result(self, signals, ax=ax, file=file, batch=batch, **kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self.outputs or name in self.probes

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.signals.items())
        return f"<Result T={len(self.t)} Ts={self.Ts:g} s: {shapes}>"
