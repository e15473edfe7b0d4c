"""blockloop's benchmark suite: the compiled backend against the interpreter, numpy, PyTorch and bdsim.

    python benchmarks/run.py [--quick] [--json] [--only SECTION ...]

Sections (run in this order; ``--only`` picks some):

* ``sim_batch1``, ``sim_batch256``, ``sim_batch4096``: the LSTM diagram (Ni = 1, Nn = 5,
  No = 1, T = 1001, float64, input from a seeded normal) run by ``simulate(backend="compiled")``,
  the interpreter, a hand-written numpy loop, ``nn.LSTM`` + ``nn.Linear`` in float64 and
  float32, and (batch 1 only, fewer steps) its bdsim 1.4 export. Batch 1 also shows where the
  compiled call's time goes (kernel versus ``plan_run`` and the rest of ``simulate``).
* ``nn32``, ``nn128``: the same with Nn = 32 and 128 units, batch 1 and 256, compiled against
  torch; with the Nn = 5 sections this gives the crossover (where torch becomes faster).
* ``generic_chain``: 200 blocks (66 stages Gain → Sum ← UnitDelay feedback), µs per block per step.
* ``compile``: ``Diagram.compile()`` of a 10-layer LSTM network, its lowering, and the first
  ``simulate`` on a fresh program: in this process, in a fresh process with numba's on-disk
  kernel cache, and in a fresh process with an empty cache (the one-time JIT compile).
* ``training``: the study's epoch (Nn = 5, T = 1001, forward + BPTT + MATLAB Adam) on the
  diagram trainer (float64) and on PyTorch float32 and float64, as seconds per 10 000 epochs;
  the trace's bytes per step; ms per epoch as T and Nn grow.

Every runner is timed round-robin in one process (each once per round, median over the rounds)
because the machine is shared and noisy; each is first checked against the compiled backend's
output. A speedup is the other runner's median divided by blockloop compiled's. Threads:
blockloop splits a batch over the usable cores, at least 64 columns per thread (so all cores
at batch 256 and 4096, one thread at batch 1); torch gets the same number of threads
(``torch.set_num_threads``): one at batch 1, which is also torch's fastest for such small
matrices; ``torch_fp32_1thread`` is shown beside torch's multi-threaded runs.
Tables go to stdout, progress to stderr; ``--json`` prints exactly one JSON object instead.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _timing import Runner, Timing, format_table, machine, median_seconds, progress, round_robin
from _training import training_section
from _workloads import (
    as_tbn,
    bdsim_missing,
    bdsim_runner,
    chain_diagram,
    check_agree,
    lstm_case,
    numpy_chain,
    numpy_lstm_runner,
    run_plan_runner,
    simulate_runner,
    torch_available,
    torch_runner,
)

REPO = Path(__file__).resolve().parent.parent
COMPILED = "blockloop_compiled"

# -- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """How long each section runs. ``FULL`` takes about 3 minutes on a quiet 2-core machine (up to
    ~8 when it is shared); ``QUICK`` about 1 (under 3 when shared): fewer rounds everywhere, and
    fewer steps where torch's float64 LSTM at batch 256–4096 alone would take seconds a call.
    """

    quick: bool
    steps: int = 1001                # T of the batch-1 and batch-256 LSTM runs and of the chain
    rounds_b1: int = 31
    rounds_b256: int = 11
    steps_b4096: int = 1001
    rounds_b4096: int = 5
    interpreter_rounds_b4096: int = 2   # ~1 ms a step there: fewer rounds
    bdsim_steps: int = 200           # ~150–200 µs a step: fewer steps, reported per step
    nn_rounds: int = 5
    nn_steps_b256: int = 501         # torch float64 at Nn = 128, batch 256: ~10 ms a step
    chain_rounds: int = 15
    compile_rounds: int = 7
    cold_process_runs: int = 3


FULL = Config(quick=False)
QUICK = Config(quick=True, rounds_b1=9, rounds_b256=5, steps_b4096=201, rounds_b4096=3, interpreter_rounds_b4096=1,
               bdsim_steps=100, nn_rounds=3, nn_steps_b256=101, chain_rounds=5, compile_rounds=3,
               cold_process_runs=1)


@dataclass
class Section:
    """A section's result: ``data`` goes into the JSON object, ``table`` to stdout."""

    data: dict
    table: str
    extra: dict = field(default_factory=dict)  # not printed: for post-passes such as the crossover


