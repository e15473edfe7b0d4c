"""bdsim interop: run a blockloop diagram in bdsim 1.4, a second, independent simulator.

:func:`to_bdsim` builds a bdsim ``BlockDiagram`` with one bdsim block per leaf block of the
flattened diagram, wired the same way; :func:`simulate_bdsim` runs it and returns a
:class:`~blockloop.engine.result.Result` aligned with blockloop's steps k = 0 … T−1;
:func:`crosscheck_bdsim` compares the two engines. bdsim is imported inside the functions
(the import takes 1–2 s), so ``import blockloop.interop.bdsim`` is cheap.

Block mapping (bdsim block in capitals)::

    Inport, FromArray  INTERPOLATE(time=True, kind="previous")   input sequence, held per step
    Constant           CONSTANT            Sum        SUM(signs)
    Gain scalar K      GAIN(K)             Gain matrix K (m, n>1)   GAIN(K, premul=True)
    UnitDelay          ZOH(clock, x0)      Mux        MUX(nin)
    Selector (n > 1)   INDEX(indices)      Outport, Probe           NULL (its input is watched)
    Product, Sigmoid, Tanh, Demux, Gain vector K or (m, 1)          FUNCTION
    Saturation         CLIP(lower, upper)
    Abs, DeadZone, Switch, MinMax, MathFunction, MatrixProduct       FUNCTION (numpy)
    Step, Ramp, Sine, Pulse   INTERPOLATE of their samples, held per step: bdsim's STEP, RAMP and
                       WAVEFORM are continuous-time and declare events between the clock ticks
    DiscreteStateSpace, DiscreteTransferFunction, DiscreteIntegrator   LTI_SS_S(clock, A, B, C, D, x0):
                       the transfer function as its direct form II transposed realization (so x0
                       carries over), the integrator as A = I, B = K·Ts·I, C = I, D = K·Ts·I or 0;
                       with a vector input or output (bdsim 1.4's LTI_SS_S takes scalar ports only):
                       ZOH(clock, x0) + FUNCTION A·x + B·u + FUNCTION C·x (+ D·u)

Timing. bdsim evaluates a purely discrete diagram once at t = 0 and then at every clock tick,
updating the ZOH states after each tick's evaluation. A clock's ticks are at ``k·T + offset``
for k ≥ 1, so with offset 0 the first state update happens at t = T and the input at t = 0
never reaches a ZOH; with offset −T the tick at t = 0 is removed from bdsim's event queue
before the run loop starts and the clock never ticks again. The export therefore uses
``clock(Ts, offset=-Ts/2)``: ticks at t = (k + ½)·Ts, where the input sources (held
piecewise-constant from t = k·Ts) give u[k]. The tick at (k + ½)·Ts is blockloop's step k;
the extra evaluation at t = 0 is dropped and the run ends at t = (T − ½)·Ts. bdsim merges
events less than 1 µs apart, so Ts must be at least 1e-5 s (the diagrams here do not depend
on the value of Ts).

Other bdsim 1.4 behaviours the mapping works around: PROD on two vectors is a dot product
(``@``), and GAIN computes u·K unless ``premul=True``, so elementwise products and vector
gains are FUNCTION blocks; FUNCTION counts its function's parameters, so ``np.tanh`` (a ufunc)
is rejected and n-ary functions declare n positional parameters; a ZOH of size 1 outputs a
Python float, not a 1-element array, so FUNCTION blocks coerce their inputs with
``np.atleast_1d`` and blocks fed by size-1 signals avoid GAIN with a matrix and INDEX; the
WATCH block fails at run time in 1.4 (it logs the source block instead of its port), so
signals are logged through ``run(watch=...)``; every ``Clock`` is kept in a module-level list
by bdsim, from which the export removes its own.

bdsim has no batch axis: a batch of B sequences is simulated as B separate bdsim runs.
bdsim always computes in float64.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..engine import Diagram, Program, Result, compile_diagram
from ..engine.diagram import check_sample_time
from ..engine.simulate import plan_run, program_sample_time
from ..errors import ParameterError, SimulationError
from ._bdsim_blocks import Build, input_plugs, make_block, output_plug
from .torch import Comparison, matlab_norm

__all__ = ["BdsimModel", "BdsimCrosscheck", "to_bdsim", "simulate_bdsim", "crosscheck_bdsim", "MIN_TS"]

logger = logging.getLogger(__name__)

MIN_TS = 1e-5
"""Smallest sample time (s) bdsim resolves: it merges events less than 1 µs apart."""


def _bdsim():
    try:
        import bdsim
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs bdsim 1.4: pip install 'blockloop[bdsim]'") from exc
    return bdsim


@contextlib.contextmanager
def _quiet(what: str):
    """Capture bdsim's prints (it has no logging) and pass them to the debug log."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield
    finally:
        if buf.getvalue().strip():
            logger.debug("bdsim output while %s:\n%s", what, buf.getvalue().rstrip())


