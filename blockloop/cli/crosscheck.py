"""``blockloop crosscheck``: the LSTM diagram against PyTorch's nn.LSTM, in float64 and float32."""

from __future__ import annotations

import json
from pathlib import Path

from ._args import add_backend_option, positive_float, positive_int, seed

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("crosscheck", help="simulate the LSTM diagram and compare it with nn.LSTM",
                       description=__doc__)
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm",
                   help="the network: LSTM (default) against nn.LSTM, GRU against nn.GRU, Elman RNN against nn.RNN")
    p.add_argument("--ni", type=int, default=4, help="inputs (default 4, the reference's)")
    p.add_argument("--nn", type=int, default=3, help="units per layer (default 3)")
    p.add_argument("--no", type=int, default=2, help="outputs (default 2)")
    p.add_argument("--steps", type=positive_int, default=51, help="time steps T (default 51: t = 0…5 s)")
    p.add_argument("--ts", type=positive_float, default=0.1, help="sample time in s (default 0.1)")
    p.add_argument("--layers", type=int, default=1, help="stacked LSTM layers (default 1)")
    p.add_argument("--batch", type=positive_int, default=None, help="batch size B (default: unbatched)")
    p.add_argument("--seed", type=seed, default=0,
                   help="weights: MATLAB rng(seed)+rand; input: numpy default_rng(seed).standard_normal")
    p.add_argument("--per-gate", action="store_true", help="also compare every gate signal (float64)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--against", choices=("torch", "bdsim", "onnx", "keras", "jax"), action="extend", nargs="+",
                   default=None, metavar="LIB",
                   help="torch: compare with nn.LSTM (always done); bdsim: also run the exported diagram in bdsim 1.4 "
                        "(float64, one run per batch row, tolerance 1e-12) and time it; onnx: export to ONNX and run "
                        "it in onnxruntime (float32) and onnx.reference (float64); keras: Keras 3 LSTM + Dense on "
                        "the torch backend; jax: Flax LSTM cells on CPU. Several allowed (--against onnx keras)")
    p.add_argument("--model", metavar="MODEL", default=None,
                   help="check a model file instead of random weights. MODEL.onnx: import it as a diagram and "
                        "compare with the file run in onnxruntime and onnx.reference; MODEL.pt/.pth: a saved "
                        "state_dict of an nn.LSTM and optional nn.Linear (read with torch.load(weights_only=True), "
                        "never unpickling other objects) or a TorchScript archive of one (torch.jit.load), "
                        "checked like the random network (--ni/--nn/--no/--layers "
                        "are taken from the file; uses --steps, --batch, --seed, --ts)")
    p.add_argument("--rtol", type=_nonnegative_float, default=None, metavar="R",
                   help="relative tolerance: pass when norm(diff) ≤ atol + R·norm(y) (overrides the default, "
                        "c·eps·max(1, max|y|)·(Ni+Nn+1)·layers·√T; every cell, --against library and --model)")
    p.add_argument("--atol", type=_nonnegative_float, default=None, metavar="A",
                   help="absolute tolerance on the MATLAB norm of the difference (with --rtol, or alone)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="save the comparison plot of y: diagram float64 against torch float32 (the reference's "
                        "setup) and torch float64, with a |difference| panel (.png/.svg/.pdf)")
    add_backend_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from ..diagrams import NetworkWeights
    from ..interop.torch import crosscheck

    _check_plot_path(args.plot)
    against = args.against or ["torch"]
    weights = None
    if args.model is not None:
        from .crosscheck_libraries import load_torch_model, run_model

        weights = load_torch_model(args)  # None unless a PyTorch file (.pt/.pth)
        if weights is None:
            return run_model(args)
    ni = args.ni if weights is None else weights.ni
    shape = (args.steps, ni) if args.batch is None else (args.steps, args.batch, ni)
    # MATLAB's randn stream cannot be reproduced; the input is numpy's seeded normal.
    u = np.random.default_rng(args.seed).standard_normal(shape)
    if args.cell != "lstm":
        return _run_recurrent(args, against, u)
    if weights is None:
        weights = NetworkWeights.random(args.ni, args.nn, args.no, n_layers=args.layers, seed=args.seed)
    report = crosscheck(weights, u, Ts=args.ts, per_gate=args.per_gate, backend=args.backend,
                        rtol=args.rtol, atol=args.atol)
    if args.model is not None:
        report.shapes["model"] = str(args.model)
    bdsim_check = _against_bdsim(report, weights, u, args.ts) if "bdsim" in against else None
    if set(against) & {"onnx", "keras", "jax"}:
        from .crosscheck_libraries import LIBRARIES, add_library_comparisons

        add_library_comparisons(report, weights, u, args.ts, [a for a in against if a in LIBRARIES], args.backend,
                                rtol=args.rtol, atol=args.atol)
    if args.plot is not None:
        plot_crosscheck(report, args.plot)
    if args.json:
        out = report.as_dict()
        if bdsim_check is not None:
            out["bdsim"] = bdsim_check.as_dict()
        print(json.dumps(out, indent=2))
    else:
        print(format_report(report))
        if bdsim_check is not None:
            c = bdsim_check
            print(f"bdsim: {c.runs} run(s) of {len(c.bdsim.t)} steps in {c.run_seconds:.3f} s "
                  f"({c.us_per_step:.0f} µs/step), building and compiling {c.build_seconds:.3f} s")
        if args.plot is not None:
            print(f"wrote {args.plot}")
    return 0 if report.ok else 1


def _run_recurrent(args, against, u) -> int:
    """``--cell gru|rnn``: the GRU or Elman RNN diagram against ``nn.GRU`` / ``nn.RNN`` (float64 and float32)."""
    from .. import diagrams
    from ..errors import ParameterError
    from ..interop.torch_rnn import crosscheck

    unsupported = [f"--against {a}" for a in against if a != "torch"] + (["--per-gate"] if args.per_gate else [])
    unsupported += ["--plot"] if args.plot is not None else []
    if unsupported:
        raise ParameterError(f"--cell {args.cell}: {', '.join(unsupported)} work with --cell lstm only")
    weights_class = {"gru": diagrams.GRUNetworkWeights, "rnn": diagrams.RNNNetworkWeights}[args.cell]
    weights = weights_class.random(args.ni, args.nn, args.no, n_layers=args.layers, seed=args.seed)
    report = crosscheck(weights, u, Ts=args.ts, backend=args.backend, rtol=args.rtol, atol=args.atol)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        torch_name = {"gru": "nn.GRU", "rnn": "nn.RNN"}[args.cell]
        lines = format_report(report).replace("LSTM diagram vs torch.nn.LSTM",
                                              f"{args.cell.upper()} diagram vs torch.{torch_name}").splitlines()
        print("\n".join(line for line in lines if not line.startswith("reference (Simulink")))  # an LSTM figure
    return 0 if report.ok else 1


def _nonnegative_float(text: str) -> float:
    """A finite number ≥ 0 (``--rtol``, ``--atol``); anything else is a usage error (exit 2)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, got {text!r}")
    return value


def _check_plot_path(path) -> None:
    from ..errors import ParameterError
    from .simulate import PLOT_SUFFIXES

    if path is not None and Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise ParameterError(f"--plot {path}: use a file name ending in {', '.join(PLOT_SUFFIXES)}")


def plot_crosscheck(report, path):
    """Save y of the diagram (float64) against torch float32 and float64, with both difference traces.

    Batched runs show batch row 0. Returns the matplotlib Figure.
    """
    from ..viz.scope import plot_comparison

    runs = report.results
    s = report.shapes
    nn = s["nn"][0] if len(set(s["nn"])) == 1 else s["nn"]
    batch = f", batch row 0 of {s['batch']}" if s["batch"] else ""
    return plot_comparison(runs["diagram"]["float64"], runs["torch"]["float32"], runs["torch"]["float64"],
                           labels=("diagram float64", "torch float32", "torch float64"), signal="y",
                           title=f"LSTM y (Ni={s['ni']}, Nn={nn}, No={s['no']}, layers={s['layers']}{batch})",
                           file=path)


def _against_bdsim(report, weights, u, Ts):
    """Run the same diagram in bdsim and add a ``"bdsim"`` comparison (blockloop float64 vs bdsim)."""
    from dataclasses import replace

    from ..diagrams import lstm_network
    from ..interop.bdsim import crosscheck_bdsim

    check = crosscheck_bdsim(lstm_network(weights), {"u": u}, Ts=Ts)
    report.comparisons["bdsim"] = replace(check.comparison, per_signal={})
    return check


def format_report(report) -> str:
    s = report.shapes
    units = ",".join(str(n) for n in s["nn"])
    lines = [f"model file: {s['model']}"] if s.get("model") else []
    lines += [f"LSTM diagram vs torch.nn.LSTM: Ni={s['ni']} Nn={units} No={s['no']} layers={s['layers']} "
             f"T={s['steps']} batch={s['batch'] or 'none'} Ts={s['Ts']:g} s",
             f"{'comparison':<18}{'norm (MATLAB)':>16}{'max |diff|':>14}{'tolerance':>12}  ok"]
    labels = {"float64": "float64 vs float64", "float32": "float32 vs float32",
              "reference_setup": "float64 vs float32", "bdsim": "blockloop vs bdsim"}
    for key, c in report.comparisons.items():
        lines.append(f"{labels.get(key, key):<18}{c.norm:>16.3e}{c.max_abs:>14.3e}{c.tolerance:>12.1e}  "
                     f"{'yes' if c.ok else 'NO'}")
        for name, d in c.per_signal.items():
            lines.append(f"  {name:<16}{d['norm']:>16.3e}{d['max_abs']:>14.3e}")
    if s.get("rtol") is not None or s.get("atol") is not None:
        lines.append(f"tolerance: atol {s.get('atol') or 0:g} + rtol {s.get('rtol') or 0:g} × norm(y)")
    elif "tolerances" in s:
        lines.append("tolerances: eps · max(1, max|y|) · (Ni+Nn+1) · layers · √T of each precision")
    if s.get("tolerance_scale", 1.0) > 1.0:
        lines.append(f"tolerances are scaled by {s['tolerance_scale']:.3g} (max |y|: rounding grows with the outputs)")
    lines.append("reference (Simulink double vs toolbox single): norm 5.8006e-07")
    return "\n".join(lines)
