"""simulate: run a Program over the time grid k = 0 … T−1."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..blocks import FromArray
from ..blocks.base import as_float_array
from ..errors import NonFiniteError, ParameterError, SimulationError
from .backends import select_backend
from .diagram import check_sample_time
from .program import Program
from .result import Result

__all__ = ["simulate", "plan_run", "RunPlan"]


def simulate(program: Program, inputs=None, *, steps: int | None = None, Ts: float | None = None,
             probes: Iterable[str] = (), initial_states: Mapping | None = None,
             check_finite: bool = True, backend: str = "auto") -> Result:
    """Simulate ``program`` for T steps of ``Ts`` seconds.

    At every step k, in this order: sources take their k-th sample; every block's outputs
    are computed in schedule order from the current inputs and states; the requested
    signals are logged; then every state is updated. So a ``UnitDelay`` shows its initial
    condition at k = 0 and the input it received at k − 1 afterwards.

    Parameters
    ----------
    inputs : mapping name → array, or one array when the diagram has a single input
        Each array is (T, n) or, for a batch of B sequences, (T, B, n). A (T,) array is
        accepted for n = 1.
    steps : int, optional
        Number of steps T. Default: the inputs' length (or the FromArray data length).
    Ts : float, optional
        Sample time in seconds; the result's time vector is ``t = k·Ts``. Default: the sample
        time of the diagram the program was compiled from (:attr:`Diagram.Ts`), else 1 s.
    probes : iterable of str
        Extra signals to log, as ``"block.port"`` with flattened paths, e.g.
        ``"lstm1/sig_f.y"``; an input port logs the signal that drives it; a subsystem's
        port (``"lstm1.h"``, or ``"lstm1/h"``) logs the signal that passes through it.
    initial_states : mapping block path → array (n,) or (B, n), optional
        Overrides a stateful block's initial condition for this run only.
    check_finite : bool
        Reject NaN/inf inputs and initial states (also those that overflow the program's dtype),
        and report the first non-finite value anywhere in the run (default). The interpreter
        covers every signal and state, naming the block, port and step where a value first became
        non-finite; numpy's floating-point flags watch most blocks at no cost per step, and blocks
        they cannot cover (matrix gains, user blocks) are checked after each call. Other backends
        report the first non-finite *logged* sample.
    backend : {"auto", "compiled", "interpreter"}
        ``"interpreter"`` runs one numpy call per block per step (the reference semantics);
        ``"compiled"`` runs the lowered program on the cached numba step loop (needs the
        ``compiled`` extra; a block without a compiled rule sends the run to the interpreter
        with a :class:`~blockloop.engine.backends.BackendFallbackWarning`); ``"auto"``
        (default) is ``"compiled"`` when numba is installed, else ``"interpreter"``. Every
        backend takes the same arguments, checked once by :func:`plan_run`, and returns the
        same result to within a few ulps.

    Returns
    -------
    Result
        Time vector, every diagram output and every probe: arrays (T, n), or (T, B, n)
        when anything was batched.

    Raises
    ------
    SimulationError, NonFiniteError
    """
    source = "Ts" if Ts is not None else "Ts (the diagram's sample time, Diagram.Ts or a file's sample_time)"
    if Ts is None:
        Ts = program_sample_time(program)
    Ts = _sample_time(Ts)
    if not isinstance(check_finite, (bool, np.bool_)):
        raise SimulationError(f"check_finite: expected True or False, got {check_finite!r} "
                              f"({type(check_finite).__name__})")
    if not isinstance(program, Program):
        raise SimulationError(f"simulate: expected a compiled Program (diagram.compile()), got "
                              f"{type(program).__name__}; or call diagram.simulate(...)")
    plan = plan_run(program, inputs, steps=steps, probes=probes, initial_states=initial_states,
                    check_finite=check_finite)
    batch, T = plan.batch, plan.steps
    if not np.isfinite((T - 1) * Ts):
        raise SimulationError(f"{source}: {Ts:g} s × {T - 1} steps overflows the time vector t = k·Ts; "
                              "use a smaller sample time")
    run = select_backend(program, backend)
    plan = dataclasses.replace(plan, check_finite=bool(check_finite))
    try:
        trace = run(program, plan)
    except NonFiniteError as exc:
        if exc.step is None:
            raise
        raise NonFiniteError(f"{exc} (t = {exc.step * Ts:g} s)", block=exc.block, port=exc.port,
                             step=exc.step) from None
    if not batch:
        trace = {name: arr[:, 0, :] for name, arr in trace.items()}
    if check_finite:
        _check_finite_trace(trace, Ts)
    t = np.arange(T) * Ts
    outputs = {n: trace[n] for n in program.outputs}
    probed = {n: trace[n] for n in trace if n not in outputs}
    return Result(t=t, outputs=outputs, probes=probed, Ts=Ts, batched=bool(batch))


def program_sample_time(program) -> float:
    """The default ``Ts`` (seconds) of ``program``: its diagram's ``Diagram.Ts``, else 1.0."""
    graph = getattr(program, "graph", None)
    Ts = graph.graph.get("Ts") if graph is not None else None
    return 1.0 if Ts is None else float(Ts)


def _sample_time(Ts) -> float:
    """``Ts`` as a positive finite float, or :class:`SimulationError`."""
    try:
        return float(check_sample_time(Ts, "Ts"))  # an int too large for a float is refused too
    except ParameterError:
        raise SimulationError(f"Ts: expected a positive sample time in seconds, got {Ts!r}") from None


@dataclass(frozen=True)
class RunPlan:
    """Everything one run needs besides the program, checked and laid out.

    Attributes
    ----------
    feeds : dict Inport name → array (T, n) or (T, B, n), in the program's dtype
    initial_states : dict stateful block → array (n,) or (B, n)
    batch : int or None
        B when anything is batched, else None.
    steps : int
        T.
    logs : dict signal name → (signal index, size)
        Diagram outputs, Probe blocks and requested probes; the index is into
        ``program.signal_index`` values.
    check_finite : bool
        Whether the backend must report the first non-finite value anywhere in the run (set by
        :func:`simulate`; False in a plan from :func:`plan_run` alone).
    """

    feeds: dict
    initial_states: dict
    batch: int | None
    steps: int
    logs: dict
    check_finite: bool = False


def plan_run(program: Program, inputs=None, *, steps: int | None = None, probes: Iterable[str] = (),
             initial_states: Mapping | None = None, check_finite: bool = True) -> RunPlan:
    """Check a run's inputs, initial states, batch size, length and probes (see :func:`simulate`).

    Other engines that run a blockloop program (the bdsim exporter) use this, so every engine
    accepts and rejects exactly the same inputs.
    """
    feeds = _prepare_inputs(program, inputs, check_finite)
    x0 = _prepare_states(program, initial_states, check_finite)
    plan = RunPlan(feeds=feeds, initial_states=x0, batch=_batch_size(program, feeds, x0),
                   steps=_steps(program, feeds, steps), logs=_log_plan(program, probes))
    _check_memory(program, plan)
    return plan


def _physical_memory() -> int | None:
    """Bytes of RAM on this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def _check_memory(program: Program, plan: RunPlan) -> None:
    """Refuse, before allocating, a run whose logged signals alone exceed this machine's memory."""
    width = sum(size for _, size in plan.logs.values())
    need = plan.steps * (plan.batch or 1) * width * program.dtype.itemsize
    have = _physical_memory()
    if have is not None and need > have:
        raise SimulationError(f"this run would log {need / 2**30:.3g} GiB (steps {plan.steps} × batch "
                              f"{plan.batch or 1} × {width} logged values × {program.dtype.itemsize} bytes), more than "
                              f"this machine's {have / 2**30:.3g} GiB of memory; log fewer signals or run fewer steps")


def _as_array(value, what: str) -> np.ndarray:
    """``value`` as an int or float array; booleans, strings, None and objects are refused, naming ``what``."""
    try:
        return as_float_array(value, what, max_ndim=3)
    except ParameterError as exc:
        raise SimulationError(str(exc)) from None


def _check_finite_cast(arr: np.ndarray, cast: np.ndarray, what: str, step_axis: bool) -> None:
    """NonFiniteError naming ``what`` (and the step) for a NaN/inf, or a value the cast overflowed."""
    if np.all(np.isfinite(cast)):
        return
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(cast))[0])
    at = f" at step {bad[0]}" if step_axis else ""
    if np.isfinite(arr[bad]):
        raise NonFiniteError(f"{what}{at}: {float(arr[bad]):.6g} overflows {cast.dtype} (largest "
                             f"{np.finfo(cast.dtype).max:.6g}); scale it, or run in float64")
    raise NonFiniteError(f"{what} has a non-finite value{at}; pass check_finite=False to allow it")