@dataclass(frozen=True, eq=False)
class BdsimModel:
    """A compiled bdsim block diagram equivalent to one blockloop program and input sequence.

    Attributes
    ----------
    bd : bdsim.BlockDiagram
        The compiled diagram; its blocks are named by blockloop's flattened paths.
    sim : bdsim.BDSim
        The runtime that runs it (no graphics, no progress bar, quiet).
    blocks : mapping path → bdsim block, or a ``Composite`` of several (a linear system with a
        vector input or output)
    logged : mapping signal name → (bdsim Plug, size)
        Diagram outputs, Probe blocks and probed ports, watched during the run.
    steps : int
        Number of steps T.
    Ts : float
        Sample time in seconds.
    """

    bd: Any
    sim: Any
    blocks: Mapping[str, Any]
    logged: Mapping[str, tuple[Any, int]]
    steps: int
    Ts: float

    @property
    def t_final(self) -> float:
        """End time of the bdsim run, ``(T − ½)·Ts``: the last tick, step T − 1."""
        return (self.steps - 0.5) * self.Ts

    def run(self, check_finite: bool = True) -> dict[str, np.ndarray]:
        """Run bdsim once; return every logged signal as an array (T, n), row k = step k.

        Raises
        ------
        SimulationError
            bdsim failed, or its samples are not at the expected tick times.
        """
        names = list(self.logged)
        watch = [self.logged[n][0] for n in names]
        try:
            with _quiet("running"):
                out = self.sim.run(self.bd, T=self.t_final, watch=watch, checkfinite=check_finite)
        except Exception as exc:  # bdsim raises bare RuntimeError/ValueError/AssertionError
            raise SimulationError(f"bdsim run of '{self.bd.name}' failed: {type(exc).__name__}: {exc}") from exc
        t = np.asarray(out.t, dtype=np.float64)
        expected = (np.arange(self.steps) + 0.5) * self.Ts
        if t.shape != (self.steps + 1,) or not np.allclose(t[1:], expected, rtol=0, atol=1e-9 * max(1.0, self.Ts)):
            raise SimulationError(f"bdsim sampled at {t.size} times, expected t = 0 then (k + ½)·Ts for "
                                  f"k = 0…{self.steps - 1} (Ts = {self.Ts:g} s); is Ts ≥ {MIN_TS:g} s?")
        ywatch = out[".ywatch"] if names else []  # one array per watched plug, in watch order
        return {name: np.asarray(y, dtype=np.float64).reshape(self.steps + 1, self.logged[name][1])[1:]
                for name, y in zip(names, ywatch, strict=True)}


def _as_program(diagram_or_program) -> Program:
    if isinstance(diagram_or_program, Diagram):
        return compile_diagram(diagram_or_program, dtype=np.float64)
    if isinstance(diagram_or_program, Program):
        if diagram_or_program.dtype != np.float64:
            raise ParameterError(f"bdsim export: program '{diagram_or_program.name}' is "
                                 f"{diagram_or_program.dtype}; bdsim computes in float64, so compile it with "
                                 "dtype=float64")
        return diagram_or_program
    raise ParameterError(f"bdsim export: expected a Diagram or a Program, got {type(diagram_or_program).__name__}")


