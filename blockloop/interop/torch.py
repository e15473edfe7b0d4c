"""PyTorch interop: nn.LSTM ⇄ NetworkWeights, and the diagram-versus-PyTorch cross-check.

PyTorch is imported inside the functions, so ``import blockloop`` never pulls it in.

PyTorch keeps two bias vectors per layer (``bias_ih`` and ``bias_hh``); the diagram has
one, their sum. Exporting puts the whole bias in ``bias_ih`` and zero in ``bias_hh``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..blocks.base import as_float_array
from ..diagrams import LayerWeights, NetworkWeights, lstm_network
from ..errors import ParameterError

__all__ = ["to_torch", "from_torch", "torch_forward", "crosscheck", "Comparison", "CrosscheckReport",
           "matlab_norm", "default_tolerance", "crosscheck_tolerances", "network_size"]

_TORCH_DTYPES = {"float64": "float64", "float32": "float32"}


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs PyTorch: pip install 'blockloop[torch]' (torch==2.13.0 on CPU)") from exc
    return torch


def _torch_dtype(dtype) -> str:
    """"float64" or "float32" from any numpy dtype spelling, else :class:`ParameterError`."""
    try:
        name = str(np.dtype(dtype))
    except TypeError:
        name = None
    if name not in _TORCH_DTYPES:
        raise ParameterError(f"dtype: expected float64 or float32, got {dtype!r}")
    return _TORCH_DTYPES[name]


def _check_weights(weights, what: str = "weights") -> NetworkWeights:
    if not isinstance(weights, NetworkWeights):
        raise ParameterError(f"{what}: expected a NetworkWeights, got {type(weights).__name__}")
    return weights


def _array(value, what: str, max_ndim: int = 3) -> np.ndarray:
    """``value`` (array, tensor, list of numbers) as float64; booleans, strings, None are refused by name."""
    if hasattr(value, "detach"):  # a tensor: leave autograd and the device behind
        value = value.detach().cpu().double().numpy()
    return as_float_array(value, what, max_ndim=max_ndim).astype(np.float64, copy=False)


def _torch_input(u, ni: int) -> np.ndarray:
    """``u`` as a float64 (T, Ni) or (T, B, Ni) array; (T,) is accepted when Ni = 1, as by the diagram."""
    u = _array(u, "u")
    if u.ndim == 1 and ni == 1:
        u = u[:, None]
    if u.ndim not in (2, 3) or u.shape[-1] != ni:
        raise ParameterError(f"u: expected shape (T, {ni}) or (T, B, {ni}), got {u.shape}")
    if 0 in u.shape[:-1]:
        raise ParameterError(f"u: expected shape (T, {ni}) or (T, B, {ni}) with T ≥ 1 and B ≥ 1, got {u.shape}")
    return u


def _set_initial_states(initial_states, weights: NetworkWeights, h0, c0, tdtype) -> None:
    """Write per-run (n,) or (B, n) initial states, keyed like the diagram's delays, into h0/c0 (L, B, Nn)."""
    torch = _torch()
    keys = {f"lstm{k}/{d}": (k - 1, d) for k in range(1, len(weights.layers) + 1) for d in ("h_delay", "c_delay")}
    if initial_states is not None and not isinstance(initial_states, Mapping):
        raise ParameterError(f"initial_states: expected a dict {{delay: array (n,) or (B, n)}}, got "
                             f"{type(initial_states).__name__}")
    for key, value in (initial_states or {}).items():
        if key not in keys:
            raise ParameterError(f"initial_states: no delay '{key}'; the delays are {', '.join(keys)}")
        k, delay = keys[key]
        target = h0 if delay == "h_delay" else c0
        value = _array(value, f"initial state of '{key}'", max_ndim=2)
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"initial state of '{key}' is not finite")
        B, n = target[k].shape
        if value.ndim not in (1, 2) or value.shape[-1] != n or (value.ndim == 2 and value.shape[0] not in (1, B)):
            raise ParameterError(f"initial state of '{key}': expected shape ({n},) or ({B}, {n}), got {value.shape}")
        target[k] = torch.as_tensor(np.broadcast_to(value, (B, n)).copy(), dtype=tdtype)


