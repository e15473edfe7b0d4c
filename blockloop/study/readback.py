"""Read the linear system back out of (trained) LSTM weights, and list which weights moved.

With the input, output and forget gates pinned (σ(b_i) ≈ σ(b_o) ≈ 1, σ(b_f) ≈ 0) and small
signals (tanh(x) ≈ x), one LSTM layer followed by the gain F is the linear system

    x(t+1) = Ann·x(t) + Bnn·u(t),   y(t) = Cnn·x(t) + Dnn·u(t),   x(t) = h(t−1)/scl

with ``Ann = R_g``, ``Bnn = W_g/scl``, ``Cnn = scl·F·Ann``, ``Dnn = scl·F·Bnn`` (the reference's
"Extract Linear System from the Network Weights"; R_g, W_g are the cell-candidate rows of R, W).
The cell-gate bias b_g and the FC bias are affine offsets the linear read-back ignores; they
are reported alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..diagrams import GATES, NetworkWeights
from ..errors import ParameterError

__all__ = ["Readback", "readback", "system_facts", "gate_changes", "format_gate_changes", "complex_list", "zpk_string"]


@dataclass(frozen=True)
class Readback:
    """The read-back system and the offsets it leaves out.

    Attributes
    ----------
    system : ``control.StateSpace`` (Ann, Bnn, Cnn, Dnn, Ts), Nn states
    scl : the input/output scaling used to read it
    b_g : (Nn,) cell-candidate bias (zero for computed weights)
    F_bias : (No,) FC bias, zeros if the network has none
    """

    system: object
    scl: float
    b_g: np.ndarray
    F_bias: np.ndarray

    def facts(self) -> dict:
        """:func:`system_facts` of the system, plus the ignored offsets' largest magnitudes."""
        return {**system_facts(self.system), "max_abs_b_g": float(np.max(np.abs(self.b_g))),
                "F_bias": self.F_bias.tolist()}


def readback(weights: NetworkWeights, scl: float, Ts: float) -> Readback:
    """The reference's read-back ``ss(Ann, Bnn, Cnn, Dnn, Ts)`` of a one-layer network.

    Parameters
    ----------
    weights : one LSTM layer + F (trained or computed)
    scl : the scaling the weights were computed with (1e-3 in the reference)
    Ts : sample time in seconds

    Raises
    ------
    ParameterError
        More than one layer, or ``scl``/``Ts`` not positive.

    Examples
    --------
    >>> import numpy as np
    >>> from blockloop.diagrams import LayerWeights
    >>> nn, scl = 2, 1e-3   # x(t+1) = 0.5·x + u, y = 2·x, as an Nn = n + m network
    >>> W = np.zeros((8, 1)); W[4:6, 0] = scl * np.array([1.0, 1.0])
    >>> R = np.zeros((8, 2)); R[4, 0] = 0.5
    >>> b = np.r_[[100.0] * 2, [-100.0] * 2, [0.0] * 2, [100.0] * 2]
    >>> F = np.array([[2 / 0.5, 0 - 2 / 0.5 * 1]]) / scl
    >>> rb = readback(NetworkWeights(layers=(LayerWeights(W=W, R=R, b=b),), F=F), scl, Ts=0.01)
    >>> round(float(rb.system.dcgain()), 9)   # 2·1/(1 − 0.5)
    4.0
    """
    if len(weights.layers) != 1:
        raise ParameterError(f"readback: expected a one-layer network, got {len(weights.layers)} layers")
    if not (scl > 0 and Ts > 0):
        raise ParameterError(f"readback: scl and Ts must be positive, got scl={scl}, Ts={Ts}")
    import control

    layer = weights.layers[0]
    Ann = layer.gate("g", "R")
    Bnn = layer.gate("g", "W") / scl
    Cnn = scl * weights.F @ Ann
    Dnn = scl * weights.F @ Bnn
    bias = np.zeros(weights.no) if weights.F_bias is None else np.asarray(weights.F_bias, dtype=float)
    return Readback(system=control.ss(Ann, Bnn, Cnn, Dnn, Ts), scl=float(scl), b_g=layer.gate("g", "b").copy(),
                    F_bias=bias)


def complex_list(values) -> list:
    """Complex numbers as ``[re, im]`` pairs (JSON-ready), sorted by real then imaginary part."""
    vals = sorted(np.atleast_1d(np.asarray(values, dtype=complex)), key=lambda z: (z.real, z.imag))
    return [[float(z.real), float(z.imag)] for z in vals]


