"""``blockloop simulate``: run a saved diagram file on input arrays; save and plot what it logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ParameterError, SimulationError
from ._args import add_backend_option, positive_float, positive_int

if TYPE_CHECKING:
    import numpy as np

__all__ = ["register", "run", "read_inputs", "write_result"]

log = logging.getLogger(__name__)

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run a saved diagram (.json + .npz) and save/plot its signals",
                       description=__doc__)
    p.add_argument("file", help="diagram file written by save_diagram (.json; its arrays in the .npz beside it), "
                                "or a PyTorch file (.pt/.pth: a state_dict or a TorchScript archive) of an nn.LSTM "
                                "and optional nn.Linear")
    p.add_argument("--input", "-i", action="append", default=[], metavar="SPEC",
                   help="input data: FILE.npy for a one-input diagram, FILE.npz holding one array per input "
                        "name, or NAME=FILE.npy; repeat for several. Arrays are (T, n) or (T, B, n)")
    p.add_argument("--out", "-o", metavar="FILE.npz",
                   help="write t and every output and probe (arrays (T, n) or (T, B, n)) to this .npz")
    p.add_argument("--ts", type=positive_float, default=None, metavar="S",
                   help="sample time in seconds (default: the diagram file's sample_time, else 1)")
    p.add_argument("--steps", type=positive_int, metavar="T", help="steps to run (default: the inputs' length)")
    p.add_argument("--probe", action="append", default=[], metavar="BLOCK.PORT",
                   help="also log this signal, with flattened names, e.g. lstm1/sig_f.y; repeatable")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of every signal, state and parameter (default float64)")
    p.add_argument("--plot", metavar="FILE.png", help="save a stairs plot of every logged signal (.png/.svg/.pdf)")
    add_backend_option(p)
    p.set_defaults(run=run)


def _load_array(path: str, what: str) -> np.ndarray | dict:
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SimulationError(f"{what}: no such file '{path}'") from None
    except (OSError, ValueError, EOFError) as exc:
        raise SimulationError(f"{what}: cannot read '{path}' as .npy/.npz without pickle ({exc})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            return {key: data[key] for key in data.files}
    return data


def read_inputs(specs: list[str], input_names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Turn ``--input`` specs into ``{input name: array}``.

    A spec is an existing file (``.npy`` for a one-input diagram, ``.npz`` keyed by input
    name) or ``NAME=FILE.npy``.

    Raises
    ------
    SimulationError
        A missing or unreadable file, an unknown input name, or an input given twice.
    """
    inputs: dict[str, np.ndarray] = {}

    def put(name: str, arr, origin: str) -> None:
        if name not in input_names:
            raise SimulationError(f"--input {origin}: the diagram has no input '{name}'; its inputs are "
                                  f"{list(input_names) or 'none'}")
        if name in inputs:
            raise SimulationError(f"--input {origin}: input '{name}' is given twice")
        inputs[name] = arr

    for spec in specs:
        name, eq, path = spec.partition("=")
        if eq and not Path(spec).exists():
            data = _load_array(path, f"--input {spec}")
            if isinstance(data, dict):
                raise SimulationError(f"--input {spec}: NAME=FILE takes one .npy array; give an .npz on its own")
            put(name, data, spec)
            continue
        data = _load_array(spec, f"--input {spec}")
        if isinstance(data, dict):
            for key, arr in data.items():
                put(key, arr, f"{spec} (array '{key}')")
        elif len(input_names) == 1:
            put(input_names[0], data, spec)
        else:
            raise SimulationError(f"--input {spec}: the diagram has inputs {list(input_names)}; "
                                  "say which with NAME=FILE.npy, or give an .npz with one array per input")
    return inputs


def write_result(result, path: str | Path) -> list[str]:
    """Save ``t`` and every logged signal of ``result`` to an ``.npz``; return the keys written."""
    from ..io._npz import write_npz

    signals = result.signals
    if "t" in signals:
        raise ParameterError("a logged signal is named 't', which the .npz uses for time; rename that Outport")
    write_npz(path, {"t": result.t, **signals})
    return ["t", *signals]


def _check_paths(args) -> None:
    if args.out is not None and Path(args.out).suffix != ".npz":
        raise ParameterError(f"--out {args.out}: use a file name ending in .npz")
    if args.plot is not None and Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
        raise ParameterError(f"--plot {args.plot}: use a file name ending in {', '.join(PLOT_SUFFIXES)}")


def _missing_inputs(program, inputs) -> None:
    missing = [n for n in program.inputs if n not in inputs]
    if missing:
        wanted = ", ".join(f"{n} (T, {program.size(n, 'y')})" for n in missing)
        raise SimulationError(f"no data for diagram input {wanted}; pass --input NAME=FILE.npy "
                              f"(or FILE.npy when there is one input)")


def summary(result, name: str, source: str, dtype: str) -> str:
    """A few lines: time grid, and shape and range of every logged signal."""
    batch = next(iter(result.signals.values())).shape[1] if result.batched and result.signals else None
    lines = [f"simulated '{name}' from {source}: T = {len(result.t)} steps, Ts = {result.Ts:g} s, {dtype}"
             + (f", batch of {batch}" if batch else "")]
    width = max((len(k) for k in result.signals), default=0)
    for key, arr in result.signals.items():
        lines.append(f"  {key:<{width}}  {str(tuple(arr.shape)):<14} min {arr.min():<11.4g} max {arr.max():.4g}")
    return "\n".join(lines)


def run(args) -> int:
    from ..io import load_diagram

    _check_paths(args)
    if Path(args.file).suffix.lower() in (".pt", ".pth"):
        from ._diagram_source import diagram_from_model_file

        diagram = diagram_from_model_file(args.file)
    else:
        diagram = load_diagram(args.file)
    program = diagram.compile(dtype=args.dtype)
    inputs = read_inputs(args.input, program.inputs)
    _missing_inputs(program, inputs)
    if not program.inputs and args.steps is None:
        raise SimulationError(f"diagram '{diagram.name}' has no inputs (its signals come from sources such as Step "
                              "or Sine), so there is no data to take the length from; pass --steps T")
    result = program.simulate(inputs, steps=args.steps, Ts=args.ts, probes=args.probe, backend=args.backend)
    print(summary(result, diagram.name, args.file, args.dtype))
    if args.out is not None:
        keys = write_result(result, args.out)
        print(f"wrote {args.out} ({', '.join(keys)})")
    if args.plot is not None:
        result.plot(file=args.plot, title=diagram.name)
        print(f"wrote {args.plot}")
    return 0
