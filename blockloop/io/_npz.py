"""Reproducible ``.npz`` writing and safe reading (never unpickles).

``numpy.savez`` stamps every member with the current time, so saving the same arrays twice
gives two different files and git sees a change. :func:`write_npz` fixes the timestamps and
keeps the given key order, so identical arrays give identical bytes. The result is an ordinary
``.npz``: ``numpy.load(path, allow_pickle=False)`` reads it.
"""

from __future__ import annotations

import errno
import os
import struct
import tempfile
import zipfile
import zlib
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


#: Deflate cannot compress better than about 1032 : 1; a member claiming more is lying about its size.
_MAX_DEFLATE_RATIO = 1032

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
               struct.error, OverflowError, UnicodeDecodeError, KeyError, IndexError)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz``, checking each member before allocating anything for it.

    Each member's ``.npy`` header is parsed first (never with pickle): an object dtype is refused
    before any data is read, and the bytes the header's shape needs must be exactly the bytes the
    member holds, which the zip directory states and deflate can plausibly produce, so a tiny file
    declaring a (10⁶, 10⁶) array fails at once instead of allocating terabytes.

    Raises
    ------
    OSError
        The file is missing or unreadable.
    ValueError
        The file is not an ``.npz`` archive, a member is corrupt (bad deflate data, no ``.npy``
        magic, a header whose shape does not match its data) or holds Python objects; the
        message names the member.
    """
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise ValueError("a single .npy array, not an .npz archive of named arrays")
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        raise ValueError("not an .npz archive (no zip signature at the start of the file)")
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise ValueError(f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    out = {}
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member '{info.filename}' is not an .npy array (an .npz holds only NAME.npy members)")
            key = info.filename[:-4]
            try:
                out[key] = _read_member(zf, info)
            except _ZIP_ERRORS as exc:
                raise ValueError(f"array '{key}' (member '{info.filename}') is corrupt: {exc}") from None
    return out


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
        raise ValueError(f"the zip directory claims {info.file_size} bytes from {info.compress_size} compressed "
                         "bytes, more than deflate can produce")
    with zf.open(info) as fh:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
        if dtype.hasobject:
            raise ValueError(f"it holds Python objects (dtype {dtype}), which would need pickle; not read")
        count = 1
        for n in shape:
            count *= int(n)
        nbytes = count * dtype.itemsize
        header = fh.tell()
        if nbytes != info.file_size - header:
            raise ValueError(f"its header declares shape {tuple(shape)} of {dtype} ({nbytes} bytes) but the member "
                             f"holds {info.file_size - header} bytes of data")
        data = fh.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"its data ends after {len(data)} of {nbytes} bytes")
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return arr.copy(order="K")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    with _replacing(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    return path
