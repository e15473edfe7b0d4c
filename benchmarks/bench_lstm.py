"""µs/step of the LSTM diagram next to a hand-written numpy loop and torch.nn.LSTM (float64).

Case: Ni = 1, Nn = 5, No = 1, T = 1001 steps (the study's training sequence length), batch 1 or
``--batch B`` sequences at once (the diagram's signals are then (B, n) arrays).
The three are timed round-robin in one process, ``--repeats`` times each, and the medians are
compared, so that a noisy shared machine slows all of them alike.

    python benchmarks/bench_lstm.py [--repeats 15] [--batch B] [--json]
"""

from __future__ import annotations

import numpy as np

from blockloop.diagrams import NetworkWeights, lstm_network

from _timing import parse_args, report, round_robin


def numpy_loop(w: NetworkWeights, u: np.ndarray) -> np.ndarray:
    """The LSTM recurrence written by hand with numpy, one step at a time (the floor for a Python loop)."""
    L = w.layers[0]
    nn = L.nn
    WT, RT, b, F = L.W.T.copy(), L.R.T.copy(), L.b, w.F
    B = u.shape[1]
    h, c = np.tile(L.h0, (B, 1)), np.tile(L.c0, (B, 1))
    ys = np.empty((u.shape[0], B, F.shape[0]))
    for k in range(u.shape[0]):
        z = u[k] @ WT + h @ RT + b
        i = 1.0 / (1.0 + np.exp(-z[:, :nn]))
        f = 1.0 / (1.0 + np.exp(-z[:, nn:2 * nn]))
        g = np.tanh(z[:, 2 * nn:3 * nn])
        o = 1.0 / (1.0 + np.exp(-z[:, 3 * nn:]))
        c = f * c + i * g
        h = o * np.tanh(c)
        ys[k] = h @ F.T
    return ys


def main() -> None:
    args = parse_args(__doc__, repeats=15, batch=True)

    w = NetworkWeights.random(ni=1, nn=5, no=1, seed=0)
    u = np.random.default_rng(0).standard_normal((args.steps, args.batch, 1))
    program = lstm_network(w).compile()
    runners = {"blockloop diagram": lambda: program.simulate({"u": u})["y"],
               "numpy hand loop": lambda: numpy_loop(w, u)}
    try:
        import torch

        from blockloop.interop.torch import to_torch

        torch.set_num_threads(1)
        lstm, linear, (h0, c0) = to_torch(w, "float64")
        x = torch.from_numpy(np.ascontiguousarray(u.transpose(1, 0, 2)))  # (B, T, 1), batch_first
        h0, c0 = h0.expand(-1, args.batch, -1).contiguous(), c0.expand(-1, args.batch, -1).contiguous()

        def run_torch():
            with torch.no_grad():
                return linear(lstm(x, (h0, c0))[0])

        runners["torch nn.LSTM"] = run_torch
    except ImportError:
        pass

    expected = runners["blockloop diagram"]()
    np.testing.assert_allclose(runners["numpy hand loop"](), expected, atol=1e-12)
    report(round_robin(runners, args.repeats, args.steps), args)


if __name__ == "__main__":
    main()
