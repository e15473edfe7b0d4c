"""Central finite differences against ``gradient``: each block type's adjoint alone, then random diagrams.

Every gradient is checked on both reverse sweeps (compiled kernel, interpreter with each block's
``output_vjp``/``update_vjp``) against central differences of the loss, computed by simulating
``program.with_parameters(...)`` on the interpreter in float64. A block without parameters is
checked through elementwise gains in front of it: their gradients go through its input adjoint.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from blockloop import Diagram
from blockloop.autodiff import gradient, loss_and_cotangent
from blockloop.blocks import (
    Abs,
    Block,
    Constant,
    DeadZone,
    Demux,
    DiscreteIntegrator,
    DiscreteStateSpace,
    DiscreteTransferFunction,
    Gain,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Product,
    Saturation,
    Selector,
    Sigmoid,
    Sum,
    Switch,
    Tanh,
    UnitDelay,
)
from blockloop.errors import WiringError

BACKENDS = ("compiled", "interpreter")


# ----------------------------------------------------------------- finite differences


def loss_at(program, inputs, targets: dict, values: dict, loss: str = "half-mse") -> float:
    """The loss at parameter ``values``, by plain simulation (no adjoint involved)."""
    p = program.with_parameters(values) if values else program
    probes = [n for n in targets if n not in p.outputs and n not in p.probes]
    res = p.simulate(inputs, probes=probes, backend="interpreter")
    errs = []
    for n, t in targets.items():
        got = np.asarray(res[n], dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        if got.ndim == 2:
            got, t = got[:, None, :], t.reshape(got.shape)[:, None, :]
        errs.append(got - t)
    return loss_and_cotangent(np.concatenate(errs, axis=2), loss)[0]


def finite_differences(program, inputs, targets, paths, loss="half-mse", rel_step=1e-6) -> dict:
    base = program.parameters(paths)
    out = {}
    for path in paths:
        flat = base[path].reshape(-1)
        g = np.zeros_like(flat)
        for i in range(flat.size):
            h = rel_step * max(1.0, abs(flat[i]))
            vals = {}
            for sign in (1, -1):
                v = flat.copy()
                v[i] += sign * h
                vals[sign] = loss_at(program, inputs, targets, {**base, path: v.reshape(base[path].shape)}, loss)
            g[i] = (vals[1] - vals[-1]) / (2 * h)
        out[path] = g.reshape(base[path].shape)
    return out


def assert_close_to_fd(grads: dict, fd: dict, loss_value: float, rtol=2e-6):
    """|g − fd| ≤ rtol·max|g| + a floor for the differences' rounding (ε·loss/h ≈ 2e-10·loss)."""
    scale = max(max(np.max(np.abs(g), initial=0.0) for g in grads.values()), 1e-12)
    for path, g in grads.items():
        err = np.max(np.abs(g - fd[path]), initial=0.0)
        assert err <= rtol * scale + 1e-8 * max(1.0, abs(loss_value)), (path, g, fd[path], err)


def check(program, inputs, targets, paths, backend, loss="half-mse"):
    res = gradient(program, inputs, targets, paths, loss=loss, backend=backend)
    assert res.backend == backend
    assert res.loss == pytest.approx(loss_at(program, inputs, targets, {}, loss), rel=1e-13, abs=1e-300)
    fd = finite_differences(program, inputs, targets, paths, loss)
    assert_close_to_fd(res.grads, fd, res.loss)
    for path in paths:
        assert res.grads[path].shape == program.parameters([path])[path].shape
        assert res.grads[path].dtype == np.float64
    # the gradient must actually carry information: not all zero
    assert any(np.any(g != 0) for g in res.grads.values())
    return res


def rng_data(T, B, sizes: dict, seed=0):
    rng = np.random.default_rng(seed)
    shape = (lambda n: (T, n)) if B is None else (lambda n: (T, B, n))
    return {name: rng.standard_normal(shape(n)) for name, n in sizes.items()}


