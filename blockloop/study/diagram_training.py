"""The study's training on the LSTM diagram itself (:func:`blockloop.autodiff.fit`), not on PyTorch.

The learnables are those of the PyTorch trainer and of MATLAB's network: every layer's W, R
and b (one bias per gate, as in the diagram) and the fully connected F and F_bias (added at zero
when the starting weights have none, as a fully connected layer always has one); the initial
states stay those of the weights. L2 regularization applies to W, R and F.
"""

from __future__ import annotations

import numpy as np

from ..diagrams import LayerWeights, NetworkWeights, lstm_network
from .matlab_adam import rmse_from_loss

__all__ = ["train_diagram", "learnable_paths"]


def learnable_paths(weights: NetworkWeights) -> tuple[list[str], set[str]]:
    """(trainable paths of the LSTM network diagram, the subset that gets L2 regularization)."""
    paths, l2 = [], set()
    for k in range(1, len(weights.layers) + 1):
        for name in ("W.K", "R.K", "b.value"):
            paths.append(f"lstm{k}/{name}")
        l2 |= {f"lstm{k}/W.K", f"lstm{k}/R.K"}
    paths.append("F.K")
    l2.add("F.K")
    if weights.F_bias is not None:
        paths.append("F_bias.value")
    return paths, l2


def _weights(values: dict, initial: NetworkWeights) -> NetworkWeights:
    layers = tuple(LayerWeights(W=values[f"lstm{k}/W.K"], R=values[f"lstm{k}/R.K"], b=values[f"lstm{k}/b.value"],
                                h0=layer.h0, c0=layer.c0) for k, layer in enumerate(initial.layers, start=1))
    return NetworkWeights(layers=layers, F=values["F.K"], F_bias=values.get("F_bias.value"))


def _as_sequences(u, y, weights: NetworkWeights):
    """(T, N, Ni) inputs and (T, N, No) targets, checked as the torch trainer checks them."""
    from .training import _batches

    x, t = _batches(weights, u, y)  # (N, T, ·)
    return np.moveaxis(x, 0, 1), np.moveaxis(t, 0, 1)


def train_diagram(weights: NetworkWeights, u, y, options, progress=None, on_log=None, label: str = ""):
    """:func:`blockloop.study.training.train` with ``trainer="diagram"``: same inputs, same result type."""
    from ..autodiff import fit
    from .training import TrainingResult

    u, y = _as_sequences(u, y, weights)
    initial = weights
    if weights.F_bias is None:  # MATLAB's and torch's FC layer always has a (trained) bias, zero at first
        weights = NetworkWeights(layers=weights.layers, F=weights.F, F_bias=np.zeros(weights.no))
    program = lstm_network(weights).compile(dtype=options.dtype)
    paths, l2 = learnable_paths(weights)
    res = fit(program, {"u": u}, {"y": y}, paths, options, weights=l2, progress=progress, on_log=on_log,
              label=label)
    values = {p: np.asarray(v, dtype=np.float64) for p, v in res.values.items()}
    rmse = np.array([rmse_from_loss(v, options.loss, weights.no) for v in res.loss])
    return TrainingResult(weights=_weights(values, weights), initial=initial, options=options, loss=res.loss,
                          rmse=rmse, lr=res.lr, log=res.log, final_loss=res.final_loss,
                          final_rmse=rmse_from_loss(res.final_loss, options.loss, weights.no), wall_s=res.wall_s)
