"""The training log as ``trainNetwork`` prints it, the progress bar, and the loss-curve plot.

The bar is tqdm's, drawn on a stream (stderr in the CLI) only when that stream is a terminal:
redirected to a file or a pipe it stays silent, so logs are not garbled by ``\\r`` redraws.
The loss log (:func:`format_log`) is separate and always printed where asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LogRow", "format_log", "ProgressBar", "plot_loss_curves", "hms", "is_terminal", "tqdm_bar"]


@dataclass(frozen=True)
class LogRow:
    """One line of the verbose log: values measured at ``epoch`` *before* that epoch's update.

    ``elapsed_s`` is the wall time since training started; ``lr`` the base learning rate used
    by the epoch's update. One epoch is one iteration (one full-batch update).
    """

    epoch: int
    iteration: int
    elapsed_s: float
    rmse: float
    loss: float
    lr: float

    def as_dict(self) -> dict:
        return {"epoch": self.epoch, "iteration": self.iteration, "elapsed_s": self.elapsed_s,
                "rmse": self.rmse, "loss": self.loss, "lr": self.lr}


def hms(seconds: float) -> str:
    """``hh:mm:ss`` of a duration, as MATLAB's "Time Elapsed" column shows it.

    Examples
    --------
    >>> hms(45.2), hms(3725)
    ('00:00:45', '01:02:05')
    """
    s = int(seconds)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _num(value: float, fixed: str, small: float) -> str:
    return format(value, fixed) if abs(value) >= small or value == 0 else f"{value:.1e}"


def format_log(rows, header: bool = True) -> str:
    """The rows as ``trainNetwork``'s verbose table (tab-separated, MATLAB's number styles).

    RMSE shows 2 decimals; the loss 1 decimal, or 2 significant digits in e-notation below 0.1;
    the learning rate 4 decimals, or e-notation below 1e-3 — as in the reference's logs.

    Examples
    --------
    >>> print(format_log([LogRow(1, 1, 0.0, 0.049, 1.2e-3, 1e-4)]))  # doctest: +NORMALIZE_WHITESPACE
    Epoch	Iteration	Time Elapsed (hh:mm:ss)	Mini-batch RMSE	Mini-batch Loss	Base Learning Rate
    1	1	00:00:00	0.05	1.2e-03	1.0000e-04
    """
    lines = ["Epoch\tIteration\tTime Elapsed (hh:mm:ss)\tMini-batch RMSE\tMini-batch Loss\tBase Learning Rate"]
    for r in rows:
        lr = f"{r.lr:.4f}" if r.lr >= 1e-3 else f"{r.lr:.4e}"
        lines.append(f"{r.epoch}\t{r.iteration}\t{hms(r.elapsed_s)}\t{_num(r.rmse, '.2f', 0.01)}\t"
                     f"{_num(r.loss, '.1f', 0.1)}\t{lr}")
    return "\n".join(lines if header else lines[1:])


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (``stream.isatty()``; False for None, files and pipes)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed stream
        return False


def tqdm_bar(total: int, stream, label: str = "", unit: str = "it", **kwargs):
    """A ``tqdm`` bar of ``total`` steps on ``stream``, disabled (draws nothing) unless ``stream`` is a terminal."""
    from tqdm import tqdm

    return tqdm(total=int(total), file=stream, desc=label or None, unit=unit, dynamic_ncols=True,
                disable=not is_terminal(stream), mininterval=0.2, leave=True, **kwargs)


class ProgressBar:
    """The training bar: tqdm's ``label  34%|███▍      | 3400/10000 [00:03<00:07, epoch/s, loss 0.12]``.

    Parameters
    ----------
    total : number of epochs
    stream : a text stream (``sys.stderr`` in the CLI); None, or a stream that is not a terminal
        (a file, a pipe, a log), draws nothing
    label : text before the bar (e.g. the run's name)
    """

    def __init__(self, total: int, stream=None, label: str = ""):
        self.total = int(total)
        self._bar = tqdm_bar(total, stream, label, unit="epoch") if stream is not None else None

    @property
    def active(self) -> bool:
        """Whether the bar draws (its stream is a terminal)."""
        return self._bar is not None and not self._bar.disable

    def update(self, done: int, loss: float, force: bool = False) -> None:
        """Show ``done`` epochs with the latest ``loss`` (tqdm rate-limits redraws unless ``force``)."""
        if not self.active:
            return
        self._bar.set_postfix_str(f"loss {loss:.3g}", refresh=False)
        self._bar.update(int(done) - self._bar.n)
        if force:
            self._bar.refresh()

    def clear(self) -> None:
        """Erase the bar's line (before other output goes to the same terminal); the next update redraws it."""
        if self.active:
            self._bar.clear()

    def close(self, loss: float) -> None:
        """Draw the full bar and end the line."""
        if self._bar is not None:
            self.update(self.total, loss, force=True)
            self._bar.close()


def plot_loss_curves(curves: dict, path, title: str = "Training loss (half-MSE per step)",
                     published: dict | None = None):
    """Save a log-y plot of loss against epoch for each named run to ``path`` (PNG); returns the Figure.

    Parameters
    ----------
    curves : {label: (E,) array of per-epoch losses}
    published : optional {label: [(epoch, loss), ...]} markers (e.g. the reference's log rows)
    """
    from ..viz.plot_style import figure_axes, save_figure, style_axes

    fig, (ax,) = figure_axes(1, file=path, figsize=(8, 4.5))
    for k, (label, loss) in enumerate(curves.items()):
        loss = np.asarray(loss, dtype=float)
        ax.semilogy(np.arange(1, loss.size + 1), loss, lw=0.8, color=f"C{k}", label=label)
        for epoch_loss in (published or {}).get(label, ()):
            ax.plot(*epoch_loss, "o", ms=4, mfc="none", color=f"C{k}")
    if published:
        ax.plot([], [], "ko", mfc="none", ms=4, label="reference log (MATLAB)")
    style_axes(ax, xlabel="epoch (= iteration: one full-batch update)", ylabel="loss (half-MSE per step)",
               title=title, log_y=True)
    ax.legend()
    save_figure(fig, path, dpi=110)
    return fig
