"""MATLAB-style training: Adam step, clipping, L2, schedule, loss formula, and the training loop."""

import doctest
import importlib
import io
import math

import numpy as np
import pytest

from blockloop.errors import ParameterError
from blockloop.study.matlab_adam import MatlabAdam, clip_l2norm, piecewise_lr, regression_loss, rmse_from_loss
from blockloop.study.published import RUN_COMPUTED, RUN_RANDOM
from blockloop.study.training_log import LogRow, format_log, hms

# ---------------------------------------------------------------- the Adam step, by hand


def test_first_step_matches_hand_computed_matlab_update():
    w, b = np.array([[0.5, -1.0]]), np.array([2.0])
    gw, gb = np.array([[3.0, 4.0]]), np.array([0.5])
    opt = MatlabAdam(l2=0.1, grad_threshold=1.0)
    delta = opt.step({"w": w, "b": b}, {"w": gw, "b": gb}, lr=0.01, weights={"w"})
    # L2 on the weight only: [3 + 0.1·0.5, 4 − 0.1·1] = [3.05, 3.9]; its norm 4.95101 > 1 → scaled to 1.
    g_w = np.array([[3.05, 3.9]]) / math.sqrt(3.05**2 + 3.9**2)
    g_b = np.array([0.5])  # bias: no L2, norm 0.5 < 1 → unchanged
    shrink = math.sqrt(1 - 0.999) / (1 - 0.9)  # √(1−β2¹)/(1−β1¹)
    for g, name in ((g_w, "w"), (g_b, "b")):
        m, v = 0.1 * g, 0.001 * g**2
        np.testing.assert_allclose(delta[name], 0.01 * shrink * m / (np.sqrt(v) + 1e-8), rtol=1e-12)
    # Adam's first step is scale-free (≈ lr·sign g), so check the clipped gradient in the moments
    np.testing.assert_allclose(opt.m["w"], 0.1 * np.array([[0.61604, 0.78772]]), rtol=1e-4)
    np.testing.assert_allclose(opt.v["b"], 0.001 * 0.25, rtol=1e-12)


def test_epsilon_sits_outside_the_bias_correction():
    g = np.array([1e-8])  # √v = √0.001·1e-8 ≈ 3.2e-10, well below ε = 1e-8
    delta = MatlabAdam(l2=0.0, grad_threshold=None).step({"p": np.zeros(1)}, {"p": g}, lr=1.0, weights=())
    matlab = math.sqrt(0.001) / 0.1 * (0.1e-8) / (math.sqrt(0.001) * 1e-8 + 1e-8)
    torch_style = 1e-8 / (1e-8 + 1e-8)  # m̂/(√v̂ + ε) with m̂ = g, v̂ = g²
    assert delta["p"][0] == pytest.approx(matlab, rel=1e-12)
    assert matlab == pytest.approx(0.030654, rel=1e-4) and torch_style == 0.5


def test_second_step_uses_running_moments_and_t2_correction():
    opt = MatlabAdam(l2=0.0, grad_threshold=None)
    p = {"p": np.array([0.0])}
    opt.step(p, {"p": np.array([0.2])}, lr=0.1, weights=())
    delta = opt.step(p, {"p": np.array([-0.4])}, lr=0.1, weights=())
    m = 0.9 * (0.1 * 0.2) + 0.1 * -0.4
    v = 0.999 * (0.001 * 0.04) + 0.001 * 0.16
    expected = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2) * m / (math.sqrt(v) + 1e-8)
    assert delta["p"][0] == pytest.approx(expected, rel=1e-12)
    assert opt.t == 2


def test_clipping_is_per_learnable_not_global():
    grads = {"a": np.array([0.8, 0.0]), "b": np.array([0.0, 0.8])}  # each norm 0.8 < 1, together 1.13 > 1
    opt = MatlabAdam(l2=0.0, grad_threshold=1.0)
    eff = opt.effective_gradients({"a": np.zeros(2), "b": np.zeros(2)}, grads, weights=())
    np.testing.assert_array_equal(eff["a"], grads["a"])
    np.testing.assert_array_equal(eff["b"], grads["b"])
    np.testing.assert_allclose(clip_l2norm(np.array([0.0, 3.0, 4.0]), 2.0), [0.0, 1.2, 1.6])


def test_l2_applies_to_weights_before_clipping_and_never_to_biases():
    opt = MatlabAdam(l2=1e-4, grad_threshold=1.0)
    params = {"W": np.array([-1e4, 0.0]), "b": np.array([-1e4])}
    eff = opt.effective_gradients(params, {"W": np.array([3.0, 0.0]), "b": np.array([0.5])}, weights={"W"})
    # L2 first: 3 + 1e-4·(−1e4) = 2, then clipped to norm 1 → [1, 0] (clipping first would give 1 − 1 = 0)
    np.testing.assert_allclose(eff["W"], [1.0, 0.0])
    np.testing.assert_array_equal(eff["b"], [0.5])


