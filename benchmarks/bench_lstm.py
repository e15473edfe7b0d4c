"""µs/step of the LSTM diagram at one batch size: compiled, interpreter, numpy loop, torch, (bdsim).

One case of ``run.py``'s sim_batch sections (same runners, threads and checks), with your own
batch size, number of steps and rounds. Ni = 1, Nn = 5, No = 1, float64.

    python benchmarks/bench_lstm.py [--repeats 15] [--steps 1001] [--batch B] [--json]
"""

from __future__ import annotations

import argparse
import json

from run import FULL, jsonable, sim_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="round-robin rounds (default 15)")
    parser.add_argument("--steps", type=int, default=1001)
    parser.add_argument("--batch", type=int, default=1, help="sequences simulated at once (default 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    section = sim_section(FULL, args.batch, steps=args.steps, rounds=args.repeats)
    print(json.dumps(jsonable(section.data), indent=2) if args.json else section.table)


if __name__ == "__main__":
    main()
