"""µs/step of the LSTM diagram exported to bdsim 1.4, next to blockloop's own run (float64).

Case: Ni = 1, Nn = 5, No = 1, T = 1001 steps, batch 1 (the same as ``bench_lstm.py``).
The bdsim diagram is built and compiled once (timed apart); then ``BdsimModel.run`` and
blockloop's ``Program.simulate`` are timed round-robin, ``--repeats`` times each, and the
medians are reported, so that a noisy shared machine slows both alike. Both results are
checked to agree to 1e-12 first.

    python benchmarks/bench_bdsim.py [--repeats 7] [--steps 1001] [--json]
"""

from __future__ import annotations

import time

import numpy as np

from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.interop.bdsim import to_bdsim

from _timing import parse_args, report, round_robin


def main() -> None:
    args = parse_args(__doc__, repeats=7)

    w = NetworkWeights.random(ni=1, nn=5, no=1, seed=0)
    u = np.random.default_rng(0).standard_normal((args.steps, 1))
    program = lstm_network(w).compile()
    to_bdsim(program, u[:2], Ts=0.1)  # import bdsim and its block modules outside the timing
    t0 = time.perf_counter()
    model = to_bdsim(program, u, Ts=0.1)
    build_ms = (time.perf_counter() - t0) * 1e3
    runners = {"blockloop diagram": lambda: program.simulate({"u": u}, Ts=0.1)["y"],
               "bdsim 1.4 export": lambda: model.run()["y"]}

    diff = runners["bdsim 1.4 export"]() - runners["blockloop diagram"]()
    norm = float(np.linalg.norm(diff, 2))
    assert norm <= 1e-12, f"bdsim and blockloop differ by {norm:.3e}"
    med = round_robin(runners, args.repeats, args.steps)
    report(med, args, extra={"bdsim_build_ms": build_ms, "norm_difference": norm},
           footer=f"bdsim build + compile: {build_ms:.1f} ms (once); outputs agree to norm {norm:.2e}")


if __name__ == "__main__":
    main()
