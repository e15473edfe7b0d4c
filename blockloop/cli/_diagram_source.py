"""The DIAGRAM argument shared by ``blockloop loops`` and ``blockloop draw``.

``lstm``, ``gru`` and ``rnn`` are the built-in LSTM, GRU and Elman RNN networks (random weights;
the structure does not depend on them); a ``.pt``/``.pth`` file is a PyTorch
``state_dict`` of an ``nn.LSTM`` and optional ``nn.Linear`` (read with ``torch.load(weights_only=True)``)
or a TorchScript archive of one (``torch.jit.load``);
anything else is a diagram file written by :func:`blockloop.io.save_diagram`.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ParameterError

__all__ = ["add_diagram_arguments", "diagram_from_args", "BUILTIN", "BUILTINS"]

BUILTIN = "lstm"
#: Built-in networks by name → (weights class, network builder) in :mod:`blockloop.diagrams`.
BUILTINS = {"lstm": ("NetworkWeights", "lstm_network"), "gru": ("GRUNetworkWeights", "gru_network"),
            "rnn": ("RNNNetworkWeights", "rnn_network")}
_SHAPE_FLAGS = ("layers", "ni", "nn", "no")


def add_diagram_arguments(p) -> None:
    """Add the positional DIAGRAM and the LSTM shape options to parser ``p``."""
    p.add_argument("diagram", metavar="DIAGRAM",
                   help="'lstm', 'gru' or 'rnn' (a built-in network), a diagram file (.json) written by "
                        "save_diagram, or a PyTorch file (.pt/.pth: a state_dict or a TorchScript archive) of an "
                        "nn.LSTM and optional nn.Linear")
    p.add_argument("--layers", type=int, default=None, help="built-in network: stacked layers (default 1)")
    p.add_argument("--ni", type=int, default=None, help="built-in network: inputs (default 4)")
    p.add_argument("--nn", type=int, default=None, help="built-in network: units per layer (default 3)")
    p.add_argument("--no", type=int, default=None, help="built-in network: outputs (default 2)")


def diagram_from_args(args):
    """``(diagram, label_words)`` from the parsed DIAGRAM arguments.

    ``label_words`` names loops closed by delays called ``c_delay`` and ``h_delay`` (the
    LSTM's) "cell" and "hidden"; other delays keep their own names in the labels.

    Raises
    ------
    ParameterError
        LSTM shape options given with a file, a non-positive shape, or ``blockloop.io`` cannot
        read diagram files.
    DiagramFileError, BlockloopError
        The file is missing or not a valid diagram file.
    """
    if args.diagram in BUILTINS:
        return _builtin(args), _lstm_words()
    given = [f"--{f}" for f in _SHAPE_FLAGS if getattr(args, f) is not None]
    if given:
        raise ParameterError(f"{', '.join(given)} only shape the built-in {'/'.join(BUILTINS)} networks; "
                             f"drop them when reading the file '{args.diagram}'")
    try:
        from ..io import load_diagram
    except ImportError as exc:  # pragma: no cover - blockloop.io ships with the package
        raise ParameterError(f"cannot read diagram files here ({exc}); use the built-in '{BUILTIN}'") from None
    path = Path(args.diagram)
    if path.suffix.lower() in (".pt", ".pth"):
        return diagram_from_model_file(path), _lstm_words()
    if not path.exists():
        raise ParameterError(f"DIAGRAM: '{args.diagram}' is neither a built-in network ({', '.join(BUILTINS)}) "
                             "nor an existing diagram file (.json written by blockloop.io.save_diagram)")
    return load_diagram(path), _lstm_words()


def diagram_from_model_file(path):
    """The LSTM diagram of a PyTorch file (``.pt``/``.pth``), named after the file's stem.

    Read with ``blockloop.interop.torch_file.load_torch_model`` (a state_dict with
    ``torch.load(weights_only=True)``, a TorchScript archive with ``torch.jit.load``);
    a file it cannot map is a ``ModelFileError`` naming the key or module.
    """
    from ..diagrams import lstm_network
    from ..interop.torch_file import load_torch_model

    return lstm_network(load_torch_model(path), name=Path(path).stem)


def _builtin(args):
    from .. import diagrams

    weights_class, builder = (getattr(diagrams, name) for name in BUILTINS[args.diagram])
    shape = {"layers": 1, "ni": 4, "nn": 3, "no": 2}
    for flag in _SHAPE_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise ParameterError(f"--{flag}: expected a positive integer, got {value}")
            shape[flag] = value
    weights = weights_class.random(shape["ni"], shape["nn"], shape["no"], n_layers=shape["layers"], seed=0)
    return builder(weights)


def _lstm_words():
    from ..viz.style import LSTM_LOOP_NAMES

    return LSTM_LOOP_NAMES