def system_facts(sys) -> dict:
    """DC gain, D, poles, zeros (as ``[re, im]``), state count and Ts of a discrete ``StateSpace``.

    The DC gain is python-control's ``dcgain`` (C(I−A)⁻¹B + D for discrete time); it is a float
    for SISO systems and a nested list otherwise. Zeros are the invariant (transmission) zeros.
    """
    gain = np.asarray(sys.dcgain(), dtype=float)
    zeros = sys.zeros() if sys.ninputs == sys.noutputs else np.array([])
    return {"dcgain": float(gain) if gain.size == 1 else gain.tolist(),
            "D": np.asarray(sys.D, dtype=float).tolist(), "poles": complex_list(sys.poles()),
            "zeros": complex_list(zeros), "states": int(sys.nstates), "Ts": float(sys.dt)}


def _factors(roots, digits: int) -> list[str]:
    """MATLAB-style factors: (z − r) for real roots, (z² + b·z + c) for conjugate pairs."""
    out = []
    for re, im in complex_list(roots):
        if im < 0:
            continue
        if im > 0:
            b, c = -2 * re, re * re + im * im
            out.append(f"(z^2 {'-' if b < 0 else '+'} {abs(b):.{digits}g}z + {c:.{digits}g})")
        elif re == 0:
            out.append("z")
        else:
            out.append(f"(z{'-' if re > 0 else '+'}{abs(re):.{digits}g})")
    return out


def zpk_string(sys, digits: int = 4) -> str:
    """A SISO system's zero-pole-gain form as MATLAB's ``zpk`` prints it, on one line.

    The gain is the ratio of the leading coefficients of numerator and denominator, the
    numerator of degree n − relative degree (:func:`~blockloop.study.systems.siso_transfer_function`),
    with 5 significant digits like MATLAB; factors use ``digits`` significant digits.

    Examples
    --------
    >>> import control
    >>> zpk_string(control.ss([[0.5]], [[1.0]], [[2.0]], 0.0, 0.1))
    '2 / (z-0.5)'
    >>> zpk_string(control.ss([[0.9, 0.1], [0.0, 0.8]], [[0.0], [1.0]], [[1.0, 0.0]], 0.0, 0.01))
    '0.1 / ((z-0.8) (z-0.9))'
    """
    from .systems import siso_transfer_function

    if sys.ninputs != 1 or sys.noutputs != 1:
        raise ParameterError(f"zpk_string: expected a SISO system, got {sys.noutputs}×{sys.ninputs}")
    num, den = siso_transfer_function(sys)
    if num.size == 0:
        return "0"
    gain = num[0] / den[0]
    top = " ".join([f"{gain:.5g}"] + _factors(np.roots(num), digits))
    bottom = " ".join(_factors(np.roots(den), digits)) or "1"
    return f"{top} / ({bottom})" if " " in bottom else f"{top} / {bottom}"


def gate_changes(before: NetworkWeights, after: NetworkWeights) -> dict:
    """Largest |change| of each gate's W, R, b, and of F and the FC bias, between two networks.

    Returns ``{"i": {"W": …, "R": …, "b": …}, "f": …, "g": …, "o": …, "F": …, "F_bias": …}``
    (one-layer networks of equal shape; a missing FC bias counts as zeros).

    Raises
    ------
    ParameterError
        Different shapes or more than one layer.
    """
    if len(before.layers) != 1 or len(after.layers) != 1:
        raise ParameterError("gate_changes: expected one-layer networks")
    a, b = before.layers[0], after.layers[0]
    if a.W.shape != b.W.shape or before.F.shape != after.F.shape:
        raise ParameterError(f"gate_changes: shapes differ: W {a.W.shape} vs {b.W.shape}, "
                             f"F {before.F.shape} vs {after.F.shape}")
    out = {g: {k: float(np.max(np.abs(b.gate(g, k) - a.gate(g, k)))) for k in ("W", "R", "b")} for g in GATES}
    out["F"] = float(np.max(np.abs(after.F - before.F)))
    zero = np.zeros(before.no)
    fb_a = zero if before.F_bias is None else before.F_bias
    fb_b = zero if after.F_bias is None else after.F_bias
    out["F_bias"] = float(np.max(np.abs(fb_b - fb_a)))
    return out


_GATE_NAMES = {"i": "input", "f": "forget", "g": "cell candidate", "o": "output"}


def format_gate_changes(changes: dict) -> list[list[str]]:
    """Rows (header first) of the gate-change table: gate, max |ΔW|, max |ΔR|, max |Δb|."""
    rows = [["gate", "max |ΔW|", "max |ΔR|", "max |Δb|"]]
    for g in GATES:
        c = changes[g]
        rows.append([f"{g} ({_GATE_NAMES[g]})", f"{c['W']:.3g}", f"{c['R']:.3g}", f"{c['b']:.3g}"])
    rows.append(["FC layer", f"F: {changes['F']:.3g}", "", f"bias: {changes['F_bias']:.3g}"])
    return rows