def _check_Ts(Ts) -> float:
    Ts = float(check_sample_time(Ts, "Ts"))  # a number (never a bool or a string), finite, > 0
    if Ts < MIN_TS:
        raise ParameterError(f"Ts: bdsim needs a finite sample time ≥ {MIN_TS:g} s (it merges events less "
                             f"than 1 µs apart), got {Ts!r}; the diagram's results do not depend on Ts")
    return Ts


def _log_plan(program: Program, logs: Mapping[str, tuple[int, int]]) -> dict[str, tuple[str, str, int]]:
    """Signal name → (source block, source port, size), from the engine's (signal index, size) plan."""
    source = {idx: key for key, idx in program.signal_index.items()}
    return {name: (*source[idx], size) for name, (idx, size) in logs.items()}


def _runtime():
    """A quiet bdsim runtime: no graphics, animation, progress bar, banner or command-line parsing.

    The first one in a process loads bdsim's block library (about 0.3 s); later ones reuse it.
    """
    with _quiet("loading the block library"):
        return _bdsim().BDSim(banner=False, sysargs=False, graphics=False, animation=False, progress=False,
                              quiet=True, toolboxes=False)


def _build(program: Program, feeds, x0, row, T: int, Ts: float, logs) -> BdsimModel:
    bdsim = _bdsim()
    sim = _runtime()
    bd = sim.blockdiagram(name=program.name)
    clock = bd.clock(Ts, offset=-Ts / 2, name=f"{program.name}/clock")
    with contextlib.suppress(ValueError):  # bdsim's global clock list only numbers unnamed clocks
        bdsim.components.clocklist.remove(clock)
    b = Build(bd=bd, clock=clock, program=program, feeds=feeds, x0=x0, row=row, steps=T, Ts=Ts)
    made = {name: make_block(b, name, program.blocks[name]) for name in program.order}
    for src, dst, e in program.graph.edges(data=True):
        out = program.blocks[src].outputs.index(e["src_port"])
        inp = program.blocks[dst].inputs.index(e["dst_port"])
        for plug in input_plugs(made[dst], inp):
            bd.connect(output_plug(made[src], out), plug)
    try:
        with _quiet("compiling"):
            compiled = bd.compile()
    except Exception as exc:  # bdsim prints the details, then raises a bare RuntimeError
        compiled, why = False, f": {type(exc).__name__}: {exc}"
    else:
        why = ""
    if not compiled:
        raise SimulationError(f"bdsim could not compile the export of '{program.name}'{why} "
                              "(run with logging at DEBUG level to see bdsim's own report)")
    logged = {name: (output_plug(made[blk], program.blocks[blk].outputs.index(port)), size)
              for name, (blk, port, size) in _log_plan(program, logs).items()}
    return BdsimModel(bd=bd, sim=sim, blocks=MappingProxyType(made), logged=MappingProxyType(logged),
                      steps=T, Ts=Ts)


def _prepare(program: Program, inputs, steps, initial_states, check_finite: bool, probes):
    plan = plan_run(program, inputs, steps=steps, probes=probes, initial_states=initial_states,
                    check_finite=check_finite)
    return plan.feeds, plan.initial_states, plan.batch, plan.steps, plan.logs


