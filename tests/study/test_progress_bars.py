"""Progress bars come from tqdm and stay silent when their stream is not a terminal (files, pipes, logs)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from blockloop.study.training_log import ProgressBar, is_terminal, tqdm_bar


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_is_terminal():
    assert is_terminal(Terminal()) and not is_terminal(io.StringIO()) and not is_terminal(None)
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed)


def test_the_bar_is_tqdm_and_draws_on_a_terminal_only():
    tty, log = Terminal(), io.StringIO()
    for stream in (tty, log):
        bar = ProgressBar(50, stream, label="run 1")
        for epoch in range(1, 51):
            bar.update(epoch, 1.0 / epoch)
        bar.clear()
        bar.close(0.02)
    assert log.getvalue() == ""
    text = tty.getvalue()
    assert "run 1" in text and "50/50" in text and "loss 0.02" in text and "epoch" in text and "\r" in text
    assert ProgressBar(5, None).active is False
    assert type(tqdm_bar(3, tty, "x")).__module__.startswith("tqdm")


def test_training_draws_on_a_terminal_and_is_silent_in_a_log():
    from blockloop.study.training import TrainingOptions, random_weights, train

    u = np.random.default_rng(0).standard_normal((40, 1))
    y = 0.5 * u
    opts = TrainingOptions(lr0=0.02, epochs=20, verbose_every=10, trainer="diagram")
    for stream in (Terminal(), io.StringIO()):
        rows = []
        train(random_weights(1, 3, 1), u, y, opts, progress=stream, on_log=rows.append, label="t")
        assert [r.epoch for r in rows] == [1, 10, 20]  # the loss log is kept either way
        if isinstance(stream, Terminal):
            assert "20/20" in stream.getvalue()
        else:
            assert stream.getvalue() == ""


def test_sweep_bar_counts_runs_on_a_terminal_only():
    pytest.importorskip("distributed")
    from blockloop.study.sweep.runner import _Progress

    tty, log = Terminal(), io.StringIO()
    for stream in (tty, log):
        bar = _Progress(3, stream)
        for status in ("completed", "diverged", "failed"):
            bar.update(status)
        bar.close()
    assert log.getvalue() == ""
    assert "3/3" in tty.getvalue() and "diverged=1" in tty.getvalue() and "failed=1" in tty.getvalue()
