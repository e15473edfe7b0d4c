"""Signal routing: Mux (concatenate), Demux (split by sizes), Selector (pick indices)."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, SizeMismatchError
from .base import Block, Lowering, numbered_ports

__all__ = ["Mux", "Demux", "Selector"]


class Mux(Block):
    """Concatenate ``n_inputs`` vectors into one.

    Ports: inputs ``u1 .. uN``, output ``y`` of size Σ size(u_i). Direct feedthrough, no state.
    Rule: ``y = [u1; u2; …; uN]``.
    """

    def __init__(self, n_inputs: int = 2):
        if not isinstance(n_inputs, (int, np.integer)) or n_inputs < 1:
            raise ParameterError(f"Mux n_inputs: expected an integer ≥ 1, got {n_inputs!r}")
        self.n_inputs = int(n_inputs)
        self.inputs = numbered_ports(self.n_inputs)
        self.outputs = ("y",)

    def params(self):
        return {"n_inputs": self.n_inputs}

    def output_sizes(self, in_sizes):
        sizes = [in_sizes.get(p) for p in self.inputs]
        return {"y": None if None in sizes else sum(sizes)}

    def output(self, u, x):
        return (np.concatenate(u, axis=-1),)

    def output_vjp(self, u, x, y, gy):
        edges = np.cumsum([0] + [v.shape[-1] for v in u])
        return tuple(gy[0][:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)), None, {}

    def lowering(self):
        return Lowering("concat")


class Demux(Block):
    """Split a vector into consecutive pieces of the given ``sizes``.

    Ports: input ``u`` of size Σ sizes; outputs named by ``names`` (default ``y1 .. yN``).
    Direct feedthrough, no state. Rule: ``y_j = u[o_j : o_j + sizes[j]]``, o_j = Σ_{i<j} sizes[i].
    """

    def __init__(self, sizes, names=None):
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise ParameterError(f"Demux sizes: expected a list of positive integers, got {sizes!r}") from None
        if not sizes or min(sizes) < 1:
            raise ParameterError(f"Demux sizes: expected a list of positive integers, got {list(sizes)}")
        names = tuple(names) if names is not None else tuple(f"y{i + 1}" for i in range(len(sizes)))
        if len(names) != len(sizes) or len(set(names)) != len(names) or "u" in names:
            raise ParameterError(f"Demux names: expected {len(sizes)} distinct names other than 'u', got {list(names)}")
        self.sizes = sizes
        self.names = names
        self.inputs = ("u",)
        self.outputs = names
        edges = np.cumsum((0,) + sizes)
        self._slices = tuple(slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True))

    def params(self):
        return {"sizes": list(self.sizes), "names": list(self.names)}

    def declared_input_sizes(self):
        return {"u": sum(self.sizes)}

    def output_sizes(self, in_sizes):
        return dict(zip(self.names, self.sizes, strict=True))

    def output(self, u, x):
        v = u[0]
        return tuple(v[:, s] for s in self._slices)

    def output_vjp(self, u, x, y, gy):
        return (np.concatenate(gy, axis=-1),), None, {}

    def lowering(self):
        return Lowering("split", ints=self.sizes)


class Selector(Block):
    """Pick elements of the input by 0-based ``indices`` (repeats and reordering allowed).

    Ports: input ``u``, output ``y`` of size len(indices). Direct feedthrough, no state.
    Rule: ``y[j] = u[indices[j]]``.
    """

    def __init__(self, indices):
        try:
            idx = np.asarray(indices)
            if idx.ndim == 0:
                idx = idx.reshape(1)
            ok = idx.ndim == 1 and idx.size > 0 and np.issubdtype(idx.dtype, np.integer) and idx.min() >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParameterError(f"Selector indices: expected non-negative integers, got {indices!r}")
        self.indices = idx.astype(np.int64)
        self.inputs = ("u",)
        self.outputs = ("y",)

    def params(self):
        return {"indices": [int(i) for i in self.indices]}

    def arrays(self):
        return {}

    def output_sizes(self, in_sizes):
        n = in_sizes.get("u")
        if n is not None and int(self.indices.max()) >= n:
            raise SizeMismatchError(
                f"input u has size {n} but indices go up to {int(self.indices.max())} (0-based)"
            )
        return {"y": len(self.indices)}

    def output(self, u, x):
        return (u[0][:, self.indices],)

    def output_vjp(self, u, x, y, gy):
        gu = np.zeros_like(u[0])
        np.add.at(gu, (slice(None), self.indices), gy[0])  # repeated indices add up
        return (gu,), None, {}

    def lowering(self):
        return Lowering("select", ints=tuple(int(i) for i in self.indices))
