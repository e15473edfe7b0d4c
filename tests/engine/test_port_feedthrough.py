"""Feedthrough is judged per (input, output) pair: only a loop in the port graph is algebraic.

A block with several outputs of which only some depend on an input may sit in a loop that
runs from its other outputs back into that input. The scheduler then evaluates the block in
parts (each part computes some outputs, in schedule order), on both backends, and the reverse
sweeps split its adjoint the same way. Checked against hand-computed difference equations.
"""

import warnings

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.autodiff import gradient
from blockloop.blocks import Block, Gain, Inport, Outport, Sum
from blockloop.blocks.kalman import KalmanFilter
from blockloop.engine.backends import BackendFallbackWarning
from blockloop.errors import AlgebraicLoopError


class TwoOut(Block):
    """Test block. Port: input ``u1``; outputs ``o1 = x`` (no feedthrough) and ``o2 = 2·u1 + x``.

    State x: x[k+1] = 0.5·x + u1, x[0] = x0.
    """

    has_state = True

    def __init__(self, x0=1.0):
        self.x0 = np.asarray(x0, dtype=np.float64).reshape(1)
        self.inputs = ("u1",)
        self.outputs = ("o1", "o2")

    def params(self):
        return {"x0": self.x0}

    def feedthrough(self):
        return frozenset({("u1", "o2")})

    def output_sizes(self, in_sizes):
        return {"o1": 1, "o2": 1}

    def state_size(self, in_sizes, out_sizes):
        return 1

    def initial_state(self, size):
        return self.x0.copy()

    def output(self, u, x):
        return x, 2.0 * u[0] + x

    def update(self, u, x):
        return 0.5 * x + u[0]

    def output_vjp(self, u, x, y, gy):
        return (2.0 * gy[1],), gy[0] + gy[1], {}

    def update_vjp(self, u, x, gx_next):
        return (gx_next,), 0.5 * gx_next, {}


class Cross(Block):
    """Test block. Ports: inputs ``a``, ``b``; outputs ``p = x + 3a`` (a → p) and ``q = x − b`` (b → q).

    State x: x[k+1] = 0.25·x + a + b.
    """

    has_state = True

    def __init__(self):
        self.inputs = ("a", "b")
        self.outputs = ("p", "q")

    def params(self):
        return {}

    def feedthrough(self):
        return frozenset({("a", "p"), ("b", "q")})

    def output_sizes(self, in_sizes):
        return {"p": 1, "q": 1}

    def state_size(self, in_sizes, out_sizes):
        return 1

    def initial_state(self, size):
        return np.ones(1)

    def output(self, u, x):
        return x + 3.0 * u[0], x - u[1]

    def update(self, u, x):
        return 0.25 * x + u[0] + u[1]


def two_out_loop(g=0.3, wire="o1") -> Diagram:
    """r → s = r + g·(blk.<wire>) → blk.u1; blk.o2 → y."""
    d = Diagram("twoout")
    d.add("r", Inport(1)); d.add("s", Sum("++")); d.add("blk", TwoOut(x0=1.0)); d.add("g", Gain(g))
    d.add("y", Outport())
    d.connect("r", "s.u1"); d.connect("s", "blk.u1"); d.connect(f"blk.{wire}", "g"); d.connect("g", "s.u2")
    d.connect("blk.o2", "y")
    return d


def two_out_reference(r, g=0.3, x0=1.0):
    x, ys = x0, []
    for rk in r[:, 0]:
        u = rk + g * x       # u1 = r + g·o1 = r + g·x
        ys.append(2 * u + x)  # o2
        x = 0.5 * x + u
    return np.array(ys)[:, None]


