"""PyTorch model files (``.pt``/``.pth``) of one ``nn.LSTM`` and an optional ``nn.Linear``.

Either a saved ``state_dict`` or a TorchScript archive of the model.

**state_dict files** (``torch.save(model.state_dict(), path)``) are read with ``torch.load(path,
weights_only=True, map_location="cpu")``: PyTorch's restricted unpickler, which builds tensors and
plain containers only and refuses any other object (a whole pickled ``nn.Module``, a custom class, a
``__reduce__`` payload) without running it. The tensors are then loaded into an ``nn.LSTM`` (and
``nn.Linear``) of the shapes they imply, with ``load_state_dict(strict=True)``, and mapped to
:class:`NetworkWeights` by :func:`blockloop.interop.torch.from_torch`; the diagram's bias is
``bias_ih + bias_hh``.

Accepted keys: those of a bare ``nn.LSTM`` (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, … ``_l{L-1}``) or of a module holding one under a prefix (``lstm.weight_ih_l0``…),
plus at most one ``nn.Linear`` (``fc.weight`` and optionally ``fc.bias``, any prefix) reading
the last layer's hidden state. A checkpoint dict whose only tensor dict sits under
``"state_dict"`` or ``"model_state_dict"`` is unwrapped. Anything else — bidirectional
(``_reverse``) or projected (``weight_hr_l0``, proj_size > 0) LSTMs, several LSTMs or linear
layers, other modules, wrong shapes — is a :class:`~blockloop.errors.ModelFileError` naming
the key or module and why.

**TorchScript archives** (``torch.jit.save(torch.jit.script(model), path)``, or a traced model)
are recognised by their ``code/`` folder and read with ``torch.jit.load(path, map_location="cpu")``.
A TorchScript archive holds no Python pickles of user classes: its modules are TorchScript code
(compiled, not Python) and its tensors; ``torch.jit.load`` unpickles nothing else. (Like any model
file, load only archives you trust: TorchScript ``__setstate__`` methods run while loading.) The
module tree is read, not the ``forward``: every module with parameters must be an ``nn.LSTM``
(exactly one, forward, unprojected) or an ``nn.Linear`` (at most one, reading the last layer's h);
other leaf modules may only be ``nn.Dropout`` or ``nn.Identity`` (the identity at inference). A module the importer
cannot map is a :class:`~blockloop.errors.ModelFileError` naming it, its type and why. The
weights then go through the same state_dict mapping. What ``forward`` computes (e.g. a
functional activation after the ``nn.Linear``) is not visible: blockloop's diagram is
``y = F·h + F_bias`` of the last layer's h at every step.

A whole pickled model (``torch.save(model)``) is refused, unrun, by ``weights_only=True``, with
the hint to save a state_dict or a scripted model. PyTorch is imported inside the functions.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import ModelFileError

__all__ = ["TORCH_SUFFIXES", "load_torch_model", "load_torch_state_dict", "weights_from_state_dict",
           "is_torchscript", "load_script_module", "weights_from_script_module"]

#: File name endings read as PyTorch files by the command line (``--model``, ``blockloop import``).
TORCH_SUFFIXES = (".pt", ".pth")
_LSTM_KEY = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(?P<k>\d+)"
                       r"(?P<reverse>_reverse)?$")
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict")
#: Leaf modules of a TorchScript model that have no effect on the diagram (the identity at inference).
_NEUTRAL_MODULES = ("Dropout", "Identity")  # the identity at inference
_SAVE_HINT = ("save model.state_dict() with torch.save, or a scripted model with "
              "torch.jit.save(torch.jit.script(model), path)")


def load_torch_model(path):
    """:class:`NetworkWeights` of the PyTorch file ``path``: a state_dict or a TorchScript archive (see the module
    docstring for what it may hold)."""
    if is_torchscript(path):
        return weights_from_script_module(load_script_module(path), path)
    return weights_from_state_dict(load_torch_state_dict(path), path)


def is_torchscript(path) -> bool:
    """Whether ``path`` is a TorchScript archive: a zip file with a ``<name>/code/`` folder (False if unreadable)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def load_script_module(path):
    """The TorchScript module saved in ``path``, read with ``torch.jit.load(path, map_location="cpu")``.

    Raises :class:`ModelFileError` when the archive cannot be read.
    """
    import warnings

    from .torch import _torch

    torch = _torch()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, ValueError... on a bad archive
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"not a readable TorchScript archive ({type(exc).__name__}: {line[:300]})",
                             path=str(path)) from None


