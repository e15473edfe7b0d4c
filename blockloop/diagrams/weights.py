"""LSTM network weights in the reference's convention, with shape checks and MATLAB-style draws.

Convention (also PyTorch's ``weight_ih_l0`` / ``weight_hh_l0`` order): gate blocks are
stacked i, f, g, o (input, forget, cell candidate, output). For a layer of Nn units fed
by Ni inputs, W is (4·Nn × Ni), R is (4·Nn × Nn), b is (4·Nn,), h0 and c0 are (Nn,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blocks.base import MAX_PORTS, MAX_SIGNAL_SIZE, as_float_array, is_integer
from ..errors import NonFiniteError, ParameterError

__all__ = ["LayerWeights", "NetworkWeights", "GATES", "matlab_rand"]

GATES = ("i", "f", "g", "o")


def _check(value, name: str, shape: tuple[int, ...], meaning: str) -> np.ndarray:
    arr = as_float_array(value, name)
    if arr.ndim == 2 and len(shape) == 1 and 1 in arr.shape:
        arr = arr.reshape(-1)  # accept MATLAB-style column vectors
    if arr.shape != shape:
        raise ParameterError(f"{name}: expected shape {shape} ({meaning}), got shape {arr.shape}")
    return arr


def recurrent_matrices(W, R, gates: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A recurrent layer's W (gates·Nn, Ni) and R (gates·Nn, Nn) as float arrays: ``(W, R, Nn)``.

    Nn is read from R; a shape that does not fit is a :class:`ParameterError` naming the argument,
    the shape given and the one expected (``gates`` = 4 for an LSTM, 3 for a GRU, 1 for an RNN).
    """
    R = as_float_array(R, "R")
    if gates == 1:
        if R.ndim != 2 or R.shape[0] != R.shape[1]:
            raise ParameterError(f"R: expected a square (Nn, Nn) recurrent matrix, got shape {R.shape}")
    elif R.ndim != 2 or R.shape[0] != gates * R.shape[1]:
        raise ParameterError(f"R: expected shape ({gates}·Nn, Nn), got shape {R.shape}")
    nn = R.shape[1]
    W = as_float_array(W, "W")
    if W.ndim != 2 or W.shape[0] != gates * nn:
        rows = f"Nn = {nn}" if gates == 1 else f"{gates}·Nn × Ni with Nn = {nn}"
        raise ParameterError(f"W: expected shape ({gates * nn}, Ni) ({rows} from R), got shape {W.shape}")
    return W, R, nn


def initial_state(value, name: str, nn: int) -> np.ndarray:
    """An (Nn,) initial state, zeros when ``value`` is None (checked as :func:`_check` does)."""
    return _check(np.zeros(nn) if value is None else value, name, (nn,), f"Nn = {nn}")


def _check_finite(arrays: dict[str, np.ndarray], where: str) -> None:
    for name, arr in arrays.items():
        if not np.all(np.isfinite(arr)):
            raise NonFiniteError(f"{where} {name} has non-finite values; pass check_finite=False to allow them")


@dataclass(frozen=True)
class LayerWeights:
    """Weights and initial states of one LSTM layer (Nn units, Ni inputs).

    Parameters
    ----------
    W : (4·Nn, Ni) input weights [W_i; W_f; W_g; W_o]
    R : (4·Nn, Nn) recurrent weights [R_i; R_f; R_g; R_o]
    b : (4·Nn,) bias [b_i; b_f; b_g; b_o]
    h0, c0 : (Nn,) initial hidden and cell states (zeros by default)

    Raises
    ------
    ParameterError
        A shape that does not fit, naming the argument, the shape given and the one expected.
    """

    W: np.ndarray
    R: np.ndarray
    b: np.ndarray
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None
    check_finite: bool = True

    def __post_init__(self):
        W, R, nn = recurrent_matrices(self.W, self.R, 4)
        fields = {
            "R": R,
            "W": W,
            "b": _check(self.b, "b", (4 * nn,), f"4·Nn with Nn = {nn}"),
            "h0": initial_state(self.h0, "h0", nn),
            "c0": initial_state(self.c0, "c0", nn),
        }
        if self.check_finite:
            _check_finite(fields, "LSTM weight")
        for key, val in fields.items():
            object.__setattr__(self, key, val)

    @property
    def ni(self) -> int:
        """Number of inputs."""
        return self.W.shape[1]

    @property
    def nn(self) -> int:
        """Number of units."""
        return self.R.shape[1]

    def gate(self, name: str, which: str = "W") -> np.ndarray:
        """Rows of ``W``, ``R`` or ``b`` that belong to gate ``name`` (one of i, f, g, o)."""
        k = GATES.index(name)
        return getattr(self, which)[k * self.nn:(k + 1) * self.nn]


