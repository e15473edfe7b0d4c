"""PyTorch interop for the Elman RNN and GRU diagrams: ``nn.RNN``/``nn.GRU`` (+ ``nn.Linear``) ⇄ weights,
the vectorized PyTorch forward pass, and the diagram-versus-PyTorch cross-check.

PyTorch is imported inside the functions, so importing this module does not pull it in.

* ``nn.RNN`` (tanh only; ``nonlinearity="relu"`` is refused): the diagram's one bias is
  ``bias_ih + bias_hh``; exporting puts it all in ``bias_ih`` (``bias_hh`` = 0).
* ``nn.GRU``: both biases are kept as they are (the reset gate multiplies ``W_hn·h + b_hn``,
  so they cannot be merged); conversion is exact both ways.

Batch-first tensors, unidirectional, no projections; ``dropout`` is ignored (it only acts in
training mode between layers). Initial states are (L, Nn) arrays or (L, 1, Nn) tensors.
"""

from __future__ import annotations

import numpy as np

from ..diagrams.gru import GRULayerWeights, GRUNetworkWeights, gru_network
from ..diagrams.rnn import RNNLayerWeights, RNNNetworkWeights, rnn_network
from ..errors import ParameterError
from .torch import (
    Comparison,
    CrosscheckReport,
    _check_tolerance_options,
    _compare,
    _torch,
    _torch_dtype,
    _torch_input,
    crosscheck_tolerances,
    network_size,
)

__all__ = ["to_torch", "from_torch", "torch_forward", "network_diagram", "crosscheck", "CELLS"]

#: Cell name → (weights class, PyTorch module name, diagram builder, layer prefix in the diagram).
CELLS = {"rnn": (RNNNetworkWeights, "RNN", rnn_network, "rnn"), "gru": (GRUNetworkWeights, "GRU", gru_network, "gru")}


def _cell(weights) -> str:
    for name, (cls, *_rest) in CELLS.items():
        if isinstance(weights, cls):
            return name
    raise ParameterError(f"expected RNNNetworkWeights or GRUNetworkWeights, got {type(weights).__name__}")


def network_diagram(weights):
    """The diagram of ``weights``: :func:`~blockloop.diagrams.rnn.rnn_network` or
    :func:`~blockloop.diagrams.gru.gru_network`."""
    return CELLS[_cell(weights)][2](weights)


def to_torch(weights, dtype: str = "float64"):
    """``(module, linear, h0)``: the ``nn.RNN``/``nn.GRU`` (batch_first, L layers), its ``nn.Linear`` head
    and h0 as an (L, 1, Nn) tensor. Every layer must have the same number of units (a PyTorch constraint).
    """
    torch = _torch()
    cell = _cell(weights)
    tdtype = getattr(torch, _torch_dtype(dtype))
    sizes = {layer.nn for layer in weights.layers}
    if len(sizes) != 1:
        raise ParameterError(f"nn.{CELLS[cell][1]} needs the same number of units in every layer, got "
                             f"{[layer.nn for layer in weights.layers]}")
    nn_units = sizes.pop()
    module_cls = getattr(torch.nn, CELLS[cell][1])
    module = module_cls(weights.ni, nn_units, num_layers=len(weights.layers), batch_first=True, dtype=tdtype)
    linear = torch.nn.Linear(nn_units, weights.no, dtype=tdtype)
    with torch.no_grad():
        for k, layer in enumerate(weights.layers):
            getattr(module, f"weight_ih_l{k}").copy_(torch.from_numpy(layer.W))
            getattr(module, f"weight_hh_l{k}").copy_(torch.from_numpy(layer.R))
            if cell == "gru":
                getattr(module, f"bias_ih_l{k}").copy_(torch.from_numpy(layer.b_ih))
                getattr(module, f"bias_hh_l{k}").copy_(torch.from_numpy(layer.b_hh))
            else:
                getattr(module, f"bias_ih_l{k}").copy_(torch.from_numpy(layer.b))
                getattr(module, f"bias_hh_l{k}").zero_()
        linear.weight.copy_(torch.from_numpy(weights.F))
        if weights.F_bias is None:
            linear.bias.zero_()
        else:
            linear.bias.copy_(torch.from_numpy(weights.F_bias))
    h0 = torch.stack([torch.from_numpy(layer.h0) for layer in weights.layers])[:, None, :].to(tdtype)
    return module, linear, h0


def from_torch(module, linear=None, h0=None):
    """Weights from an ``nn.RNN`` (tanh) or ``nn.GRU`` and an optional ``nn.Linear`` (identity F if None).

    ``h0``: (L, Nn) or (L, 1, Nn), zeros when None. Bidirectional modules, ``proj_size`` and
    ``nonlinearity="relu"`` are refused with a :class:`ParameterError`.
    """
    torch = _torch()
    if isinstance(module, torch.nn.GRU):
        cell = "gru"
    elif isinstance(module, torch.nn.RNN):
        cell = "rnn"
        if module.nonlinearity != "tanh":
            raise ParameterError(f"from_torch: nn.RNN(nonlinearity={module.nonlinearity!r}) has no diagram here; "
                                 "the Elman diagram uses tanh")
    else:
        raise ParameterError(f"from_torch: expected a torch.nn.RNN or torch.nn.GRU, got {type(module).__name__}")
    if linear is not None and not isinstance(linear, torch.nn.Linear):
        raise ParameterError(f"from_torch: expected a torch.nn.Linear (or None), got {type(linear).__name__}")
    if module.bidirectional or getattr(module, "proj_size", 0):
        raise ParameterError("from_torch: bidirectional or projected modules have no diagram here")

    def arr(t):
        return t.detach().cpu().double().numpy() if hasattr(t, "detach") else np.asarray(t, dtype=np.float64)

    L, nn_units = module.num_layers, module.hidden_size
    h0 = np.zeros((L, nn_units)) if h0 is None else arr(h0).reshape(L, nn_units)
    rows = 3 * nn_units if cell == "gru" else nn_units
    layers = []
    for k in range(L):
        b_ih = arr(getattr(module, f"bias_ih_l{k}")) if module.bias else np.zeros(rows)
        b_hh = arr(getattr(module, f"bias_hh_l{k}")) if module.bias else np.zeros(rows)
        W, R = arr(getattr(module, f"weight_ih_l{k}")), arr(getattr(module, f"weight_hh_l{k}"))
        if cell == "gru":
            layers.append(GRULayerWeights(W=W, R=R, b_ih=b_ih, b_hh=b_hh, h0=h0[k]))
        else:
            layers.append(RNNLayerWeights(W=W, R=R, b=b_ih + b_hh, h0=h0[k]))
    cls = CELLS[cell][0]
    if linear is None:
        return cls(layers=tuple(layers), F=np.eye(nn_units))
    return cls(layers=tuple(layers), F=arr(linear.weight), F_bias=arr(linear.bias) if linear.bias is not None else None)