def weights_from_script_module(module, path=None):
    """:class:`NetworkWeights` of a TorchScript module holding one ``nn.LSTM`` and an optional ``nn.Linear``.

    Checks the module tree (see the module docstring), then maps ``module.state_dict()`` with
    :func:`weights_from_state_dict`. Raises :class:`ModelFileError` naming the first module that
    cannot be mapped (``'(top level)'`` for the root) and why.
    """
    where = None if path is None else str(path)
    found: dict[str, list[str]] = {"LSTM": [], "Linear": []}
    for name, sub in module.named_modules():
        kind = getattr(sub, "original_name", type(sub).__name__)
        label = f"module '{name or '(top level)'}' ({kind})"
        own = [p for p, _ in sub.named_parameters(recurse=False)]
        if kind in found:
            found[kind].append(name or "(top level)")
            if kind == "LSTM":
                _check_script_lstm(sub, label, where)
        elif own:
            raise ModelFileError(f"{label} has parameters ({', '.join(own[:4])}) but is neither an nn.LSTM nor an "
                                 "nn.Linear; blockloop maps one nn.LSTM and an optional nn.Linear", path=where)
        elif not list(sub.children()) and kind not in _NEUTRAL_MODULES:
            raise ModelFileError(f"{label}: a layer the diagram has no block for (blockloop maps one nn.LSTM, an "
                                 "optional nn.Linear, and nn.Dropout or nn.Identity, the identity at inference)",
                                 path=where)
    for kind, names in found.items():
        if len(names) > 1 or (kind == "LSTM" and not names):
            listed = ", ".join(f"'{n}'" for n in names) or "none"
            raise ModelFileError(f"{len(names)} nn.{kind} modules ({listed}); blockloop maps exactly one nn.LSTM and "
                                 "at most one nn.Linear", path=where)
    return weights_from_state_dict(dict(module.state_dict()), path)


def _check_script_lstm(lstm, label: str, where) -> None:
    """Refuse, by name, a scripted nn.LSTM the diagram cannot be: bidirectional or projected."""
    if getattr(lstm, "bidirectional", False):
        raise ModelFileError(f"{label}: a bidirectional nn.LSTM has no diagram here; blockloop maps forward LSTMs",
                             path=where)
    if getattr(lstm, "proj_size", 0):
        raise ModelFileError(f"{label}: an nn.LSTM with proj_size = {lstm.proj_size} (projected hidden state) has "
                             "no diagram here", path=where)


def load_torch_state_dict(path):
    """The ``{name: tensor}`` dict saved in ``path``, read with ``torch.load(weights_only=True)``.

    Raises :class:`ModelFileError` when the file is missing, is not a PyTorch file, holds
    anything but tensors and plain containers (refused by the restricted unpickler, never run),
    or is not a dict of tensors.
    """
    import pickle
    import warnings

    from .torch import _torch

    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("no such file", path=str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the refusal below says enough
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        detail = text.split("WeightsUnpickler error:", 1)[-1].split("Check the documentation", 1)[0]
        # torch's own advice (allow-list the class with add_safe_globals) does not apply: blockloop never does
        detail = detail.split("Please use `torch.serialization.add_safe_globals", 1)[0]
        detail = " ".join(detail.split())[:300] or type(exc).__name__
        whole = ("; a whole model saved with torch.save(model) is such a pickled object"
                 if "Unsupported global" in detail else "")
        raise ModelFileError("not a state_dict that torch.load(weights_only=True) accepts, which reads tensors and "
                             f"plain containers only (refused: {detail}){whole}; blockloop never unpickles other "
                             f"objects: {_SAVE_HINT}", path=str(path)) from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, ValueError... on a bad file
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"not a readable PyTorch file ({type(exc).__name__}: {line})", path=str(path)) from None
    if isinstance(obj, Mapping):
        nested = [k for k in _CHECKPOINT_KEYS if isinstance(obj.get(k), Mapping)]
        if nested:
            obj = obj[nested[0]]
    if not isinstance(obj, Mapping):
        raise ModelFileError(f"expected a state_dict (a dict of tensors), found a {type(obj).__name__}; "
                             f"{_SAVE_HINT}", path=str(path))
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelFileError(f"key {key!r}: expected a tensor, found a {type(value).__name__} (a state_dict maps "
                                 "parameter names to tensors)", path=str(path))
    return dict(obj)


