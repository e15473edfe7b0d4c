"""JAX/Flax interop: weights from Flax's LSTM cell (and Dense), and the diagram-versus-Flax cross-check on CPU.

Needs the ``jax`` extra (``pip install 'blockloop[jax]'``: jax, jaxlib, flax), imported inside the
functions. float64 runs use the ``jax.enable_x64`` context manager, so JAX's global setting is left
as it was.

**Flax's LSTM layout** (read from flax 0.12's ``flax/linen/recurrent.py``: ``LSTMCell`` and
``OptimizedLSTMCell``, which keep the same parameter names; ``flax.nnx.LSTMCell`` likewise)::

    i = gate_fn(ii(x) + hi(h))      f = gate_fn(if(x) + hf(h))
    g = activation_fn(ig(x) + hg(h))                            o = gate_fn(io(x) + ho(h))
    c' = f * c + i * g               h' = o * activation_fn(c')

with eight Dense layers per cell: the input ones ``ii``, ``if``, ``ig``, ``io`` (``kernel`` (Ni, H),
no bias) and the hidden ones ``hi``, ``hf``, ``hg``, ``ho`` (``kernel`` (H, H), ``bias`` (H,)).
``gate_fn`` is sigmoid and ``activation_fn`` tanh by default. So W = [ii; if; ig; io] kernelsᵀ
(4·H, Ni), R = [hi; hf; hg; ho] kernelsᵀ (4·H, H), b = [hi; hf; hg; ho] biases — blockloop's gate
order i, f, g, o, one bias, nothing to sum. **The carry is (c, h)**, cell first (PyTorch and
blockloop say (h, c)). A Flax ``Dense`` head has ``kernel`` (H, No): F = kernelᵀ.
"""

from __future__ import annotations

import numpy as np

from ..diagrams import LayerWeights, NetworkWeights, lstm_network
from ..errors import ParameterError

__all__ = ["from_flax", "to_flax", "flax_forward", "crosscheck_flax", "FLAX_GATES"]

#: Flax's names of the input and hidden Dense layers of each gate, in blockloop's order i, f, g, o.
FLAX_GATES = (("ii", "hi"), ("if", "hf"), ("ig", "hg"), ("io", "ho"))


def _flax():
    try:
        import flax.linen
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs JAX and Flax: pip install 'blockloop[jax]'") from exc
    return jax, flax


def _arr(value, what: str) -> np.ndarray:
    if hasattr(value, "get_value"):  # an nnx.Param / nnx.Variable
        value = value.get_value()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{what}: expected an array ({exc})") from None
    return arr


def _cell_params(cell, k: int) -> dict:
    """``{name: {"kernel", "bias"?}}`` from linen params (possibly under "params"/"cell") or an nnx.LSTMCell."""
    if isinstance(cell, dict) or hasattr(cell, "keys"):
        d = dict(cell)
        for key in ("params", "cell"):
            if key in d and "ii" not in d:
                d = dict(d[key])
        missing = [n for pair in FLAX_GATES for n in pair if n not in d]
        if missing:
            raise ParameterError(f"LSTM layer {k}: Flax LSTMCell parameters need {missing} (got keys {sorted(d)})")
        return d
    # flax.nnx.LSTMCell: attributes ii, if_ (``if`` is a keyword), ig, io, hi, hf, hg, ho
    jax, flax = _flax()
    for fn, want, name in ((getattr(cell, "gate_fn", None), jax.nn.sigmoid, "gate_fn"),
                           (getattr(cell, "activation_fn", None), jax.numpy.tanh, "activation_fn")):
        if fn is not None and fn is not want and getattr(fn, "__name__", "") != want.__name__:
            raise ParameterError(f"LSTM layer {k}: {name}={getattr(fn, '__name__', fn)!r} is not supported "
                                 f"(the diagram has {want.__name__})")
    out = {}
    for pair in FLAX_GATES:
        for name in pair:
            layer = getattr(cell, "if_" if name == "if" else name, None)
            if layer is None:
                raise ParameterError(f"LSTM layer {k}: expected Flax LSTMCell params or an nnx.LSTMCell, "
                                     f"got {type(cell).__name__}")
            out[name] = {"kernel": layer.kernel}
            if getattr(layer, "bias", None) is not None:
                out[name]["bias"] = layer.bias
    return out