def to_torch(weights: NetworkWeights, dtype: str = "float64"):
    """Build the ``nn.LSTM`` (batch_first, ``num_layers`` = L) and ``nn.Linear`` of these weights.

    Returns ``(lstm, linear, (h0, c0))`` where h0 and c0 are (L, 1, Nn) tensors. All layers
    must have the same number of units (an ``nn.LSTM`` constraint).
    """
    torch = _torch()
    _check_weights(weights)
    tdtype = getattr(torch, _torch_dtype(dtype))
    sizes = {layer.nn for layer in weights.layers}
    if len(sizes) != 1:
        units = [layer.nn for layer in weights.layers]
        raise ParameterError(f"nn.LSTM needs the same number of units in every layer, got {units}")
    nn_units = sizes.pop()
    lstm = torch.nn.LSTM(weights.ni, nn_units, num_layers=len(weights.layers), batch_first=True, dtype=tdtype)
    linear = torch.nn.Linear(nn_units, weights.no, dtype=tdtype)
    with torch.no_grad():
        for k, layer in enumerate(weights.layers):
            getattr(lstm, f"weight_ih_l{k}").copy_(torch.from_numpy(layer.W))
            getattr(lstm, f"weight_hh_l{k}").copy_(torch.from_numpy(layer.R))
            getattr(lstm, f"bias_ih_l{k}").copy_(torch.from_numpy(layer.b))
            getattr(lstm, f"bias_hh_l{k}").zero_()
        linear.weight.copy_(torch.from_numpy(weights.F))
        if weights.F_bias is None:
            linear.bias.zero_()
        else:
            linear.bias.copy_(torch.from_numpy(weights.F_bias))
    h0 = torch.stack([torch.from_numpy(layer.h0) for layer in weights.layers])[:, None, :].to(tdtype)
    c0 = torch.stack([torch.from_numpy(layer.c0) for layer in weights.layers])[:, None, :].to(tdtype)
    return lstm, linear, (h0, c0)


def from_torch(lstm, linear=None, h0=None, c0=None) -> NetworkWeights:
    """NetworkWeights from an ``nn.LSTM`` (and an optional ``nn.Linear``; identity F if None).

    The diagram's bias is ``bias_ih + bias_hh``. ``h0``/``c0``: (L, Nn) or (L, 1, Nn) arrays
    or tensors, zeros when None. A batch of initial states (L, B, Nn) with B > 1 has no place in
    the weights (each layer has one h0 and one c0) and is rejected by name: pass it per run as
    ``initial_states`` to ``simulate`` or :func:`torch_forward` instead. Bidirectional or
    projected LSTMs are rejected.
    """
    torch = _torch()
    if not isinstance(lstm, torch.nn.LSTM):
        raise ParameterError(f"from_torch: expected a torch.nn.LSTM, got {type(lstm).__name__}")
    if linear is not None and not isinstance(linear, torch.nn.Linear):
        raise ParameterError(f"from_torch: expected a torch.nn.Linear (or None), got {type(linear).__name__}")
    if getattr(lstm, "bidirectional", False) or getattr(lstm, "proj_size", 0):
        raise ParameterError("from_torch: bidirectional or projected (proj_size > 0) LSTMs have no diagram here")

    def arr(t):
        return t.detach().cpu().double().numpy() if hasattr(t, "detach") else np.asarray(t, dtype=np.float64)

    L = lstm.num_layers
    h0 = _initial(h0, "h0", L, lstm.hidden_size)
    c0 = _initial(c0, "c0", L, lstm.hidden_size)
    layers = []
    for k in range(L):
        b = np.zeros(4 * lstm.hidden_size)
        if lstm.bias:
            b = arr(getattr(lstm, f"bias_ih_l{k}")) + arr(getattr(lstm, f"bias_hh_l{k}"))
        layers.append(LayerWeights(W=arr(getattr(lstm, f"weight_ih_l{k}")), R=arr(getattr(lstm, f"weight_hh_l{k}")),
                                   b=b, h0=h0[k], c0=c0[k]))
    if linear is None:
        return NetworkWeights(layers=tuple(layers), F=np.eye(lstm.hidden_size))
    bias = arr(linear.bias) if linear.bias is not None else None
    return NetworkWeights(layers=tuple(layers), F=arr(linear.weight), F_bias=bias)


