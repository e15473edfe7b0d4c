"""Diagram BPTT (compiled and interpreter) against PyTorch autograd on LSTM networks, float64.

Every learnable of the diagram — each layer's W, R, b and initial states h0, c0, the fully
connected F and F_bias — is compared with the gradient torch computes for the same loss:

* through ``nn.LSTM`` + ``nn.Linear`` built by :func:`blockloop.interop.torch.to_torch` (the
  diagram's b is ``bias_ih + bias_hh``, so its gradient is bias_ih's; h0 is shared by the batch,
  so its gradient is the batch sum of torch's);
* through a hand-unrolled torch LSTM cell loop, for losses on inner signals (gate activations,
  the cell sum, a Demux output, a delay output, the bias Constant's output) that ``nn.LSTM``
  does not expose.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blockloop.autodiff import gradient  # noqa: E402
from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_network  # noqa: E402
from blockloop.interop.torch import to_torch  # noqa: E402

BACKENDS = ("compiled", "interpreter")
RTOL = 1e-10


def rel_err(a, b) -> float:
    """‖a − b‖∞ / ‖b‖∞ (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b), initial=0.0)
    diff = np.max(np.abs(a - b), initial=0.0)
    return diff / scale if scale > 0 else diff


def network(ni: int, nn: int, no: int, n_layers: int, seed: int) -> NetworkWeights:
    """Random weights (MATLAB-style draw), recentred, with nonzero h0/c0 and an F_bias."""
    base = NetworkWeights.random(ni, nn, no, n_layers=n_layers, seed=seed)
    rng = np.random.default_rng(seed + 100)
    layers = tuple(LayerWeights(W=layer.W - 0.5, R=layer.R - 0.5, b=layer.b - 0.5,
                                h0=rng.uniform(-0.8, 0.8, nn), c0=rng.uniform(-1.5, 1.5, nn))
                   for layer in base.layers)
    return NetworkWeights(layers=layers, F=base.F - 0.5, F_bias=rng.standard_normal(no))


def diagram_paths(weights: NetworkWeights) -> list[str]:
    paths = []
    for k in range(1, len(weights.layers) + 1):
        paths += [f"lstm{k}/{p}" for p in ("W.K", "R.K", "b.value", "h_delay.x0", "c_delay.x0")]
    paths.append("F.K")
    if weights.F_bias is not None:
        paths.append("F_bias.value")
    return paths


def torch_loss(err_sq_sum, B: int, T: int, R: int, loss: str):
    return err_sq_sum / (2 * B * T) if loss == "half-mse" else err_sq_sum / (B * T * R)


def nn_lstm_gradients(weights: NetworkWeights, u: np.ndarray, y: np.ndarray, loss: str = "half-mse"):
    """(loss, grads by diagram path) from nn.LSTM + nn.Linear autograd; u (T, B, Ni), y (T, B, No)."""
    lstm, linear, (h0, c0) = to_torch(weights, "float64")
    T, B, _ = u.shape
    h0 = h0.clone().requires_grad_(True)
    c0 = c0.clone().requires_grad_(True)
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(u, 0, 1)))
    target = torch.from_numpy(np.ascontiguousarray(np.moveaxis(y, 0, 1)))
    h, _ = lstm(x, (h0.expand(-1, B, -1).contiguous(), c0.expand(-1, B, -1).contiguous()))
    err = linear(h) - target
    value = torch_loss((err * err).sum(), B, T, y.shape[2], loss)
    value.backward()
    grads = {}
    for k in range(len(weights.layers)):
        p = f"lstm{k + 1}/"
        grads[p + "W.K"] = getattr(lstm, f"weight_ih_l{k}").grad.numpy()
        grads[p + "R.K"] = getattr(lstm, f"weight_hh_l{k}").grad.numpy()
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}").grad.numpy(), getattr(lstm, f"bias_hh_l{k}").grad.numpy()
        np.testing.assert_allclose(b_ih, b_hh, rtol=1e-14, atol=0)  # one bias, two copies in torch
        grads[p + "b.value"] = b_ih
        grads[p + "h_delay.x0"] = h0.grad[k, 0].numpy()  # sum over the batch via expand
        grads[p + "c_delay.x0"] = c0.grad[k, 0].numpy()
    grads["F.K"] = linear.weight.grad.numpy()
    grads["F_bias.value"] = linear.bias.grad.numpy()
    return float(value.detach()), grads


