"""The Elman RNN layer drawn as explicit feedback, its weights, and a network builder.

Per layer, at step k (PyTorch's ``nn.RNN`` with ``nonlinearity="tanh"``)::

    h[k] = tanh(W·x[k] + R·h[k−1] + b)         (loop closed by h_delay; h[−1] = h0)

and the network output ``y[k] = F·h_L[k] (+ F_bias)``. In the notation of the reference Q&A
(h_k = σ(U·h_{k−1} + W·x_k + b), y_k = V·h_k + c): U = R, V = F, c = F_bias. PyTorch's two biases
``bias_ih`` and ``bias_hh`` are one here, their sum (as for the LSTM).

Block names inside a layer subsystem, usable as probes ``"rnn1/<name>.y"``: ``W``, ``R``, ``b``,
``pre`` (the sum), ``tanh_h``, ``h_delay``. One loop: h_delay → R → pre → tanh_h → h_delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blocks import Constant, Gain, Inport, Outport, Sum, Tanh, UnitDelay
from ..blocks.base import as_float_array
from ..engine import Diagram
from ..errors import ParameterError
from .weights import _check, _check_finite, initial_state, recurrent_matrices

__all__ = ["RNNLayerWeights", "RNNNetworkWeights", "rnn_layer", "rnn_network", "uniform_init", "network_head"]


@dataclass(frozen=True)
class RNNLayerWeights:
    """Weights and initial state of one Elman RNN layer (Nn units, Ni inputs).

    Parameters
    ----------
    W : (Nn, Ni) input weights (PyTorch ``weight_ih_l{k}``)
    R : (Nn, Nn) recurrent weights (``weight_hh_l{k}``)
    b : (Nn,) bias (``bias_ih_l{k} + bias_hh_l{k}``)
    h0 : (Nn,) initial hidden state (zeros by default)
    """

    W: np.ndarray
    R: np.ndarray
    b: np.ndarray
    h0: np.ndarray | None = None

    def __post_init__(self):
        W, R, nn = recurrent_matrices(self.W, self.R, 1)
        fields = {"R": R, "W": W, "b": _check(self.b, "b", (nn,), f"Nn = {nn}"),
                  "h0": initial_state(self.h0, "h0", nn)}
        _check_finite(fields, "RNN weight")
        for key, val in fields.items():
            object.__setattr__(self, key, val)

    @property
    def ni(self) -> int:
        return self.W.shape[1]

    @property
    def nn(self) -> int:
        return self.R.shape[0]


def network_head(layers, F, F_bias, layer_type):
    """Check a stack of layers and the fully connected head; returns (layers, F, F_bias)."""
    layers = tuple(layers)
    if not layers or not all(isinstance(layer, layer_type) for layer in layers):
        raise ParameterError(f"layers: expected one or more {layer_type.__name__}")
    for k in range(1, len(layers)):
        if layers[k - 1].nn != layers[k].ni:
            raise ParameterError(f"layer {k + 1} W: expected {layers[k - 1].nn} columns (its input is layer {k}'s "
                                 f"{layers[k - 1].nn} units), got shape {layers[k].W.shape}")
    F = as_float_array(F, "F")
    if F.ndim == 1:
        F = F[None, :]
    if F.ndim != 2 or F.shape[1] != layers[-1].nn:
        raise ParameterError(f"F: expected shape (No, {layers[-1].nn}) (No × Nn of the last layer), "
                             f"got shape {F.shape}")
    if F_bias is not None:
        F_bias = _check(F_bias, "F_bias", (F.shape[0],), f"No = {F.shape[0]}")
    _check_finite({"F": F, **({"F_bias": F_bias} if F_bias is not None else {})}, "network")
    return layers, F, F_bias


def uniform_init(seed: int):
    """``draw(rows, cols, nn)``: uniform on [−1/√Nn, 1/√Nn], PyTorch's default RNN/GRU/LSTM initialisation."""
    rng = np.random.default_rng(seed)

    def draw(rows: int, cols: int | None, nn: int) -> np.ndarray:
        k = 1.0 / np.sqrt(nn)
        return rng.uniform(-k, k, (rows,) if cols is None else (rows, cols))

    return draw


