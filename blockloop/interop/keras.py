"""Keras 3 interop: ``keras.layers.LSTM`` (+ ``Dense``) ⇄ NetworkWeights, and the diagram-versus-Keras cross-check.

Needs the ``keras`` extra (``pip install 'blockloop[keras]'``), imported inside the functions. Keras
runs here on the **PyTorch backend**: when Keras is not imported yet, ``KERAS_BACKEND`` is set to
``torch`` (unless the environment already names a backend), so no TensorFlow is needed. Weights are
read with ``get_weights()``, which works on any backend.

**Keras' LSTM layout**: ``kernel`` (Ni, 4·H), ``recurrent_kernel`` (H, 4·H), ``bias`` (4·H,), gate
columns stacked **i, f, c, o** — blockloop's i, f, g, o, so W = kernelᵀ, R = recurrent_kernelᵀ,
b = bias with no reordering. ``Dense``: ``kernel`` (H, No), ``bias`` (No,): F = kernelᵀ.

* ``unit_forget_bias=True`` (Keras' default) only *initializes* the forget-gate bias to 1; the
  trained ``bias`` vector holds it, so it needs nothing more here. Exporting sets every weight
  explicitly, so the flag does not matter there either.
* ``recurrent_activation`` must be ``"sigmoid"`` and ``activation`` ``"tanh"`` (the diagram's σ
  and tanh blocks). ``"hard_sigmoid"`` (Keras 3: relu6(x + 3)/6) has no block and is refused with
  a :class:`~blockloop.errors.ParameterError`, as are ``go_backwards=True`` and a ``Dense`` with
  an activation other than ``linear``. ``use_bias=False`` is fine (a zero bias).
* Keras' initial states are call arguments (``initial_state=[h0, c0]``), not weights;
  :func:`keras_forward` passes the diagram's h0/c0.

**float64 in Keras 3 is not float64 everywhere.** Off the TensorFlow backend, Keras' type promotion
(``keras.src.backend.common.dtypes.result_type``) turns float64 into float32 "to be aligned with
JAX's default", so ``keras.ops.matmul`` of two float64 tensors computes in float32: a float64
``Dense`` (and the generic ``LSTMCell`` path, ``use_cudnn=False``) rounds like float32 (≈ 1e-7).
Keras' LSTM layer with ``use_cudnn="auto"`` (the default) runs its loop in plain torch ops and is
float64. :func:`crosscheck_keras` therefore compares the LSTM stack's output h at float64's
tolerance and y behind the Dense at float32's (both scaled with the problem, as every cross-check's).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ..diagrams import LayerWeights, NetworkWeights, lstm_network
from ..errors import ParameterError

__all__ = ["from_keras", "to_keras", "keras_forward", "crosscheck_keras"]


def _keras():
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs Keras 3: pip install 'blockloop[keras]' (runs on the torch backend)") from exc
    if not str(keras.__version__).startswith("3."):
        raise ImportError(f"blockloop.interop.keras needs Keras 3, found {keras.__version__}")
    return keras


def _dtype(dtype) -> str:
    try:
        name = str(np.dtype(dtype))
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise ParameterError(f"dtype: expected float32 or float64, got {dtype!r}")
    return name


def _activation_name(keras, fn) -> str:
    try:
        name = keras.activations.serialize(fn)
    except Exception:  # noqa: BLE001 - a custom callable Keras cannot name
        name = getattr(fn, "__name__", repr(fn))
    return name if isinstance(name, str) else str(name)


def _check_lstm(keras, layer, k: int) -> None:
    where = f"LSTM layer {k} ('{layer.name}')"
    rec = _activation_name(keras, layer.recurrent_activation)
    if rec == "hard_sigmoid":
        raise ParameterError(f"{where}: recurrent_activation='hard_sigmoid' (relu6(x + 3)/6 in Keras 3) is not "
                             "supported: the diagram's gates are logistic sigmoid blocks; train with "
                             "recurrent_activation='sigmoid'")
    if rec != "sigmoid":
        raise ParameterError(f"{where}: recurrent_activation={rec!r} is not supported (only 'sigmoid')")
    act = _activation_name(keras, layer.activation)
    if act != "tanh":
        raise ParameterError(f"{where}: activation={act!r} is not supported (only 'tanh')")
    if layer.go_backwards:
        raise ParameterError(f"{where}: go_backwards=True is not supported (the diagram runs forward in time)")


def _layers_of(keras, model_or_layers, dense):
    """(lstm_layers, dense) from a Keras model or from a list of LSTM layers and an optional Dense."""
    if isinstance(model_or_layers, keras.Model):
        layers = [layer for layer in model_or_layers.layers if not isinstance(layer, keras.layers.InputLayer)]
        if dense is not None:
            raise ParameterError("from_keras: give either a model or LSTM layers and a Dense, not a model and a Dense")
        lstms = []
        while layers and isinstance(layers[0], keras.layers.LSTM):
            lstms.append(layers.pop(0))
        if layers and isinstance(layers[0], keras.layers.Dense):
            dense = layers.pop(0)
        if layers or not lstms:
            names = [type(layer).__name__ for layer in model_or_layers.layers]
            raise ParameterError(f"from_keras: expected a model of LSTM layers then at most one Dense, got {names}")
        return lstms, dense
    if isinstance(model_or_layers, keras.layers.LSTM):
        return [model_or_layers], dense
    lstms = list(model_or_layers)
    if not lstms or not all(isinstance(layer, keras.layers.LSTM) for layer in lstms):
        raise ParameterError("from_keras: expected a keras.Model, a keras.layers.LSTM or a list of them")
    return lstms, dense


def from_keras(model_or_layers, dense=None, h0=None, c0=None) -> NetworkWeights:
    """NetworkWeights from Keras LSTM layers (a ``keras.Model`` or a list of layers) and an optional Dense.

    ``W = kernelᵀ`` (4·H, Ni), ``R = recurrent_kernelᵀ`` (4·H, H), ``b = bias`` (zeros without a
    bias), gates i, f, c(=g), o in both; ``F = Dense.kernelᵀ``, ``F_bias = Dense.bias`` (identity F
    when there is no Dense). ``h0``/``c0``: (L, H) arrays, zeros when None. Layers must be built.
    A last layer with ``return_sequences=False`` has the same weights: its output is the diagram's y
    at the last step.
    """
    keras = _keras()
    lstms, dense = _layers_of(keras, model_or_layers, dense)
    L = len(lstms)
    weights = []
    for k, layer in enumerate(lstms, start=1):
        _check_lstm(keras, layer, k)
        if not layer.built:
            raise ParameterError(f"LSTM layer {k} ('{layer.name}') is not built yet (call it on data first)")
        arrays = [np.asarray(a, dtype=np.float64) for a in layer.get_weights()]
        kernel, recurrent = arrays[0], arrays[1]
        H = layer.units
        bias = arrays[2] if layer.use_bias else np.zeros(4 * H)
        weights.append((kernel.T, recurrent.T, bias, H))
    H_last = weights[-1][3]
    states = {}
    for key, value in (("h0", h0), ("c0", c0)):
        if value is None:
            states[key] = [np.zeros(w[3]) for w in weights]
        else:
            rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in value]
            if len(rows) != L:
                raise ParameterError(f"{key}: expected one row per layer ({L}), got {len(rows)}")
            states[key] = rows
    layers = tuple(LayerWeights(W=W, R=R, b=b, h0=states["h0"][k], c0=states["c0"][k])
                   for k, (W, R, b, _) in enumerate(weights))
    if dense is None:
        return NetworkWeights(layers=layers, F=np.eye(H_last))
    if not isinstance(dense, keras.layers.Dense):
        raise ParameterError(f"from_keras: expected a keras.layers.Dense head, got {type(dense).__name__}")
    act = _activation_name(keras, dense.activation)
    if act != "linear":
        raise ParameterError(f"Dense '{dense.name}': activation={act!r} is not supported (only 'linear')")
    arrays = [np.asarray(a, dtype=np.float64) for a in dense.get_weights()]
    return NetworkWeights(layers=layers, F=arrays[0].T, F_bias=arrays[1] if dense.use_bias else None)


def to_keras(weights: NetworkWeights, dtype: str = "float32"):
    """Keras layers of these weights: ``(lstm_layers, dense, initial_states)``.

    Each LSTM has ``return_sequences=True``, σ/tanh, ``unit_forget_bias`` irrelevant (weights are set
    explicitly); ``dense`` is a linear ``Dense`` (bias zero when F_bias is None); ``initial_states``
    is a list of ``(h0, c0)`` (H,) arrays, to pass as ``initial_state`` (tiled to the batch).
    """
    keras = _keras()
    dt = _dtype(dtype)
    if not isinstance(weights, NetworkWeights):
        raise ParameterError(f"to_keras: expected NetworkWeights, got {type(weights).__name__}")
    lstms, states, n_in = [], [], weights.ni
    for layer in weights.layers:
        lstm = keras.layers.LSTM(layer.nn, return_sequences=True, dtype=dt)
        lstm.build((None, None, n_in))
        lstm.set_weights([layer.W.T.astype(dt), layer.R.T.astype(dt), layer.b.astype(dt)])
        lstms.append(lstm)
        states.append((layer.h0.copy(), layer.c0.copy()))
        n_in = layer.nn
    dense = keras.layers.Dense(weights.no, dtype=dt)
    dense.build((None, None, n_in))
    bias = np.zeros(weights.no) if weights.F_bias is None else weights.F_bias
    dense.set_weights([weights.F.T.astype(dt), bias.astype(dt)])
    return lstms, dense, states


def keras_forward(weights: NetworkWeights, u, dtype: str = "float64", head: bool = True) -> np.ndarray:
    """Run the Keras layers of ``weights`` on ``u`` (T, Ni) or (T, B, Ni); y (T, No) or (T, B, No), float64.

    The LSTMs are called with ``initial_state=[h0, c0]`` tiled to the batch (Keras is batch-first).
    ``head=False`` returns the last LSTM layer's h (T, [B,] Nn) instead of y (see the module's note
    on Keras' float64 Dense).
    """
    keras = _keras()
    dt = _dtype(dtype)
    lstms, dense, states = to_keras(weights, dt)
    u = np.asarray(u, dtype=np.float64)
    batched = u.ndim == 3
    if u.ndim == 2:
        u = u[:, None, :]
    if u.ndim != 3 or u.shape[-1] != weights.ni:
        raise ParameterError(f"u: expected shape (T, {weights.ni}) or (T, B, {weights.ni}), got {np.shape(u)}")
    x = np.ascontiguousarray(np.swapaxes(u, 0, 1)).astype(dt)           # (B, T, Ni)
    B = x.shape[0]
    for lstm, (h0, c0) in zip(lstms, states, strict=True):
        x = lstm(x, initial_state=[np.tile(h0, (B, 1)).astype(dt), np.tile(c0, (B, 1)).astype(dt)])
    y = keras.ops.convert_to_numpy(dense(x) if head else x).astype(np.float64)
    y = np.swapaxes(y, 0, 1)
    return y if batched else y[:, 0, :]


def crosscheck_keras(weights, u, Ts: float = 0.1, backend: str = "auto", tolerance_scale: float | None = 1.0,
                     rtol: float | None = None, atol: float | None = None):
    """The LSTM diagram against Keras (torch backend) on ``u`` (T, Ni) or (T, B, Ni); returns a ``CrosscheckReport``.

    Comparisons: ``float64`` — the last LSTM layer's h (probe ``lstmL/h_prod.y``) against Keras'
    float64 LSTMs; ``float64_head`` — y, where Keras' float64 Dense multiplies in float32 (see the
    module's note), so at float32's tolerance; ``float32`` — y, both float32; ``reference_setup`` —
    the float64 diagram against float32 Keras. Tolerances scale with the problem as
    :func:`blockloop.interop.torch.crosscheck`'s (:func:`~blockloop.interop.torch.crosscheck_tolerances`),
    times ``tolerance_scale`` (None is 1); ``rtol``/``atol`` replace them by ``atol + rtol · norm``
    of the compared float64 signal. ``weights``: NetworkWeights, or a Keras model / LSTM layers
    (read with :func:`from_keras`).
    """
    from .torch import CrosscheckReport, _check_tolerance_options, _compare, crosscheck_tolerances, network_size

    scale = _check_tolerance_options(tolerance_scale, rtol, atol)
    if not isinstance(weights, NetworkWeights):
        weights = from_keras(weights)
    net = lstm_network(weights)
    probe = f"lstm{len(weights.layers)}/h_prod.y"
    sims = {dt: net.compile(dtype=dt).simulate({"u": u}, Ts=Ts, backend=backend, probes=[probe])
            for dt in ("float64", "float32")}
    runs = {dt: r["y"] for dt, r in sims.items()}
    theirs = {dt: keras_forward(weights, u, dt) for dt in ("float64", "float32")}
    h_keras = keras_forward(weights, u, "float64", head=False)
    u = np.asarray(u)
    y64, h64 = runs["float64"], sims["float64"][probe]
    tols = crosscheck_tolerances({"float64": ("float64", h64), "float64_head": ("float32", y64),
                                  "float32": ("float32", y64), "reference_setup": ("float32", y64)},
                                 network_size(weights, u.shape[0]), scale, rtol, atol)
    comparisons = {"float64": _compare(h64, h_keras, tols["float64"]),
                   "float64_head": _compare(y64, theirs["float64"], tols["float64_head"]),
                   "float32": _compare(runs["float32"], theirs["float32"], tols["float32"]),
                   "reference_setup": _compare(y64, theirs["float32"], tols["reference_setup"])}
    keras = _keras()
    shapes = {"ni": weights.ni, "nn": [layer.nn for layer in weights.layers], "no": weights.no,
              "layers": len(weights.layers), "steps": int(u.shape[0]),
              "batch": int(u.shape[1]) if u.ndim == 3 else None,
              "Ts": Ts, "tolerance_scale": scale, "tolerances": tols, "rtol": rtol, "atol": atol, "backend": backend,
              "runtime": f"keras {keras.__version__} ({keras.backend.backend()} backend)"}
    return CrosscheckReport(comparisons=comparisons, shapes=shapes,
                            results={"diagram": runs, "keras": theirs, "keras_h_float64": h_keras})