def to_bdsim(diagram_or_program, inputs=None, *, Ts: float | None = None, steps: int | None = None,
             initial_states: Mapping | None = None, probes: Iterable[str] = (), row: int | None = None) -> BdsimModel:
    """Build the bdsim block diagram of a blockloop diagram, fed by one input sequence.

    Parameters
    ----------
    diagram_or_program : Diagram or float64 Program
        A Diagram is compiled (and so checked) first; its subsystems are flattened.
    inputs : mapping name → array (T, n), or one array for a single-input diagram
        As for :meth:`Program.simulate`. Batched arrays (T, B, n) need ``row``.
    Ts : float, optional
        Sample time in seconds, at least :data:`MIN_TS`; default: the diagram's ``Diagram.Ts``,
        else 1 s (as :meth:`Program.simulate`).
    steps : int, optional
        Number of steps T (default: the inputs' length).
    initial_states : mapping block path → array (n,) or (B, n), optional
        Overrides UnitDelay initial conditions, as in :meth:`Program.simulate`.
    probes : iterable of str
        Extra signals to log, ``"block.port"`` with flattened paths such as ``"lstm1/sig_f.y"``.
    row : int, optional
        Batch row to export when anything is batched (bdsim has no batch axis).

    Returns
    -------
    BdsimModel
        Compiled bdsim diagram; ``model.run()`` returns arrays (T, n) by signal name.

    Raises
    ------
    ParameterError
        A block type without a bdsim counterpart, a bad ``Ts``, or a batch without ``row``.
    SimulationError
        Bad inputs (as for blockloop's simulate), or bdsim rejected the diagram.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> net = lstm_network(NetworkWeights.random(ni=1, nn=2, no=1))
    >>> model = to_bdsim(net, np.ones((5, 1)), Ts=0.1)
    >>> model.run()["y"].shape
    (5, 1)
    """
    program = _as_program(diagram_or_program)
    Ts = _check_Ts(program_sample_time(program) if Ts is None else Ts)
    feeds, x0, batch, T, logs = _prepare(program, inputs, steps, initial_states, True, probes)
    if batch is not None and (row is None or not 0 <= row < batch):
        raise ParameterError(f"to_bdsim: the data has a batch of {batch} rows and bdsim has no batch axis; "
                             f"pass row=0…{batch - 1}, or use simulate_bdsim, which runs one bdsim simulation per row")
    if batch is None:
        row = None
    return _build(program, feeds, x0, row, T, Ts, logs)


def simulate_bdsim(diagram_or_program, inputs=None, *, Ts: float | None = None, steps: int | None = None,
                   initial_states: Mapping | None = None, probes: Iterable[str] = (),
                   check_finite: bool = True) -> Result:
    """Simulate a blockloop diagram in bdsim; the result is shaped and aligned like blockloop's.

    Arguments are those of :meth:`Program.simulate`. With batched data (T, B, n), bdsim runs
    once per batch row (B runs, each building and compiling its own bdsim diagram).

    Returns
    -------
    Result
        ``t = k·Ts``; every diagram output, Probe block and probe as (T, n), or (T, B, n)
        when batched. Row k holds the value at blockloop's step k.

    Raises
    ------
    ParameterError, SimulationError
        As :func:`to_bdsim` and :meth:`BdsimModel.run`.

    Examples
    --------
    >>> from blockloop import Diagram
    >>> from blockloop.blocks import Inport, Outport, Sum, UnitDelay
    >>> d = Diagram("accumulator")
    >>> _ = d.add("u", Inport(1)), d.add("s", Sum("++")), d.add("z", UnitDelay(0.0)), d.add("y", Outport())
    >>> d.connect("u", "s.u1"); d.connect("z", "s.u2"); d.connect("s", "z"); d.connect("s", "y")
    >>> simulate_bdsim(d, [[1.0], [2.0], [3.0]], Ts=0.1)["y"].ravel().tolist()
    [1.0, 3.0, 6.0]
    """
    return _simulate(_as_program(diagram_or_program), inputs, Ts, steps, initial_states, probes, check_finite, {})


def _simulate(program: Program, inputs, Ts, steps, initial_states, probes, check_finite: bool,
              seconds: dict) -> Result:
    """simulate_bdsim's work; adds the time spent building and running bdsim to ``seconds``."""
    Ts = _check_Ts(program_sample_time(program) if Ts is None else Ts)
    feeds, x0, batch, T, logs = _prepare(program, inputs, steps, initial_states, check_finite, probes)
    rows = [None] if batch is None else range(batch)
    runs = []
    for row in rows:
        start = time.perf_counter()
        model = _build(program, feeds, x0, row, T, Ts, logs)
        built = time.perf_counter()
        runs.append(model.run(check_finite=check_finite))
        seconds["build"] = seconds.get("build", 0.0) + built - start
        seconds["run"] = seconds.get("run", 0.0) + time.perf_counter() - built
        logger.info("bdsim run %s of %d done", 1 if row is None else row + 1, len(rows))
    traces = {name: runs[0][name] if batch is None else np.stack([r[name] for r in runs], axis=1) for name in runs[0]}
    outputs = {n: traces[n] for n in program.outputs}
    probed = {n: v for n, v in traces.items() if n not in outputs}
    return Result(t=np.arange(T) * Ts, outputs=outputs, probes=probed, Ts=Ts, batched=batch is not None)