@dataclass(frozen=True)
class StackedNetworkWeights:
    """Stacked recurrent layers followed by the fully connected gain: ``y = F·h_L + F_bias``.

    The common part of :class:`RNNNetworkWeights` and the GRU's; a subclass names its
    ``LAYER`` type and draws one layer in :meth:`random_layer`.
    """

    layers: tuple
    F: np.ndarray
    F_bias: np.ndarray | None = None

    LAYER = None  # the layer-weights class, set by each subclass

    def __post_init__(self):
        layers, F, F_bias = network_head(self.layers, self.F, self.F_bias, self.LAYER)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "F", F)
        object.__setattr__(self, "F_bias", F_bias)

    @property
    def ni(self) -> int:
        return self.layers[0].ni

    @property
    def no(self) -> int:
        return self.F.shape[0]

    @classmethod
    def random_layer(cls, draw, n_in: int, nn: int):
        """One layer's weights drawn with ``draw(rows, cols, nn)`` (see :func:`uniform_init`)."""
        raise NotImplementedError

    @classmethod
    def random(cls, ni: int, nn: int, no: int, n_layers: int = 1, seed: int = 0, bias: bool = True):
        """PyTorch-style uniform(±1/√Nn) weights (numpy ``default_rng(seed)``), zero h0, F_bias if ``bias``."""
        for name, val in (("ni", ni), ("nn", nn), ("no", no), ("n_layers", n_layers)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ParameterError(f"{name}: expected a positive integer, got {val!r}")
        draw = uniform_init(seed)
        layers, n_in = [], ni
        for _ in range(n_layers):
            layers.append(cls.random_layer(draw, n_in, nn))
            n_in = nn
        return cls(layers=tuple(layers), F=draw(no, nn, nn), F_bias=draw(no, None, nn) if bias else None)


@dataclass(frozen=True)
class RNNNetworkWeights(StackedNetworkWeights):
    """Stacked Elman RNN layers (:class:`RNNLayerWeights`) followed by the fully connected gain."""

    LAYER = RNNLayerWeights

    @classmethod
    def random_layer(cls, draw, n_in: int, nn: int) -> RNNLayerWeights:
        return RNNLayerWeights(W=draw(nn, n_in, nn), R=draw(nn, nn, nn), b=draw(nn, None, nn))


def rnn_layer(weights: RNNLayerWeights, name: str = "rnn") -> Diagram:
    """One Elman RNN layer as a subsystem: input ``x`` (Ni), output ``h`` (Nn).

    Examples
    --------
    >>> layer = rnn_layer(RNNLayerWeights(W=np.ones((2, 1)), R=np.zeros((2, 2)), b=np.zeros(2)))
    >>> layer.inputs, layer.outputs
    (('x',), ('h',))
    """
    d = Diagram(name)
    d.add("x", Inport(weights.ni))
    d.add("W", Gain(weights.W))
    d.add("R", Gain(weights.R))
    d.add("b", Constant(weights.b))
    d.add("pre", Sum("+++"))
    d.add("tanh_h", Tanh())
    d.add("h_delay", UnitDelay(weights.h0))
    d.add("h", Outport())
    d.chain("x", "W")
    d.connect("W", "pre.u1")
    d.connect("R", "pre.u2")
    d.connect("b", "pre.u3")
    # the hidden loop: h → h_delay → R → pre → tanh_h → h
    d.chain("pre", "tanh_h", "h_delay", "R")
    d.connect("tanh_h", "h")
    return d


def stack(weights, layer_fn, prefix: str, name: str) -> Diagram:
    """Layers ``<prefix>1 … <prefix>L`` fed by Inport ``u``, then the gain ``F`` (+ ``F_bias``) to Outport ``y``."""
    d = Diagram(name)
    d.add("u", Inport(weights.ni))
    source = "u"
    for k, layer in enumerate(weights.layers, start=1):
        d.add(f"{prefix}{k}", layer_fn(layer, name=f"{prefix}{k}"))
        d.connect(source, f"{prefix}{k}.x")
        source = f"{prefix}{k}.h"
    d.add("F", Gain(weights.F))
    d.connect(source, "F")
    source = "F"
    if weights.F_bias is not None:
        d.add("F_bias", Constant(weights.F_bias))
        d.add("fc", Sum("++"))
        d.connect("F", "fc.u1")
        d.connect("F_bias", "fc.u2")
        source = "fc"
    d.add("y", Outport())
    d.connect(source, "y")
    return d


def rnn_network(weights: RNNNetworkWeights, name: str = "rnn_net") -> Diagram:
    """Stacked Elman layers ``rnn1 … rnnL`` and the fully connected gain ``F``.

    Ports: input ``u`` (Ni), output ``y`` (No). Trainable paths: ``rnn{k}/W.K``, ``rnn{k}/R.K``,
    ``rnn{k}/b.value``, ``F.K``, ``F_bias.value``; initial states ``rnn{k}/h_delay``.

    Examples
    --------
    >>> net = rnn_network(RNNNetworkWeights.random(ni=2, nn=3, no=1))
    >>> net.simulate({"u": np.zeros((5, 2))})["y"].shape
    (5, 1)
    """
    return stack(weights, rnn_layer, "rnn", name)
