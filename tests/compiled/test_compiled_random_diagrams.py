"""Random diagrams: the compiled backend gives the interpreter's numbers, and the same overflow report.

Diagrams are drawn block by block from every library block (the non-smooth, math, matrix and
source blocks included; log, sqrt, 1/u only on |u| + c, exp and u² only on a saturated u),
feed-forward except through unit delays whose inputs are wired last (so every loop has a delay
and none is algebraic), sometimes with a random subsystem (itself drawn the same way) added as a
block, and every internal signal probed. Gains are in [−1, 1]; loops close through a Tanh most of
the time, so values stay bounded. The stateful linear blocks appear both feed-forward (with or
without feedthrough) and in place of a unit delay closing a loop: a state space with D = 0, a
transfer function with num[0] = 0, a forward-Euler integrator; every A and den is stable
(spectral radius < 1).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockloop import Diagram
from blockloop.blocks import (
    Abs,
    Constant,
    DeadZone,
    Demux,
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    FromArray,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Probe,
    Product,
    Pulse,
    Ramp,
    Saturation,
    Selector,
    Sigmoid,
    Sine,
    Step,
    Sum,
    Switch,
    Tanh,
    UnitDelay,
)
from blockloop.errors import NonFiniteError

KINDS = ("gain_scalar", "gain_vector", "gain_matrix", "sum", "product", "sigmoid", "tanh", "mux", "demux",
         "selector", "constant", "probe", "subsystem",
         "saturation", "dead_zone", "abs", "switch", "min_max", "math_function", "matrix_product", "source",
         "state_space", "transfer_function", "integrator")

#: MathFunctions the compiled backend computes with other code than numpy (libm, mathfn.exp): within TOL.
INEXACT_FUNCTIONS = ("exp", "log", "sin", "cos")


class Builder:
    """Draws one diagram. ``signals`` are (output ref, size) pairs usable as inputs so far."""

    def __init__(self, draw, name: str, depth: int, steps: int, batch):
        self.draw, self.depth, self.steps, self.batch = draw, depth, steps, batch
        self.d = Diagram(name)
        self.signals: list[tuple[str, int]] = []
        self.anchored: set[str] = set()  # signals whose size compile can infer without the delays' loops
        self.probes: list[str] = []  # flattened signal names, relative to this diagram
        self.count = 0

    # -- drawing helpers ---------------------------------------------------------------------
    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def values(self, shape, lo=-1.0, hi=1.0):
        flat = self.draw(st.lists(st.floats(lo, hi, allow_subnormal=False), min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape))))
        return np.array(flat, dtype=np.float64).reshape(shape)

    def stable(self, n):
        """An n×n matrix with spectral radius < 1 (at most 0.9)."""
        A = self.values((n, n))
        return A * (0.9 / max(0.9, float(np.max(np.abs(np.linalg.eigvals(A))))))

    def denominator(self, order):
        """den of a stable transfer function: poles in (−0.9, 0.9), den[0] in ±[0.5, 2] (not normalised)."""
        poles = self.values((order,), -0.9, 0.9)
        return float(self.draw(st.sampled_from([1.0, 2.0, -0.5]))) * np.poly(poles)

    def state_space(self, m, through):
        n, p = self.integer(1, 3), self.integer(1, 3)
        D = self.values((p, m)) if through else np.zeros((p, m))
        return DiscreteStateSpace(self.stable(n), self.values((n, m)), self.values((p, n)), D,
                                  x0=self.values((n,))), p

    def transfer_function(self, through):
        order = self.integer(1, 3)
        num = self.values((self.integer(1, order + 1),))
        if not through:
            num[0] = 0.0
        return DiscreteTransferFunction(num, self.denominator(order), x0=self.values((order,)))

    def pick(self, size=None):
        pool = [s for s in self.signals if size is None or s[1] == size]
        return pool[self.integer(0, len(pool) - 1)]

    def name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def add(self, kind, block, inputs, size, anchored=None):
        """Add ``block``, wire ``inputs`` (refs) to its ports in order, record its output of ``size``.

        The output's size is known to compile when ``anchored`` (default: when any input's is).
        """
        name = self.name(kind)
        self.d.add(name, block)
        for ref, port in zip(inputs, block.inputs, strict=True):
            self.d.connect(ref, f"{name}.{port}")
        if size is not None:
            self.signals.append((f"{name}.y", size))
            if any(r in self.anchored for r in inputs) if anchored is None else anchored:
                self.anchored.add(f"{name}.y")
            if self.draw(st.booleans()):
                self.probes.append(f"{name}.y")
        return name

    # -- blocks ------------------------------------------------------------------------------
    def block(self, kind):
        if kind == "gain_scalar":
            ref, n = self.pick()
            self.add("gs", Gain(self.values(())), [ref], n)
        elif kind == "gain_vector":
            ref, n = self.pick()
            self.add("gv", Gain(self.values((n,))), [ref], n, anchored=True)
        elif kind == "gain_matrix":
            ref, n = self.pick()
            m = self.integer(1, 4)
            self.add("gm", Gain(self.values((m, n))), [ref], m, anchored=True)
        elif kind in ("sum", "product"):
            _, n = self.pick()
            k = self.integer(1, 4 if kind == "sum" else 3)
            refs = [self.pick(n)[0] for _ in range(k)]
            block = Sum("".join(self.draw(st.sampled_from("+-")) for _ in range(k))) if kind == "sum" else Product(k)
            self.add(kind, block, refs, n)
        elif kind in ("sigmoid", "tanh"):
            ref, n = self.pick()
            self.add(kind, Sigmoid() if kind == "sigmoid" else Tanh(), [ref], n)
        elif kind == "mux":
            k = self.integer(1, 3)
            picked = [self.pick() for _ in range(k)]
            refs = [r for r, _ in picked]
            self.add("mux", Mux(k), refs, sum(n for _, n in picked), anchored=all(r in self.anchored for r in refs))
        elif kind == "demux":
            big = [s for s in self.signals if s[1] >= 2]
            if not big:
                return
            ref, n = big[self.integer(0, len(big) - 1)]
            cuts = sorted(set(self.draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=n - 1))))
            sizes = [b - a for a, b in zip([0] + cuts, cuts + [n], strict=True)]
            names = [f"o{i}" for i in range(len(sizes))] if self.draw(st.booleans()) else None
            block = Demux(sizes, names=names)
            name = self.add("demux", block, [ref], None)
            for port, size in zip(block.outputs, sizes, strict=True):
                self.signals.append((f"{name}.{port}", size))
                self.anchored.add(f"{name}.{port}")
                if self.draw(st.booleans()):
                    self.probes.append(f"{name}.{port}")
        elif kind == "selector":
            ref, n = self.pick()
            idx = self.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5))
            self.add("sel", Selector(idx), [ref], len(idx), anchored=True)
        elif kind == "constant":
            n = self.integer(1, 4)
            self.add("c", Constant(self.values((n,))), [], n, anchored=True)
        elif kind == "probe":
            ref, _ = self.pick()
            self.add("pb", Probe(), [ref], None)  # logged by itself, as "pb<k>" or "sub<k>/pb<k>"
        elif kind in ("saturation", "dead_zone"):
            ref, n = self.pick()
            lo, hi = sorted(float(v) for v in self.values((2,), -1.5, 1.5))
            self.add(kind, Saturation(lo, hi) if kind == "saturation" else DeadZone(lo, hi), [ref], n)
        elif kind == "abs":
            ref, n = self.pick()
            self.add("abs", Abs(), [ref], n)
        elif kind in ("switch", "min_max"):
            _, n = self.pick()
            k = 3 if kind == "switch" else self.integer(2, 4)
            refs = [self.pick(n)[0] for _ in range(k)]
            if kind == "switch":
                block = Switch(float(self.values(())), self.draw(st.sampled_from([">=", ">", "!=0"])))
            else:
                block = MinMax(self.draw(st.sampled_from(["min", "max"])), k)
            self.add(kind, block, refs, n)
        elif kind == "math_function":
            ref, n = self.pick()
            function = self.draw(st.sampled_from(["exp", "log", "sqrt", "sin", "cos", "square", "reciprocal"]))
            if function in ("log", "sqrt", "reciprocal"):  # on |u| + c, c in [0.25, 1]: finite, away from 0
                ref = f"{self.add('abs', Abs(), [ref], n)}.y"
                c = f"{self.add('c', Constant(self.values((n,), 0.25, 1.0)), [], n, anchored=True)}.y"
                ref = f"{self.add('sum', Sum('++'), [ref, c], n)}.y"
            elif function in ("exp", "square"):  # on a saturated u: bounded, even in a loop
                ref = f"{self.add('sat', Saturation(-2.0, 2.0), [ref], n)}.y"
            self.add("mf", MathFunction(function), [ref], n)
        elif kind == "matrix_product":
            ref1, a = self.pick()
            k = self.draw(st.sampled_from([d for d in range(1, a + 1) if a % d == 0]))
            pool = [s for s in self.signals if s[1] % k == 0]
            ref2, b = pool[self.integer(0, len(pool) - 1)]
            m, n = a // k, b // k
            self.add("mp", MatrixProduct(m, k, n), [ref1, ref2], m * n, anchored=True)
        elif kind == "source":
            which = self.draw(st.sampled_from(["step", "ramp", "sine", "pulse"]))
            v = [float(x) for x in self.values((4,))]
            if which == "step":
                block = Step(self.integer(0, 12), v[0], v[1])
            elif which == "ramp":
                block = Ramp(v[0], self.integer(0, 12), v[1])
            elif which == "sine":
                block = Sine(v[0], v[1] / 2, v[2] * 3, v[3])
            else:
                period = self.integer(1, 6)
                block = Pulse(v[0], period, self.integer(0, period), self.integer(0, 4))
            self.add(which, block, [], 1, anchored=True)
        elif kind == "state_space":
            ref, m = self.pick()
            block, p = self.state_space(m, self.draw(st.booleans()))
            self.add("ss", block, [ref], p, anchored=True)
        elif kind == "transfer_function":
            if not any(n == 1 for _, n in self.signals):
                return
            self.add("tf", self.transfer_function(self.draw(st.booleans())), [self.pick(1)[0]], 1, anchored=True)
        elif kind == "integrator":
            ref, n = self.pick()
            method = self.draw(st.sampled_from(["forward", "backward"]))
            K, Ts = float(self.values(())), float(self.draw(st.sampled_from([1, 0.5, 0.1])))
            x0 = self.values((n,)) if n > 1 or self.draw(st.booleans()) else float(self.values(()))
            self.add("int", DiscreteIntegrator(K, Ts, method, x0), [ref], n)
        elif kind == "subsystem" and self.depth == 0:
            ref, n = self.pick()
            inner = Builder(self.draw, "sub", self.depth + 1, self.steps, self.batch)
            inner.d.add("x", Inport(n))
            inner.signals.append(("x.y", n))
            inner.anchored.add("x.y")
            outs = inner.fill(n_blocks=self.integer(1, 5), n_delays=self.integer(0, 2), n_outputs=self.integer(1, 2))
            name = self.name("sub")
            self.d.add(name, inner.d)
            self.d.connect(ref, f"{name}.x")
            for port, size, anchored in outs:
                self.signals.append((f"{name}.{port}", size))
                if anchored:
                    self.anchored.add(f"{name}.{port}")
            self.probes.extend(f"{name}/{p}" for p in inner.probes)

    def fill(self, n_blocks, n_delays, n_outputs):
        """Delays first (their outputs are usable at once), then blocks, then close the loops and add outputs."""
        delays = []
        for _ in range(n_delays):
            n = self.integer(1, 4)
            # a scalar x0 leaves the size to inference, which a loop of such delays cannot settle
            x0 = self.values(()) if n == 1 and self.draw(st.booleans()) else self.values((n,))
            # or a stateful linear block without feedthrough closes the loop (no UnitDelay in it)
            kind = self.draw(st.sampled_from(["delay", "delay", "state_space", "transfer_function", "integrator"]))
            name, m, out = self.name("z"), n, n
            if kind == "delay":
                self.d.add(name, UnitDelay(x0))
            elif kind == "integrator":
                self.d.add(name, DiscreteIntegrator(float(self.values(())), 1, "forward", x0))
            elif kind == "state_space":
                block, out = self.state_space(n, through=False)
                self.d.add(name, block)
            else:
                m = out = 1
                self.d.add(name, self.transfer_function(through=False))
            self.signals.append((f"{name}.y", out))
            if out > 1 or kind in ("state_space", "transfer_function"):
                self.anchored.add(f"{name}.y")
            delays.append((name, m))
        for _ in range(n_blocks):
            self.block(self.draw(st.sampled_from(KINDS)))
        for name, n in delays:
            # a size-1 delay's x0 cannot state its size: its input must come from a sized signal
            pool = [s for s in self.signals if s[1] == n and (n > 1 or s[0] in self.anchored)]
            if pool:
                ref = pool[self.integer(0, len(pool) - 1)][0]
            else:
                src, m = self.pick()
                ref = f"{self.add('gm', Gain(self.values((n, m))), [src], n, anchored=True)}.y"
            if self.draw(st.integers(0, 3)) > 0:  # most loops saturate, so nothing can grow without bound
                squash = self.name("sat")
                self.d.add(squash, Tanh())
                self.d.connect(ref, squash)
                ref = squash
            self.d.connect(ref, name)
        outs = []
        for i in range(n_outputs):
            ref, n = self.pick()
            self.d.add(f"o{i}", Outport())
            self.d.connect(ref, f"o{i}")
            outs.append((f"o{i}", n, ref in self.anchored))
        return outs


@st.composite
def random_runs(draw):
    steps = draw(st.integers(1, 12))
    batch = draw(st.sampled_from([None, None, 1, 3, 130]))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    b = Builder(draw, "rand", 0, steps, batch)
    inputs = {}
    for i in range(draw(st.integers(1, 2))):
        n = draw(st.integers(1, 4))
        b.d.add(f"u{i}", Inport(n))
        b.signals.append((f"u{i}.y", n))
        b.anchored.add(f"u{i}.y")
        inputs[f"u{i}"] = n
    if draw(st.booleans()):
        n = draw(st.integers(1, 3))
        data_batch = batch if batch is not None and draw(st.booleans()) else None
        shape = (steps + draw(st.integers(0, 2)), n) if data_batch is None else (steps, data_batch, n)
        seed = draw(st.integers(0, 2**16))
        b.add("fa", FromArray(np.random.default_rng(seed).uniform(-2, 2, shape)), [], n, anchored=True)
    b.fill(n_blocks=draw(st.integers(2, 10)), n_delays=draw(st.integers(0, 3)), n_outputs=draw(st.integers(1, 2)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    feeds = {name: rng.uniform(-2, 2, (steps, n) if batch is None else (steps, batch, n)) for name, n in inputs.items()}
    return b.d, dtype, feeds, b.probes, batch, seed


TOL = {"float64": 1e-12, "float32": 2e-6}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(run=random_runs())
def test_random_diagram_compiled_equals_interpreter(run):
    d, dtype, feeds, probes, batch, seed = run
    program = d.compile(dtype=dtype)
    states = {}
    rng = np.random.default_rng(seed + 1)
    for s in program.states:  # per-run initial states for some delays, (n,) or (B, n)
        if rng.random() < 0.3:
            states[s.block] = rng.uniform(-1, 1, (s.size,) if batch is None or rng.random() < 0.5 else (batch, s.size))
    ri = program.simulate(feeds, backend="interpreter", probes=probes, initial_states=states)
    rc = program.simulate(feeds, backend="compiled", probes=probes, initial_states=states)
    assert list(rc.outputs) == list(ri.outputs) and list(rc.probes) == list(ri.probes)
    assert rc.batched == ri.batched
    scale = max([1.0] + [float(np.max(np.abs(v))) for v in ri.signals.values()])
    # without σ, tanh and matrix gains every op rounds as numpy does: same bits
    exact = not any(isinstance(b, (Sigmoid, Tanh)) or (isinstance(b, Gain) and b.K.ndim == 2)
                    or (isinstance(b, MathFunction) and b.function in INEXACT_FUNCTIONS)
                    for b in program.blocks.values())
    for name, ref in ri.signals.items():
        got = rc[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype == np.dtype(dtype), name
        if exact:
            assert np.array_equal(got, ref), name
        diff = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
        assert diff <= TOL[dtype] * scale, f"{name}: max |Δ| {diff:.3g}, scale {scale:.3g}"


# -- overflow --------------------------------------------------------------------------------
def blow_up(gain=10.0) -> Diagram:
    """s = u − K·z, z ← s, K = [[gain, 0], [0.5, −1]]: s grows like gain^k to ±inf, then inf·0, inf − inf give nan.

    Tanh, Sigmoid and their product with s see ±inf and nan too; a selector and a gain route them to y.
    """
    d = Diagram("blow")
    d.add("u", Inport(2)); d.add("s", Sum("+-")); d.add("K", Gain([[gain, 0.0], [0.5, -1.0]]))
    d.add("z", UnitDelay([1.0, 0.0])); d.add("t", Tanh()); d.add("g", Sigmoid()); d.add("p", Product(3))
    d.add("k", Gain(-2.0)); d.add("sel", Selector([1, 0, 0])); d.add("y", Outport()); d.add("pz", Probe())
    d.connect("u", "s.u1"); d.chain("z", "K"); d.connect("K", "s.u2"); d.chain("s", "z")
    d.chain("s", "t"); d.chain("s", "g"); d.connect("t", "p.u1"); d.connect("g", "p.u2"); d.connect("s", "p.u3")
    d.chain("p", "k", "sel", "y"); d.connect("z", "pz")
    return d


@pytest.mark.parametrize("batch", [None, 2, 200])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overflow_is_reported_at_the_same_step(dtype, batch):
    program = blow_up().compile(dtype=dtype)
    u = np.ones((400, 2)) if batch is None else np.ones((400, batch, 2))
    messages = {}
    for backend in ("interpreter", "compiled"):
        with pytest.raises(NonFiniteError, match="became non-finite at step") as err:
            program.simulate({"u": u}, Ts=0.5, backend=backend, probes=["t.y", "g.y", "K.y"])
        messages[backend] = str(err.value)
    assert messages["compiled"] == messages["interpreter"]


@pytest.mark.parametrize("batch", [None, 2, 200])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overflow_gives_the_same_inf_and_nan_pattern(dtype, batch):
    program = blow_up().compile(dtype=dtype)
    u = np.ones((400, 2)) if batch is None else np.ones((400, batch, 2))
    probes = ["t.y", "g.y", "K.y", "s.y", "p.y"]
    ri = program.simulate({"u": u}, backend="interpreter", check_finite=False, probes=probes)
    rc = program.simulate({"u": u}, backend="compiled", check_finite=False, probes=probes)
    assert np.isnan(ri["y"]).any() and np.isinf(ri["s.y"]).any()  # the example does overflow
    for name, ref in ri.signals.items():
        got = rc[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=name)
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg=name)
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg=name)
        fin = np.isfinite(ref)
        scale = np.maximum(1.0, np.abs(ref[fin].astype(np.float64)))
        rel = np.abs(got[fin].astype(np.float64) - ref[fin].astype(np.float64)) / scale
        assert rel.max(initial=0.0) <= TOL[dtype], name


def test_non_finite_input_with_check_finite_false_propagates_the_same_way():
    program = blow_up(0.5).compile()
    u = np.zeros((6, 2))
    u[1, 0], u[3, 1], u[4, 0] = np.inf, np.nan, -np.inf
    with pytest.raises(NonFiniteError, match="input 'u' has a non-finite value at step 1"):
        program.simulate({"u": u}, backend="compiled")
    probes = ["t.y", "g.y", "K.y", "s.y", "p.y", "z.y"]
    ri = program.simulate({"u": u}, backend="interpreter", check_finite=False, probes=probes)
    rc = program.simulate({"u": u}, backend="compiled", check_finite=False, probes=probes)
    for name, ref in ri.signals.items():
        got = rc[name]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=name)
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref), err_msg=name)
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(ref), err_msg=name)
        fin = np.isfinite(ref)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-14, atol=1e-15, err_msg=name)