# -- helpers -------------------------------------------------------------------------------------

def blockloop_threads(batch: int) -> int:
    """Threads blockloop's compiled backend uses for ``batch`` columns (see ``compiled.backend``)."""
    from blockloop.compiled.backend import MIN_CHUNK, default_threads

    return max(1, min(default_threads(), batch // MIN_CHUNK))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def speedups(timings: dict[str, Timing], base: str = COMPILED) -> dict[str, float]:
    """name → that runner's median / ``base``'s median."""
    b = timings[base].us_per_step
    return {name: t.us_per_step / b for name, t in timings.items()}


def timing_rows(timings: dict[str, Timing], runners: list[Runner], base: str = COMPILED,
                per_block: int | None = None) -> list[list[object]]:
    """Table rows: runner, µs/step, (µs/block/step), × compiled, steps, rounds, note."""
    ratio = speedups(timings, base)
    rows = []
    for r in runners:
        t = timings[r.name]
        row = [r.name, t.us_per_step]
        if per_block:
            row.append(t.us_per_step / per_block)
        flag = noisy(t)
        note = r.note + (f" [noisy: median {flag:.1f}× fastest]" if flag else "")
        row += [ratio[r.name], t.min_us_per_step, t.steps, t.samples, note]
        rows.append(row)
    return rows


#: A runner whose median round is this many times its fastest was disturbed (shared machine): flagged.
NOISY = 2.0


def noisy(t: Timing) -> float | None:
    """median / fastest round when above :data:`NOISY`, else None."""
    r = t.us_per_step / t.min_us_per_step
    return r if r > NOISY else None


HEADERS = ["runner", "µs/step", "÷ compiled", "fastest µs/step", "steps", "rounds", "note"]


def torch_threads_note(batch: int) -> str:
    t = blockloop_threads(batch)
    if batch == 1:
        return "torch: 1 thread at batch 1, as blockloop (also torch's fastest for such tiny matrices)"
    extra = "; torch_fp32_1thread for comparison" if t > 1 else ""
    return f"torch: {plural(t, 'thread')} (torch.set_num_threads), as many as blockloop uses{extra}"


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


@contextmanager
def kernel_clock():
    """Record (steps, seconds) of every call of the compiled step loop while inside.

    Wraps ``blockloop.compiled.vm.run_steps`` (which ``run_plan`` looks up at each call) and,
    if the backend holds its own reference, that one too; the wrapper adds < 1 µs a call.
    """
    import blockloop.compiled.backend as backend
    import blockloop.compiled.vm as vm

    real = vm.run_steps
    calls: list[tuple[int, float]] = []

    def timed(steps, *args):
        t0 = time.perf_counter()
        out = real(steps, *args)
        calls.append((int(steps), time.perf_counter() - t0))
        return out

    patched = [m for m in (vm, backend) if getattr(m, "run_steps", None) is real]
    for m in patched:
        m.run_steps = timed
    try:
        yield calls
    finally:
        for m in patched:
            m.run_steps = real


# -- the LSTM simulation sections ------------------------------------------------------------------

def lstm_runners(cfg: Config, w, program, u, batch: int, interpreter_rounds: int | None = None,
                 with_interpreter: bool = True, with_numpy: bool = True, with_compiled_1thread: bool = True,
                 with_bdsim: bool = False) -> tuple[list[Runner], dict, dict]:
    """(runners, skipped name → reason, extra JSON) for one LSTM case; compiled first."""
    skipped, extra = {}, {}
    bl = blockloop_threads(batch)
    runners = [simulate_runner(COMPILED, program, u, "compiled", note=f"simulate, {plural(bl, 'thread')}")]
    if batch > 1 and with_compiled_1thread:
        runners.append(run_plan_runner("blockloop_compiled_1thread", program, u, 1,
                                       note="plan_run + run_plan(threads=1), no Result"))
    if with_interpreter:
        runners.append(simulate_runner("blockloop_interpreter", program, u, "interpreter", rounds=interpreter_rounds,
                                       note="simulate"))
    if with_numpy:
        runners.append(numpy_lstm_runner(w, u, "numpy_loop", note="hand-written, one layer"))
    if torch_available():
        t = blockloop_threads(batch)  # batch 1: 1 thread, which is also torch's fastest for tiny matrices
        runners.append(torch_runner("torch_fp64", w, u, "float64", t))
        runners.append(torch_runner("torch_fp32", w, u, "float32", t))
        if batch > 1 and t != 1:
            runners.append(torch_runner("torch_fp32_1thread", w, u, "float32", 1))
    else:
        skipped["torch"] = "torch is not installed"
    if with_bdsim:
        reason = bdsim_missing()
        if reason is None:
            runner, build_s = bdsim_runner(program, u[:cfg.bdsim_steps], name="bdsim",
                                           note=f"{cfg.bdsim_steps} steps (slow), µs per step")
            runners.append(runner)
            extra["bdsim_build_s"] = build_s
        else:
            skipped["bdsim"] = reason
            progress(f"  bdsim skipped: {reason}")
    return runners, skipped, extra


TOLERANCES = {"torch_fp32": 1e-4, "torch_fp32_1thread": 1e-4}


def time_case(cfg: Config, label: str, runners: list[Runner], rounds: int,
                   extra_runners: list[Runner] = ()) -> tuple[dict[str, Timing], dict[str, float]]:
    """Check every runner against the compiled one, then time them all round-robin."""
    progress(f"  {label}: warm-up and agreement check")
    reference = as_tbn(runners[0].fn(), runners[0].steps)
    errors = check_agree(reference, runners[1:], TOLERANCES)
    timings = round_robin([*runners, *extra_runners], rounds, label)
    return timings, errors


def case_data(timings: dict[str, Timing], runners: list[Runner], errors: dict, skipped: dict, rounds: int) -> dict:
    """The JSON of one timed case: speedups, interpreter/numpy, µs per step and how they were got."""
    ratio = speedups(timings)
    names = [r.name for r in runners]
    data: dict = {}
    for name in ("torch_fp64", "torch_fp32", "torch_fp32_1thread", "bdsim", "blockloop_interpreter", "numpy_loop",
                 "blockloop_compiled_1thread"):
        if name in names:
            key = {"blockloop_interpreter": "interpreter", "numpy_loop": "numpy",
                   "blockloop_compiled_1thread": "compiled_1thread"}.get(name, name)
            data[f"speedup_vs_{key}"] = ratio[name]
    if "blockloop_interpreter" in names and "numpy_loop" in names:
        interp, numpy_loop = timings["blockloop_interpreter"], timings["numpy_loop"]
        data["interpreter_over_numpy"] = interp.us_per_step / numpy_loop.us_per_step
    data["us_per_step"] = {n: timings[n].us_per_step for n in names}
    data["steps"] = {n: timings[n].steps for n in names}
    data["rounds"] = {n: timings[n].samples for n in names}
    data["notes"] = {r.name: r.note for r in runners if r.note}
    data["max_rel_diff_vs_compiled"] = errors
    flagged = {n: noisy(timings[n]) for n in names if noisy(timings[n])}
    if flagged:
        data["noisy_median_over_fastest"] = flagged
    if skipped:
        data["skipped"] = skipped
    return data


def sim_section(cfg: Config, batch: int, steps: int | None = None, rounds: int | None = None) -> Section:
    """The LSTM (Nn = 5) at one batch size; ``steps`` and ``rounds`` override the config's."""
    label = f"sim_batch{batch}"
    T = steps or (cfg.steps_b4096 if batch >= 4096 else cfg.steps)
    w, program, u = lstm_case(nn=5, batch=batch, steps=T)
    rounds = rounds or (cfg.rounds_b1 if batch == 1 else cfg.rounds_b256 if batch < 4096 else cfg.rounds_b4096)
    interp_rounds = cfg.interpreter_rounds_b4096 if batch >= 4096 else None
    runners, skipped, extra = lstm_runners(cfg, w, program, u, batch, interpreter_rounds=interp_rounds,
                                           with_bdsim=batch == 1)
    breakdown_runners: list[Runner] = []
    if batch == 1:
        from blockloop.compiled.backend import run_plan
        from blockloop.engine.simulate import plan_run

        plan = plan_run(program, {"u": u})
        breakdown_runners = [
            Runner("run_plan (plan given)", lambda: run_plan(program, plan), T),
            Runner("plan_run alone", lambda: plan_run(program, {"u": u}), T),
            Runner("simulate, T = 1", lambda: program.simulate({"u": u[:1]}, backend="compiled"), 1),
        ]
    with kernel_clock() as kernel_calls:
        timings, errors = time_case(cfg, label, runners, rounds, breakdown_runners)
    data = case_data(timings, runners, errors, skipped, rounds)
    data.update(extra)
    expected = ["torch_fp64", "torch_fp32"] + (["bdsim"] if batch == 1 else [])
    for name in expected:  # a skipped runner keeps its key, as null
        data.setdefault(f"speedup_vs_{name}", None)
    threads_line = (f"blockloop compiled: {plural(blockloop_threads(batch), 'thread')}; " + torch_threads_note(batch))
    notes = [threads_line] + [f"skipped {name}: {reason}" for name, reason in skipped.items()]
    if "bdsim" in data["us_per_step"]:
        notes.append(f"bdsim: built and compiled once in {extra['bdsim_build_s'] * 1e3:.0f} ms (not timed), "
                     f"timed on {cfg.bdsim_steps} steps")
    table = format_table(f"== {label}: LSTM Ni=1 Nn=5 No=1, T={T}, batch {batch}, float64 "
                         "(µs per step of the whole batch; ÷ compiled = speedup of compiled)",
                         HEADERS, timing_rows(timings, runners), notes)
    if batch == 1:
        kernel = [s for steps, s in kernel_calls if steps == T]
        sim_us = timings[COMPILED].us_per_step * T
        b = {
            "simulate_us": sim_us,
            "run_plan_us": timings["run_plan (plan given)"].us_per_step * T,
            "plan_run_us": timings["plan_run alone"].us_per_step * T,
            "simulate_T1_us": timings["simulate, T = 1"].us_per_step,
            "kernel_us": float(np.median(kernel)) * 1e6 if kernel else None,
        }
        if b["kernel_us"] is not None:
            b["kernel_us_per_step"] = b["kernel_us"] / T
            b["outside_kernel_us"] = sim_us - b["kernel_us"]
            b["outside_kernel_fraction"] = b["outside_kernel_us"] / sim_us
        data["overhead"] = b
        rows = [["simulate (whole call)", b["simulate_us"], b["simulate_us"] / T, "simulate(u, backend='compiled')"],
                ["  run_plan (plan given)", b["run_plan_us"], b["run_plan_us"] / T, "buffers + kernel + trace"],
                ["  plan_run alone", b["plan_run_us"], b["plan_run_us"] / T, "input/state checks"],
                ["  kernel (run_steps)", b["kernel_us"], None if b["kernel_us"] is None else b["kernel_us"] / T,
                 "numba step loop, timed inside simulate"],
                ["simulate, T = 1", b["simulate_T1_us"], None, "≈ fixed cost of a call"]]
        note = ([f"outside the kernel: {b['outside_kernel_us']:.0f} µs a call = "
                 f"{100 * b['outside_kernel_fraction']:.0f}% of simulate at T = {T}, batch 1"]
                if b["kernel_us"] is not None else ["kernel time unavailable (run_steps could not be wrapped)"])
        table += "\n\n" + format_table(f"-- where a compiled simulate call goes (T={T}, batch 1, medians)",
                                       ["part", "µs/call", "µs/step", "what"], rows, note)
    return Section(data, table, extra={"crossover": {(5, batch): data}})


def nn_section(cfg: Config, nn: int) -> Section:
    data: dict = {}
    tables, cross = [], {}
    for batch in (1, 256):
        label = f"nn{nn} batch {batch}"
        steps = cfg.steps if batch == 1 else cfg.nn_steps_b256
        w, program, u = lstm_case(nn=nn, batch=batch, steps=steps)
        runners, skipped, _ = lstm_runners(cfg, w, program, u, batch, with_interpreter=False, with_numpy=batch == 1,
                                           with_compiled_1thread=False)
        timings, errors = time_case(cfg, label, runners, cfg.nn_rounds)
        case = case_data(timings, runners, errors, skipped, cfg.nn_rounds)
        for name in ("torch_fp64", "torch_fp32"):
            case.setdefault(f"speedup_vs_{name}", None)
        data[f"batch{batch}"] = case
        cross[(nn, batch)] = case
        tables.append(format_table(f"== nn{nn}: LSTM Ni=1 Nn={nn} No=1, T={steps}, batch {batch}, float64 "
                                   "(µs per step of the whole batch)",
                                   HEADERS, timing_rows(timings, runners),
                                   [f"blockloop compiled: {plural(blockloop_threads(batch), 'thread')}; "
                                    + torch_threads_note(batch)]
                                   + [f"skipped {name}: {reason}" for name, reason in skipped.items()]))
    return Section(data, "\n\n".join(tables), extra={"crossover": cross})


def crossover(found: dict[tuple[int, int], dict]) -> dict:
    """Where torch overtakes blockloop compiled, per batch and torch dtype, from the Nn measured.

    Between two sizes where the speedup crosses 1 the crossing Nn is interpolated on log–log
    axes (a guess, labelled as such).
    """
    out: dict = {}
    for batch in sorted({b for _, b in found}):
        for dtype in ("torch_fp64", "torch_fp32", "torch_fp32_1thread"):
            pts = sorted((nn, c[f"speedup_vs_{dtype}"]) for (nn, b), c in found.items()
                         if b == batch and c.get(f"speedup_vs_{dtype}") is not None)
            if not pts:
                continue
            entry: dict = {"speedup_by_nn": {str(nn): s for nn, s in pts}, "crossover_nn": None}
            sizes = "/".join(str(nn) for nn, _ in pts)
            if all(s >= 1 for _, s in pts):
                entry["summary"] = f"compiled faster at every Nn measured ({sizes})"
            elif all(s < 1 for _, s in pts):
                entry["summary"] = f"{dtype} faster at every Nn measured ({sizes})"
            else:
                for (n1, s1), (n2, s2) in zip(pts, pts[1:], strict=False):
                    if (s1 >= 1) != (s2 >= 1):
                        est = math.exp(math.log(n1) + (math.log(n2) - math.log(n1)) * math.log(s1)
                                       / (math.log(s1) - math.log(s2)))
                        entry["crossover_nn"] = round(est, 1)
                        faster = "compiled" if s1 >= 1 else dtype
                        entry["summary"] = (f"{faster} faster below Nn ≈ {est:.0f} (log-log interpolation between "
                                            f"Nn={n1}: {s1:.2f}× and Nn={n2}: {s2:.2f}×)")
                        break
            out.setdefault(f"batch{batch}", {})[dtype] = entry
    return out


# -- the generic chain ---------------------------------------------------------------------------

def generic_chain(cfg: Config) -> Section:
    n_blocks = 200
    diagram, c = chain_diagram(n_blocks)
    program = diagram.compile()
    T = cfg.steps
    u = np.random.default_rng(0).standard_normal((T, 1))
    runners = [simulate_runner(COMPILED, program, u, "compiled", note="simulate"),
               simulate_runner("blockloop_interpreter", program, u, "interpreter", note="simulate"),
               Runner("numpy_loop", lambda: numpy_chain(c, u), T, note="hand-written: s = cumsum([u, c·d]) a step")]
    timings, errors = time_case(cfg, "generic_chain", runners, cfg.chain_rounds)
    data = case_data(timings, runners, errors, {}, cfg.chain_rounds)
    data["us_per_block_step"] = {n: t.us_per_step / n_blocks for n, t in timings.items()}
    data["blocks"] = n_blocks
    data["stages"] = c.size
    headers = ["runner", "µs/step", "µs/block/step", "÷ compiled", "fastest µs/step", "steps", "rounds", "note"]
    table = format_table(f"== generic_chain: {n_blocks} blocks ({c.size} × Gain→Sum←UnitDelay feedback + Inport, "
                         f"Outport), T={T}, batch 1, float64", headers,
                         timing_rows(timings, runners, per_block=n_blocks),
                         ["µs/block/step: µs per step ÷ 200 blocks"])
    return Section(data, table)


# -- compile and first-call latency ----------------------------------------------------------------

COLD_SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy as np
from blockloop.diagrams import NetworkWeights, lstm_network
t1 = time.perf_counter()
import numba
t2 = time.perf_counter()
w = NetworkWeights.random(ni=1, nn=5, no=1, n_layers={layers}, seed=0)
program = lstm_network(w).compile()
u = np.random.default_rng(0).standard_normal(({steps}, 1))
t3 = time.perf_counter()
program.simulate({{"u": u}}, backend="compiled")
t4 = time.perf_counter()
program.simulate({{"u": u}}, backend="compiled")
t5 = time.perf_counter()
print(json.dumps({{"import_blockloop_s": t1 - t0, "import_numba_s": t2 - t1, "build_compile_s": t3 - t2,
                  "first_simulate_s": t4 - t3, "second_simulate_s": t5 - t4}}))
"""


def cold_process(layers: int, steps: int, env_extra: dict | None = None) -> dict:
    """Run COLD_SCRIPT in a fresh interpreter; its own timings plus the whole process's wall time."""
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", COLD_SCRIPT.format(layers=layers, steps=steps)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cold-process run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


def compile_section(cfg: Config) -> Section:
    from blockloop.compiled.backend import lowered
    from blockloop.diagrams import NetworkWeights, lstm_network

    layers, T = 10, cfg.steps
    w = NetworkWeights.random(ni=1, nn=5, no=1, n_layers=layers, seed=0)
    u = np.random.default_rng(0).standard_normal((T, 1))
    _, warm_program, warm_u = lstm_case(nn=5, batch=1, steps=T)
    warm_program.simulate({"u": warm_u}, backend="compiled")  # the kernel loaded (or compiled) and cached on disk

    progress("  compile: in-process rounds")
    build = median_seconds(lambda: lstm_network(w), cfg.compile_rounds)
    diagram = lstm_network(w)
    samples: dict[str, list[float]] = {"compile_s": [], "lower_s": [], "first_simulate_s": [], "warm_simulate_s": []}
    for _ in range(cfg.compile_rounds):
        t0 = time.perf_counter()
        program = diagram.compile()
        t1 = time.perf_counter()
        lowered(program)
        t2 = time.perf_counter()
        fresh = diagram.compile()
        t3 = time.perf_counter()
        fresh.simulate({"u": u}, backend="compiled")
        t4 = time.perf_counter()
        fresh.simulate({"u": u}, backend="compiled")
        t5 = time.perf_counter()
        for key, v in zip(samples, (t1 - t0, t2 - t1, t4 - t3, t5 - t4), strict=True):
            samples[key].append(v)
    data = {k: float(np.median(v)) for k, v in samples.items()}
    data["build_diagram_s"] = build
    data["layers"], data["nn"], data["blocks"], data["steps"] = layers, 5, len(program.order), T

    progress(f"  compile: {plural(cfg.cold_process_runs, 'fresh process')} with the on-disk kernel cache")
    runs = [cold_process(layers, T) for _ in range(cfg.cold_process_runs)]
    cold = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    data["cold_process_cached_kernel"] = cold
    progress("  compile: a fresh process with an empty numba cache (JIT compile of the kernel, ~10 s)")
    with tempfile.TemporaryDirectory(prefix="blockloop-bench-numba-") as cache:
        jit = cold_process(layers, T, {"NUMBA_CACHE_DIR": cache})
    data["cold_process_empty_cache"] = jit

    rows = [["build lstm_network (10 layers)", data["build_diagram_s"], "Diagram construction"],
            ["diagram.compile()", data["compile_s"], f"flatten, sizes, schedule: {data['blocks']} blocks"],
            ["lowered(program), first call", data["lower_s"], "tables for the step loop"],
            ["first simulate, fresh program", data["first_simulate_s"], f"lowering + run, T={T}, this process"],
            ["second simulate (warm)", data["warm_simulate_s"], "same program"],
            ["fresh process, cached kernel: total", cold["process_wall_s"], "python -c: start, import, build, 2 runs"],
            ["  import blockloop (+numpy)", cold["import_blockloop_s"], ""],
            ["  import numba", cold["import_numba_s"], ""],
            ["  build + compile", cold["build_compile_s"], ""],
            ["  first simulate", cold["first_simulate_s"], "loads the kernel from numba's disk cache"],
            ["  second simulate", cold["second_simulate_s"], ""],
            ["fresh process, empty cache: total", jit["process_wall_s"], "NUMBA_CACHE_DIR = empty folder"],
            ["  first simulate", jit["first_simulate_s"], "JIT-compiles the kernel (once per machine)"]]
    table = format_table(f"== compile: LSTM network, {layers} layers of Nn=5, T={T}, batch 1 "
                         f"(seconds; in-process medians of {cfg.compile_rounds}, fresh-process median of "
                         f"{cfg.cold_process_runs})", ["what", "seconds", "note"], rows)
    return Section(data, table)


# -- the sections ---------------------------------------------------------------------------------

#: Section name → function(Config) → Section, in the order they run. The JSON object has one key
#: per section that ran, plus "machine", "date" and "run".
#:
#: "training" (benchmarks/_training.py) times the study's epoch on the diagram trainer and on torch:
#: {"blockloop_s", "torch_fp32_s", "torch_fp64_s"} are seconds per 10 000 epochs.
SECTIONS: dict[str, Callable[[Config], Section]] = {
    "sim_batch1": lambda cfg: sim_section(cfg, 1),
    "sim_batch256": lambda cfg: sim_section(cfg, 256),
    "sim_batch4096": lambda cfg: sim_section(cfg, 4096),
    "nn32": lambda cfg: nn_section(cfg, 32),
    "nn128": lambda cfg: nn_section(cfg, 128),
    "generic_chain": generic_chain,
    "compile": compile_section,
    "training": lambda cfg: Section(*training_section(cfg.quick)),
}


def jsonable(obj):
    """Floats made JSON-safe (NaN/inf → null), tuples → lists, numpy scalars → Python."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return finite(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="sections: " + ", ".join(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps: under 3 minutes on 2 cores")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(SECTIONS), help="run only these sections")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    names = [n for n in SECTIONS if not args.only or n in args.only]

    t_start = time.perf_counter()
    info = machine()
    if not args.json:
        print(f"blockloop benchmarks ({'quick' if cfg.quick else 'full'}) on {info['cpu']}, "
              f"{info['usable_cores']} usable cores; python {info['python']}, numpy {info['numpy']}, "
              f"numba {info['numba']}, torch {info['torch']}, bdsim {info['bdsim']}; "
              f"load average {info.get('loadavg_1min')}\n", flush=True)
    results: dict[str, Section] = {}
    for name in names:
        progress(f"[{name}] ({time.perf_counter() - t_start:.0f} s so far)")
        results[name] = SECTIONS[name](cfg)
        if not args.json:
            print(results[name].table + "\n", flush=True)

    found = {k: v for sec in results.values() for k, v in sec.extra.get("crossover", {}).items()}
    cross = crossover(found) if any(n.startswith("nn") for n in results) else {}
    for name in results:
        if name.startswith("nn"):
            results[name].data["crossover"] = cross
    if cross and not args.json:
        lines = [f"  batch {b[5:]}, {dtype}: {e['summary']}" for b, per in cross.items() for dtype, e in per.items()]
        print("== crossover (Nn = 5 from sim_batch1/256, when run): where torch overtakes blockloop compiled\n"
              + "\n".join(lines) + "\n")

    wall = time.perf_counter() - t_start
    info["loadavg_1min_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    if args.json:
        out = {name: sec.data for name, sec in results.items()}
        out["machine"] = info
        out["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        out["run"] = {"quick": cfg.quick, "sections": names, "wall_s": wall}
        print(json.dumps(jsonable(out), indent=2, allow_nan=False))
    else:
        print(f"total wall time {wall:.0f} s; load average at the end {info['loadavg_1min_end']}")
    progress(f"done in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
