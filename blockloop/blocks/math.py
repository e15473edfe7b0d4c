"""Linear blocks: Constant, Gain, Sum, Product (elementwise)."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .base import MAX_PORTS, Block, Lowering, as_float_array, as_vector, check_int, numbered_ports, same_size

__all__ = ["Constant", "Gain", "Sum", "Product"]


class Constant(Block):
    """A constant vector source.

    Ports: output ``y`` (size ``len(value)``). No inputs, no state.
    Rule: ``y[k] = value`` for every k and every batch row.
    """

    is_constant = True

    def __init__(self, value):
        self.value = as_vector(value, "Constant value")
        self.inputs = ()
        self.outputs = ("y",)

    def params(self):
        return {"value": self.value}

    def output_sizes(self, in_sizes):
        return {"y": self.value.shape[0]}

    def output(self, u, x):
        return (self.value[None, :],)

    def output_vjp(self, u, x, y, gy):
        return (), None, {"value": gy[0].sum(axis=0)}

    def lowering(self):
        return Lowering("constant", self.value)


class Gain(Block):
    """Multiply the input by a gain ``K``.

    Ports: input ``u``, output ``y``. Direct feedthrough u → y, no state.

    * scalar ``K``: ``y = K·u`` (any size, y has the size of u);
    * vector ``K`` (n,): elementwise ``y = K ⊙ u``, u of size n;
    * matrix ``K`` (m, n): ``y = K·u``, u of size n, y of size m. With a batch of rows
      ``U`` (B, n) this is ``U @ K.T``.
    """

    def __init__(self, K):
        self.K = as_float_array(K, "Gain K")
        if self.K.ndim > 2:
            raise ParameterError(f"Gain K: expected a scalar, vector or matrix, got shape {self.K.shape}")
        if self.K.size == 0:
            raise ParameterError(f"Gain K: expected at least one element, got shape {self.K.shape}")
        self._KT = np.ascontiguousarray(self.K.T) if self.K.ndim == 2 else None
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"K": self.K}

    def declared_input_sizes(self):
        if self.K.ndim == 0:
            return {}
        return {"u": self.K.shape[-1]}

    def output_sizes(self, in_sizes):
        if self.K.ndim == 0:
            return {"y": in_sizes.get("u")}
        return {"y": self.K.shape[0]}

    def infer_input_sizes(self, out_sizes):
        return {"u": out_sizes.get("y")} if self.K.ndim == 0 else {}

    def output(self, u, x):
        if self._KT is not None:
            return (u[0] @ self._KT,)
        return (self.K * u[0],)

    def output_vjp(self, u, x, y, gy):
        g, v = gy[0], u[0]
        if self.K.ndim == 2:  # y = K·u: gu = Kᵀ·gy, gK = Σ_b gy ⊗ u
            return (g @ self.K,), None, {"K": g.T @ v}
        gK = (g * v).sum(axis=0)
        return (self.K * g,), None, {"K": gK.sum() if self.K.ndim == 0 else gK}

    def nonfinite_raises_flags(self):
        """A matrix product may run on BLAS threads, which set no numpy flags: only K·u for scalar or vector K."""
        return self.K.ndim < 2

    def lowering(self):
        op = ("gain_scalar", "gain_elementwise", "gain_matrix")[self.K.ndim]
        return Lowering(op, self.K.reshape(-1), tuple(self.K.shape))


class Sum(Block):
    """Add and subtract inputs elementwise according to a sign string such as ``"++-"``.

    Ports: inputs ``u1 .. uN`` (N = len(signs)), output ``y``; all of one size. Direct
    feedthrough from every input, no state. Rule: ``y = Σ_i s_i·u_i`` with s_i = ±1.
    """

    def __init__(self, signs: str = "++"):
        if not isinstance(signs, str) or not signs or len(signs) > MAX_PORTS or set(signs) - {"+", "-"}:
            shown = repr(signs) if len(repr(signs)) <= 80 else repr(signs)[:77] + "..."
            raise ParameterError(f"Sum signs: expected a string of 1 to {MAX_PORTS} '+' and '-' (one per input), "
                                 f"got {shown} ({type(signs).__name__})")
        self.signs = signs
        self.inputs = numbered_ports(len(signs))
        self.outputs = ("y",)

    def params(self):
        return {"signs": self.signs}

    def output_sizes(self, in_sizes):
        return {"y": same_size(in_sizes, self.inputs)}

    def infer_input_sizes(self, out_sizes):
        return {p: out_sizes.get("y") for p in self.inputs}

    def output(self, u, x):
        signs = self.signs
        y = u[0] if signs[0] == "+" else -u[0]
        for s, v in zip(signs[1:], u[1:], strict=True):
            y = y + v if s == "+" else y - v
        return (y,)

    def output_vjp(self, u, x, y, gy):
        return tuple(gy[0] if s == "+" else -gy[0] for s in self.signs), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("sum", np.array([1.0 if s == "+" else -1.0 for s in self.signs]))


class Product(Block):
    """Elementwise (Hadamard) product of ``n_inputs`` inputs of one size — never a matrix product.

    Ports: inputs ``u1 .. uN``, output ``y``. Direct feedthrough, no state.
    Rule: ``y = u1 ⊙ u2 ⊙ … ⊙ uN``.
    """

    def __init__(self, n_inputs: int = 2):
        self.n_inputs = check_int(n_inputs, "Product n_inputs", 1, MAX_PORTS)
        self.inputs = numbered_ports(self.n_inputs)
        self.outputs = ("y",)

    def params(self):
        return {"n_inputs": self.n_inputs}

    def output_sizes(self, in_sizes):
        return {"y": same_size(in_sizes, self.inputs)}

    def infer_input_sizes(self, out_sizes):
        return {p: out_sizes.get("y") for p in self.inputs}

    def output(self, u, x):
        y = u[0]
        for v in u[1:]:
            y = y * v
        return (y,)

    def output_vjp(self, u, x, y, gy):
        grads = []
        for j in range(len(u)):
            g = gy[0]
            for i, v in enumerate(u):
                if i != j:
                    g = g * v
            grads.append(g)
        return tuple(grads), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("product")
