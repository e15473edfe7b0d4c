"""``blockloop import MODEL.onnx --out net.json``: draw an ONNX model as a blockloop diagram file.

The model's recurrent layers (LSTM, GRU, RNN; forward) and its fully connected head become a
diagram (``blockloop.interop.onnx.load_onnx``), saved with ``blockloop.io.save_diagram`` as
``net.json`` + ``net.npz``; ``blockloop loops``, ``draw`` and ``simulate`` then work on it. With
``--check`` the diagram is also run against the file in onnxruntime and onnx.reference.
Needs the ``onnx`` extra. ``blockloop import MODEL.pt|.pth`` reads a PyTorch ``state_dict`` of an
``nn.LSTM`` and optional ``nn.Linear`` instead (``torch.load(weights_only=True)``), or a TorchScript
archive of such a model (``torch.jit.load``; see ``blockloop.interop.torch_file``); ``--check`` then
compares the diagram with ``nn.LSTM``.
"""

from __future__ import annotations

import json

__all__ = ["register", "run", "describe"]


def register(sub) -> None:
    p = sub.add_parser("import", help="turn an ONNX model (LSTM/GRU/RNN + dense head) into a diagram file",
                       description=__doc__)
    p.add_argument("model", metavar="MODEL",
                   help="the ONNX model file (.onnx), or a PyTorch file (.pt/.pth) of an nn.LSTM and optional "
                        "nn.Linear: a state_dict, read with torch.load(weights_only=True), or a TorchScript archive "
                        "(torch.jit.save(torch.jit.script(model))), read with torch.jit.load; no Python object is "
                        "unpickled")
    p.add_argument("--out", required=True, metavar="NET.json",
                   help="the diagram file to write (a NET.npz with the arrays is written beside it)")
    p.add_argument("--output", metavar="NAME", default=None,
                   help="the graph output to follow when the model has several")
    p.add_argument("--name", default=None, help="the diagram's name (default: the file's stem)")
    p.add_argument("--check", action="store_true",
                   help="also cross-check the diagram against the file (onnxruntime float32, onnx.reference float64)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def describe(net) -> dict:
    """A JSON-able summary of an imported :class:`~blockloop.interop.onnx.OnnxNetwork`."""
    from ..interop._onnx_graph import ActivationStage, BiasStage, GainStage, GruStage, LstmStage, RnnStage

    stages = []
    for s in net.stages:
        if isinstance(s, LstmStage):
            stages.append(f"LSTM({s.weights.nn}{', peepholes' if s.peepholes else ''})")
        elif isinstance(s, GruStage):
            stages.append(f"GRU({s.weights.nn}, linear_before_reset={int(s.linear_before_reset)})")
        elif isinstance(s, RnnStage):
            stages.append(f"RNN({s.weights.nn})")
        elif isinstance(s, GainStage):
            stages.append(f"gain{list(s.K.shape)}" if s.K.ndim else "gain(scalar)")
        elif isinstance(s, BiasStage):
            stages.append(f"bias[{s.b.shape[0]}]")
        elif isinstance(s, ActivationStage):
            stages.append(s.kind)
    return {"input": net.input_name, "input_shape": list(net.input_shape),
            "input_axes": [r or "size 1" for r in net.input_roles], "output": net.output_name,
            "ni": net.ni, "no": net.no, "stages": stages, "last_step": net.last_step, "dtype": net.dtype}


def _load(path, output):
    from ..errors import ParameterError

    try:
        from ..interop.onnx import load_onnx

        return load_onnx(path, output=output)
    except ImportError as exc:
        raise ParameterError(str(exc)) from None


def run(args) -> int:
    from pathlib import Path

    from ..io import save_diagram

    if Path(args.model).suffix.lower() in (".pt", ".pth"):
        return _run_torch(args)
    net = _load(args.model, args.output)
    name = args.name or Path(args.model).stem
    diagram = net.diagram(name=name)
    save_diagram(diagram, args.out)
    info = describe(net) | {"diagram": str(args.out)}
    status = 0
    if args.check:
        import numpy as np

        from ..interop.onnx import crosscheck_onnx

        u = np.random.default_rng(0).standard_normal(_input_shape(net, _steps(net, 51), None))
        report = crosscheck_onnx(net, u)
        info["crosscheck"] = report.as_dict()
        status = 0 if report.ok else 1
    if args.json:
        print(json.dumps(info, indent=2))
        return status
    print(f"{args.model}: {' → '.join(info['stages'])} (input '{net.input_name}' {info['input_shape']}, axes "
          f"{', '.join(info['input_axes'])}; output '{net.output_name}', {net.dtype})")
    if net.last_step:
        print("the model's output is the diagram's y at the last time step (it reads the last hidden state)")
    npz = Path(args.out).with_suffix(".npz").name
    print(f"wrote {args.out} (and {npz}): {name}, input u ({net.ni}), output y ({net.no})")
    if args.check:
        from .crosscheck_libraries import MODEL_LABELS, format_comparisons

        print(format_comparisons(report, f"diagram vs the file ({u.shape[0]} steps, numpy default_rng(0) input):",
                                 MODEL_LABELS))
    return status


def _run_torch(args) -> int:
    """``blockloop import MODEL.pt``: the file's LSTM network as a diagram file; ``--check`` against torch."""
    from pathlib import Path

    import numpy as np

    from ..diagrams import lstm_network
    from ..errors import ParameterError
    from ..interop.torch_file import load_torch_model
    from ..io import save_diagram

    if args.output is not None:
        raise ParameterError("--output names an ONNX graph output; a PyTorch model file has one network: drop it")
    weights = load_torch_model(args.model)
    name = args.name or Path(args.model).stem
    save_diagram(lstm_network(weights, name=name), args.out)
    units = [layer.nn for layer in weights.layers]
    identity = weights.F_bias is None and np.array_equal(weights.F, np.eye(units[-1]))
    info = {"ni": weights.ni, "nn": units, "no": weights.no, "layers": len(units),
            "head": "identity (no nn.Linear)" if identity else f"nn.Linear({units[-1]}, {weights.no})",
            "diagram": str(args.out)}
    status = 0
    if args.check:
        from ..interop.torch import crosscheck
        from .crosscheck import format_report

        report = crosscheck(weights, np.random.default_rng(0).standard_normal((51, weights.ni)))
        info["crosscheck"] = report.as_dict()
        status = 0 if report.ok else 1
    if args.json:
        print(json.dumps(info, indent=2))
        return status
    print(f"{args.model}: nn.LSTM({weights.ni}, {units[0]}, num_layers={len(units)}) → {info['head']}")
    print(f"wrote {args.out} (and {Path(args.out).with_suffix('.npz').name}): {name}, input u ({weights.ni}), "
          f"output y ({weights.no})")
    if args.check:
        print(format_report(report))
    return status


def _steps(net, default: int) -> int:
    """The model's fixed sequence length if its time axis is static, else ``default``."""
    return _static(net, "time") or default


def _static(net, role: str) -> int | None:
    """The fixed size of the model's ``role`` axis ("time" or "batch"), or None when it is dynamic or absent."""
    for r, size in zip(net.input_roles, net.input_shape, strict=True):
        if r == role and isinstance(size, int):
            return size
    return None


def _input_shape(net, steps: int, batch: int | None) -> tuple:
    """(T, Ni) or (T, B, Ni) for a run of ``net``: a fixed batch of B > 1 is used when none is asked for."""
    fixed = _static(net, "batch")
    if batch is None and fixed and fixed > 1:
        batch = fixed
    return (steps, net.ni) if batch is None else (steps, batch, net.ni)