def _initial(value, what: str, L: int, nn: int) -> np.ndarray:
    """``from_torch``'s h0/c0 as (L, Nn): zeros for None; (L, Nn) or (L, 1, Nn); else a ParameterError naming it."""
    if value is None:
        return np.zeros((L, nn))
    arr = _array(value, f"from_torch {what}")
    if arr.ndim == 3 and arr.shape[0] == L and arr.shape[2] == nn and arr.shape[1] > 1:
        raise ParameterError(f"from_torch {what}: a batch of {arr.shape[1]} initial states {arr.shape} (L, B, Nn) has "
                             "no place in the weights, which hold one per layer; pass (L, Nn) here, and a batch "
                             "per run as initial_states={'lstm1/h_delay': (B, Nn) array, ...} to simulate")
    if arr.shape not in ((L, nn), (L, 1, nn)):
        raise ParameterError(f"from_torch {what}: expected shape ({L}, {nn}) or ({L}, 1, {nn}) (layers × hidden "
                             f"units), got {arr.shape}")
    return arr.reshape(L, nn)


def torch_forward(weights: NetworkWeights, u: np.ndarray, dtype: str = "float64", initial_states=None) -> np.ndarray:
    """Run the vectorized ``nn.LSTM`` + ``nn.Linear`` on ``u`` (T, Ni) or (T, B, Ni).

    ``initial_states`` may override h0/c0 per layer with (B, Nn) arrays, keyed like the
    diagram's delays: ``"lstm1/h_delay"``, ``"lstm1/c_delay"``. Returns y shaped like u's
    layout: (T, No) or (T, B, No), as a float64 numpy array.
    """
    torch = _torch()
    u = _torch_input(u, _check_weights(weights).ni)
    lstm, linear, (h0, c0) = to_torch(weights, dtype)
    tdtype = lstm.weight_ih_l0.dtype
    batched = u.ndim == 3
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(u, 0, 1) if batched else u[None])).to(tdtype)
    B = x.shape[0]
    h0 = h0.expand(-1, B, -1).clone()
    c0 = c0.expand(-1, B, -1).clone()
    _set_initial_states(initial_states, weights, h0, c0, tdtype)
    with torch.no_grad():
        h, _ = lstm(x, (h0, c0))
        y = linear(h).double().numpy()
    return np.moveaxis(y, 0, 1) if batched else y[0]


def torch_gates(weights: NetworkWeights, u: np.ndarray, dtype: str = "float64") -> dict[str, np.ndarray]:
    """Gate, cell and hidden signals per layer, recomputed from PyTorch's hidden sequence.

    Each layer is run as its own single-layer ``nn.LSTM`` to get its h sequence; the gates
    i, f, g, o and the cell c are then recomputed in float64 from h[k−1] and the layer input,
    with the layer's W, R, b. Keys are the diagram's probe names, e.g. ``"lstm1/sig_f.y"``.
    """
    torch = _torch()
    x = _torch_input(u, _check_weights(weights).ni)
    batched = x.ndim == 3
    if not batched:
        x = x[:, None, :]
    out = {}
    for k, layer in enumerate(weights.layers, start=1):
        single = NetworkWeights(layers=(layer,), F=np.eye(layer.nn))
        h = torch_forward(single, x, dtype)  # (T, B, Nn)
        h_prev = np.concatenate([np.broadcast_to(layer.h0, (1,) + h.shape[1:]), h[:-1]])
        z = x @ layer.W.T + h_prev @ layer.R.T + layer.b
        zi, zf, zg, zo = np.split(z, 4, axis=-1)
        sig = torch.sigmoid
        gates = {"sig_i": sig(torch.from_numpy(zi)).numpy(), "sig_f": sig(torch.from_numpy(zf)).numpy(),
                 "tanh_g": np.tanh(zg), "sig_o": sig(torch.from_numpy(zo)).numpy()}
        c = np.empty_like(h)
        c_prev = np.broadcast_to(layer.c0, h.shape[1:])
        for t in range(h.shape[0]):
            c_prev = gates["sig_f"][t] * c_prev + gates["sig_i"][t] * gates["tanh_g"][t]
            c[t] = c_prev
        for name, val in {**gates, "c_sum": c, "h_prod": h}.items():
            out[f"lstm{k}/{name}.y"] = val if batched else val[:, 0, :]
        x = h
    return out


