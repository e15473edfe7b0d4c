"""Trainable parameters of a program, named by path: ``"lstm1/W.K"`` is parameter K of block lstm1/W.

Every array parameter of a block (``Block.arrays()``) is trainable — a Gain's K, a Constant's
value, a UnitDelay's initial condition x0 — except a FromArray's data, which is input, not a
parameter. Integer parameters (Selector indices, Demux sizes, Sum signs) are structure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..blocks import FromArray
from ..errors import DifferentiationError, NonFiniteError, ParameterError

__all__ = ["trainable_paths", "split_path", "parameter_values", "with_parameters"]


def trainable_paths(program) -> tuple[str, ...]:
    """Every trainable parameter path of ``program``, in schedule order.

    Examples
    --------
    >>> from blockloop.diagrams.examples import gain_feedback
    >>> trainable_paths(gain_feedback().compile())
    ('z.x0', 'g.K')
    """
    return tuple(f"{name}.{p}" for name in program.order if not isinstance(program.blocks[name], FromArray)
                 for p in program.blocks[name].arrays())


def split_path(program, path: str) -> tuple[str, str]:
    """``"sub/block.param"`` → ``("sub/block", "param")``, or :class:`DifferentiationError` naming the choices."""
    if not isinstance(path, str):
        raise DifferentiationError(f"parameter {path!r}: expected a 'block.param' string such as 'lstm1/W.K'")
    block, _, param = path.rpartition(".")
    if block not in program.blocks:
        raise DifferentiationError(f"parameter '{path}': no block '{block}'; trainable parameters are "
                                   f"{', '.join(trainable_paths(program)) or 'none'}")
    b = program.blocks[block]
    if isinstance(b, FromArray):
        raise DifferentiationError(f"parameter '{path}': a FromArray's data is an input, not a trainable parameter")
    if param not in b.arrays():
        raise DifferentiationError(f"parameter '{path}': block '{block}' ({b.type_name}) has no array parameter "
                                   f"'{param}'; its trainable parameters are {sorted(b.arrays()) or 'none'}")
    return block, param


def parameter_values(program, paths: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """``{path: copy of the parameter}`` for ``paths`` (default: every trainable parameter)."""
    paths = trainable_paths(program) if paths is None else _as_paths(paths)
    out = {}
    for path in paths:
        block, param = split_path(program, path)
        out[path] = np.array(program.blocks[block].arrays()[param], copy=True)
    return out


def _as_paths(paths, what: str = "parameters") -> tuple[str, ...]:
    """A tuple of 'block.param' strings from one string, a sequence, or a set (sorted)."""
    if isinstance(paths, str):
        paths = [paths]
    elif isinstance(paths, (set, frozenset)):
        paths = sorted(paths, key=str)
    try:
        paths = tuple(paths)
    except TypeError:
        raise DifferentiationError(f"{what}: expected 'block.param' paths such as ['lstm1/W.K'], "
                                   f"got {type(paths).__name__}") from None
    bad = [p for p in paths if not isinstance(p, str)]
    if bad:
        raise DifferentiationError(f"{what}: expected 'block.param' strings such as 'lstm1/W.K', got {bad[0]!r}")
    if len(set(paths)) != len(paths):
        raise DifferentiationError(f"{what}: a path is named twice in {list(paths)}")
    return paths


def checked_value(program, path: str, value, check_finite: bool = True) -> np.ndarray:
    """``value`` as the parameter at ``path`` (same shape, the program's dtype), or ParameterError."""
    block, param = split_path(program, path)
    current = program.blocks[block].arrays()[param]
    raw = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if raw is None or raw.dtype.kind not in "fiu":
        raise ParameterError(f"parameter '{path}': expected real numbers (an array of shape {current.shape}), "
                             f"got {value!r}"[:300])
    arr = raw.astype(program.dtype)
    if arr.shape != current.shape:
        raise ParameterError(f"parameter '{path}': expected shape {current.shape}, got {arr.shape}")
    if check_finite and not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"parameter '{path}' is not finite; pass check_finite=False to allow it")
    return arr


def with_parameters(program, values: Mapping[str, object], check_finite: bool = True):
    """A new :class:`~blockloop.engine.Program` whose parameters at the given paths take ``values``.

    The structure (schedule, sizes, graph) is shared; each changed block is rebuilt from its
    parameters (``type(b)(**params)``), so ``program`` itself is unchanged.
    """
    from dataclasses import replace

    by_block: dict[str, dict] = {}
    for path, value in values.items():
        block, param = split_path(program, path)
        by_block.setdefault(block, {})[param] = checked_value(program, path, value, check_finite)
    blocks = dict(program.blocks)
    for block, changes in by_block.items():
        params = dict(blocks[block].params())
        params.update(changes)
        new = type(blocks[block])(**params).astype(program.dtype)
        if new.feedthrough() != blocks[block].feedthrough():  # e.g. a state space's D = 0 made non-zero
            raise ParameterError(f"block '{block}' ({new.type_name}): these values change which inputs feed "
                                 "through to its outputs (a structural zero made non-zero, or the reverse), so the "
                                 "schedule would change; build and compile the diagram again instead")
        blocks[block] = new
    return replace(program, blocks=blocks)
