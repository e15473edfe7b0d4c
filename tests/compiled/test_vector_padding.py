"""Spare rows around σ/tanh outputs (lowering.vector_padding): the layout they need, and no bit changed.

The σ/tanh kernels run over ⌈n·B/8⌉·8 elements, writing into spare rows after the output and
reading past the input's end. These tests check the layout promises that make this safe (the
spare rows belong to no signal, input and output ranges stay apart, reads stay in the array)
on diagrams with every size 1–17, and that the results equal, bit for bit, the kernels' own σ
and tanh applied one element at a time, for batch sizes 1–9, while the rows read past the input
hold huge or non-finite values (input ``v``, passed through unchecked).
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import Demux, Gain, Inport, Outport, Sigmoid, Sum, Tanh, UnitDelay  # noqa: E402
from blockloop.compiled import mathfn  # noqa: E402
from blockloop.compiled.lowering import VECTOR_ROWS, lower, vector_padding  # noqa: E402
from blockloop.compiled.opcodes import ACTIVATIONS, IN0, OP, OPCODES, OUT, N  # noqa: E402
from blockloop.diagrams import NetworkWeights, lstm_network  # noqa: E402

ACTIVATION_OPS = (OPCODES["sigmoid"], OPCODES["tanh"], ACTIVATIONS)


@numba.njit(error_model="numpy")
def _scalar(x, is_tanh):
    y = np.empty_like(x)
    for i in range(x.size):  # one element at a time, as a scalar loop would
        y[i] = mathfn.tanh(x[i]) if is_tanh else mathfn.sigmoid(x[i])
    return y


def _elementwise(x: np.ndarray, is_tanh: bool) -> np.ndarray:
    return _scalar(np.ascontiguousarray(x).reshape(-1), is_tanh).reshape(x.shape)


def test_padding_rounds_up_to_whole_vectors():
    assert VECTOR_ROWS == 8
    assert [vector_padding(n) for n in (1, 5, 7, 8, 9, 16, 20)] == [7, 3, 1, 0, 7, 0, 4]


def _siblings(n: int, tail: int) -> Diagram:
    """u (n) → σ, tanh; the σ's input is followed by another input ``v`` (tail rows); a Demux
    split of w (n + 3) feeds a fused σ/tanh pair; tanh(0.5·z + u) closes a loop through a delay z."""
    d = Diagram(f"pad{n}")
    d.add("u", Inport(n))
    d.add("v", Inport(tail))
    d.add("w", Inport(n + 3))
    d.add("s", Sigmoid())
    d.add("t", Tanh())
    d.add("split", Demux([n, 3]))
    d.add("a", Sigmoid())
    d.add("b", Tanh())
    d.add("z", UnitDelay(0.0))
    d.add("k", Gain(0.5))
    d.add("mix", Sum("++"))
    d.add("loop", Tanh())
    for port in ("s", "t", "a", "b", "loop", "v"):
        d.add(f"y_{port}", Outport())
    d.connect("u", "s")
    d.connect("u", "t")
    d.connect("w", "split")
    d.connect("split.y1", "a")
    d.connect("split.y2", "b")
    d.connect("loop", "z")
    d.connect("z", "k")
    d.connect("k", "mix.u1")
    d.connect("u", "mix.u2")
    d.connect("mix", "loop")
    for port in ("s", "t", "a", "b", "loop", "v"):
        d.connect(port, f"y_{port}")
    return d


def _occupied(low) -> set[int]:
    rows = set()
    for row, size in low.rows.values():
        rows.update(range(row, row + size))
    for row, size in list(low.states.values()) + list(low.sources.values()):
        rows.update(range(row, row + size))
    return rows


def _check_layout(low) -> int:
    occupied = _occupied(low)
    checked = 0
    for op in low.code:
        if op[OP] not in ACTIVATION_OPS:
            continue
        out, n = int(op[OUT]), int(op[N])
        u = int(low.args[2 * op[IN0]])
        pad = vector_padding(n)
        spare = set(range(out - pad, out)) | set(range(out + n, out + n + pad))
        assert not spare & occupied, (out, n, sorted(spare & occupied))
        read, write = range(u, u + n + pad), range(out, out + n + pad)
        assert read.stop <= write.start or write.stop <= read.start, (u, out, n)
        assert read.stop <= low.width
        checked += 1
    return checked


@pytest.mark.parametrize("n", range(1, 18))
def test_layout_keeps_spare_rows_free_and_ranges_apart(n):
    low = lower(_siblings(n, tail=2).compile())
    assert _check_layout(low) == 4  # σ, tanh, the fused pair, the loop's tanh


def test_lstm_layouts_keep_spare_rows_free():
    for nn, layers in ((1, 1), (3, 2), (5, 1), (8, 1), (13, 3)):
        low = lower(lstm_network(NetworkWeights.random(ni=2, nn=nn, no=1, n_layers=layers)).compile())
        assert _check_layout(low) == 2 * layers


@pytest.mark.parametrize("n", [1, 3, 5, 8, 11, 17])
@pytest.mark.parametrize("batch", [1, 2, 3, 5, 9])
def test_bit_for_bit_with_extreme_neighbours(n, batch):
    rng = np.random.default_rng(100 * n + batch)
    T = 6
    inputs = {"u": rng.standard_normal((T, batch, n)) * 4,
              "v": np.array([1e308, -1e308, 7e2, -7e2, 1e-320, np.inf, np.nan])[rng.integers(0, 7, (T, batch, 5))],
              "w": rng.standard_normal((T, batch, n + 3)) * 20}
    program = _siblings(n, tail=5).compile()
    got = program.simulate(inputs, backend="compiled", check_finite=False)
    u, w = inputs["u"], inputs["w"]
    z, loop = np.zeros_like(u[0]), []
    for k in range(T):  # loop = tanh(0.5·z + u), z[k+1] = loop[k]
        loop.append(_elementwise(0.5 * z + u[k], True))
        z = loop[-1]
    want = {"y_s": _elementwise(u, False), "y_t": _elementwise(u, True), "y_a": _elementwise(w[..., :n], False),
            "y_b": _elementwise(w[..., n:], True), "y_loop": np.stack(loop), "y_v": inputs["v"]}
    assert set(got.signals) == set(want)
    for name, value in want.items():  # the kernels' own σ and tanh, element by element: equal bits
        assert np.array_equal(got[name].view(np.int64), value.view(np.int64)), (name, n, batch)