def matlab_norm(diff: np.ndarray) -> float:
    """MATLAB's ``norm`` of the difference: the 2-norm (largest singular value) of the (T, ·) matrix."""
    d = np.asarray(diff, dtype=np.float64).reshape(diff.shape[0], -1)
    return float(np.linalg.norm(d, 2)) if d.size else 0.0


@dataclass
class Comparison:
    """Difference between two runs: MATLAB-style norm and max |·|, overall and optionally per signal/step."""

    norm: float
    max_abs: float
    tolerance: float
    per_signal: dict = field(default_factory=dict)
    per_step: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.norm <= self.tolerance)

    def as_dict(self) -> dict:
        d = {"norm": self.norm, "max_abs": self.max_abs, "tolerance": self.tolerance, "ok": self.ok}
        if self.per_signal:
            d["per_signal"] = self.per_signal
        if self.per_step:
            d["per_step"] = self.per_step
        return d


@dataclass
class CrosscheckReport:
    """Diagram-versus-PyTorch comparisons by precision, plus the reference's mixed setup."""

    comparisons: dict
    shapes: dict
    results: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons.values())

    def as_dict(self) -> dict:
        return {**{k: c.as_dict() for k, c in self.comparisons.items()}, "shapes": self.shapes, "ok": self.ok}

    def _summary(self) -> tuple[str, list[str], list[list[str]]]:
        title = f"CrosscheckReport: {'ok' if self.ok else 'NOT ok'}"
        shapes = [", ".join(f"{k}={v}" for k, v in self.shapes.items())] if self.shapes else []
        rows = [[name, f"{c.norm:.3g}", f"{c.max_abs:.3g}", f"{c.tolerance:.3g}", "ok" if c.ok else "NO"]
                for name, c in self.comparisons.items()]
        return title, shapes, rows

    def __str__(self) -> str:
        """A summary: overall ok/NOT ok, the shapes, then per comparison its MATLAB-style norm,
        max |difference|, tolerance and ``ok`` or ``NO`` (norm above tolerance)."""
        from .._display import text_table

        title, shapes, rows = self._summary()
        return "\n".join([title, *("  " + s for s in shapes),
                          text_table(["comparison", "norm", "max|diff|", "tolerance", "ok"], rows)])

    def _repr_html_(self) -> str:
        """The :meth:`__str__` summary as HTML (escaped), for notebooks."""
        from .._display import html_block, html_table

        title, shapes, rows = self._summary()
        return html_block(title, shapes, html_table(["comparison", "norm", "max|diff|", "tolerance", "ok"], rows))


TOLERANCES = {"float64": 1e-12, "float32": 5e-6, "reference_setup": 1e-5}

#: The constant c of :func:`default_tolerance`. With c = 1 the bound is, per layer, twice Higham's
#: first-order dot-product bound n·u (u = eps/2, n = Ni + Nn + 1 terms: input, recurrent, bias),
#: as both implementations round independently. Measured on random networks (Ni 1–8, Nn 3–300,
#: 1–3 layers, T 20–200, batched and not; ``NetworkWeights.random``'s saturating [0, 1) weights and
#: nn.LSTM's own initialization scaled ×1–6) the norms of correct runs stay below 0.09 of it.
TOLERANCE_C = 1.0


