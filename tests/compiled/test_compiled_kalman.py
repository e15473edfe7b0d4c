"""The compiled op of the time-varying KalmanFilter block against its numpy rules (interpreter)."""

import warnings

import numpy as np
import pytest

pytest.importorskip("numba")

from blockloop import Diagram  # noqa: E402
from blockloop.blocks import Block, Inport, Outport  # noqa: E402
from blockloop.blocks.kalman import KalmanFilter  # noqa: E402
from blockloop.engine.backends import BackendFallbackWarning  # noqa: E402

PORTS = ("x_pred", "x_filt", "z_pred", "e")


def system(n, m, p, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A *= 0.9 / max(1e-9, np.max(np.abs(np.linalg.eigvals(A))))  # stable
    G = rng.standard_normal((n, n)) * 0.3
    Rh = rng.standard_normal((p, p)) * 0.3
    return dict(A=A, B=rng.standard_normal((n, m)), H=rng.standard_normal((p, n)), D=rng.standard_normal((p, m)),
                Q=G @ G.T + 0.01 * np.eye(n), R=Rh @ Rh.T + 0.2 * np.eye(p))


def diagram(block: Block, m: int, p: int) -> Diagram:
    d = Diagram("kf")
    d.add("u", Inport(m))
    d.add("z", Inport(p))
    d.add("kf", block)
    d.connect("u", "kf.u")
    d.connect("z", "kf.z")
    for port in PORTS:
        d.add(port, Outport())
        d.connect(f"kf.{port}", port)
    return d


def run(program, feeds, backend, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)  # the compiled op must really run
        return program.simulate(feeds, backend=backend, **kwargs)


@pytest.mark.parametrize("n,m,p", [(1, 1, 1), (3, 2, 2), (4, 1, 3)])
@pytest.mark.parametrize("batch", [None, 4, 300])  # 300: split over two threads
def test_compiled_equals_the_numpy_rules(n, m, p, batch):
    program = diagram(KalmanFilter(**system(n, m, p, seed=n + 10 * p)), m, p).compile()
    rng = np.random.default_rng(1)
    lead = (60,) if batch is None else (60, batch)
    feeds = {"u": rng.standard_normal(lead + (m,)), "z": rng.standard_normal(lead + (p,)) * 2}
    fast, ref = run(program, feeds, "compiled"), run(program, feeds, "interpreter")
    for port in PORTS:
        scale = max(1.0, float(np.abs(ref[port]).max()))
        assert np.abs(fast[port] - ref[port]).max() <= 1e-12 * scale, port


def test_per_sequence_initial_states_and_float32():
    n, m, p = 2, 1, 1
    program = diagram(KalmanFilter(**system(n, m, p, seed=3)), m, p).compile()
    rng = np.random.default_rng(2)
    feeds = {"u": rng.standard_normal((30, 3, m)), "z": rng.standard_normal((30, 3, p))}
    x0 = np.concatenate([rng.standard_normal((3, n)), np.tile((np.eye(n) * [[2.0], [0.5]]).reshape(1, -1), (3, 1))],
                        axis=1)
    fast = run(program, feeds, "compiled", initial_states={"kf": x0})
    ref = run(program, feeds, "interpreter", initial_states={"kf": x0})
    assert np.abs(fast["x_filt"] - ref["x_filt"]).max() <= 1e-12
    np.testing.assert_array_equal(fast["x_pred"][0], x0[:, :n])  # x̂[0|−1] is the given prior
    f32 = diagram(KalmanFilter(**system(n, m, p, seed=3)), m, p).compile(dtype="float32")
    a = run(f32, feeds, "compiled", initial_states={"kf": x0})["x_filt"]
    b = run(f32, feeds, "interpreter", initial_states={"kf": x0})["x_filt"]
    assert np.abs(a - b).max() <= 1e-4 * max(1.0, float(np.abs(b).max()))


def test_a_scalar_filter_by_hand():
    """n = m = p = 1, A = 1, B = 0, H = 1, D = 0, Q = 0, R = 1, P0 = 1: the running mean of z."""
    program = diagram(KalmanFilter(A=1.0, B=0.0, H=1.0, D=0.0, Q=0.0, R=1.0, x0=[0.0], P0=[[1.0]]), 1, 1).compile()
    z = np.array([3.0, 5.0, 1.0, 7.0]).reshape(4, 1)
    res = run(program, {"u": np.zeros((4, 1)), "z": z}, "compiled")
    # P[k|k−1] = 1/(k+1), K = 1/(k+2), x̂[k|k] = (z0 + … + zk)/(k+2) with the prior 0 counted once
    np.testing.assert_allclose(res["x_filt"].ravel(), [3 / 2, 8 / 3, 9 / 4, 16 / 5], rtol=1e-15)
    np.testing.assert_allclose(res["e"].ravel(), [3.0, 5 - 3 / 2, 1 - 8 / 3, 7 - 9 / 4], rtol=1e-15)


def test_a_user_block_that_borrows_the_op_with_another_state_falls_back():
    class Mimic(KalmanFilter):
        def state_size(self, in_sizes, out_sizes):
            return 1  # not n + n²: the op would write past the state

        def output(self, u, x):
            return super().output(u, np.zeros((len(x), self.n + self.n * self.n)))

        def update(self, u, x):
            return x

        def initial_state(self, size):
            return np.zeros(1)

        lowering = KalmanFilter.lowering  # declared here, so trusted, but the check refuses it

    program = diagram(Mimic(**system(2, 1, 1, seed=0)), 1, 1).compile()
    with pytest.warns(BackendFallbackWarning, match="state of n \\+ n² = 6 values"):
        program.simulate({"u": np.zeros((5, 1)), "z": np.ones((5, 1))}, backend="compiled")


def test_an_overflowing_covariance_is_named_as_the_state_on_both_backends():
    """A = 1e200: the outputs of step 0 are finite, P[1|0] = A·P·Aᵀ = inf is the state's element 1."""
    from blockloop.errors import NonFiniteError

    program = diagram(KalmanFilter(A=1e200, B=0.0, H=1.0, D=0.0, Q=0.0, R=1.0, x0=[1.0], P0=[[1.0]]), 1, 1).compile()
    feeds = {"u": np.zeros((3, 1)), "z": np.ones((3, 1))}
    messages = {}
    for backend in ("compiled", "interpreter"):
        with pytest.raises(NonFiniteError) as err:
            program.simulate(feeds, backend=backend)
        assert (err.value.block, err.value.port, err.value.step) == ("kf", None, 0)
        messages[backend] = str(err.value)
    assert "the state of 'kf' (KalmanFilter) became non-finite at step 0, element 1 (value inf)" in messages["compiled"]
    assert messages["compiled"] == messages["interpreter"]


@pytest.mark.parametrize("backend", ["compiled", "interpreter"])
def test_a_per_run_covariance_that_is_not_psd_is_refused(backend):
    from blockloop.errors import SimulationError

    program = diagram(KalmanFilter(A=0.9, B=0.0, H=1.0, D=0.0, Q=0.1, R=1.0), 1, 1).compile()
    feeds = {"u": np.zeros((3, 2, 1)), "z": np.ones((3, 2, 1))}
    with pytest.raises(SimulationError, match=r"initial state of 'kf' \(KalmanFilter\): sequence 1: P .* not positive"):
        program.simulate(feeds, backend=backend, initial_states={"kf": [[0.0, 1.0], [0.0, -10.0]]})
    res = program.simulate(feeds, backend=backend, initial_states={"kf": [[0.0, 1.0], [0.0, 0.0]]})  # P = 0 is fine
    assert np.all(np.isfinite(res["x_filt"]))