def from_flax(cells, dense=None, h0=None, c0=None) -> NetworkWeights:
    """NetworkWeights from Flax LSTM cells (one per layer) and an optional Dense head.

    ``cells``: one cell or a list — each the ``params`` of a ``flax.linen.LSTMCell`` /
    ``OptimizedLSTMCell`` (``{"ii": {"kernel"}, …, "hi": {"kernel", "bias"}, …}``, also accepted
    under ``"params"`` or ``"cell"`` as ``nn.RNN`` nests them) or a ``flax.nnx.LSTMCell``. Linen
    params do not record ``gate_fn``/``activation_fn``: they must be the defaults (sigmoid, tanh).
    ``dense``: ``{"kernel": (H, No), "bias": (No,)}`` or an ``nnx.Linear``; identity F when None.
    ``h0``/``c0``: (L, H), zeros when None (Flax's carry is (c, h): pass each to its own argument).
    """
    if isinstance(cells, (list, tuple)):
        cells = list(cells)
    else:
        cells = [cells]
    if not cells:
        raise ParameterError("from_flax: expected one or more LSTM cells")
    layers = []
    for k, cell in enumerate(cells, start=1):
        p = _cell_params(cell, k)
        W = np.concatenate([_arr(p[i]["kernel"], f"layer {k} {i}.kernel").T for i, _ in FLAX_GATES])
        R = np.concatenate([_arr(p[h]["kernel"], f"layer {k} {h}.kernel").T for _, h in FLAX_GATES])
        for i, _ in FLAX_GATES:
            if "bias" in p[i] and np.any(_arr(p[i]["bias"], f"layer {k} {i}.bias")):
                raise ParameterError(f"LSTM layer {k}: input Dense '{i}' has a nonzero bias (Flax's cell has none)")
        H = R.shape[1]
        b = np.concatenate([_arr(p[h]["bias"], f"layer {k} {h}.bias") if "bias" in p[h] else np.zeros(H)
                            for _, h in FLAX_GATES])
        layers.append((W, R, b))
    L = len(layers)

    def states(value, name):
        if value is None:
            return [np.zeros(R.shape[1]) for _, R, _ in layers]
        rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in value]
        if len(rows) != L:
            raise ParameterError(f"{name}: expected one row per layer ({L}), got {len(rows)}")
        return rows

    hs, cs = states(h0, "h0"), states(c0, "c0")
    weights = tuple(LayerWeights(W=W, R=R, b=b, h0=hs[k], c0=cs[k]) for k, (W, R, b) in enumerate(layers))
    if dense is None:
        return NetworkWeights(layers=weights, F=np.eye(weights[-1].nn))
    kernel = dense["kernel"] if hasattr(dense, "keys") else getattr(dense, "kernel", None)
    bias = (dense.get("bias") if hasattr(dense, "keys") else getattr(dense, "bias", None))
    if kernel is None:
        raise ParameterError("from_flax: dense must be Dense params {'kernel', 'bias'} or an nnx.Linear")
    return NetworkWeights(layers=weights, F=_arr(kernel, "dense kernel").T,
                          F_bias=None if bias is None else _arr(bias, "dense bias"))


def to_flax(weights: NetworkWeights, dtype: str = "float32"):
    """``(cell_params, dense_params)``: per layer a ``flax.linen.LSTMCell`` params dict, and the Dense params.

    The input Dense layers get no bias (as in Flax), the hidden ones the whole of b.
    """
    if not isinstance(weights, NetworkWeights):
        raise ParameterError(f"to_flax: expected NetworkWeights, got {type(weights).__name__}")
    if str(np.dtype(dtype)) not in ("float32", "float64"):
        raise ParameterError(f"dtype: expected float32 or float64, got {dtype!r}")
    dt = np.dtype(dtype)
    cells = []
    for layer in weights.layers:
        p = {}
        for g, (i, h) in zip("ifgo", FLAX_GATES, strict=True):
            p[i] = {"kernel": layer.gate(g, "W").T.astype(dt)}
            p[h] = {"kernel": layer.gate(g, "R").T.astype(dt), "bias": layer.gate(g, "b").astype(dt)}
        cells.append(p)
    bias = np.zeros(weights.no) if weights.F_bias is None else weights.F_bias
    return cells, {"kernel": weights.F.T.astype(dt), "bias": bias.astype(dt)}


