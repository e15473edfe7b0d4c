"""Train an LSTM + fully connected network the way MATLAB's ``trainNetwork`` did.

Two trainers, chosen by ``TrainingOptions.trainer``:

- ``"diagram"`` (default): the blockloop LSTM diagram itself, differentiated by
  backpropagation through time on the compiled backend (:func:`blockloop.autodiff.fit`), in
  float64 by default, deterministic;
- ``"torch"``: ``torch.nn.LSTM`` (batch_first) followed by ``torch.nn.Linear``, built from
  :class:`~blockloop.diagrams.NetworkWeights` with :func:`blockloop.interop.torch.to_torch` and
  converted back with :func:`~blockloop.interop.torch.from_torch` (float32 by default, like
  MATLAB). PyTorch is imported lazily.

Facts this reproduces (see :mod:`blockloop.study.matlab_adam` for the formulas):

- one epoch is one iteration: the whole training set (one 1001-step sequence in the study) is
  a single mini-batch (MATLAB's default ``MiniBatchSize`` 128 exceeds the one sequence);
- Adam with ε outside the bias correction, per-learnable ``"l2norm"`` gradient clipping,
  L2 regularization on weights only, added before clipping; the piecewise schedule;
- learnables are the LSTM's W, R, b (``weight_ih``, ``weight_hh``, ``bias_ih``) and the FC
  layer's weight and bias; PyTorch's second bias ``bias_hh`` is frozen at zero, since two
  trainable copies of one bias would move it twice as fast;
- the loss is ``regressionLayer``'s half-MSE per time step (``"mse"``: ``trainnet``'s plain MSE);
- the initial states are those of the weights (zero in both of the study's runs, as in the
  reference); training runs in float32 like MATLAB unless float64 is asked for.

Exact replay of MATLAB's run is impossible (float32 rounding differs and the trajectory is
chaotic after ~100 epochs), so results are compared statistically (final loss and RMSE).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..diagrams import LayerWeights, NetworkWeights, matlab_rand
from ..errors import NonFiniteError, ParameterError
from .matlab_adam import LOSSES, MatlabAdam, piecewise_lr, regression_loss, rmse_from_loss
from .training_log import LogRow, ProgressBar

__all__ = ["TrainingOptions", "TrainingResult", "train", "random_weights", "evaluate_loss", "TRAINERS"]

#: The two trainers of :func:`train`.
TRAINERS = ("diagram", "torch")
#: Most epochs one run may ask for: the loss of every epoch is kept (8 bytes each).
MAX_EPOCHS = 100_000_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOptions:
    """``trainingOptions("adam", ...)``; defaults are MATLAB's unless stated.

    Parameters
    ----------
    lr0 : ``InitialLearnRate`` (0.001)
    drop_factor, drop_period : ``LearnRateDropFactor``, ``LearnRateDropPeriod`` in epochs
        (1.0 and 10 here: a factor of 1 is MATLAB's default ``LearnRateSchedule="none"``)
    epochs : ``MaxEpochs`` (30); one epoch = one full-batch iteration
    grad_threshold : ``GradientThreshold`` per learnable (MATLAB's default Inf = None; the study uses 1)
    l2 : ``L2Regularization`` on weights (1e-4)
    beta1, beta2, eps : Adam's ``GradientDecayFactor``, ``SquaredGradientDecayFactor``, ``Epsilon``
    loss : ``"half-mse"`` (``trainNetwork``'s regressionLayer) or ``"mse"`` (``trainnet``)
    trainer : ``"diagram"`` (blockloop's own BPTT on the LSTM diagram; default) or ``"torch"``
    dtype : ``"float32"`` (MATLAB's single) or ``"float64"``; default float64 for the diagram
        trainer, float32 for torch (torch float64 is about 40× slower on CPU: ~2 ms against
        ~100 ms per epoch of the study, as PyTorch's fused CPU LSTM is single precision only)
    verbose_every : ``VerboseFrequency`` in iterations (50; the study uses 500)
    threads : torch intra-op threads while training (1 is fastest for these tiny matrices)
    """

    lr0: float = 1e-3
    drop_factor: float = 1.0
    drop_period: int = 10
    epochs: int = 30
    grad_threshold: float | None = None
    l2: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    loss: str = "half-mse"
    dtype: str | None = None
    verbose_every: int = 50
    threads: int | None = 1
    trainer: str = "diagram"

    def __post_init__(self):
        if self.trainer not in TRAINERS:
            raise ParameterError(f"trainer: expected one of {TRAINERS}, got {self.trainer!r}")
        if self.dtype is None:
            object.__setattr__(self, "dtype", "float64" if self.trainer == "diagram" else "float32")
        for name in ("epochs", "drop_period", "verbose_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
        if self.epochs > MAX_EPOCHS:
            raise ParameterError(f"epochs: at most {MAX_EPOCHS:,} (each epoch's loss is kept), got {self.epochs:,}")
        for name in ("lr0", "drop_factor", "l2", "beta1", "beta2", "eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(value):
                raise ParameterError(f"{name}: expected a finite number, got {value!r}")
        if self.grad_threshold is not None and (isinstance(self.grad_threshold, bool) or not isinstance(
                self.grad_threshold, (int, float, np.integer, np.floating)) or math.isnan(self.grad_threshold)):
            raise ParameterError(f"grad_threshold: expected a positive number or None, got {self.grad_threshold!r}")
        if self.loss not in LOSSES:
            raise ParameterError(f"loss: expected one of {LOSSES}, got {self.loss!r}")
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        for name in ("epochs", "drop_period", "verbose_every"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")
        if not self.lr0 > 0:
            raise ParameterError(f"lr0: expected a positive learning rate, got {self.lr0!r}")
        MatlabAdam(self.l2, self.grad_threshold, self.beta1, self.beta2, self.eps)  # validates those

    def lr(self, epoch: int) -> float:
        """Base learning rate of ``epoch`` (1-based)."""
        return piecewise_lr(epoch, self.lr0, self.drop_factor, self.drop_period)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class TrainingResult:
    """What a training run produced.

    ``loss``, ``rmse`` and ``lr`` are (epochs,) arrays; ``loss[e−1]`` is measured at epoch e
    before its update, as MATLAB logs it. ``final_loss``/``final_rmse`` are of the trained
    weights (after the last update). ``us_per_epoch`` is wall time per epoch in microseconds.
    """

    weights: NetworkWeights
    initial: NetworkWeights
    options: TrainingOptions
    loss: np.ndarray
    rmse: np.ndarray
    lr: np.ndarray
    log: list = field(default_factory=list)
    final_loss: float = math.nan
    final_rmse: float = math.nan
    wall_s: float = math.nan

    @property
    def us_per_epoch(self) -> float:
        return 1e6 * self.wall_s / max(len(self.loss), 1)

    def summary(self) -> dict:
        """Numbers only (JSON-ready)."""
        return {"epochs": len(self.loss), "initial_loss": float(self.loss[0]), "initial_rmse": float(self.rmse[0]),
                "last_logged_loss": float(self.loss[-1]), "last_logged_rmse": float(self.rmse[-1]),
                "final_loss": self.final_loss, "final_rmse": self.final_rmse, "final_lr": float(self.lr[-1]),
                "min_loss": float(np.min(self.loss)), "wall_s": self.wall_s, "us_per_epoch": self.us_per_epoch,
                "log": [r.as_dict() for r in self.log], "options": self.options.as_dict()}


def random_weights(ni: int, nn: int, no: int, seed: int = 0) -> NetworkWeights:
    """The reference's random start: W, R, b, F uniform on [0, 1) like MATLAB ``rand``, zero states.

    Draw order W (4·Nn×Ni), R (4·Nn×Nn), b (4·Nn×1), F (No×Nn) from
    :func:`~blockloop.diagrams.matlab_rand` seeded fresh with ``seed``; the FC bias is zero.
    (The reference draws them after many earlier ``rand`` calls, so its values differ.)

    Examples
    --------
    >>> w = random_weights(1, 5, 1)
    >>> w.layers[0].W.shape, w.F.shape, float(w.F_bias[0])
    ((20, 1), (1, 5), 0.0)
    """
    rand = matlab_rand(seed)
    W, R, b = rand(4 * nn, ni), rand(4 * nn, nn), rand(4 * nn, 1)
    return NetworkWeights(layers=(LayerWeights(W=W, R=R, b=b),), F=rand(no, nn), F_bias=np.zeros(no))


def _torch():
    from ..interop.torch import _torch as get

    return get()


@contextlib.contextmanager
def _threads(n: int | None):
    torch = _torch()
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(weights: NetworkWeights, u, y):
    """(N, T, Ni) inputs and (N, T, No) targets from (T, Ni)/(T, N, Ni) and (T, No)/(T, N, No)."""
    u = np.asarray(u, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == u.ndim - 1:
        y = y[..., None]
    if u.ndim == 2:
        u, y = u[:, None, :], y[:, None, :]
    if u.ndim != 3 or y.ndim != 3 or u.shape[:2] != y.shape[:2]:
        raise ParameterError(f"u, y: expected (T, Ni) and (T, No) (or (T, N, ·)) with the same T and N, "
                             f"got {u.shape} and {y.shape}")
    if u.shape[2] != weights.ni or y.shape[2] != weights.no:
        raise ParameterError(f"u, y: the network has Ni = {weights.ni} inputs and No = {weights.no} outputs, "
                             f"got u with {u.shape[2]} and y with {y.shape[2]} columns")
    for name, arr in (("u", u), ("y", y)):
        if not np.all(np.isfinite(arr)):
            raise NonFiniteError(f"training data {name} has non-finite values")
    return np.ascontiguousarray(np.moveaxis(u, 1, 0)), np.ascontiguousarray(np.moveaxis(y, 1, 0))


class _Network:
    """The torch modules, their learnables (bias_hh frozen) and a forward pass over the batch."""

    def __init__(self, weights: NetworkWeights, u, y, dtype: str):
        from ..interop.torch import to_torch

        torch = _torch()
        self.lstm, self.linear, (h0, c0) = to_torch(weights, dtype)
        tdtype = self.lstm.weight_ih_l0.dtype
        x, t = _batches(weights, u, y)
        self.x, self.target = torch.from_numpy(x).to(tdtype), torch.from_numpy(t).to(tdtype)
        n = self.x.shape[0]
        self.state = (h0.expand(-1, n, -1).contiguous(), c0.expand(-1, n, -1).contiguous())
        self.params, self.weight_names = {}, set()
        for name, p in self.lstm.named_parameters():
            if name.startswith("bias_hh"):
                p.requires_grad_(False)  # frozen at zero: the diagram's single bias lives in bias_ih
                continue
            self.params[f"lstm.{name}"] = p
            if name.startswith("weight"):
                self.weight_names.add(f"lstm.{name}")
        self.params["fc.weight"], self.params["fc.bias"] = self.linear.weight, self.linear.bias
        self.weight_names.add("fc.weight")

    def error(self):
        h, _ = self.lstm(self.x, self.state)
        return self.linear(h) - self.target

    def step(self, opt: MatlabAdam, lr: float, loss_kind: str) -> float:
        """One iteration: loss and gradients of the full batch, then the MATLAB-style update.

        Returns the loss measured before the update (what MATLAB logs for the iteration).
        """
        torch = _torch()
        loss = regression_loss(self.error(), loss_kind)
        grads = torch.autograd.grad(loss, list(self.params.values()))
        with torch.no_grad():
            values = {n: p.detach() for n, p in self.params.items()}
            delta = opt.step(values, dict(zip(self.params, grads, strict=True)), lr, self.weight_names)
            for n, p in self.params.items():
                p.sub_(delta[n])
        return float(loss.detach())

    def weights(self, initial: NetworkWeights) -> NetworkWeights:
        from ..interop.torch import from_torch

        w = from_torch(self.lstm, self.linear)
        pairs = zip(w.layers, initial.layers, strict=True)
        layers = tuple(LayerWeights(W=a.W, R=a.R, b=a.b, h0=b.h0, c0=b.c0) for a, b in pairs)
        return NetworkWeights(layers=layers, F=w.F, F_bias=w.F_bias)


def evaluate_loss(weights: NetworkWeights, u, y, loss: str = "half-mse", dtype: str = "float64") -> tuple:
    """``(loss, rmse)`` of the network on (u, y), with the same formulas as training."""
    torch = _torch()
    net = _Network(weights, u, y, dtype)
    with torch.no_grad():
        value = float(regression_loss(net.error(), loss))
    return value, rmse_from_loss(value, loss, weights.no)


def train(weights: NetworkWeights, u, y, options: TrainingOptions | None = None, progress=None,
          on_log=None, label: str = "") -> TrainingResult:
    """Train from ``weights`` on input ``u`` and target ``y`` as ``trainNetwork`` would.

    Parameters
    ----------
    weights : starting weights (one or more layers with equal unit counts)
    u : (T, Ni) or (T, N, Ni) input sequence(s); y : (T, No) or (T, N, No) targets
    options : :class:`TrainingOptions` (MATLAB defaults if None)
    progress : text stream for tqdm's progress bar (e.g. ``sys.stderr``), None for none; drawn only
        when the stream is a terminal
    on_log : called with each :class:`~blockloop.study.training_log.LogRow` (epoch 1, every
        ``verbose_every`` epochs, the last epoch)
    label : name shown on the progress bar

    Returns
    -------
    TrainingResult

    Raises
    ------
    ParameterError
        Shapes of u, y that do not fit the network.
    NonFiniteError
        The loss became NaN or infinite (the epoch is named; lower ``lr0``).

    Examples
    --------
    >>> import numpy as np
    >>> u = np.random.default_rng(0).standard_normal((50, 1))
    >>> res = train(random_weights(1, 2, 1), u, 0.5 * u, TrainingOptions(lr0=0.01, epochs=20))
    >>> bool(res.final_loss < res.loss[0])
    True
    >>> res_torch = train(random_weights(1, 2, 1), u, 0.5 * u, TrainingOptions(lr0=0.01, epochs=20,
    ...                   trainer="torch", dtype="float64"))
    >>> bool(abs(res_torch.loss[-1] - res.loss[-1]) < 1e-10 * res.loss[-1])   # same numbers, two engines
    True
    """
    options = options or TrainingOptions()
    if options.trainer == "diagram":
        from .diagram_training import train_diagram

        return train_diagram(weights, u, y, options, progress=progress, on_log=on_log, label=label)
    torch = _torch()
    net = _Network(weights, u, y, options.dtype)
    opt = MatlabAdam(options.l2, options.grad_threshold, options.beta1, options.beta2, options.eps)
    losses, lrs, log = np.empty(options.epochs), np.empty(options.epochs), []
    bar = ProgressBar(options.epochs, progress, label)
    with _threads(options.threads):
        start = time.perf_counter()
        for epoch in range(1, options.epochs + 1):
            lrs[epoch - 1] = lr = options.lr(epoch)
            losses[epoch - 1] = value = net.step(opt, lr, options.loss)
            if not math.isfinite(value):
                raise NonFiniteError(f"training {label or 'run'}: the loss is {value} at epoch {epoch}; "
                                     f"lower the initial learning rate (lr0 = {options.lr0:g})")
            if epoch == 1 or epoch % options.verbose_every == 0 or epoch == options.epochs:
                rmse = rmse_from_loss(value, options.loss, weights.no)
                log.append(LogRow(epoch, epoch, time.perf_counter() - start, rmse, value, lr))
                if on_log is not None:
                    bar.clear()
                    on_log(log[-1])
            bar.update(epoch, value)
        wall = time.perf_counter() - start
    bar.close(losses[-1])
    with torch.no_grad():
        final = float(regression_loss(net.error(), options.loss))
    logger.info("trained %s: %d epochs in %.1f s (%.0f µs/epoch), final loss %.3g", label or "network",
                options.epochs, wall, 1e6 * wall / options.epochs, final)
    rmse = np.array([rmse_from_loss(v, options.loss, weights.no) for v in losses])
    return TrainingResult(weights=net.weights(weights), initial=weights, options=options, loss=losses, rmse=rmse,
                          lr=lrs, log=log, final_loss=final, final_rmse=rmse_from_loss(final, options.loss, weights.no),
                          wall_s=wall)
