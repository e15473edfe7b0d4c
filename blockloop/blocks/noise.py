"""Random sources: GaussianNoise, a seeded vector white-noise generator.

A run's samples are generated up front, before the first step, from the block's parameters and
the run's length T and batch size B only; the engine then treats them like a ``FromArray``'s data
(the compiled backend copies them in as its ``source`` op). Both backends therefore see the very
same numbers, bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import Block, Lowering, as_float_array

__all__ = ["GaussianNoise"]

#: Seeds are integers in 0 … 2⁶³ − 1 (what a diagram file's JSON keeps exactly).
MAX_SEED = 2**63


def _covariance(value) -> np.ndarray:
    """``value`` as a symmetric positive semi-definite (n, n) float64 matrix, or ParameterError."""
    cov = as_float_array(value, "GaussianNoise cov").astype(np.float64)
    if cov.ndim == 0:
        cov = cov.reshape(1, 1)
    elif cov.ndim == 1:
        cov = np.diag(cov)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ParameterError(f"GaussianNoise cov: expected a square (n, n) covariance matrix (or a vector of "
                             f"variances, or one variance), got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ParameterError("GaussianNoise cov: has non-finite values")
    scale = max(1.0, float(np.max(np.abs(cov))))
    asym = float(np.max(np.abs(cov - cov.T)))
    if asym > 1e-12 * scale:
        raise ParameterError(f"GaussianNoise cov: not symmetric (max |cov − covᵀ| = {asym:.3g}); a covariance "
                             "matrix equals its transpose")
    lowest = float(np.linalg.eigvalsh(cov).min())
    if lowest < -1e-12 * scale:
        raise ParameterError(f"GaussianNoise cov: not positive semi-definite (smallest eigenvalue {lowest:.3g}); "
                             "a covariance matrix has no negative eigenvalue")
    return cov


def _factor(cov: np.ndarray) -> np.ndarray:
    """L with L·Lᵀ = cov: the Cholesky factor, or V·√Λ (from ``eigh``) when cov is singular."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(cov)
        return V * np.sqrt(np.clip(lam, 0.0, None))


class GaussianNoise(Block):
    """Seeded Gaussian white noise, a vector source ("Random Number" / "Band-Limited White Noise").

    Ports: output ``y`` of size n. No inputs, no state, no direct feedthrough.

    Rule: for batch sequence b and step k, ``y[k] = mean + L·ξ_b[k]`` with L·Lᵀ = ``cov``
    (Cholesky; V·√Λ if ``cov`` is singular) and ξ_b[k] ~ N(0, I_n) drawn by numpy's PCG64 generator
    seeded with ``SeedSequence(seed, spawn_key=(b,))`` — the b-th child of ``SeedSequence(seed)``:

    * reproducible: the same seed gives the same samples on every run, both backends, any dtype
      (generated in float64, then rounded to the program's dtype);
    * independent per sequence: each batch row b has its own stream, which depends only on
      (seed, b) — so row 0 of a batched run equals the unbatched run, and sequence b does not
      change when the batch grows; samples are independent across steps and rows;
    * prefix-stable: the first T samples of a longer run equal those of a T-step run.

    Blocks in one diagram need different seeds to be independent of each other.

    Parameters
    ----------
    cov : array (n, n), or (n,) variances (a diagonal covariance), or one variance (n = 1)
        Covariance of each sample, in the squared units of the signal. Symmetric positive
        semi-definite; a zero variance gives a constant component.
    seed : int
        0 ≤ seed < 2⁶³.
    mean : array (n,), optional
        Mean of each sample (zeros by default).

    Not trainable: ``cov``, ``mean`` and ``seed`` define the random stream (``arrays()`` is
    empty, so they are neither cast to float32 nor offered as gradient parameters).

    Examples
    --------
    >>> import numpy as np
    >>> from blockloop import Diagram
    >>> from blockloop.blocks import Outport
    >>> d = Diagram("noise"); _ = d.add("w", GaussianNoise([[4.0, 0.0], [0.0, 1.0]], seed=1))
    >>> _ = d.add("y", Outport()); d.connect("w", "y")
    >>> y = d.simulate(steps=20000)["y"]
    >>> np.round(np.cov(y.T), 1).tolist()
    [[4.0, 0.0], [0.0, 1.0]]
    """

    is_time_source = True

    def __init__(self, cov, seed: int = 0, mean=None):
        self.cov = _covariance(cov)
        n = self.cov.shape[0]
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < MAX_SEED:
            raise ParameterError(f"GaussianNoise seed: expected an integer from 0 to 2**63 - 1, got {seed!r}")
        self.seed = int(seed)
        mean = np.zeros(n) if mean is None else as_float_array(mean, "GaussianNoise mean").astype(np.float64)
        mean = mean.reshape(-1) if mean.ndim <= 1 or 1 in mean.shape else mean
        if mean.shape != (n,):
            raise ParameterError(f"GaussianNoise mean: expected shape ({n},) (cov is {n}×{n}), got shape {mean.shape}")
        if not np.all(np.isfinite(mean)):
            raise ParameterError("GaussianNoise mean: has non-finite values")
        self.mean = mean
        self._L = _factor(self.cov)
        self.inputs = ()
        self.outputs = ("y",)

    @property
    def size(self) -> int:
        """n, the size of the output."""
        return self.cov.shape[0]

    def params(self):
        return {"cov": self.cov, "seed": self.seed, "mean": self.mean}

    def arrays(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": self.size}

    def samples(self, steps: int, batch: int = 1, dtype=np.float64) -> np.ndarray:
        """The run's samples, (steps, batch, n) in ``dtype``: ``y[k]`` of sequence b is ``[k, b]``."""
        n = self.size
        out = np.empty((steps, batch, n), dtype=np.float64)
        for b in range(batch):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(b,))))
            out[:, b, :] = rng.standard_normal((steps, n))
        y = np.broadcast_to(self.mean, out.shape).copy()
        for j in range(n):  # elementwise, column by column: each sample's bits depend on its ξ only
            y += out[:, :, j:j + 1] * self._L[:, j]
        return y.astype(dtype, copy=False)

    def output_vjp(self, u, x, y, gy):
        return (), None, {}

    def lowering(self):
        return Lowering("source")