def test_partial_feedthrough_loop_runs_and_matches_the_difference_equation():
    program = two_out_loop().compile()
    assert [(n, p) for n, p, _ in program.evaluation_parts() if n == "blk"] == [("blk", ("o1",)), ("blk", ("o2",))]
    r = np.linspace(-1, 1, 9)[:, None]
    np.testing.assert_allclose(program.simulate({"r": r}, backend="interpreter")["y"], two_out_reference(r),
                               rtol=0, atol=1e-14)
    with warnings.catch_warnings():  # a user block without a compiled op: "auto" runs it on the interpreter
        warnings.simplefilter("ignore", BackendFallbackWarning)
        np.testing.assert_allclose(program.simulate({"r": r})["y"], two_out_reference(r), rtol=0, atol=1e-14)


def test_partial_feedthrough_batch_and_checked_run():
    program = two_out_loop(g=-0.7).compile()
    r = np.random.default_rng(0).standard_normal((6, 4, 1))
    y = program.simulate({"r": r}, backend="interpreter", check_finite=True)["y"]
    for b in range(4):
        np.testing.assert_allclose(y[:, b], two_out_reference(r[:, b], g=-0.7), atol=1e-14)


def test_a_real_algebraic_loop_is_still_an_error_naming_the_ports():
    with pytest.raises(AlgebraicLoopError) as info:
        two_out_loop(wire="o2").compile()
    msg = str(info.value)
    assert "blk.u1 → blk.o2 (feedthrough in 'blk')" in msg and "blk.o2 → g.u (wire)" in msg
    assert {n[0] for n in info.value.cycle} == {"blk", "g", "s"}


def test_gradient_through_a_split_block_matches_finite_differences():
    program = two_out_loop().compile()
    r = np.random.default_rng(1).standard_normal((7, 1))
    target = np.zeros((7, 1))

    def loss(g):
        y = program.with_parameters({"g.K": np.array(g)}).simulate({"r": r}, backend="interpreter")["y"]
        return float(np.sum((y - target) ** 2) / (2 * 7))

    res = gradient(program, {"r": r}, {"y": target}, ["g.K"], backend="interpreter")
    h = 1e-6
    fd = (loss(0.3 + h) - loss(0.3 - h)) / (2 * h)
    assert res.grads["g.K"] == pytest.approx(fd, rel=1e-7)
    assert res.loss == pytest.approx(loss(0.3), rel=1e-14)


@pytest.mark.parametrize("wire", ["p→b", "q→a"])
def test_parts_in_either_order(wire):
    """p → 2·p → b (q needs b, computed after p) or q → 2·q → a (p needs a, computed after q)."""
    d = Diagram("cross")
    d.add("r", Inport(1)); d.add("blk", Cross()); d.add("g", Gain(2.0)); d.add("P", Outport()); d.add("Q", Outport())
    src, dst, ext = ("p", "b", "a") if wire == "p→b" else ("q", "a", "b")
    d.connect("r", f"blk.{ext}"); d.connect(f"blk.{src}", "g"); d.connect("g", f"blk.{dst}")
    d.connect("blk.p", "P"); d.connect("blk.q", "Q")
    program = d.compile()
    r = np.arange(1.0, 6.0)[:, None]
    res = program.simulate({"r": r}, backend="interpreter")
    x, P, Q = 1.0, [], []
    for rk in r[:, 0]:
        if wire == "p→b":
            a = rk; p = x + 3 * a; b = 2 * p; q = x - b
        else:
            b = rk; q = x - b; a = 2 * q; p = x + 3 * a
        P.append(p); Q.append(q)
        x = 0.25 * x + a + b
    np.testing.assert_allclose(res["P"][:, 0], P, atol=1e-13)
    np.testing.assert_allclose(res["Q"][:, 0], Q, atol=1e-13)


def kalman_loop(kf, K) -> Diagram:
    """u = K·x_pred (state feedback from the prediction, no delay), measurements z from outside."""
    d = Diagram("kfloop")
    d.add("z", Inport(kf.p)); d.add("kf", kf); d.add("K", Gain(K))
    d.connect("z", "kf.z"); d.connect("kf.x_pred", "K"); d.connect("K", "kf.u")
    for port in ("x_pred", "x_filt", "e"):
        d.add(port, Outport()); d.connect(f"kf.{port}", port)
    return d


