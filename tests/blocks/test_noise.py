"""GaussianNoise: statistics within sampling error, reproducibility, independence per sequence,
both backends bit for bit, diagram files, gradients around it, and clear errors."""

import numpy as np
import pytest

from blockloop import Diagram, gradient
from blockloop.blocks import Gain, GaussianNoise, Inport, Outport, Sum
from blockloop.errors import DifferentiationError, ParameterError
from blockloop.io import load_diagram, save_diagram

COV = np.array([[4.0, 1.2, 0.0], [1.2, 1.0, -0.3], [0.0, -0.3, 0.5]])
MEAN = np.array([1.0, -2.0, 0.25])


def noise_plus_input(cov=COV, seed=7, mean=MEAN, n=3):
    """y = u + w: an input (to set the batch) plus the noise."""
    d = Diagram("noisy")
    d.add("u", Inport(n)); d.add("w", GaussianNoise(cov, seed=seed, mean=mean))
    d.add("s", Sum("++")); d.add("y", Outport())
    d.connect("u", "s.u1"); d.connect("w", "s.u2"); d.connect("s", "y")
    return d


def draw(steps, batch=None, **kwargs):
    u = np.zeros((steps, 3) if batch is None else (steps, batch, 3))
    return noise_plus_input(**kwargs).simulate({"u": u})["y"]


def test_mean_and_covariance_within_sampling_error():
    N = 40_000
    y = draw(N)
    # standard errors of the sample mean and covariance of Gaussian data: √(Σ_ii/N), √((Σ_ii Σ_jj + Σ_ij²)/N)
    se_mean = np.sqrt(np.diag(COV) / N)
    assert np.all(np.abs(y.mean(axis=0) - MEAN) < 5 * se_mean)
    se_cov = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / N)
    assert np.all(np.abs(np.cov(y.T) - COV) < 5 * se_cov)
    # white: the lag-1 correlation of each component is within 5/√N of 0
    z = (y - y.mean(axis=0)) / y.std(axis=0)
    assert np.all(np.abs((z[1:] * z[:-1]).mean(axis=0)) < 5 / np.sqrt(N))


def test_reproducible_from_the_seed_and_prefix_stable():
    a, b = draw(500), draw(500)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(draw(200), a[:200])
    assert not np.allclose(draw(500, seed=8), a)


def test_independent_per_sequence_and_stable_when_the_batch_grows():
    N, B = 20_000, 4
    y = draw(N, batch=B)
    np.testing.assert_array_equal(y[:, 0], draw(N))                # row 0 is the unbatched run
    np.testing.assert_array_equal(y[:, :2], draw(N, batch=2))      # row b depends only on (seed, b)
    z = (y[:, :, 0] - MEAN[0]) / 2.0                                # component 0 has σ = 2
    corr = (z.T @ z) / N
    off = corr[~np.eye(B, dtype=bool)]
    assert np.all(np.abs(off) < 5 / np.sqrt(N))                     # rows uncorrelated


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", [None, 3, 300])
def test_compiled_equals_interpreter_bit_for_bit(dtype, batch):
    program = noise_plus_input().compile(dtype=dtype)
    u = np.random.default_rng(1).standard_normal((40, 3) if batch is None else (40, batch, 3))
    rc = program.simulate({"u": u}, backend="compiled")
    ri = program.simulate({"u": u}, backend="interpreter")
    assert rc["y"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(rc["y"], ri["y"])
    # float32 sees the float64 samples rounded once: u + w with w rounded to float32
    w64 = noise_plus_input().compile().simulate({"u": np.zeros_like(u)}, backend="interpreter")["y"]
    np.testing.assert_array_equal(ri["y"], u.astype(dtype) + w64.astype(dtype))


def test_singular_covariance():
    # rank 1: both components are the same sample; a zero variance gives the mean
    y = draw(1000, cov=np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), mean=[0.0, 0.0, 3.0])
    np.testing.assert_allclose(y[:, 0], y[:, 1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(y[:, 2], 3.0)
    assert 0.8 < y[:, 0].std() < 1.2


def test_variances_vector_and_scalar():
    assert np.array_equal(GaussianNoise([1.0, 2.0]).cov, np.diag([1.0, 2.0]))
    assert GaussianNoise(2.5).cov.tolist() == [[2.5]]


def test_saved_and_loaded_gives_the_same_samples(tmp_path):
    d = noise_plus_input()
    path = save_diagram(d, tmp_path / "noisy.json")
    u = np.zeros((50, 2, 3))
    np.testing.assert_array_equal(load_diagram(path).simulate({"u": u})["y"], d.simulate({"u": u})["y"])
    assert '"seed": 7' in path.read_text()


def test_parameters_are_not_trainable_and_gradients_flow_around_it():
    d = Diagram("g")
    d.add("w", GaussianNoise(1.0, seed=3)); d.add("k", Gain(2.0)); d.add("y", Outport())
    d.add("u", Inport(1)); d.add("s", Sum("++"))
    d.connect("w", "k"); d.connect("k", "s.u1"); d.connect("u", "s.u2"); d.connect("s", "y")
    program = d.compile()
    assert set(program.parameters()) == {"k.K"}
    with pytest.raises(DifferentiationError, match="no array parameter 'cov'"):
        program.parameters(["w.cov"])
    u = np.zeros((300, 1))
    w = program.simulate({"u": u}, backend="interpreter")["y"] / 2.0
    # loss Σ (2w − 0)² / (2T) ⇒ d/dK = Σ K·w² / T at K = 2 (half-MSE)
    for backend in ("interpreter", "compiled"):
        r = gradient(program, {"u": u}, {"y": np.zeros_like(u)}, ["k.K"], backend=backend)
        np.testing.assert_allclose(r.grads["k.K"], 2.0 * np.sum(w**2) / 300, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(cov=[[1.0, 2.0, 3.0]]), "square"),
    (dict(cov=[[1.0, 0.5], [0.0, 1.0]]), "not symmetric"),
    (dict(cov=[[1.0, 2.0], [2.0, 1.0]]), "not positive semi-definite"),
    (dict(cov=[[1.0, np.nan], [np.nan, 1.0]]), "non-finite"),
    (dict(cov=1.0, seed=-1), "seed"),
    (dict(cov=1.0, seed=1.5), "seed"),
    (dict(cov=1.0, seed=True), "seed"),
    (dict(cov=[1.0, 1.0], mean=[1.0, 2.0, 3.0]), r"mean: expected shape \(2,\)"),
])
def test_bad_parameters_name_the_block_and_parameter(kwargs, match):
    with pytest.raises(ParameterError, match="GaussianNoise") as info:
        GaussianNoise(**kwargs)
    assert info.match(match)