@dataclass(frozen=True)
class NetworkWeights:
    """A stack of LSTM layers followed by the fully connected gain ``F`` (and optional bias).

    ``y = F·h_L + F_bias``, with F of shape (No, Nn of the last layer).
    """

    layers: tuple[LayerWeights, ...]
    F: np.ndarray
    F_bias: np.ndarray | None = None

    def __post_init__(self):
        layers = tuple(self.layers) if isinstance(self.layers, (list, tuple)) else ()
        if not layers or not all(isinstance(layer, LayerWeights) for layer in layers):
            raise ParameterError("layers: expected one or more LayerWeights")
        for k in range(1, len(layers)):
            want, got = layers[k - 1].nn, layers[k].ni
            if want != got:
                raise ParameterError(f"layer {k + 1} W: expected shape ({4 * layers[k].nn}, {want}) "
                                     f"(its input is layer {k}'s {want} units), got shape {layers[k].W.shape}")
        F = as_float_array(self.F, "F")
        if F.ndim == 1:
            F = F[None, :]
        if F.ndim != 2 or F.shape[1] != layers[-1].nn:
            raise ParameterError(f"F: expected shape (No, {layers[-1].nn}) (No × Nn of the last layer), "
                                 f"got shape {F.shape}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "F", F)
        if self.F_bias is not None:
            object.__setattr__(self, "F_bias", _check(self.F_bias, "F_bias", (F.shape[0],), f"No = {F.shape[0]}"))
        if layers[0].check_finite:
            _check_finite({"F": F, **({"F_bias": self.F_bias} if self.F_bias is not None else {})}, "network")

    @property
    def ni(self) -> int:
        return self.layers[0].ni

    @property
    def no(self) -> int:
        return self.F.shape[0]

    def _summary(self) -> tuple[str, list[list[str]]]:
        title = (f"NetworkWeights: {len(self.layers)} LSTM layer{'s' * (len(self.layers) != 1)}, "
                 f"ni={self.ni}, no={self.no}")
        rows = [[f"layer {k + 1}", str(lay.nn), str(lay.W.shape), str(lay.R.shape), str(lay.b.shape)]
                for k, lay in enumerate(self.layers)]
        rows.append(["F", "", str(self.F.shape), "",
                     str(self.F_bias.shape) if self.F_bias is not None else ""])
        return title, rows

    def __str__(self) -> str:
        """A summary: layer count, ni, no, then per layer its units Nn and the shapes of W, R, b;
        last the shape of F (and of F_bias when there is one)."""
        from .._display import text_table

        title, rows = self._summary()
        return title + "\n" + text_table(["", "Nn", "W / F", "R", "b / F_bias"], rows)

    def _repr_html_(self) -> str:
        """The :meth:`__str__` summary as an HTML table, for notebooks."""
        from .._display import html_block, html_table

        title, rows = self._summary()
        return html_block(title, table=html_table(["", "Nn", "W / F", "R", "b / F_bias"], rows))

    @classmethod
    def random(cls, ni: int, nn: int, no: int, n_layers: int = 1, seed: int = 0) -> NetworkWeights:
        """Uniform [0, 1) weights and initial states drawn as MATLAB's ``rand`` would after ``rng(seed)``.

        Draw order per layer: h0, c0, W, R, b; then F (no bias). With one layer and seed 0
        this is exactly the reference's ``rng(0); h0=rand(Nn,1); c0=rand(Nn,1);
        W=rand(4*Nn,Ni); R=rand(4*Nn,Nn); b=rand(4*Nn,1); F=rand(No,Nn)``.

        Examples
        --------
        >>> w = NetworkWeights.random(ni=4, nn=3, no=2)
        >>> w.layers[0].h0.round(4).tolist()
        [0.8147, 0.9058, 0.127]
        """
        for name, val, hi in (("ni", ni, MAX_SIGNAL_SIZE), ("nn", nn, MAX_SIGNAL_SIZE), ("no", no, MAX_SIGNAL_SIZE),
                              ("n_layers", n_layers, MAX_PORTS)):
            if not is_integer(val) or not 1 <= val <= hi:
                raise ParameterError(f"{name}: expected a positive integer (at most {hi}), got {val!r} "
                                     f"({type(val).__name__})")
        count = no * nn + sum(4 * nn * (n_in + nn + 1) + 2 * nn for n_in in [ni] + [nn] * (n_layers - 1))
        memory = _physical_memory()
        if memory is not None and 8 * count > memory:
            raise ParameterError(f"ni={ni}, nn={nn}, no={no}, n_layers={n_layers}: {count} weights "
                                 f"({8 * count / 2**30:.3g} GiB) do not fit in this machine's memory")
        rand = matlab_rand(seed)
        layers = []
        n_in = ni
        for _ in range(n_layers):
            h0, c0 = rand(nn, 1), rand(nn, 1)
            W, R, b = rand(4 * nn, n_in), rand(4 * nn, nn), rand(4 * nn, 1)
            layers.append(LayerWeights(W=W, R=R, b=b, h0=h0, c0=c0))
            n_in = nn
        return cls(layers=tuple(layers), F=rand(no, nn))


def _physical_memory() -> int | None:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def matlab_rand(seed: int = 0):
    """A ``rand(rows, cols)`` that reproduces MATLAB's after ``rng(seed)``.

    MATLAB's default generator is MT19937; ``rng(0)`` seeds it with 5489 (MATLAB's documented
    substitute for 0), and ``rand`` fills matrices column by column with the same 53-bit
    doubles numpy's ``RandomState.random_sample`` produces.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ParameterError(f"seed: expected an integer from 0 to 2**32 - 1 (MATLAB's rng), got {seed!r}")
    state = np.random.RandomState(5489 if seed == 0 else int(seed))

    def rand(rows: int, cols: int) -> np.ndarray:
        return state.random_sample(rows * cols).reshape((rows, cols), order="F")

    return rand