def test_kalman_prediction_fed_back_on_both_backends():
    """The KalmanFilter's x_pred has no feedthrough: a loop from it into u is not algebraic."""
    rng = np.random.default_rng(2)
    n, p = 2, 1
    A = np.array([[0.9, 0.2], [0.0, 0.7]]); Bm = np.array([[0.0], [1.0]]); H = np.array([[1.0, 0.0]])
    D = np.array([[0.5]]); Q = 0.1 * np.eye(n); R = np.array([[0.3]]); K = np.array([[-0.4, 0.1]])
    kf = KalmanFilter(A, Bm, H, D, Q, R)
    program = kalman_loop(kf, K).compile()
    z = rng.standard_normal((10, p))
    xp, P, ref = np.zeros(n), np.eye(n), []
    for k in range(10):  # the filter's equations, with u[k] = K·x̂[k|k−1]
        u = K @ xp
        S = H @ P @ H.T + R
        G = P @ H.T @ np.linalg.inv(S)
        e = z[k] - (H @ xp + D @ u)
        xf = xp + G @ e
        ref.append((xp, xf, e))
        P = A @ (P - G @ H @ P) @ A.T + Q
        xp = A @ xf + Bm @ u
    ri = program.simulate({"z": z}, backend="interpreter")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # the compiled op really runs, in parts
        rc = program.simulate({"z": z}, backend="compiled")
    for j, port in enumerate(("x_pred", "x_filt", "e")):
        want = np.array([r[j] for r in ref])
        np.testing.assert_allclose(ri[port], want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rc[port], ri[port], rtol=0, atol=1e-12)
    zb = rng.standard_normal((10, 3, p))  # a batch: each sequence as alone
    rb = program.simulate({"z": zb}, backend="compiled")
    for b in range(3):
        np.testing.assert_allclose(rb["x_filt"][:, b], program.simulate({"z": zb[:, b]}, backend="interpreter")
                                   ["x_filt"], rtol=0, atol=1e-12)


class DifferentiableKalman(KalmanFilter):
    """Test block: the KalmanFilter's rules and compiled op, declared again with adjoints.

    The adjoints are central differences of the block's own rules (exact enough for a test),
    so the class declares output, update, lowering and both vjps: the trust rule lets its op
    run compiled, and ``gradient`` accepts it. No parameter gradients.
    """

    def output(self, u, x):
        return super().output(u, x)

    def update(self, u, x):
        return super().update(u, x)

    def lowering(self):
        return super().lowering()

    @staticmethod
    def _vjp(fn, u, x, gys, h=1e-6):
        """Σ_j gy_j · ∂fn_j/∂(u, x) by central differences, per batch column."""
        gu = [np.zeros_like(v) for v in u]
        gx = np.zeros_like(x)
        targets = [(gu[i], u, i) for i in range(len(u))] + [(gx, None, None)]
        for out, seq, i in targets:
            base = x if seq is None else seq[i]
            for e in range(base.shape[1]):
                def at(delta, base=base, e=e, seq=seq, i=i):
                    moved = base.copy(); moved[:, e] += delta
                    args = (list(u), moved) if seq is None else ([*u[:i], moved, *u[i + 1:]], x)
                    return fn(*args)
                plus, minus = at(h), at(-h)
                out[:, e] = sum(np.sum(g * (p - m), axis=1) for g, p, m in zip(gys, plus, minus, strict=True)) / (2 * h)
        return gu, gx

    def output_vjp(self, u, x, y, gy):
        gu, gx = self._vjp(self.output, u, x, gy)
        return tuple(gu), gx, {}

    def update_vjp(self, u, x, gx_next):
        gu, gx = self._vjp(lambda a, b: (self.update(a, b),), u, x, (gx_next,))
        return tuple(gu), gx, {}


