"""Random diagrams against the compiled backend's vector padding and cotangent aliasing.

Diagrams come from the random-diagram builder of ``test_compiled_random_diagrams`` (every library
block, loops through delays and the stateful linear blocks, subsystems, probes), with extra
shapes drawn half of the time that stress the two features: sums with every sign + of fresh
single-output producers and constants (the aliasing case), nested such sums, a few with a − sign,
Demux views feeding runs of σ/tanh (fused activations, up to 12 rows, so every padding 0–7
occurs), sums of Demux views, one-row matrix gains and short two-input products (the one-pass
adjoints), some fed one signal twice. Probes on the new signals make loss targets out of sum
inputs.

(a) the compiled gradient and loss with aliasing equal, bit for bit, those with aliasing off
    (every op keeps its own cotangent rows, every Sum's adjoint runs);
(b) the compiled gradient equals the interpreter's within a relative tolerance (diagrams whose
    signals come near a kink of a non-smooth block are left out: there the backends' different
    roundings may pick different branches);
(c) every σ/tanh/activations op of every random lowering keeps the padding layout (spare rows free,
    input and output ranges apart, reads and ``ipar`` kinds inside their arrays), and the
    compiled simulation equals the interpreter's with ``check_finite=False`` while the input rows
    next to σ inputs hold huge, subnormal and non-finite values.
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

# pytest puts this folder on sys.path (the random builder, the layout check)
from test_compiled_random_diagrams import INEXACT_FUNCTIONS, Builder  # noqa: E402
from test_vector_padding import _check_layout  # noqa: E402

from blockloop.blocks import (  # noqa: E402
    Constant,
    Demux,
    Gain,
    Inport,
    MathFunction,
    Mux,
    Outport,
    Product,
    Selector,
    Sigmoid,
    Sum,
    Tanh,
)
from blockloop.compiled import aliasing  # noqa: E402
from blockloop.compiled import tape as tape_module  # noqa: E402
from blockloop.compiled.lowering import lower, vector_padding  # noqa: E402
from blockloop.compiled.opcodes import ACTIVATIONS, IN0, NIN, OP, OPCODES, OUT, N, P  # noqa: E402
from blockloop.engine import gradient  # noqa: E402
from blockloop.engine.simulate import plan_run  # noqa: E402
from blockloop.errors import WiringError  # noqa: E402

# the finite-difference module's kink check lives in tests/autodiff
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autodiff"))
from test_gradient_finite_differences import kink_distance  # noqa: E402

ACTIVATION_OPS = (OPCODES["sigmoid"], OPCODES["tanh"], ACTIVATIONS)
EXTRA_KINDS = ("plus_sum", "plus_sum", "nested_sum", "demux_activations", "demux_activations", "sum_of_views",
               "row_gain", "short_product")
#: values the rows past a σ input hold in (c): huge, tiny, subnormal, non-finite
JUNK = np.array([1e308, -1e308, 7e2, -7e2, 1e-320, np.inf, -np.inf, np.nan])


class PaddingAliasingBuilder(Builder):
    """The random builder, with the shapes cotangent aliasing and vector padding care about."""

    def __init__(self, *args):
        super().__init__(*args)
        self.heads: list[str] = []  # the new shapes' results: each gets an Outport, so the loss depends on them

    def block(self, kind):
        if self.depth == 0 and self.draw(st.booleans()):
            kind = self.draw(st.sampled_from(EXTRA_KINDS))
        if kind == "plus_sum":
            self.heads.append(self.plus_sum(self.pick()[1], depth=0))
        elif kind == "nested_sum":
            self.heads.append(self.plus_sum(self.pick()[1], depth=-1))
        elif kind == "demux_activations":
            self.demux_activations()
        elif kind == "sum_of_views":
            self.sum_of_views()
        elif kind == "row_gain":
            ref, n = self.pick()
            self.heads.append(f"{self.add('gr', Gain(self.values((1, n))), [ref], 1, anchored=True)}.y")
        elif kind == "short_product":
            n = self.integer(1, 9)
            a = self.producer(n, depth=1)
            b = a if self.draw(st.booleans()) else self.producer(n, depth=1)
            self.heads.append(f"{self.add('prod', Product(2), [a, b], n)}.y")
        else:
            super().block(kind)

    def sized(self, n):
        """A signal of size ``n``: an existing one, or a matrix gain of one."""
        pool = [s for s in self.signals if s[1] == n]
        if pool and self.draw(st.booleans()):
            return pool[self.integer(0, len(pool) - 1)][0]
        ref, m = self.pick()
        return f"{self.add('gm', Gain(self.values((n, m))), [ref], n, anchored=True)}.y"

    def producer(self, n, depth):
        """A fresh signal of size ``n`` made by one single-output op or a Constant (or, sometimes, an
        existing signal, which others may read too)."""
        which = self.draw(st.sampled_from(["gain", "gain_vector", "matrix", "constant", "sigmoid", "tanh",
                                           "product", "sum", "mux", "selector", "math", "existing"]))
        if which == "sum" and depth < 2:
            return self.plus_sum(n, depth + 1)
        if which == "existing" or which == "sum":
            return self.sized(n)
        if which == "constant":
            return f"{self.add('c', Constant(self.values((n,))), [], n, anchored=True)}.y"
        if which == "matrix":
            ref, m = self.pick()
            return f"{self.add('gm', Gain(self.values((n, m))), [ref], n, anchored=True)}.y"
        if which == "mux" and n >= 2:
            k = self.integer(1, n - 1)
            return f"{self.add('mux', Mux(2), [self.sized(k), self.sized(n - k)], n, anchored=True)}.y"
        if which == "selector" or which == "mux":
            ref, m = self.pick()
            idx = self.draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))
            return f"{self.add('sel', Selector(idx), [ref], n, anchored=True)}.y"
        src = self.sized(n)
        if which == "gain":
            block = Gain(float(self.values(())))
        elif which == "gain_vector":
            block = Gain(self.values((n,)))
        elif which == "sigmoid":
            block = Sigmoid()
        elif which == "tanh":
            block = Tanh()
        elif which == "math":
            block = MathFunction(self.draw(st.sampled_from(["sin", "cos"])))
        else:
            return f"{self.add('prod', Product(2), [src, self.sized(n)], n)}.y"
        return f"{self.add(which, block, [src], n)}.y"

    def plus_sum(self, n, depth):
        """Σ of 1–4 fresh producers, every sign + (now and then one −); ``depth`` < 0: the first input
        is itself such a sum (nested)."""
        k = self.integer(1, 4)
        refs = [self.producer(n, max(depth, 0)) for _ in range(k)]
        if depth < 0:
            refs[0] = self.plus_sum(n, 1)
        signs = "".join("-" if self.draw(st.integers(0, 4)) == 0 else "+" for _ in range(k))
        return f"{self.add('psum', Sum(signs), refs, n)}.y"

    def demux_activations(self):
        """A Demux of a signal (up to 12 rows) whose consecutive views feed σ or tanh blocks (fused runs),
        some then summed with every sign +."""
        n = self.integer(2, 12)
        ref = self.sized(n) if self.draw(st.booleans()) else self.producer(n, 1)
        cuts = sorted(set(self.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=min(n - 1, 4)))))
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [n], strict=True)]
        block = Demux(sizes)
        name = self.add("demux", block, [ref], None)
        acts = []
        for port, size in zip(block.outputs, sizes, strict=True):
            view = f"{name}.{port}"
            self.signals.append((view, size))
            self.anchored.add(view)
            if self.draw(st.integers(0, 3)) > 0:
                kind = self.draw(st.sampled_from(["sigmoid", "tanh"]))
                acts.append((f"{self.add(kind, Sigmoid() if kind == 'sigmoid' else Tanh(), [view], size)}.y", size))
        same = [r for r, s in acts if s == acts[0][1]] if acts else []
        if len(same) >= 2 and self.draw(st.booleans()):
            self.heads.append(f"{self.add('vsum', Sum('+' * len(same)), same, acts[0][1])}.y")
        else:
            self.heads.extend(r for r, _ in acts)

    def sum_of_views(self):
        """A signal cut into r equal views, summed (every sign +), one view maybe also into σ."""
        k, r = self.integer(1, 4), self.integer(2, 3)
        ref = self.sized(k * r) if self.draw(st.booleans()) else self.producer(k * r, 1)
        block = Demux([k] * r)
        name = self.add("demux", block, [ref], None)
        views = [f"{name}.{port}" for port in block.outputs]
        for view in views:
            self.signals.append((view, k))
            self.anchored.add(view)
        self.heads.append(f"{self.add('vsum', Sum('+' * r), views, k)}.y")
        if self.draw(st.booleans()):
            self.heads.append(f"{self.add('sigmoid', Sigmoid(), [views[-1]], k)}.y")


@st.composite
def random_cases(draw, batches=(None, 1, 2, 3, 9), dtypes=("float64",), junk=False):
    steps = draw(st.integers(1, 6))
    batch = draw(st.sampled_from(batches))
    dtype = draw(st.sampled_from(dtypes))
    b = PaddingAliasingBuilder(draw, "pa", 0, steps, batch)
    sizes = {}
    n_in = draw(st.integers(1, 2))
    for i in range(n_in + (1 if junk else 0)):
        n = draw(st.integers(1, 9))
        name = f"u{i}" if not junk or i < n_in else "junk"
        b.d.add(name, Inport(n))
        sizes[name] = n
        if name != "junk":
            b.signals.append((f"{name}.y", n))
            b.anchored.add(f"{name}.y")
            if junk:  # σ of the input just before the junk rows, and of its last rows through a Demux
                b.add("sigmoid", Sigmoid(), [f"{name}.y"], n)
                if n >= 2:
                    dm = b.add("demux", Demux([1, n - 1]), [f"{name}.y"], None)
                    b.add("tanh", Tanh(), [f"{dm}.y2"], n - 1)
                    b.add("sigmoid", Sigmoid(), [f"{dm}.y1"], 1)
    if junk:  # the junk input only into an output and a σ of its own
        b.d.add("junk_y", Outport())
        b.d.connect("junk", "junk_y")
        b.d.add("junk_s", Sigmoid())
        b.d.add("junk_sy", Outport())
        b.d.chain("junk", "junk_s", "junk_sy")
    b.fill(n_blocks=draw(st.integers(2, 8)), n_delays=draw(st.integers(0, 3)), n_outputs=draw(st.integers(1, 2)))
    for i, ref in enumerate(b.heads):
        b.d.add(f"head{i}", Outport())
        b.d.connect(ref, f"head{i}")
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    shape = (lambda n: (steps, n)) if batch is None else (lambda n: (steps, batch, n))
    feeds = {name: rng.uniform(-2, 2, shape(n)) for name, n in sizes.items()}
    if junk:
        feeds["junk"] = JUNK[rng.integers(0, len(JUNK), shape(sizes["junk"]))]
    n_targets = draw(st.integers(0, 3))
    probes = draw(st.lists(st.sampled_from(b.probes), max_size=n_targets, unique=True)) if b.probes else []
    return b.d, dtype, feeds, probes, batch, seed


def _compile(d, dtype="float64"):
    try:
        return d.compile(dtype=dtype)
    except WiringError as exc:  # a loop fed only by itself through a scalar x0 has no size: not a diagram
        if "cannot infer the size" in str(exc):
            return None
        raise


def _targets(program, feeds, probes, seed):
    res = program.simulate(feeds, probes=probes or None, backend="interpreter")
    rng = np.random.default_rng(seed + 7)
    names = list(program.outputs) + list(probes)
    return {n: res[n] + rng.standard_normal(res[n].shape) for n in names}


def unaliased(low, program, cotan_rows):
    """Cotangent rows with aliasing off: every op its own rows, no Sum skipped, constants their own rows."""
    g_rows, const_rows = aliasing.cotangent_rows(low, program, cotan_rows)
    g_rows[:, 0], g_rows[:, 1], const_rows[:, 2] = low.code[:, OUT], 0, const_rows[:, 0]
    return g_rows, const_rows


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(case=random_cases(), loss=st.sampled_from(["half-mse", "mse"]))
def test_aliasing_gives_the_same_bits_as_no_aliasing(case, loss):
    d, dtype, feeds, probes, batch, seed = case
    program = _compile(d, dtype)
    if program is None or not program.parameters():
        return
    targets = _targets(program, feeds, probes, seed)
    paths = list(program.parameters())
    on = gradient(program, feeds, targets, paths, loss=loss, backend="compiled")
    plan = plan_run(program, feeds, probes=[n for n in targets if n not in program.outputs] or None)
    skipped = int(tape_module.Tape(program, plan, list(targets)).g_rows[:, 1].sum())
    event(f"aliased sums: {min(skipped, 3)}{'+' if skipped >= 3 else ''}")
    with mock.patch.object(tape_module, "cotangent_rows", unaliased):
        off = gradient(program, feeds, targets, paths, loss=loss, backend="compiled")
    assert on.backend == off.backend == "compiled"
    assert on.loss == off.loss or (np.isnan(on.loss) and np.isnan(off.loss))
    for path in paths:
        assert np.array_equal(on.grads[path], off.grads[path], equal_nan=True), (path, on.grads[path],
                                                                                 off.grads[path])


@SETTINGS
@given(case=random_cases(), loss=st.sampled_from(["half-mse", "mse"]))
def test_compiled_gradient_equals_the_interpreters(case, loss):
    d, dtype, feeds, probes, batch, seed = case
    program = _compile(d, dtype)
    if program is None or not program.parameters():
        event("no program or no parameters")
        return
    targets = _targets(program, feeds, probes, seed)
    if kink_distance(program, feeds) <= 1e-7:  # the backends' roundings may take different branches
        event("left out: near a kink")
        return
    paths = list(program.parameters())
    res = {be: gradient(program, feeds, targets, paths, loss=loss, backend=be) for be in ("compiled", "interpreter")}
    assert res["compiled"].backend == "compiled"
    assert res["compiled"].loss == pytest.approx(res["interpreter"].loss, rel=1e-11, abs=1e-300)
    scale = max([1e-300] + [float(np.max(np.abs(g), initial=0.0)) for g in res["interpreter"].grads.values()])
    for path in paths:
        a, b = res["compiled"].grads[path], res["interpreter"].grads[path]
        assert a.shape == b.shape, path
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), (path, a, b)
        assert np.max(np.abs(a - b), initial=0.0) <= 1e-9 * scale, (path, a, b, scale)


def _strict_layout(low) -> int:
    """``_check_layout``, and more: the spare rows hold no op input either (the zero rows of a block run
    in parts, the next-state rows), every write stays in the array, and ACTIVATIONS' kinds read past
    the group's rows (batch 1) exist and are σ (0)."""
    n_checked = _check_layout(low)
    taken = set()
    for op in low.code:
        for j in range(op[NIN]):
            row, size = int(low.args[2 * (op[IN0] + j)]), int(low.args[2 * (op[IN0] + j) + 1])
            taken.update(range(row, row + size))
    for size, row, _, state in low.updates:
        taken.update(range(int(row), int(row + size)))
        taken.update(range(int(state), int(state + size)))
    for op in low.code:
        if op[OP] not in ACTIVATION_OPS:
            continue
        out, n = int(op[OUT]), int(op[N])
        pad = vector_padding(n)
        spare = set(range(out - pad, out)) | set(range(out + n, out + n + pad))
        assert not spare & taken, (out, n, sorted(spare & taken))
        assert out - pad >= 0 and out + n + pad <= low.width
        if op[OP] == ACTIVATIONS:
            p = int(op[P])
            assert p + n + pad <= len(low.ipar)
            assert not np.any(low.ipar[p + n:p + n + pad]), low.ipar[p:p + n + pad]
    return n_checked


