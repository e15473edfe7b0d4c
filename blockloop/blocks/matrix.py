"""MatrixProduct: the product of two matrix-valued signals (never elementwise; see Product for that)."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import MAX_SIGNAL_SIZE, Block, Lowering, check_int

__all__ = ["MatrixProduct"]


class MatrixProduct(Block):
    """Matrix product ``Y = U1 · U2`` of two matrix-valued signals (Simulink "Product", matrix mode).

    Ports: inputs ``u1`` (size m·k: the m×k matrix U1, row-major) and ``u2`` (size k·n: the
    k×n matrix U2, row-major); output ``y`` (size m·n: the m×n matrix Y, row-major). Direct
    feedthrough from both inputs, no state. A vector signal is a matrix only by these declared
    shapes: ``u1[i·k + l] = U1[i, l]``, ``y[i·n + j] = Y[i, j]``.

    Rule: ``Y[i, j] = Σ_l U1[i, l]·U2[l, j]``, each sum taken left to right (l = 0 … k−1) from 0,
    in the signals' dtype — no BLAS, so both backends give the same bits. Adjoint:
    ``gU1 = gY·U2ᵀ``, ``gU2 = U1ᵀ·gY``.

    Parameters
    ----------
    m, k, n : int
        U1 is m×k, U2 is k×n, Y is m×n; each at least 1.

    Examples
    --------
    >>> import numpy as np
    >>> U1, U2 = np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([[5.0, 6.0]])   # (2×2)·(2×1)
    >>> MatrixProduct(2, 2, 1).output([U1, U2], None)[0].tolist()
    [[17.0, 39.0]]
    """

    def __init__(self, m: int, k: int, n: int):
        self.m = check_int(m, "MatrixProduct m")
        self.k = check_int(k, "MatrixProduct k")
        self.n = check_int(n, "MatrixProduct n")
        for what, size in (("m·k", self.m * self.k), ("k·n", self.k * self.n), ("m·n", self.m * self.n)):
            if size > MAX_SIGNAL_SIZE:
                raise ParameterError(f"MatrixProduct m, MatrixProduct k, MatrixProduct n ({self.m}, {self.k}, "
                                     f"{self.n}): the signal size {what} = {size} exceeds {MAX_SIGNAL_SIZE}")
        self.inputs = ("u1", "u2")
        self.outputs = ("y",)

    def params(self):
        return {"m": self.m, "k": self.k, "n": self.n}

    def declared_input_sizes(self):
        return {"u1": self.m * self.k, "u2": self.k * self.n}

    def output_sizes(self, in_sizes):
        return {"y": self.m * self.n}

    def _matrices(self, u):
        B = u[0].shape[0]
        return u[0].reshape(B, self.m, self.k), u[1].reshape(B, self.k, self.n)

    def output(self, u, x):
        A, C = self._matrices(u)
        y = np.zeros((A.shape[0], self.m, self.n), dtype=A.dtype)
        for l in range(self.k):  # noqa: E741 - the inner index of the product
            y = y + A[:, :, l:l + 1] * C[:, l:l + 1, :]
        return (y.reshape(-1, self.m * self.n),)

    def output_vjp(self, u, x, y, gy):
        A, C = self._matrices(u)
        G = gy[0].reshape(-1, self.m, self.n)
        return ((G @ C.transpose(0, 2, 1)).reshape(-1, self.m * self.k),
                (A.transpose(0, 2, 1) @ G).reshape(-1, self.k * self.n)), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("matrix_product", None, (self.m, self.k, self.n))
