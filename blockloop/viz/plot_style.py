"""One style for blockloop's signal and loss plots (not diagram drawings).

* Axis labels carry units: time axes say ``t = k·Ts [s], Ts = … s`` (or ``step k``), loss axes
  name the loss, value axes their signal.
* Discrete signals are drawn held from one sample to the next (:func:`stairs`): sample ``y[k]``
  covers ``[k·Ts, (k+1)·Ts)`` and the last one is drawn to ``T·Ts``.
* Comparisons put the signals on top and their difference in a panel below
  (:func:`comparison_axes`).
* Figures with ``file=`` and no ``ax`` are bare Agg figures (no pyplot, no GUI); without either
  they come from pyplot so ``plt.show()`` works (:func:`figure_axes`).

matplotlib is imported inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["stairs", "figure_axes", "comparison_axes", "style_axes", "save_figure", "time_label", "STEP_LABEL",
           "GRID_ALPHA", "DIFF_LABEL"]

log = logging.getLogger(__name__)

#: x label of a time axis counted in steps.
STEP_LABEL = "step k"
#: y label of a comparison's lower panel.
DIFF_LABEL = "|difference|"
#: Grid line transparency of every panel.
GRID_ALPHA = 0.35


def time_label(Ts: float | None) -> str:
    """The x label of a time axis: ``"t = k·Ts [s], Ts = 0.1 s"``; :data:`STEP_LABEL` when ``Ts`` is None.

    Examples
    --------
    >>> time_label(0.1), time_label(None)
    ('t = k·Ts [s], Ts = 0.1 s', 'step k')
    """
    return STEP_LABEL if Ts is None else f"t = k·Ts [s], Ts = {float(Ts):g} s"


def stairs(ax, t: np.ndarray, y: np.ndarray, Ts: float, **kwargs) -> list:
    """Draw the columns of ``y`` (T, n) or (T,) as held-last-sample stairs on ``ax``; return the Line2D objects.

    Sample k holds from ``t[k]`` (seconds, or steps) to ``t[k] + Ts`` (the last one to ``t[-1] + Ts``).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> len(stairs(ax, np.arange(3) * 0.1, np.ones((3, 2)), 0.1))
    2
    """
    y = np.asarray(y)
    y = y[:, None] if y.ndim == 1 else y
    if len(t) == 0:
        return []
    edges = np.append(t, t[-1] + Ts)
    return ax.step(edges, np.vstack([y, y[-1:]]), where="post", **kwargs)


def style_axes(ax, *, xlabel: str | None = None, ylabel: str | None = None, title: str | None = None,
               log_y: bool = False) -> None:
    """Label (with units) and grid one panel the package's way; ``title`` goes on the left."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title, loc="left", fontsize="medium")
    if log_y:
        ax.set_yscale("log")
    ax.grid(True, alpha=GRID_ALPHA, which="both" if log_y else "major")


def figure_axes(n_axes: int, ax=None, file=None, height_ratios=None, figsize=None, ncols: int = 1,
                sharex: bool = True):
    """``(figure, axes list)``: ``n_axes`` stacked panels (``ncols`` > 1: side by side) to draw into.

    ``ax`` may be a Figure (new panels are added to it) or exactly ``n_axes`` Axes. Without it,
    a bare Agg figure when ``file`` is given, else a pyplot figure. ``figsize`` in inches.
    """
    if ax is not None and not hasattr(ax, "add_subplot"):  # one Axes or a sequence of them
        axes = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != n_axes:
            raise ParameterError(f"ax: {n_axes} axes are needed here, {len(axes)} given; pass a Figure, "
                                 f"{n_axes} Axes, or nothing")
        return axes[0].figure, axes
    rows = 1 if ncols > 1 else n_axes
    figsize = figsize or ((4.0 * ncols + 1.0, 4.0) if ncols > 1 else (8.0, 1.0 + 2.3 * n_axes))
    if ax is not None:
        fig = ax
    elif file is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
    grid = {"height_ratios": height_ratios} if height_ratios else None
    axes = fig.subplots(rows, ncols, sharex=sharex, squeeze=False, gridspec_kw=grid)
    return fig, list(axes.ravel())


def comparison_axes(ax=None, file=None, figsize=(8.0, 6.0)):
    """``(figure, top, bottom)``: signals on top (2/3 of the height), their difference below, one x axis."""
    fig, (top, bottom) = figure_axes(2, ax, file, height_ratios=[2, 1], figsize=figsize)
    return fig, top, bottom


def save_figure(fig, file, dpi: int = 120) -> None:
    """Save ``fig`` to ``file`` (format by suffix: .png, .svg, .pdf) when ``file`` is not None."""
    if file is not None:
        fig.savefig(file, dpi=dpi)
        log.info("saved plot %s", file)