@SETTINGS
@given(case=random_cases(batches=(None, 1, 2, 3, 9, 17), dtypes=("float64", "float32"), junk=True))
def test_layout_holds_and_simulate_matches_with_junk_next_to_sigma_inputs(case):
    d, dtype, feeds, probes, batch, seed = case
    program = _compile(d, dtype)
    if program is None:
        return
    low = lower(program)
    n_act = sum(isinstance(b, (Sigmoid, Tanh)) for b in program.blocks.values())
    n_ops = _strict_layout(low)
    event(f"activation ops: {min(n_ops, 4)}; fused: {any(low.code[:, OP] == ACTIVATIONS)}")
    assert 1 <= n_ops <= n_act
    ri = program.simulate(feeds, backend="interpreter", probes=probes or None, check_finite=False)
    rc = program.simulate(feeds, backend="compiled", probes=probes or None, check_finite=False)
    assert list(rc.signals) == list(ri.signals)
    exact = not any((isinstance(b, Gain) and b.K.ndim == 2)
                    or (isinstance(b, MathFunction) and b.function in INEXACT_FUNCTIONS)
                    or isinstance(b, (Sigmoid, Tanh)) for b in program.blocks.values())
    tol = {"float64": 1e-12, "float32": 2e-6}[dtype]
    for name, ref in ri.signals.items():
        got = rc[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype, name
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=name)
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg=name)
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg=name)
        if exact or name == "junk_y":
            assert np.array_equal(got, ref, equal_nan=True), name
        fin = np.isfinite(ref)
        scale = np.maximum(1.0, np.abs(ref[fin].astype(np.float64)))
        rel = np.abs(got[fin].astype(np.float64) - ref[fin].astype(np.float64)) / scale
        assert rel.max(initial=0.0) <= tol, (name, rel.max())
