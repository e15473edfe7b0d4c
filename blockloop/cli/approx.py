"""``blockloop approx``: LSTM weights computed from (A, B, C, D) and how well they reproduce the system.

JSON output (``--json``): one object with ``W`` (4·Nn × m), ``R`` (4·Nn × Nn), ``b`` (4·Nn),
``F`` (p × Nn) as nested lists in MATLAB layout (rows first, gate blocks i, f, g, o);
``error_norm`` (MATLAB ``norm(y − z)``); ``dcgain`` (p × m); ``zeros`` and ``poles`` as lists of
``[re, im]`` pairs; ``zpk_gain`` (SISO, else null); ``A``, ``B``, ``C``, ``D`` of the realization
used; ``realization``, ``units``, ``nn``, ``scl``, ``beta``, ``Ts``, ``steps``, ``seed``,
``max_hidden_expected``; and with ``--sweep`` a ``sweep`` list of rows.
"""

from __future__ import annotations

import json

from ._args import LazyChoices, seed

__all__ = ["register", "run", "as_json"]

SWEEP_SCLS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
SWEEP_BETAS = (2.0, 5.0, 10.0, 20.0, 100.0)


def register(sub) -> None:
    p = sub.add_parser("approx", help="LSTM weights from a linear system (A, B, C, D) and the approximation error",
                       description="Compute LSTM weights that reproduce a discrete linear system (A, B, C, D), "
                                   "simulate both on the same random input and report norm(y - z).")
    p.add_argument("--system", metavar="FILE", help=".npz or .json with A, B, C, D [, Ts] "
                   "(default: the reference system zpk(-4, [-9±5i, -2±50i], 5e5), ZOH at 0.01 s)")
    p.add_argument("--units", choices=("n+m", "n"), default="n+m",
                   help="LSTM units: n+m (states + inputs, exact D; default) or n (states only)")
    p.add_argument("--scl", type=float, default=1e-3, help="input scaling scl (default 1e-3)")
    p.add_argument("--beta", type=float, default=100.0, help="gate bias magnitude β (default 100)")
    p.add_argument("--realization", choices=LazyChoices("blockloop.study.realizations", "REALIZATIONS"),
                   default=None, metavar="NAME",
                   help="state coordinates: %(choices)s; default: 'matlab' (MATLAB's ss(zpk), as the "
                        "reference) for the reference system, 'as_given' for --system FILE")
    p.add_argument("--state-std", type=float, default=None,
                   help="with --realization unit_covariance: target std of each state (default 1)")
    p.add_argument("--steps", type=int, default=51, help="validation steps T (default 51: t = 0…0.5 s)")
    p.add_argument("--seed", type=seed, default=0, help="input: numpy default_rng(seed).standard_normal")
    p.add_argument("--crosscheck", action="store_true", help="also run nn.LSTM (PyTorch) and report the difference")
    p.add_argument("--json", action="store_true", help="print one JSON object (see the module doc for keys)")
    p.add_argument("--plot", metavar="FILE", help="save a PNG: y and z (or, with --sweep, error vs scl)")
    p.add_argument("--sweep", action="store_true",
                   help="also sweep scl over 1e-1…1e-6 and β over 2…100 for every realization")
    p.set_defaults(run=run)


def _complex_pairs(values) -> list[list[float]]:
    import numpy as np

    return [[float(np.real(v)), float(np.imag(v))] for v in np.asarray(values).ravel()]