def _kalman_model():
    A = np.array([[0.9, 0.2], [0.0, 0.7]]); Bm = np.array([[0.0], [1.0]]); H = np.array([[1.0, 0.0]])
    return A, Bm, H, np.array([[0.5]]), 0.1 * np.eye(2), np.array([[0.3]])


def test_gradient_through_a_split_block_with_a_compiled_op_but_no_compiled_adjoint():
    """The compiled sweep has no adjoint for the kalman op: the gradient runs the blocks' own adjoints
    (the interpreter's sweep, part by part) and says so, instead of skipping the op."""
    program = kalman_loop(DifferentiableKalman(*_kalman_model()), np.array([[-0.4, 0.1]])).compile()
    assert [set(p) for n, p, _ in program.evaluation_parts() if n == "kf"] == [{"x_pred"}, {"x_filt", "z_pred", "e"}]
    assert len(program.updates) == 1  # a block evaluated in parts keeps one state update
    z = np.random.default_rng(3).standard_normal((6, 1))
    target = {"x_filt": np.zeros((6, 2))}
    with pytest.warns(BackendFallbackWarning, match="no compiled adjoint"):
        res = gradient(program, {"z": z}, target, ["K.K"], backend="compiled")
    assert res.backend == "interpreter"

    def loss(K):
        y = program.with_parameters({"K.K": K}).simulate({"z": z}, backend="interpreter")["x_filt"]
        return float(np.sum(y ** 2) / (2 * 6))

    K0, h = np.array([[-0.4, 0.1]]), 1e-5
    for j in range(2):
        dK = np.zeros_like(K0); dK[0, j] = h
        fd = (loss(K0 + dK) - loss(K0 - dK)) / (2 * h)
        assert res.grads["K.K"][0, j] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_compiled_watch_rows_of_a_split_block_are_its_parts_outputs_only():
    """Each part's op writes rows for all the block's outputs; only the part's own are watched."""
    from blockloop.compiled.lowering import lower

    program = kalman_loop(KalmanFilter(*_kalman_model()), np.array([[-0.4, 0.1]])).compile()
    low = lower(program)
    ops = [o for o, name in enumerate(low.op_blocks) if name == "kf"]
    assert len(ops) == 2 and len(low.updates) == 1
    kept = {low.rows[("kf", port)] for port in ("x_pred", "x_filt", "z_pred", "e")}
    watched = {(int(r), int(n)) for o, (r, n) in zip(low.watch_ops, low.watch, strict=True) if o in ops}
    assert watched == kept


class LogPart(Cross):
    """Test block. Inputs a, b; outputs p = x + 3a (a → p) and q = x − log(b) (b → q); x[k+1] = 0.5·x + 0.1·(a + b).

    The part computing p reads b = 0 in its place: its unused q is −inf there.
    """

    def output(self, u, x):
        return x + 3.0 * u[0], x - np.log(u[1])

    def update(self, u, x):
        return 0.5 * x + 0.1 * (u[0] + u[1])


def test_an_unused_output_of_a_part_raises_no_error_and_no_warning():
    d = Diagram("logpart")
    d.add("r", Inport(1)); d.add("blk", LogPart()); d.add("g", Gain(2.0)); d.add("Q", Outport())
    d.connect("r", "blk.a"); d.connect("blk.p", "g"); d.connect("g", "blk.b"); d.connect("blk.q", "Q")
    program = d.compile()
    assert len(program.updates) == 1
    r = np.full((5, 1), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from log(0) in the part that drops q
        got = [program.simulate({"r": r}, backend="interpreter", check_finite=check)["Q"][:, 0]
               for check in (True, False)]
    x, want = 1.0, []
    for rk in r[:, 0]:
        p = x + 3 * rk; b = 2 * p
        want.append(x - np.log(b))
        x = 0.5 * x + 0.1 * (rk + b)
    for q in got:
        np.testing.assert_allclose(q, want, rtol=0, atol=1e-14)