def torch_forward(weights, u, dtype: str = "float64", initial_states=None) -> np.ndarray:
    """Run the vectorized ``nn.RNN``/``nn.GRU`` + ``nn.Linear`` on ``u`` (T, Ni) or (T, B, Ni).

    ``initial_states`` may override h0 per layer with (Nn,) or (B, Nn) arrays, keyed like the
    diagram's delays (``"rnn1/h_delay"``, ``"gru2/h_delay"``). Returns y (T, No) or (T, B, No), float64.
    """
    torch = _torch()
    prefix = CELLS[_cell(weights)][3]
    u = _torch_input(u, weights.ni)
    module, linear, h0 = to_torch(weights, dtype)
    tdtype = module.weight_ih_l0.dtype
    batched = u.ndim == 3
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(u, 0, 1) if batched else u[None])).to(tdtype)
    B = x.shape[0]
    h0 = h0.expand(-1, B, -1).clone()
    keys = {f"{prefix}{k}/h_delay": k - 1 for k in range(1, len(weights.layers) + 1)}
    for key, value in (initial_states or {}).items():
        if key not in keys:
            raise ParameterError(f"initial_states: no delay '{key}'; the delays are {', '.join(keys)}")
        value = np.asarray(value, dtype=np.float64)
        n = h0.shape[2]
        if value.ndim not in (1, 2) or value.shape[-1] != n or (value.ndim == 2 and value.shape[0] not in (1, B)):
            raise ParameterError(f"initial state of '{key}': expected shape ({n},) or ({B}, {n}), got {value.shape}")
        h0[keys[key]] = torch.as_tensor(np.broadcast_to(value, (B, n)).copy(), dtype=tdtype)
    with torch.no_grad():
        h, _ = module(x, h0)
        y = linear(h).double().numpy()
    return np.moveaxis(y, 0, 1) if batched else y[0]


def crosscheck(weights, u, Ts: float = 0.1, initial_states=None, backend: str = "auto",
               tolerance_scale: float | None = 1.0, rtol: float | None = None,
               atol: float | None = None) -> CrosscheckReport:
    """The RNN or GRU diagram against PyTorch on ``u`` (T, Ni) or (T, B, Ni), in float64 and float32.

    Returns a :class:`~blockloop.interop.torch.CrosscheckReport` (norm = MATLAB's 2-norm of the
    difference of y, max_abs) with ``comparisons["float64"]`` and ``["float32"]``. Their tolerances
    scale with the problem as the LSTM's do
    (:func:`~blockloop.interop.torch.crosscheck_tolerances`: ``eps · max(1, max |y|) ·
    (Ni + Nn + 1) · layers · √T`` of each precision, times ``tolerance_scale``); ``rtol``/``atol``
    replace them by ``atol + rtol · norm(y)``.

    Examples
    --------
    >>> w = GRUNetworkWeights.random(ni=3, nn=4, no=2, n_layers=2)
    >>> rep = crosscheck(w, np.random.default_rng(0).standard_normal((30, 3)))
    >>> rep.comparisons["float64"].norm < 1e-12
    True
    """
    net = network_diagram(weights)
    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    results = {"diagram": {}, "torch": {}}
    for dt in ("float64", "float32"):
        results["diagram"][dt] = net.compile(dtype=dt).simulate({"u": u}, Ts=Ts, initial_states=initial_states,
                                                                backend=backend)
        results["torch"][dt] = torch_forward(weights, u, dt, initial_states=initial_states)
    u = np.asarray(u)
    y64 = results["diagram"]["float64"]["y"]
    tols = crosscheck_tolerances({"float64": ("float64", y64), "float32": ("float32", y64)},
                                 network_size(weights, u.shape[0]), scale, rtol, atol)
    comparisons: dict[str, Comparison] = {
        dt: _compare(results["diagram"][dt]["y"], results["torch"][dt], tols[dt]) for dt in tols}
    shapes = {"cell": _cell(weights), "ni": weights.ni, "nn": [layer.nn for layer in weights.layers],
              "no": weights.no, "layers": len(weights.layers), "steps": int(u.shape[0]),
              "batch": int(u.shape[1]) if u.ndim == 3 else None, "Ts": Ts, "backend": backend,
              "tolerance_scale": scale, "tolerances": tols, "rtol": rtol, "atol": atol}
    return CrosscheckReport(comparisons=comparisons, shapes=shapes, results=results)