def weights_from_state_dict(state: Mapping, path=None):
    """:class:`NetworkWeights` from the state_dict of one ``nn.LSTM`` and an optional ``nn.Linear``.

    The LSTM's input size, hidden size, layer count and bias flag are read from the tensors'
    shapes and names; the module is rebuilt (float64) and loaded with ``strict=True``. Without a
    linear layer the output matrix F is the identity (y = h of the last layer). Raises
    :class:`ModelFileError` naming the key or module that cannot be mapped, and why.
    """
    from .torch import _torch, from_torch

    torch = _torch()
    where = None if path is None else str(path)

    def fail(message):
        raise ModelFileError(message, path=where)

    lstm_keys: dict[str, dict] = {}
    others = []
    for key in state:
        m = _LSTM_KEY.match(key)
        if m is None:
            others.append(key)
            continue
        if m["reverse"]:
            fail(f"key '{key}': a bidirectional nn.LSTM (its '_reverse' weights) has no diagram here; "
                 "blockloop maps forward LSTMs")
        if m["kind"] == "weight_hr":
            fail(f"key '{key}': an nn.LSTM with proj_size > 0 (projected hidden state) has no diagram here")
        lstm_keys.setdefault(m["prefix"], {})[key] = state[key]
    if not lstm_keys:
        fail("no nn.LSTM found: expected keys like 'weight_ih_l0' or 'lstm.weight_ih_l0'"
             + (f" (found {', '.join(sorted(state)[:6])}{', ...' if len(state) > 6 else ''})" if state else
                " (the state_dict is empty)"))
    if len(lstm_keys) > 1:
        names = ", ".join(f"'{p.rstrip('.') or '(top level)'}'" for p in sorted(lstm_keys))
        fail(f"several nn.LSTM modules ({names}); blockloop maps one nn.LSTM and an optional nn.Linear")
    prefix, sub = next(iter(lstm_keys.items()))
    module = prefix.rstrip(".") or "the nn.LSTM"
    first = f"{prefix}weight_ih_l0"
    if first not in sub:
        fail(f"module {module}: missing key '{first}'")
    w_ih = sub[first]
    hh = sub.get(f"{prefix}weight_hh_l0")
    if w_ih.ndim != 2 or w_ih.shape[0] % 4 or hh is None or hh.ndim != 2:
        fail(f"module {module}: '{first}' has shape {tuple(w_ih.shape)} and '{prefix}weight_hh_l0' "
             f"{'is missing' if hh is None else f'has shape {tuple(hh.shape)}'}; expected (4·hidden, input) "
             "and (4·hidden, hidden)")
    hidden, ni = w_ih.shape[0] // 4, w_ih.shape[1]
    layers = 1 + max(int(_LSTM_KEY.match(k)["k"]) for k in sub)
    bias = f"{prefix}bias_ih_l0" in sub or f"{prefix}bias_hh_l0" in sub
    lstm = torch.nn.LSTM(ni, hidden, num_layers=layers, bias=bias, batch_first=True, dtype=torch.float64)
    expected = {f"{prefix}{name}" for name in lstm.state_dict()}
    missing = sorted(expected - set(sub))
    if missing:
        fail(f"module {module}: missing key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)} "
             f"(an nn.LSTM({ni}, {hidden}, num_layers={layers}, bias={bias}) has {len(expected)})")
    _load(lstm, {k[len(prefix):]: v for k, v in sub.items()}, module, fail)
    linear = _linear(state, others, hidden, fail, torch)
    return from_torch(lstm, linear)


def _linear(state, others, hidden: int, fail, torch):
    """The ``nn.Linear`` of the keys left over after the LSTM's, or None when there are none."""
    if not others:
        return None
    prefixes = sorted({k[: -len("weight")] for k in others if k.endswith("weight")})
    if len(prefixes) != 1:
        what = (f"several weight matrices ({', '.join(p + 'weight' for p in prefixes)})" if prefixes
                else f"key{'s' if len(others) > 1 else ''} {', '.join(repr(k) for k in others)} of no nn.Linear")
        fail(f"{what}: blockloop maps one nn.LSTM and at most one nn.Linear after it")
    prefix = prefixes[0]
    module = prefix.rstrip(".") or "the nn.Linear"
    stray = [k for k in others if k not in (f"{prefix}weight", f"{prefix}bias")]
    if stray:
        fail(f"key{'s' if len(stray) > 1 else ''} {', '.join(repr(k) for k in stray)}: not part of the nn.LSTM or "
             f"of the nn.Linear '{module}'; blockloop maps one nn.LSTM and at most one nn.Linear")
    weight = state[f"{prefix}weight"]
    if weight.ndim != 2 or weight.shape[1] != hidden:
        fail(f"module {module}: weight has shape {tuple(weight.shape)}; an nn.Linear reading the LSTM's {hidden} "
             f"hidden units needs (outputs, {hidden})")
    has_bias = f"{prefix}bias" in state
    linear = torch.nn.Linear(hidden, weight.shape[0], bias=has_bias, dtype=torch.float64)
    _load(linear, {k[len(prefix):]: state[k] for k in others}, module, fail)
    return linear


def _load(module, tensors, name, fail) -> None:
    """``module.load_state_dict(tensors, strict=True)``; a size mismatch becomes a ModelFileError naming ``name``."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = "; ".join(lines[1:4]) or (lines[0] if lines else "")
        fail(f"module {name}: the tensors do not fit an nn.{type(module).__name__} ({detail})")