def _prepare_inputs(program: Program, inputs, check_finite: bool) -> dict[str, np.ndarray]:
    if inputs is None:
        inputs = {}
    elif not isinstance(inputs, Mapping):
        if len(program.inputs) != 1:
            raise SimulationError(f"diagram '{program.name}' has inputs {list(program.inputs)}; "
                                  "pass a dict {name: array}")
        inputs = {program.inputs[0]: inputs}
    unknown = set(inputs) - set(program.inputs)
    if unknown:
        raise SimulationError(f"no diagram input named {sorted(unknown)}; inputs are {list(program.inputs)}")
    feeds = {}
    for name in program.inputs:
        n = program.size(name, "y")
        if name not in inputs:
            raise SimulationError(f"diagram input '{name}' has no data; "
                                  f"pass inputs={{'{name}': array of shape (T, {n})}}")
        arr = _as_array(inputs[name], f"input '{name}'")
        if arr.ndim == 1 and n == 1:
            arr = arr[:, None]
        if arr.ndim not in (2, 3) or arr.shape[-1] != n:
            raise SimulationError(f"input '{name}': expected shape (T, {n}) or (T, B, {n}), got {arr.shape}")
        with np.errstate(over="ignore"):  # an overflowing cast is reported just below
            cast = arr.astype(program.dtype, copy=False)
        if check_finite:
            _check_finite_cast(arr, cast, f"input '{name}'", step_axis=True)
        feeds[name] = cast
    return feeds


