"""gradient: a loss of a diagram's logged signals and its gradient with respect to block parameters.

Reverse-mode differentiation through the schedule and through the unit delays (backpropagation
through time), batch included, on the compiled backend (:mod:`blockloop.compiled.reverse`) or
on the interpreter with each block's own adjoint (:mod:`.interpreted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..engine.backends import BACKENDS, select_backend
from ..engine.simulate import plan_run
from ..errors import DifferentiationError, NonFiniteError, SimulationError
from .losses import LOSSES, signals_loss
from .parameters import _as_paths, checked_value, split_path, with_parameters

__all__ = ["gradient", "GradientResult"]


@dataclass(frozen=True)
class GradientResult:
    """What :func:`gradient` computed.

    Attributes
    ----------
    loss : float
        The loss at the given parameter values (float64 sum, whatever the program dtype).
    grads : dict path → ndarray
        ∂loss/∂parameter, in each parameter's shape and the program's dtype.
    signals : dict name → ndarray
        The targeted signals as simulated, shaped like ``simulate``'s results.
    backend : str
        ``"compiled"`` or ``"interpreter"``: which reverse sweep ran.
    """

    loss: float
    grads: dict = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    backend: str = "interpreter"


def gradient(program, inputs, targets, params, *, loss: str = "half-mse", initial_states=None,
             steps: int | None = None, backend: str = "auto", check_finite: bool = True) -> GradientResult:
    """Loss of the diagram's signals against ``targets`` and its gradient w.r.t. ``params``.

    Parameters
    ----------
    program : Program
    inputs : as for :func:`~blockloop.engine.simulate.simulate`
    targets : mapping signal name → array, or one array when the diagram has one output
        Each target has the shape the signal is logged with: (T, n), or (T, B, n) for a batch.
        Names are outputs, Probe blocks or ``"block.port"`` probes, e.g. ``"lstm1/h_prod.y"``.
    params : sequence of paths, or mapping path → value
        Trainable parameters ``"block.param"`` (see :meth:`Program.parameters`); with a mapping
        the loss and gradient are evaluated at those values instead of the program's.
    loss : ``"half-mse"`` (Σ err² / (2·B·T)) or ``"mse"`` (Σ err² / (B·T·R)); see :mod:`.losses`
    initial_states, steps : as for ``simulate``
    backend : ``"auto"`` (compiled reverse sweep when numba is installed and every block has a
        compiled op), ``"compiled"`` or ``"interpreter"`` (each block's ``output_vjp``)
    check_finite : reject non-finite inputs, parameters and a non-finite loss

    Returns
    -------
    GradientResult

    Raises
    ------
    DifferentiationError
        An unknown or untrainable parameter, a block without an adjoint, or an x0 overridden
        by ``initial_states`` (it then has no effect).
    SimulationError, NonFiniteError

    Examples
    --------
    >>> import numpy as np
    >>> from blockloop.diagrams.examples import gain_feedback   # y[k] = u[k] + 0.5·y[k−1]
    >>> p = gain_feedback().compile()
    >>> u = np.ones((3, 1)); target = np.zeros((3, 1))
    >>> r = gradient(p, u, target, ["g.K"])     # y = 1, 1.5, 1.75; ∂y/∂K = 0, y[0], y[1] + K·∂y[1]/∂K = 0, 1, 2
    >>> round(r.loss, 6), round(float(r.grads["g.K"]), 6)     # Σy²/(2·3); Σ y·∂y/∂K / 3 = (1.5 + 3.5)/3
    (1.052083, 1.666667)
    """
    if loss not in LOSSES:
        raise DifferentiationError(f"loss: expected one of {LOSSES}, got {loss!r}")
    paths, values = checked_params(program, params, initial_states)
    targets = _targets(program, targets)
    _check_target_names(program, targets)
    run = _select(program, backend)
    if run is None:  # the interpreter runs a program that holds the values
        from .interpreted import run_backward

        evaluated = with_parameters(program, values, check_finite) if values else program
        engine = "interpreter"
    else:  # the compiled sweep writes the values into its tables
        from ..compiled.reverse import run_backward

        evaluated = program
        values = {p: checked_value(program, p, v, check_finite) for p, v in (values or {}).items()}
        engine = "compiled"
    plan = plan_run(evaluated, inputs, steps=steps, probes=[n for n in targets if n not in program.outputs
                                                            and n not in program.probes],
                    initial_states=initial_states, check_finite=check_finite)
    targets = {name: _target_array(name, arr, plan, program.dtype, check_finite) for name, arr in targets.items()}

    def cotangent_of(logged):
        value, cotangents = signals_loss(logged, targets, loss, program.dtype)
        if check_finite and not np.isfinite(value):
            raise NonFiniteError(f"the loss is {value}: a targeted signal or target is not finite")
        return value, cotangents

    if engine == "interpreter":
        logged, value, grads = run_backward(evaluated, plan, cotangent_of, paths)
    else:
        logged, value, grads = run_backward(evaluated, plan, cotangent_of, paths, values, list(targets))
    batched = plan.batch is not None
    signals = {n: (logged[n] if batched else logged[n][:, 0, :]) for n in targets}
    return GradientResult(loss=value, grads=grads, signals=signals, backend=engine)


def _select(program, backend):
    """None for the interpreter's sweep, else the compiled one (warns and falls back like simulate)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise SimulationError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    from .interpreted import check_adjoints

    check_adjoints(program)  # both sweeps: a block without an adjoint is named, never skipped
    if backend == "interpreter":
        return None
    from ..engine import interpreter

    run = select_backend(program, backend)
    if run is interpreter.run_plan:
        return None
    from ..compiled import without_compiled_adjoint

    missing = without_compiled_adjoint(program)
    if missing:  # never skip an op in the compiled sweep: the blocks' own adjoints run instead
        import warnings

        from ..engine.backends import BackendFallbackWarning, _caller_stacklevel

        name, why = next(iter(missing.items()))
        warnings.warn(f"compiled reverse sweep: {why} (e.g. '{name}'); the gradient runs on the interpreter",
                      BackendFallbackWarning, stacklevel=_caller_stacklevel())
        return None
    return run


def checked_params(program, params, initial_states) -> tuple[tuple[str, ...], dict | None]:
    """``(paths, values or None)`` from ``params`` (paths, or a mapping path → value), all checked.

    Raises :class:`DifferentiationError` for no path, an unknown or untrainable one, or an x0
    that ``initial_states`` overrides.
    """
    values = dict(params) if isinstance(params, Mapping) else None
    paths = _as_paths(list(values) if values is not None else params)
    if not paths:
        raise DifferentiationError("params: name at least one trainable parameter, e.g. ['lstm1/W.K']")
    for path in paths:
        split_path(program, path)
    _check_x0_overrides(paths, initial_states)
    return paths, values


def _check_x0_overrides(paths, initial_states) -> None:
    for path in paths:
        block, _, param = path.rpartition(".")
        if param == "x0" and initial_states and block in initial_states:
            raise DifferentiationError(f"parameter '{path}': the initial state of '{block}' is given per run in "
                                       "initial_states, so x0 has no effect; drop one of the two")


def _targets(program, targets) -> dict:
    if not isinstance(targets, Mapping):
        if len(program.outputs) != 1:
            raise DifferentiationError(f"diagram '{program.name}' has outputs {list(program.outputs)}; "
                                       "pass targets as a dict {signal name: array}")
        targets = {program.outputs[0]: targets}
    if not targets:
        raise DifferentiationError("targets: expected at least one {signal name: array}")
    return dict(targets)


def _check_target_names(program, targets) -> None:
    """Every target names a signal: an output, a Probe block or a 'block.port' (checked by plan_run)."""
    for name in targets:
        if not isinstance(name, str):
            raise DifferentiationError(f"target {name!r}: expected a signal name such as 'y' or 'lstm1/h_prod.y'")
        if name not in program.outputs and name not in program.probes and "." not in name and "/" not in name:
            raise DifferentiationError(f"target '{name}': no output or Probe of that name; outputs are "
                                       f"{list(program.outputs)}, or name a signal as 'block.port'")


def _target_array(name: str, value, plan, dtype, check_finite: bool = True) -> np.ndarray:
    """A target as (T, B, n) float64, checked against the logged signal's shape."""
    _, size = plan.logs[name]
    T, B = plan.steps, plan.batch
    raw = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if raw is None or raw.dtype.kind not in "fiu":
        raise DifferentiationError(f"target '{name}': expected an array of real numbers, got "
                                   f"{type(value).__name__}" + ("" if raw is None else f" of dtype {raw.dtype}"))
    arr = raw.astype(np.float64)
    if arr.ndim == 1 and size == 1:
        arr = arr[:, None]
    want = (T, size) if B is None else (T, B, size)
    if arr.shape != want:
        raise DifferentiationError(f"target '{name}': expected shape {want} (like the simulated signal), "
                                   f"got {arr.shape}")
    if check_finite and not np.all(np.isfinite(arr)):
        k = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise NonFiniteError(f"target '{name}' has a non-finite value at step {k}; pass check_finite=False "
                             "to allow it")
    return arr[:, None, :] if B is None else arr
