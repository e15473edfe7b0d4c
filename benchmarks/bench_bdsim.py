"""µs/step of the LSTM diagram exported to bdsim 1.4, next to blockloop's compiled and interpreted runs.

Case: Ni = 1, Nn = 5, No = 1, batch 1, float64, all three over the same ``--steps`` (``run.py``
times bdsim on fewer steps than the others). The bdsim diagram is built and compiled once
(timed apart); the outputs are checked to agree to 1e-12 first; then the three are timed
round-robin, ``--repeats`` rounds.

    python benchmarks/bench_bdsim.py [--repeats 7] [--steps 1001] [--json]
"""

from __future__ import annotations

import argparse
import json

from _timing import format_table, round_robin
from _workloads import as_tbn, bdsim_missing, bdsim_runner, check_agree, lstm_case, simulate_runner
from run import COMPILED, HEADERS, jsonable, speedups, timing_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=1001)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reason = bdsim_missing()
    if reason:
        raise SystemExit(f"bench_bdsim: {reason}")

    _, program, u = lstm_case(steps=args.steps)
    runners = [simulate_runner(COMPILED, program, u, "compiled", note="simulate"),
               simulate_runner("blockloop_interpreter", program, u, "interpreter", note="simulate")]
    bdsim, build_s = bdsim_runner(program, u, name="bdsim", note="model.run()")
    runners.append(bdsim)
    errors = check_agree(as_tbn(runners[0].fn(), args.steps), runners[1:], {"bdsim": 1e-12})
    timings = round_robin(runners, args.repeats)
    if args.json:
        print(json.dumps(jsonable({"us_per_step": {n: t.us_per_step for n, t in timings.items()},
                                   "speedup_of_compiled": speedups(timings), "bdsim_build_s": build_s,
                                   "max_rel_diff_vs_compiled": errors, "steps": args.steps,
                                   "rounds": args.repeats}), indent=2))
        return
    print(format_table(f"LSTM Ni=1 Nn=5 No=1, T={args.steps}, batch 1, float64; median of {args.repeats} rounds",
                       HEADERS, timing_rows(timings, runners),
                       [f"bdsim build + compile: {build_s * 1e3:.1f} ms (once); "
                        f"outputs agree to {max(errors.values()):.1e} (relative)"]))


if __name__ == "__main__":
    main()