def _prepare_states(program: Program, initial_states, check_finite: bool) -> dict[str, np.ndarray]:
    if initial_states is not None and not isinstance(initial_states, Mapping):
        raise SimulationError(f"initial_states: expected a dict {{stateful block: array (n,) or (B, n)}}, "
                              f"got {type(initial_states).__name__}")
    initial_states = dict(initial_states or {})
    sizes = {s.block: s.size for s in program.states}
    unknown = set(initial_states) - set(sizes)
    if unknown:
        raise SimulationError(f"initial_states: no stateful block named {sorted(unknown)}; "
                              f"stateful blocks are {sorted(sizes)}")
    x0 = {}
    for name, size in sizes.items():
        if name in initial_states:
            arr = _as_array(initial_states[name], f"initial state of '{name}'")
            if arr.ndim not in (1, 2) or arr.shape[-1] != size:
                raise SimulationError(f"initial state of '{name}': expected shape ({size},) or (B, {size}), "
                                      f"got {arr.shape}")
            with np.errstate(over="ignore"):
                cast = arr.astype(program.dtype, copy=False)
            if check_finite:
                _check_finite_cast(arr, cast, f"initial state of '{name}'", step_axis=False)
            problem = program.blocks[name].check_initial_state(np.atleast_2d(arr))
            if problem:
                raise SimulationError(f"initial state of '{name}' ({program.blocks[name].type_name}): {problem}")
        else:
            cast = program.blocks[name].initial_state(size).astype(program.dtype, copy=False)
        x0[name] = cast
    return x0


