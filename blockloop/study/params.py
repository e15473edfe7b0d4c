"""How many parameters stacked LSTM layers have: 4·Nn·(Ni + Nn + 1) per layer.

Per layer of Nn units fed by Ni inputs: W has 4·Nn·Ni elements, R has 4·Nn·Nn, b has 4·Nn
(one bias per gate and unit, as in MATLAB; PyTorch's second bias ``bias_hh`` would add another
4·Nn). R grows quadratically with the units, W linearly with the inputs.

The reference's example — two layers of 100 units — counts R1 (40 000) + W2 (40 000) + R2
(40 000) = 120 000 weight elements, "even without considering the biases or the W matrix of
the first layer"; :func:`reference_example` reproduces that sum and states what it leaves out.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParameterError

__all__ = ["lstm_parameter_counts", "parameter_table", "reference_example"]


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    return value


def lstm_parameter_counts(ni: int, units: Sequence[int], no: int | None = None) -> list[dict]:
    """One row per layer (and one for the FC layer if ``no`` is given) with element counts.

    Parameters
    ----------
    ni : inputs of the first layer
    units : units Nn of each layer, first to last (layer k's input is layer k−1's Nn)
    no : outputs of a fully connected layer after the last LSTM layer (None: no FC row)

    Returns
    -------
    list of dict
        LSTM rows: ``layer``, ``Ni``, ``Nn``, ``W``, ``R``, ``b``, ``weights`` (W + R) and
        ``total`` (= 4·Nn·(Ni + Nn + 1)). FC row: ``W`` = No·Nn, ``b`` = No, ``R`` = 0.

    Raises
    ------
    ParameterError
        A count that is not a positive integer, or no layers.

    Examples
    --------
    >>> [r["total"] for r in lstm_parameter_counts(1, [5], no=1)]   # the study's network
    [140, 6]
    """
    ni = _positive("ni", ni)
    if not units:
        raise ParameterError("units: expected at least one layer")
    rows, n_in = [], ni
    for k, nn in enumerate(units, start=1):
        nn = _positive(f"units[{k - 1}]", nn)
        W, R, b = 4 * nn * n_in, 4 * nn * nn, 4 * nn
        rows.append({"layer": f"lstm{k}", "Ni": n_in, "Nn": nn, "W": W, "R": R, "b": b, "weights": W + R,
                     "total": W + R + b})
        n_in = nn
    if no is not None:
        no = _positive("no", no)
        rows.append({"layer": "fc", "Ni": n_in, "Nn": no, "W": no * n_in, "R": 0, "b": no, "weights": no * n_in,
                     "total": no * n_in + no})
    return rows


def parameter_table(rows: list[dict]) -> list[list[str]]:
    """The rows as a table (header first, a sum row last) of strings, for reports."""
    keys = ["layer", "Ni", "Nn", "W", "R", "b", "weights", "total"]
    table = [["layer", "inputs", "units/outputs", "W", "R", "b", "W + R", "total"]]
    table += [[str(r[k]) for k in keys] for r in rows]
    sums = {k: sum(r[k] for r in rows) for k in keys[3:]}
    table.append(["sum", "", "", *(str(sums[k]) for k in keys[3:])])
    return table


def reference_example(ni: int = 1, units: int = 100) -> dict:
    """The reference's two-layer count: R1 + W2 + R2, without biases and without W1.

    Examples
    --------
    >>> reference_example()["counted"]
    120000
    """
    l1, l2 = lstm_parameter_counts(ni, [units, units])
    counted = l1["R"] + l2["W"] + l2["R"]
    return {"counted": counted, "terms": {"R1": l1["R"], "W2": l2["W"], "R2": l2["R"]},
            "left_out": {"W1": l1["W"], "b1": l1["b"], "b2": l2["b"]},
            "all_lstm_parameters": l1["total"] + l2["total"], "ni": ni, "units": units,
            "published": 120000}
