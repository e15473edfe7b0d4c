"""Signal routing: Mux (concatenate), Demux (split by sizes), Selector (pick indices)."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, SizeMismatchError
from .base import MAX_PORTS, MAX_SIGNAL_SIZE, Block, Lowering, check_int, check_int_list, check_name, numbered_ports

__all__ = ["Mux", "Demux", "Selector"]


class Mux(Block):
    """Concatenate ``n_inputs`` vectors into one.

    Ports: inputs ``u1 .. uN``, output ``y`` of size Σ size(u_i). Direct feedthrough, no state.
    Rule: ``y = [u1; u2; …; uN]``.
    """

    def __init__(self, n_inputs: int = 2):
        self.n_inputs = check_int(n_inputs, "Mux n_inputs", 1, MAX_PORTS)
        self.inputs = numbered_ports(self.n_inputs)
        self.outputs = ("y",)

    def params(self):
        return {"n_inputs": self.n_inputs}

    def output_sizes(self, in_sizes):
        sizes = [in_sizes.get(p) for p in self.inputs]
        return {"y": None if None in sizes else sum(sizes)}

    def complete_input_sizes(self, in_sizes, out_sizes):
        """The one input size left unknown when the output size and every other input size are known."""
        total = out_sizes.get("y")
        missing = [p for p in self.inputs if in_sizes.get(p) is None]
        if total is None or len(missing) != 1:
            return {}
        rest = total - sum(in_sizes[p] for p in self.inputs if p != missing[0])
        if rest < 1:
            raise SizeMismatchError(f"output y has size {total} but the other inputs already sum to "
                                    f"{total - rest}, leaving nothing for {missing[0]}")
        return {missing[0]: rest}

    def output(self, u, x):
        return (np.concatenate(u, axis=-1),)

    def output_vjp(self, u, x, y, gy):
        edges = np.cumsum([0] + [v.shape[-1] for v in u])
        return tuple(gy[0][:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)), None, {}

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("concat")


class Demux(Block):
    """Split a vector into consecutive pieces of the given ``sizes``.

    Ports: input ``u`` of size Σ sizes; outputs named by ``names`` (default ``y1 .. yN``).
    Direct feedthrough, no state. Rule: ``y_j = u[o_j : o_j + sizes[j]]``, o_j = Σ_{i<j} sizes[i].

    ``sizes`` is a list (or tuple) of 1 to ``MAX_PORTS`` integers ≥ 1 summing to at most
    ``MAX_SIGNAL_SIZE``; ``names`` is None or a list of as many distinct port names (strings
    without ``.``/``/``, not ``"u"``). A string is not a list: ``"3333"`` and ``"ifgo"`` are rejected.
    """

    def __init__(self, sizes, names=None):
        sizes = check_int_list(sizes, "Demux sizes", 1, MAX_SIGNAL_SIZE, MAX_PORTS)
        if sum(sizes) > MAX_SIGNAL_SIZE:
            raise ParameterError(f"Demux sizes: they sum to {sum(sizes)}, more than the largest signal size "
                                 f"{MAX_SIGNAL_SIZE}")
        if names is None:
            names = tuple(f"y{i + 1}" for i in range(len(sizes)))
        elif not isinstance(names, (list, tuple)):
            raise ParameterError(f"Demux names: expected a list of {len(sizes)} port names, got {names!r} "
                                 f"({type(names).__name__})")
        else:
            names = tuple(check_name(n, f"Demux names: element {i}") for i, n in enumerate(names))
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

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("split", ints=self.sizes)


class Selector(Block):
    """Pick elements of the input by 0-based ``indices`` (repeats and reordering allowed).

    Ports: input ``u``, output ``y`` of size len(indices). Direct feedthrough, no state.
    Rule: ``y[j] = u[indices[j]]``.

    ``indices``: a list (or tuple, or 1-D integer array) of 1 to ``MAX_SIGNAL_SIZE`` integers
    from 0 to ``MAX_SIGNAL_SIZE − 1``; a single integer is one index.
    """

    def __init__(self, indices):
        if isinstance(indices, (int, np.integer)) and not isinstance(indices, (bool, np.bool_)):
            indices = [indices]
        idx = check_int_list(indices, "Selector indices", 0, MAX_SIGNAL_SIZE - 1, MAX_SIGNAL_SIZE)
        self.indices = np.array(idx, dtype=np.int64)
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

    def nonfinite_raises_flags(self):
        return True

    def lowering(self):
        return Lowering("select", ints=tuple(int(i) for i in self.indices))