def default_tolerance(dtype: str, ymax: float, ni: int, nn: int, layers: int, steps: int,
                      c: float = TOLERANCE_C) -> float:
    """The data-derived tolerance on the MATLAB norm of y's difference between two correct runs.

    ``tol = c · eps(dtype) · max(1, ymax) · (ni + nn + 1) · layers · sqrt(steps)``: rounding errors
    are relative to the output's size (``ymax`` = max |y|), grow with the fan-in of each gate's dot
    product (``ni + nn + 1``, with ``nn`` the widest layer), add up over the layers, and accumulate
    over the T rows of the norm like a random walk (√T). ``dtype`` is the lower precision of the two
    runs (``"float64"`` or ``"float32"``). See :data:`TOLERANCE_C` for c.
    """
    eps = float(np.finfo(np.dtype(_torch_dtype(dtype))).eps)
    return float(c * eps * max(1.0, float(ymax)) * (ni + nn + 1) * layers * np.sqrt(steps))


def _compare(a: np.ndarray, b: np.ndarray, tol: float) -> Comparison:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diff.ndim == 1:  # one step (a last-step model's output): one row of the (T, ·) matrix
        diff = diff[None, :]
    return Comparison(norm=matlab_norm(diff), max_abs=float(np.max(np.abs(diff))) if diff.size else 0.0, tolerance=tol)


def network_size(weights, steps: int) -> dict:
    """``{"ni", "nn", "layers", "steps"}`` of :func:`default_tolerance` for LSTM, GRU or RNN weights
    (``nn`` the widest layer) run for ``steps`` steps."""
    return {"ni": int(weights.ni), "nn": max(int(layer.nn) for layer in weights.layers),
            "layers": len(weights.layers), "steps": int(steps)}