def test_optimizer_rejects_bad_settings_and_mismatched_names():
    with pytest.raises(ParameterError, match="beta1"):
        MatlabAdam(beta1=1.0)
    with pytest.raises(ParameterError, match="grad_threshold"):
        MatlabAdam(grad_threshold=0.0)
    with pytest.raises(ParameterError, match="unmatched"):
        MatlabAdam().step({"a": np.zeros(1)}, {"b": np.zeros(1)}, lr=0.1, weights=())


# ---------------------------------------------------------------- schedule and loss vs the published logs


def _printed_lr(lr: float) -> str:
    return f"{lr:.4e}" if lr < 1e-3 else f"{lr:.4f}"  # MATLAB's "Base Learning Rate" column


@pytest.mark.parametrize(("run", "expected"), [
    (RUN_COMPUTED, {1: 1e-4, 100: 1e-4, 101: 0.99e-4, 500: 9.6060e-05, 10000: 3.6973e-05}),
    (RUN_RANDOM, {1: 0.04, 100: 0.04, 101: 0.0392, 500: 0.0369, 10000: 0.0054}),
])
def test_piecewise_schedule_values(run, expected):
    o = run["options"]
    lrs = {e: piecewise_lr(e, o["lr0"], o["drop_factor"], o["drop_period"]) for e in expected}
    assert lrs[1] == lrs[100] == o["lr0"]
    assert lrs[101] == pytest.approx(o["lr0"] * o["drop_factor"], rel=1e-15)
    assert lrs[10000] == pytest.approx(o["lr0"] * o["drop_factor"] ** 99, rel=1e-15)
    for epoch, lr in expected.items():
        assert _printed_lr(lrs[epoch]) == _printed_lr(lr), epoch


@pytest.mark.parametrize("run", [RUN_COMPUTED, RUN_RANDOM])
def test_schedule_reproduces_every_published_learning_rate(run):
    o = run["options"]
    for epoch, _, _, lr in run["log"]:
        got = piecewise_lr(epoch, o["lr0"], o["drop_factor"], o["drop_period"])
        assert _printed_lr(got) == _printed_lr(lr), epoch


def test_piecewise_schedule_rejects_epoch_zero():
    with pytest.raises(ParameterError, match="epoch"):
        piecewise_lr(0, 0.1, 0.5, 10)


def _printed_interval(value: float) -> tuple[float, float]:
    """The values that print as ``value`` in MATLAB's log: 1 decimal ≥ 0.1, else 2 significant digits."""
    half = 0.05 if value >= 0.1 else 0.5 * 10.0 ** (math.floor(math.log10(value)) - 1)
    return value - half, value + half


def _consistent(rmse: float, loss: float, loss_of_rmse) -> bool:
    lo, hi = loss_of_rmse(rmse - 0.005), loss_of_rmse(rmse + 0.005)
    llo, lhi = _printed_interval(loss)
    return lo <= lhi and llo <= hi


@pytest.mark.parametrize("run", [RUN_COMPUTED, RUN_RANDOM])
def test_half_mse_per_step_matches_every_published_log_row(run):
    T = 1001
    for epoch, rmse, loss, _ in run["log"]:
        # half-MSE per time step: loss = Σ_t err²/(2T) with err = rmse at every step
        assert _consistent(rmse, loss, lambda r: float(regression_loss(np.full((1, T, 1), r)))), epoch
        lo, hi = _printed_interval(loss)
        assert rmse_from_loss(lo) - 0.005 <= rmse <= rmse_from_loss(hi) + 0.005, epoch  # RMSE = √(2·loss)
    # the alternatives do not fit the first row (RMSE 0.05, loss 1.2e-03)
    assert not _consistent(0.05, 1.2e-3, lambda r: T * r * r / 2)   # half of the sum over time
    assert not _consistent(0.05, 1.2e-3, lambda r: r * r)           # plain MSE


def test_regression_loss_kinds_and_shape_check():
    err = np.arange(12.0).reshape(2, 3, 2)
    assert float(regression_loss(err)) == pytest.approx((err**2).sum() / (2 * 2 * 3))
    assert float(regression_loss(err, "mse")) == pytest.approx((err**2).mean())
    with pytest.raises(ParameterError, match="half-mse"):
        regression_loss(err, "mae")
    with pytest.raises(ParameterError, match=r"\(N, T, R\)"):
        regression_loss(err[0])


