"""MATLAB ``trainNetwork``'s Adam step, learning-rate schedule and regression loss, written out.

Everything here is plain arithmetic on array-likes (numpy arrays or torch tensors alike), so
the training loop can run it on tensors and the tests can check it with numpy.

What ``trainNetwork`` (Deep Learning Toolbox, R2023a, ``trainingOptions("adam", ...)``) does per
iteration, in this order, for every learnable parameter ``p`` with gradient ``g``:

1. **L2 regularization** (``L2Regularization`` λ, default 1e-4) is added to the gradient of
   *weights only*: ``g ← g + λ·p`` for LSTM ``InputWeights``, ``RecurrentWeights`` and the
   fully connected ``Weights`` (their ``L2Factor`` is 1); biases have ``BiasL2Factor`` 0.
   The reported loss does not include the λ/2·‖p‖² term (the reference's first logged loss,
   1.2e-03, is far below the 8 that term would add for its F ≈ 325).
2. **Gradient clipping** with ``GradientThreshold`` τ and the default
   ``GradientThresholdMethod = "l2norm"``: *each learnable separately* — if ‖g‖₂ > τ,
   ``g ← g·τ/‖g‖₂``. This is not global-norm clipping (``"global-l2norm"``).
3. **Adam** with β1 = 0.9, β2 = 0.999 (``GradientDecayFactor``, ``SquaredGradientDecayFactor``)
   and ε = 1e-8, where the bias correction is folded into the step size and ε stays outside
   it: ``m ← β1·m + (1−β1)·g``; ``v ← β2·v + (1−β2)·g²``;
   ``p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε)``. ``torch.optim.Adam`` instead divides by
   ``√v̂ + ε`` with ``v̂ = v/(1−β2ᵗ)``, which differs while √v is near ε.
4. **Piecewise schedule**: ``lr(e) = lr0 · f^⌊(e−1)/P⌋`` for epoch e = 1, 2, … with
   ``LearnRateDropFactor`` f and ``LearnRateDropPeriod`` P. The reference's logs confirm it:
   1e-4·0.99^⌊499/100⌋ = 9.6060e-05 at epoch 500 and 0.04·0.98^99 = 0.0054 at epoch 10 000.

The regression loss of ``regressionLayer`` for sequence-to-sequence regression is the
half-mean-squared error *per time step*, not normalized by the number of responses R, averaged
over the N sequences of the mini-batch: ``loss = (1/N)·Σ_n (1/(2T))·Σ_t Σ_r (y − ŷ)²``.
``trainNetwork``'s "Mini-batch RMSE" is then ``√(2·loss)`` (for R = 1, the root of the mean
squared error over time). The published logs fit this and nothing simpler: RMSE 0.05 ↔ loss
1.2e-03 (0.05²/2 = 1.25e-3), RMSE 7.79 ↔ 30.3, RMSE 1.22 ↔ 0.7, RMSE 0.25 ↔ 3.1e-02; a loss
summed over the 1001 steps would be ×1001 larger, a plain MSE ×2. The later ``trainnet``'s
``"mse"`` loss — the plain mean over all elements, no half — is offered as ``"mse"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ParameterError

__all__ = ["piecewise_lr", "regression_loss", "rmse_from_loss", "l2_regularize", "clip_l2norm",
           "MatlabAdam", "LOSSES"]

LOSSES = ("half-mse", "mse")


def piecewise_lr(epoch: int, lr0: float, drop_factor: float = 1.0, drop_period: int = 1) -> float:
    """Base learning rate of epoch ``epoch`` (1-based) under MATLAB's ``"piecewise"`` schedule.

    ``lr(e) = lr0 · drop_factor ** ((e − 1) // drop_period)``.

    Raises
    ------
    ParameterError
        ``epoch`` < 1, ``drop_period`` < 1, or a negative rate or factor.

    Examples
    --------
    >>> f"{piecewise_lr(500, 1e-4, 0.99, 100):.4e}"  # the reference's log at epoch 500
    '9.6060e-05'
    >>> piecewise_lr(100, 0.04, 0.98, 100), round(piecewise_lr(101, 0.04, 0.98, 100), 6)
    (0.04, 0.0392)
    """
    if int(epoch) < 1:
        raise ParameterError(f"epoch: expected 1 or more (epochs count from 1 as in MATLAB), got {epoch}")
    if int(drop_period) < 1:
        raise ParameterError(f"drop_period: expected a positive number of epochs, got {drop_period}")
    if lr0 < 0 or drop_factor < 0:
        raise ParameterError(f"lr0 and drop_factor must be ≥ 0, got lr0={lr0}, drop_factor={drop_factor}")
    return float(lr0) * float(drop_factor) ** ((int(epoch) - 1) // int(drop_period))


def regression_loss(err, kind: str = "half-mse"):
    """Loss of the error ``err`` = prediction − target, shaped (N, T, R) (N sequences, T steps).

    ``"half-mse"`` (``trainNetwork``'s ``regressionLayer``): ``Σ err² / (2·N·T)`` — summed over
    responses R, averaged over steps and sequences. ``"mse"`` (``trainnet``): ``Σ err² / (N·T·R)``.
    Works on numpy arrays and torch tensors (keeps the autograd graph).

    Raises
    ------
    ParameterError
        ``kind`` not one of ``"half-mse"``, ``"mse"``, or ``err`` not 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(regression_loss(np.full((1, 1001, 1), 0.05))), 12)  # RMSE 0.05 ↔ loss 1.2e-03
    0.00125
    """
    if kind not in LOSSES:
        raise ParameterError(f"loss: expected one of {LOSSES}, got {kind!r}")
    if len(err.shape) != 3:
        raise ParameterError(f"err: expected shape (N, T, R) (sequences, steps, responses), got {tuple(err.shape)}")
    n, t, r = err.shape
    total = (err * err).sum()
    return total / (2 * n * t) if kind == "half-mse" else total / (n * t * r)


def rmse_from_loss(loss: float, kind: str = "half-mse", n_responses: int = 1) -> float:
    """``trainNetwork``'s "Mini-batch RMSE" from the loss: √(2·loss) for half-mse, √(R·loss) for mse.

    Both equal √(mean over sequences and steps of Σ_r err²).

    Examples
    --------
    >>> round(rmse_from_loss(30.3), 2)
    7.78
    """
    if kind not in LOSSES:
        raise ParameterError(f"loss: expected one of {LOSSES}, got {kind!r}")
    return float(2.0 * loss if kind == "half-mse" else n_responses * loss) ** 0.5


def l2_regularize(grad, param, l2: float, is_weight: bool):
    """``grad + l2·param`` for weights (L2 factor 1), ``grad`` unchanged for biases (factor 0)."""
    return grad + l2 * param if (is_weight and l2) else grad


def clip_l2norm(grad, threshold: float | None):
    """Rescale one learnable's gradient to L2 norm ``threshold`` if it is larger (MATLAB "l2norm").

    ``None`` or ``inf`` disables clipping. Applied per learnable, never to a concatenation.

    Examples
    --------
    >>> import numpy as np
    >>> clip_l2norm(np.array([3.0, 4.0]), 1.0).round(12).tolist()
    [0.6, 0.8]
    """
    if threshold is None or threshold == float("inf"):
        return grad
    norm = float((grad * grad).sum()) ** 0.5
    return grad * (threshold / norm) if norm > threshold else grad


@dataclass
class MatlabAdam:
    """Adam as ``trainNetwork`` applies it (see the module notes for the exact order and formulas).

    Parameters
    ----------
    l2 : L2 regularization λ, added to weight gradients only (``L2Regularization``, default 1e-4)
    grad_threshold : per-learnable gradient L2-norm threshold τ (``GradientThreshold``; None = off)
    beta1, beta2, eps : Adam's decay factors and ε (MATLAB defaults 0.9, 0.999, 1e-8)

    The optimizer keeps ``m``, ``v`` per parameter name and the update count ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> opt = MatlabAdam(l2=0.0, grad_threshold=None)
    >>> delta = opt.step({"w": np.array([1.0])}, {"w": np.array([0.5])}, lr=0.1, weights=())
    >>> delta["w"].round(6).tolist()  # first step: lr·√0.001/0.1 · 0.05/(√0.00025 + ε) ≈ lr
    [0.1]
    """

    l2: float = 1e-4
    grad_threshold: float | None = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: dict = field(default_factory=dict)
    v: dict = field(default_factory=dict)

    def __post_init__(self):
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ParameterError(f"beta1, beta2: expected values in [0, 1), got {self.beta1}, {self.beta2}")
        if self.eps <= 0 or self.l2 < 0:
            raise ParameterError(f"eps must be > 0 and l2 ≥ 0, got eps={self.eps}, l2={self.l2}")
        if self.grad_threshold is not None and self.grad_threshold <= 0:
            raise ParameterError(f"grad_threshold: expected a positive number or None, got {self.grad_threshold}")

    def effective_gradients(self, params: dict, grads: dict, weights) -> dict:
        """Gradients after L2 (weights only) and per-learnable clipping: what Adam averages."""
        missing = set(params) ^ set(grads)
        if missing:
            raise ParameterError(f"params and grads must name the same learnables; unmatched: {sorted(missing)}")
        return {name: clip_l2norm(l2_regularize(grads[name], params[name], self.l2, name in weights),
                                  self.grad_threshold) for name in params}

    def step(self, params: dict, grads: dict, lr: float, weights) -> dict:
        """One iteration: returns ``{name: delta}``; the caller applies ``p ← p − delta``.

        ``weights`` names the learnables that get L2 regularization (weights, not biases).
        """
        g = self.effective_gradients(params, grads, weights)
        self.t += 1
        scale = lr * (1.0 - self.beta2 ** self.t) ** 0.5 / (1.0 - self.beta1 ** self.t)
        delta = {}
        for name, gn in g.items():
            m = self.beta1 * self.m.get(name, 0.0) + (1.0 - self.beta1) * gn
            v = self.beta2 * self.v.get(name, 0.0) + (1.0 - self.beta2) * gn * gn
            self.m[name], self.v[name] = m, v
            delta[name] = scale * m / (v ** 0.5 + self.eps)
        return delta
