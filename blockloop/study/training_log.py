"""The training log as ``trainNetwork`` prints it, a plain-text progress bar, and the loss-curve plot.

No third-party progress library is used: the bar is a single ``\\r``-rewritten line on a stream
(stderr by default in the CLI).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["LogRow", "format_log", "ProgressBar", "plot_loss_curves", "hms"]


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


class ProgressBar:
    """``\\r[#####.....] 3400/10000 loss 0.12`` on ``stream``, redrawn at most every ``min_interval`` s.

    Parameters
    ----------
    total : number of epochs
    stream : a text stream (``sys.stderr`` in the CLI); None draws nothing
    label : text before the bar (e.g. the run's name)
    min_interval : seconds between redraws; default 0.2 on a terminal, 5 when the stream is a
        file or pipe (where every redraw is kept)
    """

    def __init__(self, total: int, stream=None, label: str = "", width: int = 30, min_interval: float | None = None):
        self.total, self.stream, self.label, self.width = int(total), stream, label, width
        if min_interval is None:
            tty = bool(getattr(stream, "isatty", lambda: False)())
            min_interval = 0.2 if tty else 5.0
        self.min_interval = min_interval
        self._last = -np.inf

    def update(self, done: int, loss: float, force: bool = False) -> None:
        """Redraw after ``done`` epochs with the latest ``loss`` (rate-limited unless ``force``)."""
        now = time.perf_counter()
        if self.stream is None or (not force and now - self._last < self.min_interval):
            return
        self._last = now
        filled = int(self.width * done / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        prefix = f"{self.label} " if self.label else ""
        self.stream.write(f"\r{prefix}[{bar}] {done}/{self.total} loss {loss:.3g}")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar's line (before other output goes to the same terminal); the next update redraws it."""
        if self.stream is not None and self._last > -np.inf:
            self.stream.write("\r" + " " * (len(self.label) + self.width + 40) + "\r")
            self.stream.flush()
            self._last = -np.inf

    def close(self, loss: float) -> None:
        """Draw the full bar and end the line."""
        if self.stream is not None:
            self.update(self.total, loss, force=True)
            self.stream.write("\n")
            self.stream.flush()


def plot_loss_curves(curves: dict, path, title: str = "Training loss (half-MSE per step)",
                     published: dict | None = None) -> None:
    """Save a log-y plot of loss against epoch for each named run to ``path`` (PNG).

    Parameters
    ----------
    curves : {label: (E,) array of per-epoch losses}
    published : optional {label: [(epoch, loss), ...]} markers (e.g. the reference's log rows)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for k, (label, loss) in enumerate(curves.items()):
        loss = np.asarray(loss, dtype=float)
        ax.semilogy(np.arange(1, loss.size + 1), loss, lw=0.8, color=f"C{k}", label=label)
        for epoch_loss in (published or {}).get(label, ()):
            ax.plot(*epoch_loss, "o", ms=4, mfc="none", color=f"C{k}")
    if published:
        ax.plot([], [], "ko", mfc="none", ms=4, label="reference log (MATLAB)")
    ax.set_xlabel("epoch (= iteration: one full-batch update)")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
