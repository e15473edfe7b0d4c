"""The training workload of the gradients issue: the study's epoch (Nn = 5, T = 1001, forward +
backward + MATLAB Adam) on blockloop's diagram trainer (float64) and on PyTorch (float32, float64).

Each trainer runs a few epochs per round, round-robin, and its median seconds per epoch is
scaled to the study's 10 000 epochs (the table says how many were measured). Also: the forward
trace's memory per step, and how an epoch's time grows with T and with Nn.
"""

from __future__ import annotations

import statistics

import numpy as np

from _timing import format_table, progress

STUDY_EPOCHS = 10_000


def _setup(nn: int = 5):
    """The study's run 2 (random start, lr0 0.04, ×0.98 every 100, clipping 1) on its training data."""
    from blockloop.study.reproduce import StudyConfig, training_setup
    from blockloop.study.systems import reference_system
    from blockloop.study.training import random_weights

    sys_ = reference_system()
    u, y, runs = training_setup(sys_, StudyConfig(out=".", seed=0), random_weights(sys_.ninputs, nn, sys_.noutputs))
    start, _, opts = runs["from_random"]
    if nn != start.layers[0].nn:
        start = random_weights(sys_.ninputs, nn, sys_.noutputs)
    return start, u, y, opts


def _seconds_per_epoch(start, u, y, opts, epochs: int, **changes) -> float:
    import dataclasses

    from blockloop.study.training import train

    res = train(start, u, y, dataclasses.replace(opts, epochs=epochs, verbose_every=10**9, **changes))
    return res.wall_s / epochs


def training_section(quick: bool) -> tuple[dict, str]:
    """(JSON data, table) of the training workload."""
    rounds = 3
    epochs = {"blockloop_diagram_fp64": 300 if quick else 1000, "torch_fp32": 60 if quick else 200,
              "torch_fp64": 3 if quick else 10}
    changes = {"blockloop_diagram_fp64": {"trainer": "diagram", "dtype": "float64"},
               "torch_fp32": {"trainer": "torch", "dtype": "float32", "threads": 1},
               "torch_fp64": {"trainer": "torch", "dtype": "float64", "threads": 1}}
    start, u, y, opts = _setup()
    for name in epochs:  # warm-up: loads the cached kernels, builds torch's graph
        _seconds_per_epoch(start, u, y, opts, 2, **changes[name])
    samples: dict[str, list[float]] = {name: [] for name in epochs}
    for r in range(rounds):
        progress(f"  training round {r + 1}/{rounds}")
        for name, n in epochs.items():
            samples[name].append(_seconds_per_epoch(start, u, y, opts, n, **changes[name]))
    per_epoch = {name: statistics.median(v) for name, v in samples.items()}
    s10k = {name: v * STUDY_EPOCHS for name, v in per_epoch.items()}
    data = {"blockloop_s": s10k["blockloop_diagram_fp64"], "torch_fp32_s": s10k["torch_fp32"],
            "torch_fp64_s": s10k["torch_fp64"],
            "speedup_vs_torch_fp32": s10k["torch_fp32"] / s10k["blockloop_diagram_fp64"],
            "speedup_vs_torch_fp64": s10k["torch_fp64"] / s10k["blockloop_diagram_fp64"],
            "epochs_measured_per_round": epochs, "rounds": rounds,
            "ms_per_epoch": {k: v * 1e3 for k, v in per_epoch.items()}}
    data["trace_bytes_per_step"] = _trace_bytes(start, u)
    data["growth"] = _growth(quick)
    rows = [[name, per_epoch[name] * 1e3, s10k[name], s10k[name] / s10k["blockloop_diagram_fp64"],
             f"{epochs[name]} epochs × {rounds} rounds"] for name in epochs]
    table = format_table("== training: the study's epoch (LSTM Nn=5, T=1001, forward + BPTT + MATLAB Adam), "
                         "run 2's options; seconds per 10 000 epochs scaled from the epochs measured",
                         ["trainer", "ms/epoch", "s / 10 000 epochs", "÷ blockloop", "measured"], rows,
                         [f"forward trace kept for the reverse sweep: {data['trace_bytes_per_step']} bytes per step"])
    g = data["growth"]
    grow_rows = [[f"T = {t}", ms, ms / g["by_T"][str(1001)]] for t, ms in ((int(k), v) for k, v in g["by_T"].items())]
    grow_rows += [[f"Nn = {n}", ms, ms / g["by_Nn"]["5"]] for n, ms in ((int(k), v) for k, v in g["by_Nn"].items())]
    table += "\n\n" + format_table("-- blockloop diagram trainer: ms per epoch as T (Nn = 5) and Nn (T = 1001) grow",
                                   ["case", "ms/epoch", "÷ T=1001 / Nn=5"], grow_rows)
    return data, table


def _trace_bytes(start, u) -> int:
    from blockloop.compiled.tape import Tape
    from blockloop.diagrams import lstm_network
    from blockloop.engine.simulate import plan_run

    program = lstm_network(start).compile()
    tape = Tape(program, plan_run(program, {"u": u}), ["y"])
    return int(tape.trace.nbytes // tape.T)


def _growth(quick: bool, repeats: int = 3) -> dict:
    """ms per epoch (median of ``repeats`` runs) by T at Nn = 5 and by Nn at T = 1001."""
    n = 30 if quick else 100

    def ms(start, u, y, opts):
        return 1e3 * statistics.median(_seconds_per_epoch(start, u, y, opts, n) for _ in range(repeats))

    by_T, by_nn = {}, {}
    for T in (251, 501, 1001, 2001):
        start, u, y, opts = _setup()
        if T > 1001:  # the study's data holds 1001 steps: repeat it
            u, y = np.concatenate([u, u]), np.concatenate([y, y])
        by_T[str(T)] = ms(start, u[:T], y[:T], opts)
    for nn in (5, 10, 20, 40):
        by_nn[str(nn)] = ms(*_setup(nn=nn))
    return {"by_T": by_T, "by_Nn": by_nn, "epochs": n, "repeats": repeats}