def _finite_number(value) -> bool:
    """An int or float (Python or numpy; never a bool) that is finite as a float64: 10**400 is not (it is refused, not
    an OverflowError), nor is a float32 inf (compared with a Python float, numpy would compare in float32)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    if isinstance(value, (int, np.integer)):
        return abs(int(value)) <= float(np.finfo(np.float64).max)  # int vs Python float: an exact comparison
    return bool(np.isfinite(value))


def _check_tolerance_options(tolerance_scale, rtol, atol) -> float:
    """The factor on the default tolerances (None is 1); a ParameterError names a bad option."""
    if tolerance_scale is not None and (not _finite_number(tolerance_scale) or not 0 < tolerance_scale):
        raise ParameterError(f"tolerance_scale: expected a positive finite number or None, got {tolerance_scale!r}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and (not _finite_number(value) or not 0 <= value):
            raise ParameterError(f"{name}: expected a finite number ≥ 0 or None, got {value!r}")
    return 1.0 if tolerance_scale is None else float(tolerance_scale)


def crosscheck_tolerances(comparisons: Mapping, size: Mapping, tolerance_scale: float | None = 1.0,
                          rtol: float | None = None, atol: float | None = None) -> dict:
    """The tolerance of each comparison of a cross-check, by default from :func:`default_tolerance`.

    Every cross-check (LSTM, GRU and RNN against PyTorch; ONNX, Keras, JAX) takes its tolerances here.

    Parameters
    ----------
    comparisons : ``{name: (dtype, y)}``: per comparison the lower precision of its two runs
        (``"float64"``/``"float32"``) and the float64 diagram's signal it compares (any shape, (T, …))
    size : ``{"ni", "nn", "layers", "steps"}`` (see :func:`network_size`)
    tolerance_scale : factor on the default tolerances (None is 1)
    rtol, atol : when either is given, every comparison's tolerance is ``atol + rtol · norm(y)``
        instead (norm = the MATLAB 2-norm of its y; a missing one of the two is 0)

    Returns
    -------
    dict : name → tolerance on the MATLAB norm of the difference
    """
    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    tols = {}
    for name, (dtype, y) in comparisons.items():
        y = np.asarray(y, dtype=np.float64)
        if rtol is None and atol is None:
            ymax = float(np.max(np.abs(y), initial=0.0))
            tols[name] = scale * default_tolerance(dtype, ymax, **size)
        else:
            tols[name] = (atol or 0.0) + (rtol or 0.0) * matlab_norm(y if y.ndim > 1 else y[None, :])
    return tols


def crosscheck(weights: NetworkWeights, u: np.ndarray, Ts: float = 0.1, per_gate: bool = False,
               per_step: bool = False, tolerance_scale: float | None = 1.0, backend: str = "auto",
               rtol: float | None = None, atol: float | None = None) -> CrosscheckReport:
    """Simulate the LSTM diagram and the equivalent ``nn.LSTM`` and compare their outputs.

    Comparisons: ``float64`` (diagram vs torch, both double), ``float32`` (both single) and
    ``reference_setup`` (double diagram vs single torch, as the reference compares Simulink with
    the toolbox, which reported 5.8e-7). Each passes when the MATLAB norm of y's difference is at
    most its tolerance, which by default scales with the problem (:func:`default_tolerance`):
    ``c · eps · max(1, max |y|) · (Ni + Nn + 1) · layers · √T`` with eps of float64, float32 and
    float32 (the lower precision) respectively and c = 1. For the reference's 4-3-2 network at
    T = 51 (max |y| ≈ 1.7) that is 2.2e-14 (float64) and 1.2e-5 (float32); a correct 2-layer
    100-unit network (max |y| ≈ 53) gets 1.8e-11 / 9.5e-3 (measured norms 1.8e-13 / 5.5e-5).
    ``tolerance_scale`` multiplies these tolerances (None means 1: max |y| is already in them).
    ``rtol``/``atol`` override them: each comparison then passes when
    ``norm ≤ atol + rtol · norm(y)``, with norm(y) the MATLAB norm of the float64 diagram's y
    (a missing one of the two is 0; ``tolerance_scale`` is then not used).

    Parameters
    ----------
    u : (T, Ni) or (T, B, Ni)
    per_gate : also compare every gate, cell and hidden signal of every layer (float64)
    per_step : also list the max |difference| of y at each step (float64)
    tolerance_scale : factor on the default tolerances (default 1; None is 1, kept for compatibility)
    rtol, atol : relative (to the MATLAB norm of y) and absolute tolerances overriding the default ones
    backend : the diagram's simulation backend (see :func:`blockloop.engine.simulate.simulate`)

    Examples
    --------
    >>> import numpy as np
    >>> w = NetworkWeights.random(ni=4, nn=3, no=2)
    >>> rep = crosscheck(w, np.random.default_rng(0).standard_normal((51, 4)))
    >>> rep.comparisons["float64"].norm < 1e-12
    True
    """
    net = lstm_network(_check_weights(weights))
    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    u = _torch_input(u, weights.ni)
    runs = {}
    for dt in ("float64", "float32"):
        runs[dt] = net.compile(dtype=dt).simulate({"u": u}, Ts=Ts, backend=backend)
    torch_y = {dt: torch_forward(weights, u, dt) for dt in ("float64", "float32")}
    y64 = runs["float64"]["y"]
    tols = crosscheck_tolerances({"float64": ("float64", y64), "float32": ("float32", y64),
                                  "reference_setup": ("float32", y64)},
                                 network_size(weights, u.shape[0]), scale, rtol, atol)
    comparisons = {dt: _compare(runs[dt]["y"], torch_y[dt], tols[dt]) for dt in runs}
    comparisons["reference_setup"] = _compare(runs["float64"]["y"], torch_y["float32"], tols["reference_setup"])
    if per_step:
        diff = np.abs(runs["float64"]["y"] - torch_y["float64"]).reshape(len(runs["float64"].t), -1)
        comparisons["float64"].per_step = [float(v) for v in diff.max(axis=1)]
    if per_gate:
        ref = torch_gates(weights, u, "float64")
        probed = net.compile().simulate({"u": u}, Ts=Ts, probes=list(ref), backend=backend)
        comparisons["float64"].per_signal = {
            name: _compare(probed[name], val, tols["float64"]).as_dict() for name, val in ref.items()
        }
    u = np.asarray(u)
    shapes = {"ni": weights.ni, "nn": [layer.nn for layer in weights.layers], "no": weights.no,
              "layers": len(weights.layers),
              "steps": int(u.shape[0]), "batch": int(u.shape[1]) if u.ndim == 3 else None, "Ts": Ts,
              "tolerance_scale": scale, "tolerances": tols, "rtol": rtol, "atol": atol, "backend": backend}
    return CrosscheckReport(comparisons=comparisons, shapes=shapes,
                            results={"diagram": runs, "torch": torch_y})
