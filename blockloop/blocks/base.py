"""The block contract: ports, sizes, direct feedthrough, state, output and update rules.

A block is *declarative*: its math is fixed by its type and its parameters, which
:meth:`Block.params` returns and from which ``type(block)(**block.params())`` rebuilds an
identical block. Blocks hold no run state; the engine passes inputs and states in.

Signals are 2-D arrays of shape ``(B, n)``: a batch of ``B`` vectors of size ``n``. Every
block acts along the last axis only, so the batch flows through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import ParameterError, SizeMismatchError

__all__ = ["Block", "Lowering", "declares_with_rules", "as_float_array", "as_vector", "as_matrix", "numbered_ports",
           "same_size", "check_int", "check_int_list", "check_name", "is_integer", "MAX_PORTS", "MAX_SIGNAL_SIZE"]


#: Most ports a block may have (``n_inputs``, the length of a Sum's signs, a Demux's pieces).
MAX_PORTS = 10_000

#: Largest signal size (elements per batch row) a parameter may declare (Inport size, Demux sizes,
#: Selector indices).
MAX_SIGNAL_SIZE = 10**8


class Lowering(NamedTuple):
    """How the compiled backend runs a block: one op of :mod:`blockloop.compiled.ops`.

    Declared by each library block next to its numpy rule (``Block.lowering``), from its
    type and parameters only. The op's forward kernel and its adjoint (vector–Jacobian
    product) live side by side in ``blockloop.compiled.ops``.

    Attributes
    ----------
    op : str
        Op name, e.g. ``"gain_matrix"``, ``"sum"``, ``"sigmoid"``, ``"delay"``.
    params : ndarray or None
        Float parameters in the program's dtype, flattened row-major (a matrix gain's K).
    ints : tuple of int
        Integer arguments (Demux sizes, Selector indices).
    """

    op: str
    params: np.ndarray | None = None
    ints: tuple[int, ...] = ()


def numbered_ports(count: int) -> tuple[str, ...]:
    """Port names ``u1 .. uN`` used by blocks with a variable number of inputs."""
    return tuple(f"u{i + 1}" for i in range(count))


def _shown(value: Any) -> str:
    """``repr(value)`` cut to 80 characters, with its type: ``'0.5' (str)``."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def is_integer(value: Any) -> bool:
    """True for Python and numpy integers, False for booleans (``True`` is not a size)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, what: str, lo: int = 1, hi: int = MAX_SIGNAL_SIZE) -> int:
    """``value`` as an int from ``lo`` to ``hi``; a bool, float, string or None is a :class:`ParameterError`.

    No coercion: ``3.7``, ``3.0``, ``"3"`` and ``True`` are all rejected, naming ``what``.
    """
    if not is_integer(value) or not lo <= value <= hi:
        raise ParameterError(f"{what}: expected an integer from {lo} to {hi}, got {_shown(value)}")
    return int(value)


def check_int_list(value: Any, what: str, lo: int, hi: int, max_len: int) -> tuple[int, ...]:
    """A non-empty list or tuple (or 1-D integer array) of ints from ``lo`` to ``hi``, at most ``max_len`` long.

    A string is not a list of digits and a float is not an integer: both are rejected.
    """
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ParameterError(f"{what}: expected a list of integers, got {_shown(value)}")
    if not 1 <= len(value) <= max_len:
        raise ParameterError(f"{what}: expected 1 to {max_len} integers, got {len(value)}")
    for i, v in enumerate(value):
        if not is_integer(v) or not lo <= v <= hi:
            raise ParameterError(f"{what}: element {i}: expected an integer from {lo} to {hi}, got {_shown(v)}")
    return tuple(int(v) for v in value)


def check_name(value: Any, what: str) -> str:
    """A block, port or diagram name: a non-empty string without ``.``, ``/`` or surrounding spaces."""
    if not isinstance(value, str) or not value or "." in value or "/" in value or value != value.strip():
        raise ParameterError(f"{what}: expected a non-empty string without '.', '/' or surrounding spaces, "
                             f"got {_shown(value)}")
    return value


def _numeric_leaves(value: Any, what: str, max_ndim: int) -> np.ndarray:
    """A number or nested list/tuple of numbers → float64 array, walking it without recursion.

    Rejects booleans, strings, None and anything else that is not an int or a float (naming the
    element's index), ragged nesting, nesting deeper than ``max_ndim``, and integers too large
    for a float.
    """
    leaves: list = []
    shape: list | None = None
    stack = [(value, ())]
    while stack:
        v, index = stack.pop()
        if isinstance(v, (list, tuple)):
            if len(index) >= max_ndim:
                raise ParameterError(f"{what}: expected at most {max_ndim} nested levels of lists, "
                                     f"got more at element {list(index)}")
            stack.extend((v[i], (*index, i)) for i in range(len(v) - 1, -1, -1))
            dims = (len(index), len(v))
            shape = [] if shape is None else shape
            if len(shape) <= dims[0]:
                shape.extend([None] * (dims[0] + 1 - len(shape)))
            if shape[dims[0]] is None:
                shape[dims[0]] = dims[1]
            elif shape[dims[0]] != dims[1]:
                raise ParameterError(f"{what}: ragged nested list: element {list(index)} has {dims[1]} entries, "
                                     f"others at that level {shape[dims[0]]}")
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            at = f" element {list(index)}" if index else ""
            raise ParameterError(f"{what}:{at} expected a number, got {_shown(v)}")
        if isinstance(v, int) and not -1.7976931348623157e308 <= v <= 1.7976931348623157e308:
            raise ParameterError(f"{what}: element {list(index)}, an integer of {len(str(abs(v)))} digits, "
                                 "is too large for a float")
        leaves.append((index, v))
    depth = {len(i) for i, _ in leaves}
    if len(depth) > 1:
        raise ParameterError(f"{what}: ragged nested list (numbers at different nesting levels)")
    arr = np.array([v for _, v in leaves], dtype=np.float64)
    if not leaves:
        dims = [d or 0 for d in (shape or [0])]
        return arr.reshape(dims)
    return arr.reshape(shape[:depth.pop()] if shape else ())


def as_float_array(value: Any, what: str, max_ndim: int = 32) -> np.ndarray:
    """``value`` as a float array: float32 and float64 arrays are kept, integers become float64.

    Accepted: a Python or numpy int or float, a (nested) list or tuple of them, or an array
    (or anything with ``__array__``, e.g. a tensor) of integer or float dtype. Rejected, with
    :class:`ParameterError` naming ``what`` and the offending value: booleans, strings,
    ``None``, complex numbers, objects, ragged lists, more than ``max_ndim`` dimensions. NaN and
    infinity are kept (``compile(check_finite=True)`` rejects them, naming the block).
    """
    if isinstance(value, (list, tuple)) or isinstance(value, (int, float)) and not isinstance(value, bool):
        arr = _numeric_leaves(value, what, max_ndim)
    elif isinstance(value, (np.integer, np.floating)):
        arr = np.asarray(value)
    elif isinstance(value, np.ndarray) or (hasattr(value, "__array__") and not isinstance(value, (str, bytes))):
        try:
            arr = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - a foreign array-like may raise anything
            raise ParameterError(f"{what}: cannot read {_shown(value)} as an array ({exc})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
            kind = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ParameterError(f"{what}: expected an array of numbers (integer or float), got dtype {kind}")
    else:
        raise ParameterError(f"{what}: expected a number, a list of numbers or an array, got {_shown(value)}")
    if arr.ndim > max_ndim:
        raise ParameterError(f"{what}: expected at most {max_ndim} dimensions, got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def as_vector(value: Any, what: str, size: int | None = None) -> np.ndarray:
    """Return ``value`` as a non-empty 1-D float array, or raise :class:`ParameterError` naming ``what``.

    A scalar is a vector of one element; an (n, 1) or (1, n) matrix is read as a vector.
    """
    arr = as_float_array(value, what, max_ndim=2)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ParameterError(f"{what}: expected a vector, got an array of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ParameterError(f"{what}: expected at least one element, got an empty array")
    if size is not None and arr.shape[0] != size:
        raise ParameterError(f"{what}: expected shape ({size},), got shape {arr.shape}")
    return arr


def as_matrix(value: Any, what: str, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """Return ``value`` as a 2-D float array; ``shape`` entries of None are free."""
    arr = as_float_array(value, what, max_ndim=2)
    if arr.ndim != 2:
        raise ParameterError(f"{what}: expected a matrix, got an array of shape {arr.shape}")
    if shape is not None and any(e is not None and e != g for e, g in zip(shape, arr.shape, strict=True)):
        want = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ")"
        raise ParameterError(f"{what}: expected shape {want}, got shape {arr.shape}")
    return arr


class Block:
    """Base class of all blocks.

    Subclasses define, in ``__init__``, the instance attributes ``inputs`` and ``outputs``
    (tuples of port names) and implement the methods below that apply to them.

    Semantics at step k (the engine's contract)::

        y[k]   = output(u[k], x[k])        # only feedthrough inputs may influence y[k]
        x[k+1] = update(u[k], x[k])        # stateful blocks only
        x[0]   = initial_state()

    Class attributes
    ----------------
    has_state : bool
        True for blocks with discrete state (``initial_state``/``update`` are then defined).
    is_constant : bool
        True when the output never changes; the engine computes it once.
    is_time_source : bool
        True when the output is a stored sequence indexed by the step k (``samples``).
    """

    has_state: ClassVar[bool] = False
    is_constant: ClassVar[bool] = False
    is_time_source: ClassVar[bool] = False
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    # -- description -------------------------------------------------------------------------
    @property
    def type_name(self) -> str:
        """The block type as written in diagram files (the class name)."""
        return type(self).__name__

    def params(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this block: ``type(b)(**b.params())``."""
        raise NotImplementedError

    def feedthrough(self) -> frozenset[tuple[str, str]]:
        """(input, output) pairs where y[k] depends on u[k]. Conservative default: all pairs."""
        return frozenset((i, o) for i in self.inputs for o in self.outputs)

    def declared_input_sizes(self) -> dict[str, int]:
        """Input sizes fixed by the parameters (e.g. a matrix gain's column count)."""
        return {}

    def output_sizes(self, in_sizes: Mapping[str, int | None]) -> dict[str, int | None]:
        """Output sizes given the input sizes known so far (None = not known yet).

        Raises :class:`SizeMismatchError` when known inputs contradict each other.
        """
        raise NotImplementedError

    def infer_input_sizes(self, out_sizes: Mapping[str, int | None]) -> dict[str, int | None]:
        """Input sizes implied by known output sizes (backward inference); default none."""
        return {}

    def complete_input_sizes(self, in_sizes: Mapping[str, int | None],
                             out_sizes: Mapping[str, int | None]) -> dict[str, int | None]:
        """Input sizes implied by the known output sizes *and* the known input sizes; default none.

        E.g. a Mux whose output size is known infers its one missing input. Raises
        :class:`SizeMismatchError` when they cannot fit.
        """
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        """Numeric parameters, by name, for finiteness checks and dtype casting."""
        return {k: v for k, v in self.params().items() if isinstance(v, np.ndarray)}

    # -- numerics ----------------------------------------------------------------------------
    def astype(self, dtype: np.dtype) -> Block:
        """A copy of this block whose numeric parameters are of ``dtype``."""
        params = dict(self.params())
        for name, arr in self.arrays().items():
            with np.errstate(over="ignore"):  # compile(check_finite=True) reports a cast that overflows
                params[name] = arr.astype(dtype)
        return type(self)(**params)

    def output(self, u: Sequence[np.ndarray], x: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Outputs at this step, in the order of ``outputs``; arrays of shape (B, n)."""
        raise NotImplementedError

    def initial_state(self, size: int) -> np.ndarray:
        """x[0] as a vector of ``size`` (stateful blocks only)."""
        raise NotImplementedError(f"{self.type_name} has no state")

    def check_initial_state(self, x: np.ndarray) -> str | None:
        """Why a per-run initial state ``x`` (B, size), already of the right size, is not valid, or None.

        Blocks whose state has structure beyond its size (a covariance) override this; the run
        is refused with the reason, naming the block.
        """
        return None

    def update(self, u: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
        """x[k+1] from u[k] and x[k] (stateful blocks only)."""
        raise NotImplementedError(f"{self.type_name} has no state")

    def state_size(self, in_sizes: Mapping[str, int], out_sizes: Mapping[str, int]) -> int:
        """Length of the state vector, once port sizes are known."""
        raise NotImplementedError(f"{self.type_name} has no state")

    # -- adjoints (reverse-mode gradients; see blockloop.autodiff) ---------------------------
    def output_vjp(self, u: Sequence[np.ndarray], x: np.ndarray | None, y: Sequence[np.ndarray],
                   gy: Sequence[np.ndarray]) -> tuple[tuple, np.ndarray | None, dict[str, np.ndarray]]:
        """Vector–Jacobian product of the output rule ``y = output(u, x)``.

        Given the inputs, state and outputs of one step (arrays (B, n)) and the cotangents
        ``gy`` of the outputs, return ``(gu, gx, gparams)``: the cotangent of each input (None
        for an input the outputs do not depend on), of the state (None if none), and of each
        array parameter in :meth:`arrays`, summed over the batch, in the parameter's shape.
        A block type without this method cannot be differentiated (the engine says which).
        """
        raise NotImplementedError

    def update_vjp(self, u: Sequence[np.ndarray], x: np.ndarray,
                   gx_next: np.ndarray) -> tuple[tuple, np.ndarray | None, dict[str, np.ndarray]]:
        """Vector–Jacobian product of the update rule ``x[k+1] = update(u, x)`` (stateful blocks).

        Returns ``(gu, gx, gparams)`` as :meth:`output_vjp`, from the cotangent of x[k+1].
        """
        raise NotImplementedError

    def nonfinite_raises_flags(self) -> bool:
        """Whether every NaN or inf this block's rules can make from finite inputs raises a numpy flag.

        True when the rules are numpy (or scipy) ufuncs run on the calling thread, which set the
        overflow/invalid/divide flags that ``simulate(check_finite=True)`` watches at no cost per
        step. False (the default) makes the interpreter check this block's results with
        ``isfinite`` after every step instead. Trusted only from the class that declares the
        rules (see :func:`declares_with_rules`), so a subclass with its own ``output`` is checked.
        """
        return False

    def nonfinite_hint(self) -> str | None:
        """The likely cause and fix when this block's output becomes NaN or ±inf, or None for the
        general one (an overflow). Ends the non-finite report of both backends."""
        return None

    def lowering(self) -> Lowering | None:
        """The op that runs this block on the compiled backend, or None (interpreter only).

        The compiled backend trusts a lowering only when the class that declares it also
        declares (or inherits alongside it) the numpy ``output``/``update`` rules, so a user
        subclass that overrides ``output`` falls back to the interpreter.
        """
        return None

    def __repr__(self) -> str:
        shown = []
        for key, val in self.params().items():
            if isinstance(val, np.ndarray):
                shown.append(f"{key}=<array {val.shape}>")
            else:
                shown.append(f"{key}={val!r}")
        return f"{self.type_name}({', '.join(shown)})"


def declares_with_rules(block: Block, method: str, rules: tuple[str, ...] = ("output", "update")) -> bool:
    """Whether ``method`` of ``block`` was written knowing the block's numpy ``rules``.

    True when the class that defines ``method`` (a lowering or an adjoint) is the class that
    defines each of ``rules`` (``output``, ``update``), or a subclass of it, and is not the
    :class:`Block` base. A user subclass that overrides ``output`` but inherits
    ``lowering``/``output_vjp`` gets False, so its parent's op or adjoint is never applied to
    its different math.
    """
    mro = type(block).__mro__

    def owner(attr):
        return next(c for c in mro if attr in vars(c))

    declared = owner(method)
    return declared is not Block and all(issubclass(declared, owner(rule)) for rule in rules)


def same_size(in_sizes: Mapping[str, int | None], ports: Sequence[str]) -> int | None:
    """The common size of ``ports`` (elementwise blocks), None if none is known yet."""
    known = {p: in_sizes.get(p) for p in ports if in_sizes.get(p) is not None}
    values = set(known.values())
    if len(values) > 1:
        listing = ", ".join(f"{p} has size {s}" for p, s in known.items())
        raise SizeMismatchError(f"inputs must all have the same size, but {listing}")
    return values.pop() if values else None