def flax_forward(weights: NetworkWeights, u, dtype: str = "float64") -> np.ndarray:
    """Run ``flax.linen.RNN(LSTMCell)`` per layer and ``flax.linen.Dense`` on ``u`` (T, Ni) or (T, B, Ni).

    Initial carries are (c0, h0) from the weights. float64 runs inside ``jax.enable_x64(True)``.
    Returns y (T, No) or (T, B, No) as float64.
    """
    jax, flax = _flax()
    nn = flax.linen
    dt = str(np.dtype(dtype))
    if dt not in ("float32", "float64"):
        raise ParameterError(f"dtype: expected float32 or float64, got {dtype!r}")
    u = np.asarray(u, dtype=np.float64)
    batched = u.ndim == 3
    x = u if batched else u[:, None, :]
    if x.ndim != 3 or x.shape[-1] != weights.ni:
        raise ParameterError(f"u: expected shape (T, {weights.ni}) or (T, B, {weights.ni}), got {u.shape}")
    cells, dense = to_flax(weights, dt)
    enable_x64 = getattr(jax, "enable_x64", None)
    if enable_x64 is None:  # older JAX keeps it in jax.experimental
        from jax.experimental import enable_x64
    with enable_x64(dt == "float64"):
        jnp = jax.numpy
        h = jnp.asarray(x.astype(dt))
        B = x.shape[1]
        for layer, params in zip(weights.layers, cells, strict=True):
            rnn = nn.RNN(nn.LSTMCell(layer.nn, param_dtype=dt, dtype=dt), time_major=True)
            carry = (jnp.asarray(np.tile(layer.c0, (B, 1)).astype(dt)),  # Flax's carry: (c, h)
                     jnp.asarray(np.tile(layer.h0, (B, 1)).astype(dt)))
            h = rnn.apply({"params": {"cell": params}}, h, initial_carry=carry)
        y = nn.Dense(weights.no, param_dtype=dt, dtype=dt).apply({"params": dense}, h)
        y = np.asarray(y, dtype=np.float64)
    return y if batched else y[:, 0, :]


def crosscheck_flax(weights: NetworkWeights, u, Ts: float = 0.1, backend: str = "auto",
                    tolerance_scale: float | None = 1.0, rtol: float | None = None, atol: float | None = None):
    """The LSTM diagram against Flax (JAX on CPU) in float64, float32 and the mixed setup.

    ``u``: (T, Ni) or (T, B, Ni). Tolerances scale with the problem as
    :func:`blockloop.interop.torch.crosscheck`'s (:func:`~blockloop.interop.torch.crosscheck_tolerances`),
    times ``tolerance_scale`` (None is 1); ``rtol``/``atol`` replace them by ``atol + rtol · norm(y)``.
    Returns a ``CrosscheckReport``.
    """
    from .torch import CrosscheckReport, _check_tolerance_options, _compare, crosscheck_tolerances, network_size

    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    jax, flax = _flax()
    net = lstm_network(weights)
    runs = {dt: net.compile(dtype=dt).simulate({"u": u}, Ts=Ts, backend=backend)["y"] for dt in ("float64", "float32")}
    theirs = {dt: flax_forward(weights, u, dt) for dt in ("float64", "float32")}
    u = np.asarray(u)
    y64 = runs["float64"]
    tols = crosscheck_tolerances({"float64": ("float64", y64), "float32": ("float32", y64),
                                  "reference_setup": ("float32", y64)},
                                 network_size(weights, u.shape[0]), scale, rtol, atol)
    comparisons = {dt: _compare(runs[dt], theirs[dt], tols[dt]) for dt in runs}
    comparisons["reference_setup"] = _compare(runs["float64"], theirs["float32"], tols["reference_setup"])
    shapes = {"ni": weights.ni, "nn": [layer.nn for layer in weights.layers], "no": weights.no,
              "layers": len(weights.layers), "steps": int(u.shape[0]),
              "batch": int(u.shape[1]) if u.ndim == 3 else None,
              "Ts": Ts, "tolerance_scale": scale, "tolerances": tols, "rtol": rtol, "atol": atol, "backend": backend,
              "runtime": f"flax {flax.__version__}, jax {jax.__version__} ({jax.default_backend()})"}
    return CrosscheckReport(comparisons=comparisons, shapes=shapes, results={"diagram": runs, "flax": theirs})