@dataclass
class BdsimCrosscheck:
    """blockloop (float64) versus bdsim on the same diagram and inputs.

    Attributes
    ----------
    comparison : Comparison
        Over all diagram outputs side by side: MATLAB-style norm and max |difference|;
        ``per_signal`` holds each output's own norm and max.
    run_seconds : float
        Wall time of the bdsim runs (``BDSim.run``, every batch row).
    build_seconds : float
        Wall time spent building and compiling the bdsim diagrams. The first build in a
        process also imports bdsim's block modules (about 0.3 s); importing bdsim itself is
        excluded.
    runs : int
        Number of bdsim simulations (the batch size, or 1).
    blockloop, bdsim : Result
    """

    comparison: Comparison
    run_seconds: float
    build_seconds: float
    runs: int
    blockloop: Result
    bdsim: Result

    @property
    def us_per_step(self) -> float:
        """bdsim run time per step and batch row, in microseconds."""
        return 1e6 * self.run_seconds / (len(self.blockloop.t) * self.runs)

    def as_dict(self) -> dict:
        return {**self.comparison.as_dict(), "run_seconds": self.run_seconds, "build_seconds": self.build_seconds,
                "runs": self.runs, "us_per_step": self.us_per_step}


def _diff_stats(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return matlab_norm(diff), float(np.max(np.abs(diff))) if diff.size else 0.0


def crosscheck_bdsim(diagram_or_program, inputs=None, *, Ts: float | None = None, steps: int | None = None,
                     initial_states: Mapping | None = None, tolerance: float = 1e-12) -> BdsimCrosscheck:
    """Simulate with blockloop (float64) and with bdsim, and compare every diagram output.

    Parameters
    ----------
    tolerance : float
        Largest acceptable norm of the difference (default 1e-12, float64 round-off).

    Other parameters are those of :func:`simulate_bdsim`; both simulators get the same.

    Returns
    -------
    BdsimCrosscheck
        The comparison, bdsim's build and run times, and both results.

    Raises
    ------
    ParameterError
        The diagram has no Outport, or as :func:`simulate_bdsim`.
    SimulationError
        As :func:`simulate_bdsim`.

    Examples
    --------
    >>> from blockloop.diagrams import NetworkWeights, lstm_network
    >>> u = np.random.default_rng(0).standard_normal((21, 1))
    >>> check = crosscheck_bdsim(lstm_network(NetworkWeights.random(1, 5, 1)), u, Ts=0.1)
    >>> check.comparison.ok, check.comparison.norm < 1e-12
    (True, True)
    """
    program = _as_program(diagram_or_program)
    names = list(program.outputs)
    if not names:
        raise ParameterError(f"crosscheck_bdsim: diagram '{program.name}' has no Outport to compare")
    ours = program.simulate(inputs, Ts=Ts, steps=steps, initial_states=initial_states)
    _runtime()  # importing bdsim and loading its block library take 1–2 s once; keep them out of the timing
    seconds: dict = {}
    theirs = _simulate(program, inputs, Ts, steps, initial_states, (), True, seconds)
    norm, max_abs = _diff_stats(np.concatenate([ours[n] for n in names], axis=-1),
                                np.concatenate([theirs[n] for n in names], axis=-1))
    per_signal = {}
    for n in names:
        n_norm, n_max = _diff_stats(ours[n], theirs[n])
        per_signal[n] = {"norm": n_norm, "max_abs": n_max}
    comparison = Comparison(norm=norm, max_abs=max_abs, tolerance=tolerance, per_signal=per_signal)
    runs = ours[names[0]].shape[1] if ours.batched else 1
    return BdsimCrosscheck(comparison=comparison, run_seconds=seconds["run"], build_seconds=seconds["build"],
                           runs=runs, blockloop=ours, bdsim=theirs)
