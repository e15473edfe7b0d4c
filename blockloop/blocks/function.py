"""Function: a user's Python callable as a block, for experiments (interpreter only, never saved)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import BlockloopError, ParameterError, SimulationError
from .base import MAX_PORTS, Block, as_float_array, check_int, is_integer, numbered_ports

__all__ = ["Function"]


def _sizes(value, what: str, lo: int) -> tuple[int, ...]:
    if is_integer(value):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not lo <= len(value) <= MAX_PORTS:
        raise ParameterError(f"Function {what}: expected a size or a list of {lo} to {MAX_PORTS} sizes, got {value!r}")
    return tuple(check_int(v, f"Function {what}[{i}]") for i, v in enumerate(value))


class Function(Block):
    """Any Python callable as a block, with its sizes and feedthrough declared.

    Ports: inputs ``u`` (one) or ``u1 … un``; outputs ``y`` (one) or ``y1 … ym``, of the
    declared sizes. At each step ``fn(u1, …, un)`` gets each input as a (B, size) array of the
    program's dtype (B = 1 without a batch) and returns one array (one output) or a tuple (one
    per output), each reshapeable to (B, size). No state: anything the callable remembers
    between calls is outside blockloop's semantics (keep it pure).

    ``feedthrough``: True (default: every output depends on every input at the same step),
    False (no output does), or a collection of ``(input, output)`` port-name pairs. A pair left
    out is a promise that the output does not depend on that input within the step, so the
    block may close a loop there; the block is then called with zeros for an input that feeds
    no output (it may not have been computed yet in that step).

    For experiments: it runs on the interpreter only (``backend="auto"`` falls back with a
    ``BackendFallbackWarning``; ``backend="compiled"`` refuses), ``gradient`` refuses it (no
    adjoint: a ``DifferentiationError`` naming it), and a diagram holding it cannot be saved
    (a file never carries code).

    Parameters
    ----------
    fn : callable
    in_sizes, out_sizes : int or list of int (at least one input and one output)
    feedthrough : bool or collection of (input, output) pairs
    """

    #: A diagram file never carries code: saving refuses blocks whose class sets this.
    holds_code = True

    def __init__(self, fn: Callable, in_sizes=1, out_sizes=1, feedthrough=True):
        if not callable(fn):
            raise ParameterError(f"Function fn: expected a callable, got {type(fn).__name__}")
        self.fn = fn
        self.in_sizes = _sizes(in_sizes, "in_sizes", 1)
        self.out_sizes = _sizes(out_sizes, "out_sizes", 1)
        self.inputs = ("u",) if len(self.in_sizes) == 1 else numbered_ports(len(self.in_sizes))
        self.outputs = ("y",) if len(self.out_sizes) == 1 else tuple(f"y{i + 1}" for i in range(len(self.out_sizes)))
        all_pairs = frozenset((i, o) for i in self.inputs for o in self.outputs)
        if isinstance(feedthrough, (bool, np.bool_)):
            feedthrough = bool(feedthrough)
            pairs = all_pairs if feedthrough else frozenset()
        else:
            try:  # a collection of pairs; a string or a mapping is not one ("" is not False)
                if not isinstance(feedthrough, (list, tuple, set, frozenset)) or any(
                        not isinstance(p, (list, tuple)) for p in feedthrough):
                    raise TypeError
                pairs = frozenset(tuple(p) for p in feedthrough)
            except TypeError:
                raise ParameterError("Function feedthrough: expected True, False or (input, output) pairs, got "
                                     f"{feedthrough!r}") from None
            bad = sorted(p for p in pairs if p not in all_pairs)
            if bad:
                raise ParameterError(f"Function feedthrough: {bad[0]!r} is not an (input, output) pair of ports "
                                     f"{list(self.inputs)} → {list(self.outputs)}")
        self._pairs = pairs
        self._feeds = tuple(any((i, o) in pairs for o in self.outputs) for i in self.inputs)
        self._declared = feedthrough if isinstance(feedthrough, bool) else tuple(sorted(pairs))

    def params(self):
        return {"fn": self.fn, "in_sizes": list(self.in_sizes), "out_sizes": list(self.out_sizes),
                "feedthrough": self._declared}

    def feedthrough(self):
        return self._pairs

    def declared_input_sizes(self):
        return dict(zip(self.inputs, self.in_sizes, strict=True))

    def output_sizes(self, in_sizes):
        return dict(zip(self.outputs, self.out_sizes, strict=True))

    def output(self, u, x):
        known = next((v for v in u if v is not None), None)  # an input not computed yet this step may be None
        B, dtype = (1, np.dtype(np.float64)) if known is None else known.shape[:1] + (known.dtype,)
        args = [v if feeds else np.zeros((B, n), dtype=dtype)
                for v, feeds, n in zip(u, self._feeds, self.in_sizes, strict=True)]
        try:
            ys = self.fn(*args)
        except BlockloopError:
            raise
        except Exception as exc:  # the user's code: say which block type called it, keep its traceback
            raise SimulationError(f"Function {getattr(self.fn, '__name__', self.fn)!r} raised "
                                  f"{type(exc).__name__}: {exc}") from exc
        if len(self.outputs) == 1 and not isinstance(ys, (tuple, list)):
            ys = (ys,)
        if not isinstance(ys, (tuple, list)) or len(ys) != len(self.outputs):
            raise SimulationError(f"Function {getattr(self.fn, '__name__', self.fn)!r} returned "
                                  f"{type(ys).__name__}; expected {len(self.outputs)} array(s) for outputs "
                                  f"{list(self.outputs)}")
        out = []
        for port, n, y in zip(self.outputs, self.out_sizes, ys, strict=True):
            try:  # numbers only: a string, None, a bool or a complex is not silently read as a number
                arr = np.asarray(as_float_array(y, f"Function output {port}"), dtype=dtype)
            except ParameterError as exc:
                raise SimulationError(f"Function {getattr(self.fn, '__name__', self.fn)!r} returned a value that "
                                      f"is not an array of numbers: {exc}") from None
            if arr.size != B * n:
                raise SimulationError(f"Function {getattr(self.fn, '__name__', self.fn)!r}: output {port} has "
                                      f"shape {arr.shape}; expected ({B}, {n}) (declared out size {n}, batch {B})")
            out.append(arr.reshape(B, n))
        return tuple(out)
