"""The linear-system study in small: LSTM weights computed from (A, B, C, D), then a short training.

    python examples/linear_system_study.py [--out DIR] [--epochs N]   # writes DIR/approx_response.png

The plant is the reference's zpk(-4, [-9±5i, -2±50i], 5e5), zero-order hold at Ts = 0.01 s.
With the gates held open (input, output) or shut (forget) and the states kept in tanh's linear
range, an LSTM layer of n + m = 5 units reproduces it; how well depends on the state
coordinates (the realization). Training then starts from those weights, as MATLAB's run 1 did,
here for a few epochs only (``blockloop reproduce`` runs the whole study: 2 × 10 000 epochs).
"""

import argparse
from pathlib import Path

import control
import numpy as np

from blockloop.study.approx import approximate, plot_response, simulate_linear
from blockloop.study.readback import readback
from blockloop.study.realizations import REALIZATIONS
from blockloop.study.systems import reference_system, system_facts
from blockloop.study.training import TrainingOptions, train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for approx_response.png (default: .)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    args = parser.parse_args(argv)

    sys = reference_system()
    facts = system_facts(sys)
    print(f"plant: DC gain {facts['dcgain'][0, 0]:.4f}, zpk gain {facts['zpk_gain']:.6f}, "
          f"zeros {np.round(np.sort(facts['zeros'].real), 4).tolist()}")

    # 1. Weights computed from (A, B, C, D): the error depends on the state coordinates.
    for name in REALIZATIONS:
        print(f"realization {name:16s} norm(y - z) = {approximate(realization=name).error_norm:.3g}")
    run = approximate()                                      # the default: MATLAB's realization
    print(f"F = {np.round(run.weights.F, 2).tolist()}  (the reference prints 325.49 -78.88 18.41 212.64 -86.10)")

    # 2. A few epochs of MATLAB-style training (Adam, clipping, L2) from those weights, on 1001 steps.
    u = np.random.default_rng(0).standard_normal((1001, 1))
    y = simulate_linear(sys, u)
    options = TrainingOptions(lr0=1e-4, drop_factor=0.99, drop_period=100, epochs=args.epochs,
                              grad_threshold=1.0)           # run 1's published options, fewer epochs
    res = train(run.weights, u, y, options)
    print(f"training: loss {res.loss[0]:.3g} at epoch 1 -> {res.final_loss:.3g} at epoch {args.epochs}")
    print("  (training first moves away from the exact weights, as MATLAB's did: its log shows 1.2e-3 at\n"
          "   epoch 1 and 0.7 at epoch 500, then down to 0.031 at epoch 10 000)")

    # 3. Read the linear system back from the trained weights.
    back = readback(res.weights, scl=run.info["scl"], Ts=run.info["Ts"])
    print(f"read-back DC gain {float(control.dcgain(back.system)):.4f} (plant {facts['dcgain'][0, 0]:.4f})")

    args.out.mkdir(parents=True, exist_ok=True)
    plot_response(run, args.out / "approx_response.png")
    print(f"wrote {args.out / 'approx_response.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