def single_block(block: Block, in_sizes: list[int], out_names=("y",), pre_gain=True, seed=1):
    """Inports x1.. → (elementwise gain k1..) → block → Outport(s); returns (diagram, paths of the gains)."""
    rng = np.random.default_rng(seed)
    d = Diagram("one")
    d.add("blk", block)
    paths = []
    for j, (port, n) in enumerate(zip(block.inputs, in_sizes, strict=True), start=1):
        d.add(f"x{j}", Inport(n))
        if pre_gain:
            d.add(f"k{j}", Gain(rng.uniform(0.5, 1.5, n) * rng.choice([-1, 1], n)))
            d.chain(f"x{j}", f"k{j}")
            d.connect(f"k{j}", f"blk.{port}")
            paths.append(f"k{j}.K")
        else:
            d.connect(f"x{j}", f"blk.{port}")
    for port in out_names:
        name = "y" if port == "y" else f"out_{port}"
        d.add(name, Outport())
        d.connect(f"blk.{port}", name)
    return d, paths


def targets_for(program, inputs, seed=2):
    res = program.simulate(inputs, backend="interpreter")
    rng = np.random.default_rng(seed)
    return {n: res[n] + rng.standard_normal(res[n].shape) for n in program.outputs}


# ----------------------------------------------------------------- (a) each block alone


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("K,n", [(1.7, 2), ([0.5, -1.2, 2.0], 3), ([[0.3, -0.7, 1.1], [2.0, 0.1, -0.4]], 3),
                                 ([[0.9]], 1), ([[1.0, -2.0]], 2)],
                         ids=["scalar", "vector", "matrix", "1x1 matrix", "row matrix"])
@pytest.mark.parametrize("B", [None, 3], ids=["unbatched", "batch3"])
def test_gain(backend, K, n, B):
    d, pre = single_block(Gain(K), [n])
    program = d.compile()
    inputs = rng_data(6, B, {"x1": n})
    check(program, inputs, targets_for(program, inputs), ["blk.K"] + pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["half-mse", "mse"])
def test_sum_signs(backend, loss):
    d, pre = single_block(Sum("+-+"), [2, 2, 2])
    program = d.compile()
    inputs = rng_data(5, 3, {"x1": 2, "x2": 2, "x3": 2})
    check(program, inputs, targets_for(program, inputs), pre, backend, loss)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_inputs", [2, 3])
