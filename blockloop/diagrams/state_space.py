"""A discrete state-space system drawn as a block diagram: gains A, B, C, D, two sums, a unit delay.

At step k::

    x_next[k] = A·x[k] + B·u[k]         (block "x_next": Sum of gains "A" and "B")
    x[k]      = x_delay output            (UnitDelay "x_delay", x[0] = x0, no feedthrough)
    y[k]      = C·x[k] + D·u[k]         (block "y_sum": Sum of gains "C" and "D")

The feedback loop x → A → x_next → x_delay → x is closed by the delay, so the diagram has
no algebraic loop. Outports: ``y`` (p) and ``x`` (n, the state, for inspection).
"""

from __future__ import annotations

import numpy as np

from ..blocks import Gain, Inport, Outport, Sum, UnitDelay
from ..blocks.base import as_float_array, as_matrix
from ..engine import Diagram
from ..errors import ParameterError

__all__ = ["state_space_diagram"]


def _matrices(system) -> tuple[np.ndarray, ...]:
    if all(hasattr(system, k) for k in ("A", "B", "C", "D")):
        mats = (system.A, system.B, system.C, system.D)
    elif isinstance(system, (tuple, list)) and len(system) == 4:
        mats = tuple(system)
    else:
        raise ParameterError("state_space_diagram system: expected an object with A, B, C, D (such as a "
                             f"control.StateSpace) or a tuple (A, B, C, D), got {type(system).__name__}")
    A, B, C, D = (as_matrix(M, f"state_space_diagram {k}") for M, k in zip(mats, "ABCD", strict=True))
    n = A.shape[0]
    if A.shape != (n, n) or n == 0:
        raise ParameterError(f"state_space_diagram A: expected a square n×n matrix, got shape {A.shape}")
    if B.shape[0] != n:
        raise ParameterError(f"state_space_diagram B: expected {n} rows (A is {n}×{n}), got shape {B.shape}")
    if C.shape[1] != n:
        raise ParameterError(f"state_space_diagram C: expected {n} columns (A is {n}×{n}), got shape {C.shape}")
    if D.shape != (C.shape[0], B.shape[1]):
        raise ParameterError(f"state_space_diagram D: expected shape ({C.shape[0]}, {B.shape[1]}) "
                             f"(outputs of C × inputs of B), got shape {D.shape}")
    return A, B, C, D


def state_space_diagram(system, x0=None, name: str = "state_space") -> Diagram:
    """A state-space system ``(A, B, C, D)`` as a blockloop diagram.

    Parameters
    ----------
    system : control.StateSpace, or any object with A, B, C, D, or a tuple (A, B, C, D)
        A (n, n), B (n, m), C (p, n), D (p, m). The sample time is not part of the diagram:
        pass ``Ts`` to ``simulate``.
    x0 : array (n,), optional
        Initial state (zeros by default).
    name : str

    Returns
    -------
    Diagram
        Inport ``u`` (m); Outports ``y`` (p) and ``x`` (n).

    Raises
    ------
    ParameterError
        Inconsistent matrix shapes, or an ``x0`` that is not n long.

    Examples
    --------
    >>> import numpy as np
    >>> d = state_space_diagram(([[0.5]], [[1.0]], [[1.0]], [[0.0]]))
    >>> d.simulate({"u": np.ones((3, 1))})["y"].ravel().tolist()
    [0.0, 1.0, 1.5]
    """
    A, B, C, D = _matrices(system)
    n = A.shape[0]
    x0 = np.zeros(n) if x0 is None else as_float_array(x0, "state_space_diagram x0", max_ndim=2).reshape(-1)
    if x0.shape != (n,):
        raise ParameterError(f"state_space_diagram x0: expected shape ({n},), got shape {x0.shape}")
    d = Diagram(name)
    d.add("u", Inport(B.shape[1]))
    for key, M in (("A", A), ("B", B), ("C", C), ("D", D)):
        d.add(key, Gain(M))
    d.add("x_next", Sum("++"))
    d.add("x_delay", UnitDelay(x0 if n > 1 else float(x0[0])))
    d.add("y_sum", Sum("++"))
    d.add("y", Outport())
    d.add("x", Outport())
    d.connect("u", "B")
    d.connect("u", "D")
    d.connect("A", "x_next.u1")
    d.connect("B", "x_next.u2")
    d.chain("x_next", "x_delay", "A")
    d.connect("x_delay", "C")
    d.connect("C", "y_sum.u1")
    d.connect("D", "y_sum.u2")
    d.connect("y_sum", "y")
    d.connect("x_delay", "x")
    return d
