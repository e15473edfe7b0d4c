"""``blockloop.io._npz``: files are replaced whole or not at all, with the mode ``open`` would give."""

import os
import stat

import numpy as np
import pytest

from blockloop.io._npz import atomic_write_text, read_npz, write_npz


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_failed_npz_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_npz(tmp_path / "a.npz", {"x": np.arange(3.0)})
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_npz(path, {"ok": np.ones(2), "bad": np.array([object()], dtype=object)})
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    assert read_npz(path)["x"].tolist() == [0.0, 1.0, 2.0]


def test_text_and_npz_get_the_default_file_mode(tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    expected = _mode(tmp_path / "plain.txt")  # what open(path, "w") gives under this umask
    text = atomic_write_text(tmp_path / "a.json", "é\n")
    assert text.read_bytes() == "é\n".encode() and _mode(text) == expected
    assert _mode(write_npz(tmp_path / "a.npz", {"x": np.zeros(1)})) == expected