def _batch_size(program: Program, feeds, x0) -> int | None:
    found: dict[str, int] = {}
    for name, arr in feeds.items():
        if arr.ndim == 3:
            found[f"input '{name}'"] = arr.shape[1]
    for name, arr in x0.items():
        if arr.ndim == 2:
            found[f"initial state of '{name}'"] = arr.shape[0]
    for name, _, block in program.time_sources():
        if isinstance(block, FromArray) and block.data.ndim == 3:
            found[f"FromArray '{name}'"] = block.data.shape[1]
    empty = [k for k, v in found.items() if v == 0]
    if empty:
        raise SimulationError(f"{empty[0]} holds a batch of 0 sequences; a batch needs B ≥ 1 (axis 1 of (T, B, n), "
                              "axis 0 of an initial state (B, n))")
    if len(set(found.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in found.items())
        raise SimulationError(f"batch sizes disagree ({listing}); give every batched array the same B")
    return next(iter(found.values()), None)


def _steps(program: Program, feeds, steps) -> int:
    lengths = {f"input '{n}'": a.shape[0] for n, a in feeds.items()}
    stored = {f"FromArray '{n}'": b.data.shape[0] for n, _, b in program.time_sources() if isinstance(b, FromArray)}
    if steps is None:
        if len(set(lengths.values())) > 1:
            raise SimulationError(f"inputs have different lengths ({lengths}); pass steps= or trim them")
        steps = next(iter(lengths.values()), None)
        if steps == 0:
            raise SimulationError(f"{next(iter(lengths))} holds no samples (T = 0); give it at least one row")
        if steps is None:
            steps = min(stored.values()) if stored else None
        if steps is None:
            raise SimulationError("no time grid: the diagram has no inputs; pass steps=T")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise SimulationError(f"empty time grid: steps must be a positive integer, got {steps!r}")
    short = {k: v for k, v in {**lengths, **stored}.items() if v < steps}
    if short:
        raise SimulationError(f"{steps} steps requested but {short} hold fewer samples")
    return int(steps)


def _log_plan(program: Program, probes) -> dict[str, tuple[int, int]]:
    """Signal name → (signal index, size) for every logged signal."""
    plan = {}
    for name in program.outputs + program.probes:
        plan[name] = (program.driver_index(name, "u"), program.in_sizes[(name, "u")])
    if probes is None:
        probes = ()
    if isinstance(probes, str):
        probes = [probes]
    if not isinstance(probes, Iterable) or isinstance(probes, (bytes, np.ndarray, Mapping)):
        raise SimulationError(f"probes: expected a list of 'block.port' strings, got {type(probes).__name__}")
    for ref in probes:
        if not isinstance(ref, str):
            raise SimulationError(f"probe {ref!r}: expected a 'block.port' string such as 'lstm1/sig_f.y'")
        plan[ref] = _resolve_probe(program, ref)
    return plan


def _resolve_probe(program: Program, ref: str) -> tuple[int, int]:
    block, _, port = ref.rpartition(".") if "." in ref else (ref, "", "")
    alias = _subsystem_port(program, ref, block, port)
    if alias is not None:
        return program.signal_index[alias], program.out_sizes[alias]
    if block not in program.blocks:
        raise SimulationError(f"probe '{ref}': no block '{block}' (names are flattened paths like "
                              f"'lstm1/sig_f'); blocks: {', '.join(program.order)}")
    b = program.blocks[block]
    if not port:
        if len(b.outputs) != 1:
            raise SimulationError(f"probe '{ref}': block has outputs {list(b.outputs)}; name one")
        port = b.outputs[0]
    if port in b.outputs:
        return program.signal_index[(block, port)], program.out_sizes[(block, port)]
    if port in b.inputs:
        return program.driver_index(block, port), program.in_sizes[(block, port)]
    raise SimulationError(f"probe '{ref}': block '{block}' has no port '{port}'; "
                          f"inputs {list(b.inputs)}, outputs {list(b.outputs)}")


def _subsystem_port(program: Program, ref: str, block: str, port: str) -> tuple[str, str] | None:
    """The leaf output carrying a subsystem port, written ``"sub.port"``, ``"sub/port"`` or ``"sub/port.y"``.

    Flattening splices subsystem Inports and Outports out (see ``flatten``'s ``aliases``).
    """
    aliases = program.graph.graph.get("aliases", {})
    if port and f"{block}/{port}" in aliases:
        return aliases[f"{block}/{port}"]
    if block in aliases and port in ("", "u", "y"):
        return aliases[block]
    ports = sorted(n.rpartition("/")[2] for n in aliases if n.rpartition("/")[0] == block)
    if ports and block not in program.blocks:
        raise SimulationError(f"probe '{ref}': subsystem '{block}' has no connected port '{port}'; "
                              f"its connected ports: {', '.join(ports)}")
    return None


def _check_finite_trace(trace: dict[str, np.ndarray], Ts: float) -> None:
    for name, arr in trace.items():
        if not np.all(np.isfinite(arr)):
            k = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise NonFiniteError(f"signal '{name}' became non-finite at step {k} (t = {k * Ts:g} s); "
                                 "check gains and initial states, or pass check_finite=False")
