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
        Sample time in seconds: the simulation's ``Ts`` argument, else the diagram's
        (:attr:`~blockloop.engine.diagram.Diagram.Ts`), else 1.0 (then ``t`` counts steps).
    batched : bool
        Whether signals carry a batch axis (axis 1).
    """

    t: np.ndarray
    outputs: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    Ts: float = 1.0
    batched: bool = False

    @property
    def time(self) -> np.ndarray:
        """The time axis ``t = k·Ts`` in seconds, (T,) (the same array as :attr:`t`)."""
        return self.t

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

    # -- display -------------------------------------------------------------------------------------

    def _summary(self) -> tuple[str, list[list[str]]]:
        batch = f", batch={next(iter(self.signals.values())).shape[1]}" if self.batched and self.signals else ""
        title = f"Result: T={len(self.t)} steps, Ts={self.Ts:g} s{batch}"
        rows = [[name, kind, str(tuple(np.shape(v)))]
                for kind, group in (("output", self.outputs), ("probe", self.probes)) for name, v in group.items()]
        return title, rows

    def __str__(self) -> str:
        """A summary: T, Ts, batch size (batched results only), then one line per signal: name, kind, shape."""
        from .._display import text_table

        title, rows = self._summary()
        return title + ("\n" + text_table(["signal", "kind", "shape"], rows) if rows else "\n  (no signals)")

    def _repr_html_(self) -> str:
        """The :meth:`__str__` summary as an HTML table (names HTML-escaped), for notebooks."""
        from .._display import html_block, html_table

        title, rows = self._summary()
        return html_block(title, table=html_table(["signal", "kind", "shape"], rows))

    # -- export --------------------------------------------------------------------------------------

    def to_pandas(self):
        """The signals as a :class:`pandas.DataFrame`, one column per signal element.

        Columns are ``"name[k]"``: element ``k`` of signal ``name`` (outputs first, then probes; an
        element axis of more than one dimension is flattened in C order). Unbatched: indexed by the
        time ``t = k·Ts`` (seconds), one row per step. Batched: indexed by a :class:`pandas.MultiIndex`
        ``(t, sequence)``, time-major, ``sequence`` being the batch row 0..B-1. ``df.attrs`` holds
        ``{"Ts": Ts, "time_unit": "s"}``.

        Raises :class:`~blockloop.errors.MissingDependencyError` (an ImportError) without pandas.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError("Result.to_pandas needs pandas: pip install pandas") from exc
        T = len(self.t)
        columns = {}
        for name, value in self.signals.items():
            arr = np.asarray(value)
            flat = arr.reshape(T * arr.shape[1], -1) if self.batched else arr.reshape(T, -1)
            for k in range(flat.shape[1]):
                columns[f"{name}[{k}]"] = flat[:, k]
        if self.batched:
            B = next(iter(self.signals.values())).shape[1] if self.signals else 0
            index = pd.MultiIndex.from_arrays([np.repeat(self.t, B), np.tile(np.arange(B), T)],
                                              names=["t", "sequence"])
        else:
            index = pd.Index(np.asarray(self.t), name="t")
        frame = pd.DataFrame(columns, index=index)
        frame.attrs.update(Ts=float(self.Ts), time_unit="s")
        return frame

    def save(self, path) -> None:
        """Write the result to ``path`` as a ``.npz`` (numpy's zip of arrays; no pickled objects).

        Stored: ``t``, ``Ts``, ``batched``, the signal names (``output_names``, ``probe_names``, as
        unicode arrays) and each signal as ``output_<i>`` / ``probe_<i>`` in name order. numpy
        appends ``.npz`` to a path without it. Read it back with :meth:`load`.
        """
        arrays = {"t": np.asarray(self.t), "Ts": np.asarray(float(self.Ts)), "batched": np.asarray(bool(self.batched)),
                  "output_names": np.asarray(list(self.outputs), dtype=str),
                  "probe_names": np.asarray(list(self.probes), dtype=str)}
        for kind, group in (("output", self.outputs), ("probe", self.probes)):
            for i, value in enumerate(group.values()):
                arrays[f"{kind}_{i}"] = np.asarray(value)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> Result:
        """Read a result written by :meth:`save` (``allow_pickle=False``): same names, arrays, Ts and batched."""
        with np.load(path, allow_pickle=False) as data:
            groups = {kind: {str(name): data[f"{kind}_{i}"] for i, name in enumerate(data[f"{kind}_names"])}
                      for kind in ("output", "probe")}
            return cls(t=data["t"], outputs=groups["output"], probes=groups["probe"], Ts=float(data["Ts"]),
                       batched=bool(data["batched"]))