def test_product(backend, n_inputs):
    d, pre = single_block(Product(n_inputs), [3] * n_inputs)
    program = d.compile()
    inputs = rng_data(5, 2, {f"x{j}": 3 for j in range(1, n_inputs + 1)})
    check(program, inputs, targets_for(program, inputs), pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wiring", ["u1=u2=a", "u1=u3=a, u2=b", "u1=u2=u3=a"])
def test_product_with_one_signal_into_several_inputs(backend, wiring):
    """y = a⊙a (⊙ …): the adjoint must add each input's share, computed from the forward values."""
    n_inputs = 2 if wiring == "u1=u2=a" else 3
    d = Diagram("prod")
    d.add("xa", Inport(2))
    d.add("xb", Inport(2))
    d.add("ka", Gain([0.8, -1.3]))
    d.add("kb", Gain([1.1, 0.6]))
    d.add("p", Product(n_inputs))
    d.add("y", Outport())
    d.chain("xa", "ka")
    d.chain("xb", "kb")
    sources = {"u1=u2=a": ["ka", "ka"], "u1=u3=a, u2=b": ["ka", "kb", "ka"], "u1=u2=u3=a": ["ka", "ka", "ka"]}
    for port, src in zip(("u1", "u2", "u3"), sources[wiring], strict=False):
        d.connect(src, f"p.{port}")
    d.connect("p", "y")
    program = d.compile()
    inputs = rng_data(4, 3, {"xa": 2, "xb": 2})
    paths = ["ka.K", "kb.K"] if "b" in wiring.split(",")[-1] else ["ka.K"]
    check(program, inputs, targets_for(program, inputs), paths, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("block", [Sigmoid, Tanh])
def test_pointwise(backend, block):
    d, pre = single_block(block(), [3])
    program = d.compile()
    inputs = {"x1": 2.0 * rng_data(5, 3, {"x1": 3})["x1"]}
    check(program, inputs, targets_for(program, inputs), pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mux(backend):
    d, pre = single_block(Mux(3), [2, 1, 3])
    program = d.compile()
    inputs = rng_data(4, 2, {"x1": 2, "x2": 1, "x3": 3})
    check(program, inputs, targets_for(program, inputs), pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("targeted", [("a", "b", "c"), ("b",), ("c", "a")])
def test_demux(backend, targeted):
    """Outputs not targeted get no cotangent (None in the interpreter, nothing in the kernel)."""
    d, pre = single_block(Demux([2, 1, 3], names=["a", "b", "c"]), [6], out_names=targeted)
    program = d.compile()
    inputs = rng_data(4, 3, {"x1": 6})
    check(program, inputs, targets_for(program, inputs), pre, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("indices", [[2, 0, 2, 1, 2], [1], [0, 0, 0]])
def test_selector_repeated_indices(backend, indices):
    d, pre = single_block(Selector(indices), [3])
    program = d.compile()
    inputs = rng_data(4, 2, {"x1": 3})
    res = check(program, inputs, targets_for(program, inputs), pre, backend)
    if indices == [1]:  # unselected elements get exactly zero
        assert res.grads["k1.K"][0] == 0 and res.grads["k1.K"][2] == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("use", ["summed with the input", "multiplied by the input", "straight to the output"])
def test_constant_value(backend, use):
    d = Diagram("const")
    d.add("c", Constant([0.4, -1.1]))
    d.add("y", Outport())
    if use == "straight to the output":
        d.connect("c", "y")
        inputs = None
        program = d.compile()
        targets = {"y": np.array([[1.0, 2.0], [0.5, -0.5], [0.0, 0.3]])}
        res = gradient(program, inputs, targets, ["c.value"], backend=backend, steps=3)
        # Σ_k (c − t_k) / T with T = 3
        np.testing.assert_allclose(res.grads["c.value"], (3 * np.array([0.4, -1.1]) - targets["y"].sum(0)) / 3,
                                   rtol=1e-14)
        return
    d.add("x", Inport(2))
    d.add("op", Sum("++") if use.startswith("summed") else Product(2))
    d.connect("x", "op.u1")
    d.connect("c", "op.u2")
    d.connect("op", "y")
    program = d.compile()
    inputs = rng_data(5, 3, {"x": 2})
    check(program, inputs, targets_for(program, inputs), ["c.value"], backend)


def delay_diagram(x0, n=3):
    """x → k (vector gain) → z (UnitDelay x0) → m (vector gain) → y."""
    d = Diagram("delay")
    d.add("x", Inport(n))
    d.add("k", Gain(np.linspace(0.5, 1.5, n)))
    d.add("z", UnitDelay(x0))
    d.add("m", Gain(np.linspace(-1.0, 2.0, n)))
    d.add("y", Outport())
    d.chain("x", "k", "z", "m", "y")
    return d


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x0", [0.7, [0.1, -0.2, 0.3]], ids=["scalar x0 broadcast", "vector x0"])
@pytest.mark.parametrize("B", [None, 3], ids=["unbatched", "batch3"])
def test_unit_delay(backend, x0, B):
    program = delay_diagram(x0).compile()
    inputs = rng_data(5, B, {"x": 3})
    res = check(program, inputs, targets_for(program, inputs), ["z.x0", "k.K", "m.K"], backend)
    assert res.grads["z.x0"].shape == np.shape(np.atleast_1d(x0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_x0_of_a_loop(backend):
    """The accumulator's x0 reaches every step: ∂y[k]/∂x0 = 1."""
    from blockloop.diagrams.examples import accumulator

    program = accumulator(x0=0.5).compile()
    inputs = rng_data(6, 2, {"u": 1})
    check(program, inputs, targets_for(program, inputs), ["z.x0"], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_probe_targets_including_an_input_and_a_delay(backend):
    from blockloop.diagrams.examples import gain_feedback

    program = gain_feedback(0.6).compile()
    inputs = rng_data(6, 2, {"u": 1})
    res = program.simulate(inputs, probes=["z.y", "s.y", "u.y"], backend="interpreter")
    rng = np.random.default_rng(3)
    targets = {n: res[n] + rng.standard_normal(res[n].shape) for n in ("z.y", "s.y", "u.y")}
    check(program, inputs, targets, ["g.K", "z.x0"], backend)




@pytest.mark.parametrize("backend", [
    "compiled", "interpreter"])
def test_x0_given_as_a_value_is_used(backend):
    """Minimal: y = x0, u[0], u[1]; with x0 = 2 given in params, y[0] is 2 and ∂loss/∂x0 = 2/3."""
    from blockloop.diagrams.examples import delay_line

    program = delay_line(0.0).compile()
    res = gradient(program, np.ones((3, 1)), np.zeros((3, 1)), {"z.x0": np.array([2.0])}, backend=backend)
    assert res.signals["y"].ravel().tolist() == [2.0, 1.0, 1.0]
    assert res.loss == pytest.approx(1.0)
    np.testing.assert_allclose(res.grads["z.x0"], [2.0 / 3.0], rtol=1e-15)


# ----------------------------------------------------------------- (b) random diagrams with loops


class _Builder:
    """Random diagrams: every non-delay block reads only signals made before it, and delays
    (whose outputs are available from the start) take their inputs last, closing loops."""

    def __init__(self, draw):
        self.draw = draw
        self.d = Diagram("random")
        self.pool: list[tuple[str, int]] = []  # (source "block.port", size)
        self.count = 0

    def name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def value(self, shape=()):
        return np.asarray(self.draw(st.lists(st.floats(-1.2, 1.2, allow_nan=False, width=64),
                                             min_size=int(np.prod(shape, dtype=int)),
                                             max_size=int(np.prod(shape, dtype=int))))).reshape(shape)

    def signal(self, size=None):
        """A pool signal of ``size`` (any if None), through a Selector when none has that size."""
        draw = self.draw
        fits = [s for s in self.pool if size is None or s[1] == size]
        if fits and (size is None or draw(st.booleans()) or len(fits) == len(self.pool)):
            return fits[draw(st.integers(0, len(fits) - 1))]
        src, n = self.pool[draw(st.integers(0, len(self.pool) - 1))]
        idx = draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size))
        sel = self.name("sel")
        self.d.add(sel, Selector(idx))
        self.d.connect(src, sel)
        self.pool.append((f"{sel}.y", size))
        return f"{sel}.y", size

    def add(self, block, inputs):
        name = self.name(type(block).__name__.lower())
        self.d.add(name, block)
        for port, (src, _) in zip(block.inputs, inputs, strict=True):
            self.d.connect(src, f"{name}.{port}")
        return name

    def block(self):
        draw = self.draw
        kind = draw(st.sampled_from(["gain_s", "gain_v", "gain_m", "sum", "product", "sigmoid", "tanh", "mux",
                                     "demux", "selector", "constant", "saturation", "dead_zone", "abs", "switch",
                                     "min_max", "math_function", "matrix_product", "state_space",
                                     "transfer_function", "integrator"]))
        size = draw(st.integers(1, 3))
        if kind in NONSMOOTH_KINDS or kind in ("math_function", "matrix_product"):
            self.control_block(kind, size)
        elif kind in ("state_space", "transfer_function", "integrator"):
            src = self.signal(1 if kind == "transfer_function" else size)
            block, out = self.linear_system(kind, src[1], through=draw(st.booleans()))
            name = self.add(block, [src])
            self.pool.append((f"{name}.y", out))
        elif kind == "constant":
            name = self.add(Constant(self.value((size,))), [])
            self.pool.append((f"{name}.y", size))
        elif kind in ("gain_s", "gain_v", "gain_m", "sigmoid", "tanh"):
            src = self.signal(size)
            out = size
            if kind == "gain_s":
                block = Gain(float(self.value()))
            elif kind == "gain_v":
                block = Gain(self.value((size,)))
            elif kind == "gain_m":
                out = draw(st.integers(1, 3))
                block = Gain(self.value((out, size)))
            else:
                block = Sigmoid() if kind == "sigmoid" else Tanh()
            name = self.add(block, [src])
            self.pool.append((f"{name}.y", out))
        elif kind in ("sum", "product"):
            k = draw(st.integers(2, 3))
            ins = [self.signal(size) for _ in range(k)]
            block = Sum("".join(draw(st.sampled_from("+-")) for _ in range(k))) if kind == "sum" else Product(k)
            name = self.add(block, ins)
            self.pool.append((f"{name}.y", size))
        elif kind == "mux":
            ins = [self.signal() for _ in range(draw(st.integers(1, 3)))]
            name = self.add(Mux(len(ins)), ins)
            self.pool.append((f"{name}.y", sum(n for _, n in ins)))
        elif kind == "demux":
            src = self.signal(draw(st.integers(2, 4)))
            cut = draw(st.integers(1, src[1] - 1))
            name = self.add(Demux([cut, src[1] - cut]), [src])
            self.pool += [(f"{name}.y1", cut), (f"{name}.y2", src[1] - cut)]
        else:
            src = self.signal()
            idx = draw(st.lists(st.integers(0, src[1] - 1), min_size=1, max_size=4))
            name = self.add(Selector(idx), [src])
            self.pool.append((f"{name}.y", len(idx)))


    def linear_system(self, kind, m, through):
        """A stable stateful linear block with input size ``m``, and its output size; ``through=False``:
        no feedthrough (D = 0, num[0] = 0, forward Euler), so it may close a loop."""
        draw = self.draw
        if kind == "state_space":
            n, p = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            A = self.value((n, n))
            A = A * (0.9 / max(0.9, float(np.max(np.abs(np.linalg.eigvals(A))))))  # spectral radius < 1
            D = self.value((p, m)) if through else np.zeros((p, m))
            return DiscreteStateSpace(A, self.value((n, m)), self.value((p, n)), D, x0=self.value((n,))), p
        if kind == "transfer_function":
            order = draw(st.integers(1, 2))
            num = self.value((draw(st.integers(1, order + 1)),))
            if not through:
                num[0] = 0.0
            den = draw(st.sampled_from([1.0, -2.0, 0.5])) * np.poly(self.value((order,)) * 0.75)  # poles < 0.9
            return DiscreteTransferFunction(num, den, x0=self.value((order,))), 1
        method = "backward" if through else "forward"
        return DiscreteIntegrator(float(self.value()), draw(st.sampled_from([1, 0.5])), method,
                                  x0=self.value((m,))), m

    def control_block(self, kind, size):
        """A non-smooth, math or matrix block. Limits and thresholds are drawn off the grid of the
        drawn values (an odd offset), and the test keeps only diagrams whose signals stay away
        from the kinks (:func:`kink_distance`), where finite differences see the jump."""
        draw = self.draw
        odd = 0.0123456789
        if kind in ("saturation", "dead_zone"):
            lo = -draw(st.integers(1, 8)) / 10 - odd
            hi = draw(st.integers(1, 8)) / 10 + odd
            block = Saturation(lo, hi) if kind == "saturation" else DeadZone(lo, hi)
            ins = [self.signal(size)]
        elif kind == "abs":
            block, ins = Abs(), [self.signal(size)]
        elif kind == "switch":
            block = Switch(draw(st.integers(-5, 5)) / 10 + odd, draw(st.sampled_from([">=", ">"])))
            ins = [self.signal(size) for _ in range(3)]
        elif kind == "min_max":
            k = draw(st.integers(2, 3))
            block, ins = MinMax(draw(st.sampled_from(["min", "max"])), k), [self.signal(size) for _ in range(k)]
        elif kind == "math_function":  # smooth where it is used: exp and u² on a bounded u
            function = draw(st.sampled_from(["sin", "cos", "square", "exp"]))
            src = self.signal(size)
            if function in ("exp", "square"):
                src = (f"{self.add(Tanh(), [src])}.y", size)
            block, ins = MathFunction(function), [src]
        else:
            a, b = self.signal(), None
            k = draw(st.sampled_from([d for d in range(1, a[1] + 1) if a[1] % d == 0]))
            b = self.signal(k * draw(st.integers(1, 2)))
            block, ins = MatrixProduct(a[1] // k, k, b[1] // k), [a, b]
            size = (a[1] // k) * (b[1] // k)
        name = self.add(block, ins)
        self.pool.append((f"{name}.y", size))


NONSMOOTH_KINDS = ("saturation", "dead_zone", "abs", "switch", "min_max")


def kink_distance(program, inputs) -> float:
    """How close, over the run, the inputs of the non-smooth blocks come to a kink (∞ without any).

    A kink: a Saturation or DeadZone limit, 0 for Abs, a Switch threshold, and two MinMax inputs
    driven by different signals being equal. Finite differences straddle it within about 1e-6.
    """
    kinks = []
    for name, block in program.blocks.items():
        if isinstance(block, (Saturation, DeadZone, Abs)):
            limits = {Saturation: ("lower", "upper"), DeadZone: ("start", "end"), Abs: ()}[type(block)]
            kinks.append(([f"{name}.u"], [getattr(block, a) for a in limits] or [0.0]))
        elif isinstance(block, Switch):
            kinks.append(([f"{name}.control"], [block.threshold]))
        elif isinstance(block, MinMax):
            drivers = {}
            for port in block.inputs:  # the same signal into two inputs is no kink: y = u either way
                drivers.setdefault(program.driver_index(name, port), f"{name}.{port}")
            if len(drivers) > 1:
                kinks.append((list(drivers.values()), None))
    if not kinks:
        return np.inf
    probes = list(dict.fromkeys(p for ports, _ in kinks for p in ports))
    res = program.simulate(inputs, probes=probes, backend="interpreter")
    gap = np.inf
    for ports, points in kinks:
        values = [np.asarray(res[p], dtype=np.float64) for p in ports]
        if points is not None:
            gap = min(gap, min(float(np.min(np.abs(values[0] - c))) for c in points))
        else:
            for i in range(len(values)):
                for j in range(i + 1, len(values)):
                    gap = min(gap, float(np.min(np.abs(values[i] - values[j]))))
    return gap


@st.composite
def random_diagrams(draw):
    b = _Builder(draw)
    n_in = draw(st.integers(1, 2))
    sizes = {}
    for j in range(n_in):
        sizes[f"u{j + 1}"] = draw(st.integers(1, 3))
        b.d.add(f"u{j + 1}", Inport(sizes[f"u{j + 1}"]))
        b.pool.append((f"u{j + 1}.y", sizes[f"u{j + 1}"]))
    delays = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 3))
        x0 = float(b.value()) if draw(st.booleans()) else b.value((n,))
        name = b.name("z")
        # or a stateful linear block without feedthrough closes the loop, with no UnitDelay in it
        kind = draw(st.sampled_from(["delay", "delay", "state_space", "transfer_function", "integrator"]))
        if kind == "delay":
            b.d.add(name, UnitDelay(x0))
            out = n
        else:
            n = 1 if kind == "transfer_function" else n
            block, out = b.linear_system(kind, n, through=False)
            b.d.add(name, block)
        delays.append((name, n))
        b.pool.append((f"{name}.y", out))
    for _ in range(draw(st.integers(2, 7))):
        b.block()
    # close the loops: through a squashing Tanh half the time, so signals stay bounded
    for name, n in delays:
        src = b.signal(n)
        if draw(st.booleans()):
            t = b.add(Tanh(), [src])
            src = (f"{t}.y", n)
        b.d.connect(src[0], name)
    outs = draw(st.lists(st.integers(0, len(b.pool) - 1), min_size=1, max_size=2, unique=True))
    for j, i in enumerate(outs, start=1):
        b.d.add(f"y{j}", Outport())
        b.d.connect(b.pool[i][0], f"y{j}")
    T = draw(st.integers(1, 5))
    B = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**16))
    return b.d, sizes, T, B, seed


def _rel(a, b):
    scale = max(np.max(np.abs(b), initial=0.0), 1e-300)
    return np.max(np.abs(a - b), initial=0.0) / scale


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=random_diagrams(), data=st.data())
def test_random_diagrams_with_loops_match_finite_differences(case, data):
    d, sizes, T, B, seed = case
    try:
        program = d.compile()
    except WiringError as exc:  # a loop fed only by itself through a scalar x0 has no size: not a diagram
        assume("cannot infer the size" not in str(exc))
        raise
    # a structural zero (D = 0, num[0] = 0) cannot be perturbed: finite differences would make it non-zero
    choices = [p for p in program.parameters() if not (
        (p.endswith(".D") and not np.any(program.parameters([p])[p]))
        or (p.endswith(".num") and program.parameters([p])[p][0] == 0))]
    if not choices:
        return
    paths = data.draw(st.lists(st.sampled_from(choices), min_size=1, max_size=4, unique=True), label="params")
    loss = data.draw(st.sampled_from(["half-mse", "mse"]), label="loss")
    inputs = rng_data(T, B, sizes, seed)
    assume(kink_distance(program, inputs) > 1e-3)  # finite differences are not derivatives across a kink
    targets = targets_for(program, inputs, seed + 1)
    loss_fd = loss_at(program, inputs, targets, {}, loss)
    fd = finite_differences(program, inputs, targets, paths, loss)
    res = {be: gradient(program, inputs, targets, paths, loss=loss, backend=be) for be in BACKENDS}
    assert res["compiled"].backend == "compiled"
    for r in res.values():
        assert r.loss == pytest.approx(loss_fd, rel=1e-13, abs=1e-300)
        assert_close_to_fd(r.grads, fd, r.loss)
    for p in paths:
        a, b = res["compiled"].grads[p], res["interpreter"].grads[p]
        assert a.shape == b.shape == program.parameters([p])[p].shape
        assert _rel(a, b) <= 1e-12 or np.max(np.abs(a - b)) <= 1e-15, (p, a, b)
    for n in program.outputs:
        np.testing.assert_allclose(res["compiled"].signals[n], res["interpreter"].signals[n], rtol=1e-13, atol=1e-15)