def test_log_formatting_matches_matlab_styles():
    rows = [LogRow(1, 1, 0.2, 7.79, 30.34, 0.04), LogRow(5500, 5500, 25.4, 0.42, 8.9e-2, 0.0134)]
    lines = format_log(rows).splitlines()
    assert lines[0].startswith("Epoch\tIteration\tTime Elapsed (hh:mm:ss)")
    assert lines[1] == "1\t1\t00:00:00\t7.79\t30.3\t0.0400"
    assert lines[2] == "5500\t5500\t00:00:25\t0.42\t8.9e-02\t0.0134"
    assert hms(45) == "00:00:45"


# ---------------------------------------------------------------- the training loop (PyTorch)


def _data(T=80, seed=0):
    u = np.random.default_rng(seed).standard_normal((T, 1))
    y = np.zeros_like(u)
    for k in range(1, T):
        y[k] = 0.8 * y[k - 1] + 0.3 * u[k]
    return u, y


def test_one_epoch_equals_autograd_gradients_plus_numpy_matlab_adam():
    torch = pytest.importorskip("torch")
    from blockloop.interop.torch import to_torch
    from blockloop.study.training import TrainingOptions, random_weights, train

    w0 = random_weights(1, 3, 1, seed=3)
    u, y = _data()
    opts = TrainingOptions(lr0=0.05, epochs=1, grad_threshold=1.0, l2=1e-2, dtype="float64")
    res = train(w0, u, y, opts)
    # independent: autograd gradients of Σ err²/(2T) on fresh modules, then the update in numpy
    lstm, lin, (h0, c0) = to_torch(w0, "float64")
    params = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lin.weight, lin.bias]
    err = lin(lstm(torch.from_numpy(u)[None], (h0, c0))[0]) - torch.from_numpy(y)[None]
    grads = torch.autograd.grad((err**2).sum() / (2 * len(u)), params)
    new = []
    for p, g, is_weight in zip(params, grads, (True, True, False, True, False), strict=True):
        p, g = p.detach().numpy(), g.numpy()
        g = g + 1e-2 * p if is_weight else g
        g = g * min(1.0, 1.0 / np.linalg.norm(g))
        m, v = 0.1 * g, 0.001 * g * g
        new.append(p - 0.05 * math.sqrt(0.001) / 0.1 * m / (np.sqrt(v) + 1e-8))
    layer = res.weights.layers[0]
    for got, want in zip((layer.W, layer.R, layer.b, res.weights.F, res.weights.F_bias), new, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # bias moved once: bias_hh stayed frozen
    assert res.loss[0] == pytest.approx(float((err**2).sum().detach()) / (2 * len(u)))


@pytest.mark.parametrize(("trainer", "dtype", "rel"), [("torch", "float32", 1e-5), ("diagram", "float64", 1e-12)])
def test_training_lowers_the_loss_logs_and_draws_progress(trainer, dtype, rel):
    pytest.importorskip("torch")
    from blockloop.study.training import TrainingOptions, evaluate_loss, random_weights, train

    u, y = _data(T=120)
    stream, rows = io.StringIO(), []
    opts = TrainingOptions(lr0=0.02, epochs=60, grad_threshold=1.0, verbose_every=25, trainer=trainer)
    res = train(random_weights(1, 4, 1), u, y, opts, progress=stream, on_log=rows.append, label="t")
    assert [r.epoch for r in rows] == [1, 25, 50, 60]
    assert res.final_loss < 0.5 * res.loss[0]
    assert stream.getvalue() == ""  # not a terminal: tqdm's bar stays silent, the loss log still comes
    assert res.lr[-1] == opts.lr0 and res.us_per_epoch > 0
    assert res.weights.layers[0].W.dtype == np.float64 and res.options.dtype == dtype  # default per trainer
    loss, rmse = evaluate_loss(res.weights, u, y, dtype=dtype)
    assert loss == pytest.approx(res.final_loss, rel=rel) and rmse == pytest.approx(math.sqrt(2 * loss))


def test_training_rejects_mismatched_data_and_bad_options():
    pytest.importorskip("torch")
    from blockloop.study.training import TrainingOptions, random_weights, train

    u, y = _data()
    with pytest.raises(ParameterError, match="Ni = 1 inputs"):
        train(random_weights(1, 2, 1), np.hstack([u, u]), y)
    with pytest.raises(ParameterError, match="same T"):
        train(random_weights(1, 2, 1), u, y[:-1])
    with pytest.raises(ParameterError, match="dtype"):
        TrainingOptions(dtype="float16")
    with pytest.raises(ParameterError, match="loss"):
        TrainingOptions(loss="l1")


@pytest.mark.parametrize("name", ["blockloop.study.matlab_adam", "blockloop.study.training_log",
                                  "blockloop.study.training", "blockloop.study.report", "blockloop.study.params",
                                  "blockloop.study.readback"])
def test_docstring_examples_of_study_modules(name):
    if name in ("blockloop.study.training", "blockloop.study.readback"):
        pytest.importorskip("torch")
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
