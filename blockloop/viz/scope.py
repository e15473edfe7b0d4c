"""Scopes: stairs plots of simulated signals, and comparison plots with a difference panel.

Drawn in the package's one plot style (:mod:`blockloop.viz.plot_style`): discrete-time signals
hold their value for one sample period, so every trace is drawn as stairs (sample ``y[k]``
covers ``[k·Ts, (k+1)·Ts)``, the last one drawn to ``T·Ts``); time axes are labelled with their
unit and Ts; comparisons show the signals on top and their difference below.

matplotlib is imported inside the functions. With ``file=`` and no ``ax``, the figure is a
bare :class:`matplotlib.figure.Figure` rendered by the Agg canvas: no pyplot, no GUI, no
global backend switch, so it is safe in scripts, tests and servers. Without ``file`` and
``ax``, the figure comes from :mod:`matplotlib.pyplot`, so ``plt.show()`` displays it.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ParameterError
from .plot_style import (
    DIFF_LABEL,
    GRID_ALPHA,
    comparison_axes,
    figure_axes,
    save_figure,
    stairs,
    style_axes,
    time_label,
)

__all__ = ["plot_result", "plot_comparison", "stairs", "LEGEND_MAX"]

log = logging.getLogger(__name__)

LEGEND_MAX = 8  # component legends are drawn up to this many components
_STYLES = ("-", "--", ":", "-.")


def _row(name: str, y: np.ndarray, batched: bool, batch: int) -> np.ndarray:
    """Signal ``name`` as (T, n): batch row ``batch`` of a batched signal."""
    if not batched:
        return y
    if not -y.shape[1] <= batch < y.shape[1]:
        raise ParameterError(f"batch={batch}: signal '{name}' has a batch of {y.shape[1]} rows (0…{y.shape[1] - 1})")
    return y[:, batch, :]


def plot_result(result, signals=None, *, ax=None, file=None, batch: int = 0, title: str | None = None,
                dpi: int = 120):
    """Plot logged signals of a :class:`~blockloop.engine.Result` as stairs, one axes per signal.

    Parameters
    ----------
    result : Result
    signals : str or list of str, optional
        Names of outputs or probes (``"y"``, ``"lstm1/sig_f.y"``); default: all, outputs first.
    ax : Figure, Axes or sequence of Axes, optional
        Where to draw: a Figure gets one new axes per signal; Axes must be one per signal.
    file : str or path-like, optional
        Save the figure there (PNG, SVG, PDF… by suffix).
    batch : int
        Which batch row to plot when the result is batched (default 0).
    title : str, optional
        Put before the figure title ``"Ts = … s, T = … steps"`` (e.g. the diagram's name).
    dpi : int
        Resolution of raster files.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        An unknown signal name (the message lists the logged ones).
    ParameterError
        ``batch`` out of range, or the wrong number of axes.

    Examples
    --------
    >>> import os, tempfile
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> res = lstm_network(NetworkWeights.random(4, 3, 2)).simulate(
    ...     {"u": np.ones((51, 4))}, Ts=0.1, probes=["lstm1/c_sum.y"])
    >>> fig = plot_result(res, file=os.path.join(tempfile.mkdtemp(), "scope.png"))
    >>> [a.get_title(loc="left") for a in fig.axes]
    ['y', 'lstm1/c_sum.y']
    """
    names = list(result.signals) if signals is None else [signals] if isinstance(signals, str) else list(signals)
    if not names:
        raise ParameterError("signals: nothing to plot (the result logged no signals)")
    data = {name: _row(name, result[name], result.batched, batch) for name in names}
    fig, axes = figure_axes(len(names), ax, file)
    for axis, (name, y) in zip(axes, data.items(), strict=True):
        n = y.shape[1]
        lines = stairs(axis, result.t, y, result.Ts, linewidth=1.4)
        if n <= LEGEND_MAX:
            for j, line in enumerate(lines):
                line.set_label(f"[{j}]" if n > 1 else name)
            axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
        style_axes(axis, ylabel=name if len(name) <= 16 else "value",
                   title=name if n <= LEGEND_MAX else f"{name} ({n} components)")
    axes[-1].set_xlabel(time_label(result.Ts))
    batch_note = f", batch row {batch} of {next(iter(result.signals.values())).shape[1]}" if result.batched else ""
    grid = f"Ts = {result.Ts:g} s, T = {len(result.t)} steps{batch_note}"
    fig.suptitle(f"{title}: {grid}" if title else grid, fontsize="medium")
    save_figure(fig, file, dpi)
    return fig


def _series(x, signal: str | None, batch: int, label: str):
    """``x`` (a Result or an array) as ``(y (T, n) float64, t or None, Ts or None, name or None)``."""
    if hasattr(x, "signals") and hasattr(x, "t"):
        names = list(x.outputs) or list(x.signals)
        name = signal or (names[0] if names else None)
        if name is None:
            raise ParameterError(f"'{label}': the result logged no signals")
        y = _row(name, x[name], x.batched, batch)
        return np.asarray(y, dtype=np.float64), np.asarray(x.t), float(x.Ts), name
    y = np.asarray(x, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    elif y.ndim == 3:
        y = _row(label, y, True, batch)
    if y.ndim != 2:
        raise ParameterError(f"'{label}': expected an array (T,), (T, n) or (T, B, n) or a Result, got shape {y.shape}")
    return y, None, None, None


def _time_axis(t, Ts, runs, T: int):
    """``(t, Ts, x label)`` from the arguments, else from the first Result, else steps."""
    t_run = next((r[1] for r in runs if r[1] is not None), None)
    Ts_run = next((r[2] for r in runs if r[2] is not None), None)
    if t is None and Ts is None and t_run is None:
        return np.arange(T, dtype=float), 1.0, time_label(None)
    if t is None:
        t = t_run if t_run is not None and Ts is None else np.arange(T) * float(Ts if Ts is not None else Ts_run)
    t = np.asarray(t, dtype=float)
    if t.shape != (T,):
        raise ParameterError(f"t: expected {T} sample times, got shape {t.shape}")
    if Ts is None:
        Ts = Ts_run if Ts_run is not None else (float(t[1] - t[0]) if T > 1 else 1.0)
    return t, float(Ts), time_label(float(Ts))


def _legend(ax, runs: list[tuple[str, str, str]], components: int = 0) -> None:
    """Legend: ``(label, line style, colour)`` per run, then a colour swatch per component."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=color, linestyle=style, label=label) for label, style, color in runs]
    if 1 < components <= LEGEND_MAX:
        handles += [Line2D([], [], color=f"C{j % 10}", linewidth=4, label=f"[{j}]") for j in range(components)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)


def _run_color(i: int, j: int, n: int) -> str:
    """Colour of component j of run i: by component when there are several, else by run."""
    return f"C{j % 10}" if n > 1 else f"C{i % 10}"


def _draw_traces(ax, t, Ts, ys, labels) -> None:
    n = ys[0].shape[1]
    for i, y in enumerate(ys):
        style = _STYLES[i % len(_STYLES)]
        width, alpha = (2.4, 0.45) if i == 0 else (1.3, 1.0)
        for j in range(n):
            stairs(ax, t, y[:, j], Ts, color=_run_color(i, j, n), linestyle=style, linewidth=width, alpha=alpha)
    _legend(ax, [(lab, _STYLES[i % len(_STYLES)], "0.2" if n > 1 else f"C{i % 10}") for i, lab in enumerate(labels)],
            components=n)
    ax.grid(True, alpha=GRID_ALPHA)


def _draw_differences(ax, t, Ts, ys, labels) -> None:
    """|y_i − y_0| per component (max over components when there are many), log-scaled when tiny."""
    n = ys[0].shape[1]
    diffs = [np.abs(y - ys[0]) for y in ys[1:]]
    if n > LEGEND_MAX:
        diffs = [d.max(axis=1, keepdims=True) for d in diffs]
    peak = max(float(d.max()) if d.size else 0.0 for d in diffs)
    scale = max(float(np.abs(ys[0]).max()) if ys[0].size else 0.0, np.finfo(float).tiny)
    log_scale = 0.0 < peak < 1e-3 * scale
    for i, d in enumerate(diffs, start=1):
        if log_scale:
            d = np.where(d > 0, d, np.nan)  # exact zeros have no place on a log axis: gaps
        for j in range(d.shape[1]):
            stairs(ax, t, d[:, j], Ts, color=_run_color(i, j, d.shape[1]), linestyle=_STYLES[i % len(_STYLES)],
                   linewidth=1.2)
    if peak == 0.0:
        ax.text(0.5, 0.7, "identical: every difference is exactly 0", transform=ax.transAxes, ha="center",
                bbox={"facecolor": "white", "edgecolor": "0.7"})
    what = "max over components of " if n > LEGEND_MAX else ""
    gaps = log_scale and any(bool((d == 0).any()) for d in diffs)
    scale_note = " (log scale; gaps: exactly 0)" if gaps else " (log scale)" if log_scale else ""
    style_axes(ax, ylabel=DIFF_LABEL, title=f"{what}|run − {labels[0]}|{scale_note}", log_y=log_scale)
    by_run = n == 1 or n > LEGEND_MAX
    _legend(ax, [(lab, _STYLES[i % len(_STYLES)], f"C{i % 10}" if by_run else "0.2")
                 for i, lab in enumerate(labels) if i > 0])


def plot_comparison(a, b, *more, labels=None, signal: str | None = None, t=None, Ts: float | None = None,
                    batch: int = 0, ax=None, file=None, title: str | None = None, dpi: int = 120):
    """Overlay two or more runs of one signal, with a panel of their differences.

    The top panel draws every run as stairs (one colour per component, one line style per
    run); the bottom panel draws ``|run_i − a|`` for every other run, on a log scale when the
    differences are tiny compared with the signal. The title gives MATLAB's ``norm`` of each
    difference (the largest singular value of the (T, n) difference), as the reference's
    ``title(['… diff = ' num2str(norm(y-z))])`` does.

    Parameters
    ----------
    a, b, *more : Result or array (T,), (T, n) or (T, B, n)
        The runs; ``a`` is the reference the others are compared with. All must have the same
        (T, n) after picking the signal and the batch row.
    labels : sequence of str, optional
        One per run (default ``"a"``, ``"b"``, ``"c"``…), e.g. ``("true", "net")``.
    signal : str, optional
        The signal to take from Results (default: each Result's first output).
    t, Ts : optional
        Sample times [s] or sample time [s]; default from the first Result, else steps k.
    batch : int
        Batch row for batched runs (default 0).
    ax : Figure or two Axes, optional
    file : str or path-like, optional
        Save the figure there.
    title : str, optional
        First line of the title (default: the signal name).
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ParameterError
        Shapes that differ, the wrong number of labels or axes, ``batch`` out of range.

    Examples
    --------
    >>> import os, tempfile
    >>> y = np.sin(np.arange(50) / 5.0)[:, None]
    >>> fig = plot_comparison(y, y + 1e-7, labels=("true", "net"), Ts=0.1,
    ...                       file=os.path.join(tempfile.mkdtemp(), "cmp.png"))
    >>> fig.axes[1].get_yscale(), fig.texts[0].get_text()
    ('log', 'signal: norm(net − true) = 7.0711e-07')
    """
    runs_in = (a, b, *more)
    labels = list(labels) if labels is not None else [chr(ord("a") + i) for i in range(len(runs_in))]
    if len(labels) != len(runs_in):
        raise ParameterError(f"labels: {len(runs_in)} runs but {len(labels)} labels {labels}")
    runs = [_series(x, signal, batch, lab) for x, lab in zip(runs_in, labels, strict=True)]
    ys = [r[0] for r in runs]
    if len({y.shape for y in ys}) > 1:
        shapes = ", ".join(f"{lab} {y.shape}" for lab, y in zip(labels, ys, strict=True))
        raise ParameterError(f"runs of different shapes cannot be compared: {shapes}")
    from ..interop.torch import matlab_norm

    norms = [matlab_norm(y - ys[0]) for y in ys[1:]]
    t, Ts, xlabel = _time_axis(t, Ts, runs, ys[0].shape[0])
    name = signal or next((r[3] for r in runs if r[3]), "signal")
    fig, top, bottom = comparison_axes(ax, file)
    _draw_traces(top, t, Ts, ys, labels)
    top.set_ylabel(name if len(name) <= 16 else "value")
    _draw_differences(bottom, t, Ts, ys, labels)
    bottom.set_xlabel(xlabel)
    lines = [f"norm({lab} − {labels[0]}) = {nm:.5g}" for lab, nm in zip(labels[1:], norms, strict=True)]
    head = f"{title or name}: " if len(lines) == 1 else f"{title or name}\n"
    fig.suptitle(head + "\n".join(lines), fontsize="medium")
    save_figure(fig, file, dpi)
    return fig