def unrolled(weights: NetworkWeights, u: np.ndarray):
    """A hand-written torch LSTM: leaves by diagram path and every signal, each (T, B, n)."""
    T, B, _ = u.shape
    leaves, sig = {}, {}
    x = [torch.from_numpy(u[t]) for t in range(T)]
    for k, layer in enumerate(weights.layers, start=1):
        p = f"lstm{k}/"
        W, R, b, h0, c0 = (torch.tensor(a, dtype=torch.float64, requires_grad=True)
                           for a in (layer.W, layer.R, layer.b, layer.h0, layer.c0))
        leaves.update({p + "W.K": W, p + "R.K": R, p + "b.value": b, p + "h_delay.x0": h0, p + "c_delay.x0": c0})
        h, c = h0.expand(B, -1), c0.expand(B, -1)
        names = ("split.i", "split.f", "split.g", "split.o", "sig_i.y", "sig_f.y", "tanh_g.y", "sig_o.y",
                 "c_sum.y", "h_prod.y", "h_delay.y", "c_delay.y", "b.y")
        rows = {n: [] for n in names}
        for t in range(T):
            rows["h_delay.y"].append(h)
            rows["c_delay.y"].append(c)
            rows["b.y"].append(b.expand(B, -1))
            z = x[t] @ W.T + h @ R.T + b
            zi, zf, zg, zo = torch.split(z, layer.nn, dim=1)
            i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for n, v in zip(names[:10], (zi, zf, zg, zo, i, f, g, o, c, h), strict=True):
                rows[n].append(v)
        for n, v in rows.items():
            sig[p + n] = torch.stack(v)
        x = [sig[p + "h_prod.y"][t] for t in range(T)]
    F = torch.tensor(weights.F, dtype=torch.float64, requires_grad=True)
    Fb = torch.tensor(weights.F_bias, dtype=torch.float64, requires_grad=True)
    leaves.update({"F.K": F, "F_bias.value": Fb})
    sig["y"] = sig[f"lstm{len(weights.layers)}/h_prod.y"] @ F.T + Fb
    return leaves, sig


def unrolled_gradients(weights, u, targets: dict, loss: str = "half-mse"):
    leaves, sig = unrolled(weights, u)
    T, B, _ = u.shape
    total = sum(((sig[n] - torch.from_numpy(t)) ** 2).sum() for n, t in targets.items())
    R = sum(t.shape[2] for t in targets.values())
    value = torch_loss(total, B, T, R, loss)
    value.backward()
    return float(value.detach()), {p: np.zeros(tuple(v.shape)) if v.grad is None else v.grad.numpy()
                                   for p, v in leaves.items()}, sig


def data(weights: NetworkWeights, T: int, B: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B, weights.ni)), rng.standard_normal((T, B, weights.no))


def assert_grads_match(got: dict, want: dict, paths, rtol=RTOL):
    errors = {p: rel_err(got[p], want[p]) for p in paths}
    assert all(got[p].shape == np.shape(want[p]) for p in paths), {p: (got[p].shape, np.shape(want[p])) for p in paths}
    assert max(errors.values()) <= rtol, errors


