"""The ONNX, Keras and JAX/Flax parts of ``blockloop crosscheck``: ``--against onnx|keras|jax``, ``--model X.onnx``.

``--against`` adds, to the PyTorch comparison the command always makes, the same LSTM network
checked in other libraries: ``onnx`` (exported with ``to_onnx``, run in onnxruntime float32 and
onnx.reference float64), ``keras`` (Keras 3 on the torch backend) and ``jax`` (Flax on CPU).
``--model FILE.onnx`` imports an ONNX file instead of drawing random weights and checks the
diagram against the file. A missing optional extra is a one-line error naming the pip command.
"""

from __future__ import annotations

__all__ = ["LIBRARIES", "add_library_comparisons", "run_model", "format_comparisons", "load_torch_model"]

LIBRARIES = ("onnx", "keras", "jax")
_SHORT = {"float64": "float64", "float32": "float32", "reference_setup": "f64 vs f32", "float64_head": "f64 head"}


def _crosscheck_function(lib: str):
    from ..errors import ParameterError

    try:
        if lib == "onnx":
            import onnxruntime  # noqa: F401 - fail here, with the pip hint, rather than mid-run

            from ..interop.onnx import crosscheck_onnx as check
        elif lib == "keras":
            from ..interop.keras import _keras
            from ..interop.keras import crosscheck_keras as check

            _keras()
        else:
            from ..interop.jax import _flax
            from ..interop.jax import crosscheck_flax as check

            _flax()
    except ImportError as exc:
        hint = {"onnx": "onnx", "keras": "keras", "jax": "jax"}[lib]
        message = str(exc) if "pip install" in str(exc) else f"{exc}: pip install 'blockloop[{hint}]'"
        raise ParameterError(f"--against {lib}: {message}") from None
    return check


def add_library_comparisons(report, weights, u, Ts: float, libraries, backend: str = "auto",
                            rtol: float | None = None, atol: float | None = None) -> dict:
    """Run the network in each of ``libraries`` and add its comparisons to ``report`` as ``"<lib> <kind>"``.

    ``rtol``/``atol`` (None: the scaled default tolerances) are passed to each library's cross-check.

    Returns ``{lib: that library's CrosscheckReport}``.
    """
    reports = {}
    for lib in dict.fromkeys(libraries):
        check = _crosscheck_function(lib)
        rep = check(weights, u, Ts=Ts, backend=backend, rtol=rtol, atol=atol)
        reports[lib] = rep
        for key, comparison in rep.comparisons.items():
            report.comparisons[f"{lib} {_SHORT.get(key, key)}"] = comparison
        runtime = rep.shapes.get("runtime") or rep.shapes.get("runtimes")
        if runtime:
            report.shapes.setdefault("runtimes", {})[lib] = runtime
    return reports


def format_comparisons(report, title: str, labels: dict | None = None) -> str:
    """A table of ``report``'s comparisons (MATLAB-style norm, max |diff|, tolerance, ok)."""
    labels = labels or {}
    lines = [title, f"{'comparison':<22}{'norm (MATLAB)':>16}{'max |diff|':>14}{'tolerance':>12}  ok"]
    for key, c in report.comparisons.items():
        lines.append(f"{labels.get(key, key):<22}{c.norm:>16.3e}{c.max_abs:>14.3e}{c.tolerance:>12.1e}  "
                     f"{'yes' if c.ok else 'NO'}")
    return "\n".join(lines)


def load_torch_model(args):
    """``--model FILE.pt|.pth``: the file's NetworkWeights (see ``blockloop.interop.torch_file``); None for other files.

    Only ``--cell lstm`` applies to such a file; ``--ni/--nn/--no/--layers`` are read from it.
    """
    from pathlib import Path

    from ..errors import ParameterError
    from ..interop.torch_file import TORCH_SUFFIXES
    from ..interop.torch_file import load_torch_model as load

    if Path(args.model).suffix.lower() not in TORCH_SUFFIXES:
        return None
    if getattr(args, "cell", "lstm") != "lstm":
        raise ParameterError(f"--model {args.model}: a PyTorch file is checked as an LSTM; drop --cell {args.cell}")
    return load(args.model)


MODEL_LABELS = {"float64": "float64 (reference)", "float32": "float32 (ort)", "reference_setup": "float64 vs f32 ort"}


def run_model(args) -> int:
    """``blockloop crosscheck --model FILE.onnx``: import the file, simulate the diagram, run the file, compare."""
    import json
    from pathlib import Path

    import numpy as np

    from ..errors import ParameterError
    from .import_model import _input_shape, _load, _steps, describe

    path = Path(args.model)
    if path.suffix.lower() != ".onnx":
        raise ParameterError(f"--model {args.model}: expected an ONNX file (.onnx) or a PyTorch file (.pt, .pth)")
    _crosscheck_function("onnx")
    from ..interop.onnx import crosscheck_onnx

    net = _load(path, getattr(args, "output", None))
    steps = _steps(net, args.steps)
    shape = _input_shape(net, steps, args.batch)
    batch = shape[1] if len(shape) == 3 else None
    u = np.random.default_rng(args.seed).standard_normal(shape)
    report = crosscheck_onnx(net, u, Ts=args.ts, backend=args.backend, rtol=getattr(args, "rtol", None),
                             atol=getattr(args, "atol", None))
    if args.json:
        print(json.dumps(report.as_dict() | {"model": describe(net)}, indent=2))
    else:
        info = describe(net)
        title = (f"diagram vs ONNX file {args.model}: {' → '.join(info['stages'])}; T={steps} "
                 f"batch={batch or 'none'} Ts={args.ts:g} s"
                 + ("; the model's output is y at the last step" if net.last_step else ""))
        print(format_comparisons(report, title, MODEL_LABELS))
        runtimes = report.shapes.get("runtimes", {})
        print(f"float32: {runtimes.get('float32')}; float64: {runtimes.get('float64')}")
    return 0 if report.ok else 1