def as_json(run, facts: dict, args, rows=None) -> dict:
    """The JSON object printed by ``--json`` (see the module docstring for the keys)."""
    import numpy as np

    layer = run.weights.layers[0]
    sys = run.info["system"]
    out = {"W": layer.W.tolist(), "R": layer.R.tolist(), "b": layer.b.tolist(), "F": run.weights.F.tolist(),
           "error_norm": run.error_norm, "dcgain": np.asarray(facts["dcgain"]).tolist(),
           "zeros": _complex_pairs(facts["zeros"]), "poles": _complex_pairs(facts["poles"]),
           "zpk_gain": facts["zpk_gain"], "A": np.asarray(sys.A).tolist(), "B": np.asarray(sys.B).tolist(),
           "C": np.asarray(sys.C).tolist(), "D": np.asarray(sys.D).tolist(),
           "realization": run.info["realization"], "state_std": run.info["state_std"], "units": run.info["units"],
           "nn": run.info["nn"], "scl": run.info["scl"], "beta": run.info["beta"], "Ts": run.info["Ts"],
           "steps": int(run.u.shape[0]), "seed": args.seed, "max_hidden_expected": run.info["max_hidden_expected"],
           "torch_diff": run.torch_diff, "input": "numpy default_rng(seed).standard_normal((steps, m))"}
    if rows is not None:
        out["sweep"] = rows
    return out


def dumps_by_key(obj: dict) -> str:
    """JSON with one top-level key per line and each value (arrays included) on that line."""
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items()) + "\n}"


def run(args) -> int:
    from ..study.approx import approximate, default_realization, format_sweep, plot_response, plot_sweep, sweep
    from ..study.realizations import REALIZATIONS
    from ..study.systems import load_system, reference_system, system_facts
    from .crosscheck import _check_plot_path

    _check_plot_path(args.plot)
    system = reference_system() if args.system is None else load_system(args.system)
    if args.realization is None:  # the library's default, so that the command and approximate() agree
        args.realization = default_realization(args.system)
    result = approximate(system, units=args.units, scl=args.scl, beta=args.beta, realization=args.realization,
                         steps=args.steps, seed=args.seed, crosscheck=args.crosscheck, state_std=args.state_std)
    facts = system_facts(system)
    rows = None
    if args.sweep:
        names = [r for r in REALIZATIONS if r != "matlab" or system.ninputs == system.noutputs == 1]
        rows = sweep(system, scls=SWEEP_SCLS, betas=SWEEP_BETAS, realizations=names, units=args.units,
                     steps=args.steps, seed=args.seed, state_std=args.state_std)
    if args.plot:
        if rows is not None:
            plot_sweep(rows, args.plot)
        else:
            plot_response(result, args.plot)
    if args.json:
        print(dumps_by_key(as_json(result, facts, args, rows)))
    else:
        print(format_text(result, facts, args.system))
        if rows is not None:
            print(format_sweep(rows))
    if args.plot and not args.json:
        print(f"plot written to {args.plot}")
    return 0


def _fmt(value) -> str:
    return "n/a (unstable system)" if value is None else f"{value:.3g}"


def format_text(run, facts: dict, source) -> str:
    """The human-readable summary printed without ``--json``."""
    import numpy as np

    np_opts = {"precision": 4, "suppress_small": True, "max_line_width": 110}
    info = run.info
    zeros = ", ".join(f"{z:.4g}" for z in facts["zeros"]) or "none"
    poles = ", ".join(f"{p:.4g}" for p in facts["poles"])
    lines = [f"system: {source or 'reference zpk(-4, [-9±5i, -2±50i], 5e5), ZOH Ts = 0.01 s'}  "
             f"(n={facts['n']}, m={facts['m']}, p={facts['p']}, Ts={facts['Ts']:g} s)",
             f"dcgain: {np.array2string(np.asarray(facts['dcgain']), **np_opts)}",
             f"zeros: {zeros}", f"poles: {poles}"]
    if facts["zpk_gain"] is not None:
        lines.append(f"zpk gain: {facts['zpk_gain']:.6g}")
    lines += [f"realization: {info['realization']}   units: {info['units']} (Nn = {info['nn']})   "
              f"scl = {info['scl']:g}   beta = {info['beta']:g}",
              f"expected max |h| (3 sigma, unit-variance input): {_fmt(info['max_hidden_expected'])}",
              f"F = {np.array2string(run.weights.F, **np_opts)}",
              f"norm(y - z) over {run.u.shape[0]} steps: {run.error_norm:.6g}"]
    if run.torch_diff is not None:
        lines.append(f"diagram vs nn.LSTM (float64), norm: {run.torch_diff:.3e}")
    return "\n".join(lines)