# ----------------------------------------------------------------- nn.LSTM: loss on y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_layers,seed", [(1, 3), (2, 7)])
@pytest.mark.parametrize("loss", ["half-mse", "mse"])
def test_every_learnable_matches_nn_lstm_autograd(backend, n_layers, seed, loss):
    w = network(ni=3, nn=4, no=2, n_layers=n_layers, seed=seed)
    u, y = data(w, T=15, B=3, seed=seed)
    program = lstm_network(w).compile()
    paths = diagram_paths(w)
    res = gradient(program, u, y, paths, loss=loss, backend=backend)
    assert res.backend == backend
    want_loss, want = nn_lstm_gradients(w, u, y, loss)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(res.grads, want, paths)
    assert res.signals["y"].shape == (15, 3, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_run_equals_torch_with_batch_of_one(backend):
    w = network(ni=2, nn=3, no=1, n_layers=1, seed=11)
    u, y = data(w, T=12, B=1, seed=11)
    paths = diagram_paths(w)
    res = gradient(lstm_network(w).compile(), u[:, 0, :], y[:, 0, :], paths, backend=backend)
    want_loss, want = nn_lstm_gradients(w, u, y)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(res.grads, want, paths)
    assert res.signals["y"].shape == (12, 1)




def _given_values_case(backend, with_x0):
    w = network(ni=2, nn=3, no=2, n_layers=2, seed=5)
    other = network(ni=2, nn=3, no=2, n_layers=2, seed=6)
    u, y = data(w, T=10, B=3, seed=5)
    if not with_x0:  # same initial states: only W, R, b, F, F_bias take new values
        other = NetworkWeights(layers=tuple(LayerWeights(W=o.W, R=o.R, b=o.b, h0=a.h0, c0=a.c0)
                                            for o, a in zip(other.layers, w.layers, strict=True)),
                               F=other.F, F_bias=other.F_bias)
    program = lstm_network(w).compile()
    before = program.parameters()
    paths = [p for p in diagram_paths(other) if with_x0 or not p.endswith(".x0")]
    values = lstm_network(other).compile().parameters(paths)
    res = gradient(program, u, y, values, backend=backend)
    after = program.parameters()
    assert all(np.array_equal(before[p], after[p]) for p in before)
    want_loss, want = nn_lstm_gradients(other, u, y)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(res.grads, want, paths)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_at_given_weight_values_equals_torch_at_those_values(backend):
    """params as a mapping: evaluated there, the program itself untouched."""
    _given_values_case(backend, with_x0=False)


def test_gradient_at_given_initial_state_values_equals_torch_compiled():
    _given_values_case("compiled", with_x0=True)


def test_gradient_at_given_initial_state_values_equals_torch_interpreter():
    _given_values_case("interpreter", with_x0=True)


# ----------------------------------------------------------------- inner signals as targets


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_unrolled_torch_lstm_agrees_with_nn_lstm(backend):
    """The reference for the probe tests is itself checked against nn.LSTM."""
    w = network(ni=3, nn=4, no=2, n_layers=2, seed=21)
    u, y = data(w, T=15, B=3, seed=21)
    loss_a, grads_a, _ = unrolled_gradients(w, u, {"y": y})
    loss_b, grads_b = nn_lstm_gradients(w, u, y)
    assert loss_a == pytest.approx(loss_b, rel=1e-13)
    assert_grads_match(grads_a, grads_b, diagram_paths(w), rtol=1e-12)


PROBE_SETS = {
    "forget gate": ["lstm1/sig_f.y"],
    "cell sum": ["lstm1/c_sum.y"],
    "two layers' inner signals and y": ["y", "lstm1/sig_i.y", "lstm2/c_sum.y", "lstm2/tanh_g.y"],
    "demux output (shared rows)": ["lstm2/split.o", "lstm1/split.g"],
    "delay outputs (state rows)": ["lstm1/h_delay.y", "lstm2/c_delay.y"],
    "constant output": ["lstm2/b.y", "lstm1/sig_o.y"],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["half-mse", "mse"])
@pytest.mark.parametrize("which", list(PROBE_SETS))
def test_loss_on_inner_signals_matches_unrolled_torch(backend, loss, which):
    w = network(ni=3, nn=4, no=2, n_layers=2, seed=31)
    T, B = 15, 3
    u, _ = data(w, T, B, seed=31)
    _, sig = unrolled(w, u)
    rng = np.random.default_rng(32)
    names = PROBE_SETS[which]
    targets = {n: sig[n].detach().numpy() + 0.3 * rng.standard_normal(tuple(sig[n].shape)) for n in names}
    paths = diagram_paths(w)
    res = gradient(lstm_network(w).compile(), u, targets, paths, loss=loss, backend=backend)
    want_loss, want, sig = unrolled_gradients(w, u, targets, loss)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    for n in names:
        np.testing.assert_allclose(res.signals[n], sig[n].detach().numpy(), rtol=1e-13, atol=1e-14)
    assert_grads_match(res.grads, want, paths)


# ----------------------------------------------------------------- the study's computed weights


@pytest.fixture(scope="module")
def computed_weights():
    from blockloop.study.lstm_from_ss import lstm_weights_from_ss
    from blockloop.study.systems import reference_system

    w, _ = lstm_weights_from_ss(reference_system(), realization="matlab")
    assert np.max(np.abs(w.layers[0].b)) == 100.0  # saturated gates: σ(±100)
    return w


def _with_bias(w: NetworkWeights, seed: int) -> NetworkWeights:
    rng = np.random.default_rng(seed)
    layer = w.layers[0]
    nn = layer.nn
    layer = LayerWeights(W=layer.W, R=layer.R, b=layer.b, h0=1e-3 * rng.standard_normal(nn),
                         c0=1e-3 * rng.standard_normal(nn))
    return NetworkWeights(layers=(layer,), F=w.F, F_bias=np.array([0.05]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["as computed", "with F_bias and nonzero h0, c0"])
def test_computed_weights_gradient_matches_torch(computed_weights, backend, variant):
    """Gate biases ±100, F ≈ 325: the study's start of run 1."""
    from blockloop.study.approx import simulate_linear
    from blockloop.study.systems import reference_system

    w = computed_weights if variant == "as computed" else _with_bias(computed_weights, 1)
    if w.F_bias is None:  # the diagram then has no F_bias block; torch's zero bias is not compared
        w = NetworkWeights(layers=w.layers, F=w.F, F_bias=np.zeros(1))
    T, B = 40, 3
    rng = np.random.default_rng(2)
    u = rng.standard_normal((T, B, 1))
    y = np.stack([simulate_linear(reference_system(), u[:, b, :]) for b in range(B)], axis=1)
    paths = diagram_paths(w)
    res = gradient(lstm_network(w).compile(), u, y, paths, backend=backend)
    want_loss, want = nn_lstm_gradients(w, u, y)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(res.grads, want, paths)
    # per gate block too: the saturated gates' gradients are ~1e-40, far below the g gate's
    nn = w.layers[0].nn
    for path in ("lstm1/W.K", "lstm1/R.K", "lstm1/b.value"):
        for k in range(4):
            got, ref = res.grads[path][k * nn:(k + 1) * nn], want[path][k * nn:(k + 1) * nn]
            assert rel_err(got, ref) <= RTOL, (path, "ifgo"[k], rel_err(got, ref))


@pytest.mark.parametrize("backend", BACKENDS)
def test_computed_weights_probe_on_forget_gate(computed_weights, backend):
    """σ(−100) ≈ 3.7e−44: a loss on the closed forget gate still gets torch's gradient."""
    w = NetworkWeights(layers=computed_weights.layers, F=computed_weights.F, F_bias=np.zeros(1))
    T, B = 20, 3
    u = np.random.default_rng(4).standard_normal((T, B, 1))
    _, sig = unrolled(w, u)
    targets = {"lstm1/sig_f.y": np.zeros(tuple(sig["lstm1/sig_f.y"].shape)),
               "lstm1/c_sum.y": sig["lstm1/c_sum.y"].detach().numpy() + 1e-3}
    paths = diagram_paths(w)
    res = gradient(lstm_network(w).compile(), u, targets, paths, backend=backend)
    want_loss, want, _ = unrolled_gradients(w, u, targets)
    assert res.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(res.grads, want, paths)


# ----------------------------------------------------------------- per-run initial states, float32, steps


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_run_initial_states_of_other_delays(backend):
    """initial_states (B, n) for lstm1/c_delay and lstm2/h_delay; the other x0 stay trainable."""
    w = network(ni=2, nn=3, no=2, n_layers=2, seed=41)
    u, y = data(w, T=12, B=3, seed=41)
    rng = np.random.default_rng(42)
    c1, h2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    paths = [p for p in diagram_paths(w) if p not in ("lstm1/c_delay.x0", "lstm2/h_delay.x0")]
    res = gradient(lstm_network(w).compile(), u, y, paths, initial_states={"lstm1/c_delay": c1, "lstm2/h_delay": h2},
                   backend=backend)
    lstm, linear, (h0, c0) = to_torch(w, "float64")
    h0 = h0.expand(-1, 3, -1).clone().requires_grad_(True)
    c0 = c0.expand(-1, 3, -1).clone().requires_grad_(True)
    with torch.no_grad():
        c0[0] = torch.from_numpy(c1)
        h0[1] = torch.from_numpy(h2)
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(u, 0, 1)))
    err = linear(lstm(x, (h0, c0))[0]) - torch.from_numpy(np.ascontiguousarray(np.moveaxis(y, 0, 1)))
    value = (err * err).sum() / (2 * 3 * 12)
    value.backward()
    assert res.loss == pytest.approx(float(value.detach()), rel=1e-12)
    want = {"lstm1/h_delay.x0": h0.grad[0].sum(0).numpy(), "lstm2/c_delay.x0": c0.grad[1].sum(0).numpy(),
            "lstm1/W.K": lstm.weight_ih_l0.grad.numpy(), "lstm2/R.K": lstm.weight_hh_l1.grad.numpy(),
            "F.K": linear.weight.grad.numpy()}
    assert_grads_match(res.grads, want, list(want))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_program_gives_float32_gradients_close_to_float64_torch(backend):
    w = network(ni=3, nn=4, no=2, n_layers=1, seed=51)
    u, y = data(w, T=15, B=3, seed=51)
    paths = diagram_paths(w)
    res = gradient(lstm_network(w).compile(dtype="float32"), u, y, paths, backend=backend)
    want_loss, want = nn_lstm_gradients(w, u, y)
    assert isinstance(res.loss, float) and res.loss == pytest.approx(want_loss, rel=1e-5)
    assert all(res.grads[p].dtype == np.float32 for p in paths)
    assert_grads_match(res.grads, want, paths, rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_steps_shorter_than_the_input(backend):
    w = network(ni=2, nn=3, no=1, n_layers=1, seed=61)
    u, y = data(w, T=14, B=2, seed=61)
    paths = diagram_paths(w)
    program = lstm_network(w).compile()
    a = gradient(program, u, y[:6], paths, steps=6, backend=backend)
    want_loss, want = nn_lstm_gradients(w, u[:6], y[:6])
    assert a.loss == pytest.approx(want_loss, rel=1e-12)
    assert_grads_match(a.grads, want, paths)
