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
           "same_size"]


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


def as_float_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float array: float32 and float64 are kept, anything numeric becomes float64."""
    try:
        arr = np.asarray(value)
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what}: expected numbers, got {value!r} ({exc})") from None
    return arr


def as_vector(value: Any, what: str, size: int | None = None) -> np.ndarray:
    """Return ``value`` as a 1-D float array, or raise :class:`ParameterError` naming ``what``."""
    arr = as_float_array(value, what)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ParameterError(f"{what}: expected a vector, got an array of shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ParameterError(f"{what}: expected shape ({size},), got shape {arr.shape}")
    return arr


def as_matrix(value: Any, what: str, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """Return ``value`` as a 2-D float array; ``shape`` entries of None are free."""
    arr = as_float_array(value, what)
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

    def arrays(self) -> dict[str, np.ndarray]:
        """Numeric parameters, by name, for finiteness checks and dtype casting."""
        return {k: v for k, v in self.params().items() if isinstance(v, np.ndarray)}

    # -- numerics ----------------------------------------------------------------------------
    def astype(self, dtype: np.dtype) -> Block:
        """A copy of this block whose numeric parameters are of ``dtype``."""
        params = dict(self.params())
        for name, arr in self.arrays().items():
            params[name] = arr.astype(dtype)
        return type(self)(**params)

    def output(self, u: Sequence[np.ndarray], x: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Outputs at this step, in the order of ``outputs``; arrays of shape (B, n)."""
        raise NotImplementedError

    def initial_state(self, size: int) -> np.ndarray:
        """x[0] as a vector of ``size`` (stateful blocks only)."""
        raise NotImplementedError(f"{self.type_name} has no state")

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
