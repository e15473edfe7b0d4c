"""Keep numba's on-disk cache of the kernels in step with every source file they compile from.

numba keys a cached function on its own file's timestamp only, so an edit to a module whose
functions it compiles in (:mod:`.mathfn`, :mod:`.opcodes`, or :mod:`.vm` and :mod:`.reverse` for
the fused training epochs) would leave a stale kernel in ``__pycache__``. Before
the kernels are defined, :func:`drop_stale` compares a digest of all those files with the one
recorded beside the cache and deletes the kernel cache files when they differ. (An installed
wheel never changes in place, so this matters for editable installs and development.)
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["drop_stale"]


def _cache_dir(module_file: Path) -> Path:
    override = os.environ.get("NUMBA_CACHE_DIR")
    return Path(override) if override else module_file.parent / "__pycache__"


def drop_stale(module_file: str, *sources: str) -> None:
    """Delete ``module``'s numba cache files if any of ``sources`` (and itself) changed since."""
    module = Path(module_file)
    files = [module, *(module.parent / s for s in sources)]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    folder = _cache_dir(module)
    stamp = folder / f"{module.stem}.sources.sha256"
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return
        for cached in folder.glob(f"{module.stem}.*.nb[ic]"):
            cached.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError as exc:  # a read-only install: numba then caches elsewhere or not at all
        logger.debug("kernel cache check skipped for %s: %s", module, exc)
