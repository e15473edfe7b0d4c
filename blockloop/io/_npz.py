"""Reproducible ``.npz`` writing and safe reading (never unpickles).

``numpy.savez`` stamps every member with the current time, so saving the same arrays twice
gives two different files and git sees a change. :func:`write_npz` fixes the timestamps and
keeps the given key order, so identical arrays give identical bytes. The result is an ordinary
``.npz``: ``numpy.load(path, allow_pickle=False)`` reads it.
"""

from __future__ import annotations

import errno
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["write_npz", "read_npz", "atomic_write_text"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold


def _default_mode() -> int:
    """0o666 less the process umask: what ``open(path, "w")`` would have given."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def _replacing(path: Path, mode: str, **open_kwargs) -> Iterator:
    """A temporary file beside ``path``, opened with ``mode``; renamed over ``path`` once written.

    On any error (or interrupt) the temporary file is removed and ``path`` is left as it was.
    A missing folder raises :class:`FileNotFoundError` naming ``path``, not the temporary file.
    """
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write '{path}': no such folder", str(path.parent))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` (name → ndarray) as a deterministic, compressed ``.npz``.

    Keys may contain ``/`` (they become folder-like member names, as with ``numpy.savez``).
    The file is written to a temporary name and renamed, so a crash never leaves half a file.

    Raises
    ------
    ValueError
        An array of Python objects (it could not be read back without pickle).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> _ = write_npz(p, {"sub/K": np.eye(2)})
    >>> np.load(p, allow_pickle=False)["sub/K"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    path = Path(path)
    with _replacing(path, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                npy_format.write_array(member, np.asarray(arr), allow_pickle=False)
    return path


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` with ``allow_pickle=False``.

    Raises
    ------
    OSError
        The file is missing or unreadable.
    ValueError
        The file is not an ``.npz`` archive, a member is corrupt, or it holds Python objects.
    """
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise ValueError("a single .npy array, not an .npz archive of named arrays")
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        raise ValueError("not an .npz archive (no zip signature at the start of the file)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"not a readable .npz archive ({exc})") from None
    with loaded:
        out = {}
        for key in loaded.files:
            try:
                out[key] = loaded[key]
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
                raise ValueError(f"array '{key}' is corrupt or holds Python objects ({exc})") from None
    return out


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    with _replacing(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return path
