"""Every cross-check's tolerance scales with the problem: GRU/RNN against PyTorch, ONNX, Keras and JAX.

Each uses :func:`blockloop.interop.torch.crosscheck_tolerances` (the formula of ``default_tolerance``).
A correct large network (GRU 2 × 100, RNN 1 × 300, LSTM 2 × 100) passes in float32 and float64,
and a 1e-6 relative error in one weight of the reference still fails in float64.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import blockloop.interop.torch as bt  # noqa: E402
import blockloop.interop.torch_rnn as tr  # noqa: E402
from blockloop.cli import main  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402

T = 20


def _u(ni=4, seed=0):
    return np.random.default_rng(seed).standard_normal((T, ni))


def _torch_weights(kind, nn, layers, gain=4.0, seed=0):
    """``kind`` ("LSTM", "GRU", "RNN") of PyTorch's own initialization × ``gain`` (gates off saturation) + a head."""
    torch.manual_seed(seed)
    module = getattr(torch.nn, kind)(4, nn, num_layers=layers, dtype=torch.float64)
    fc = torch.nn.Linear(nn, 2, dtype=torch.float64)
    with torch.no_grad():
        for p in [*module.parameters(), *fc.parameters()]:
            p.mul_(gain)
    return bt.from_torch(module, fc) if kind == "LSTM" else tr.from_torch(module, fc)


def _perturbed(weights):
    """``weights`` with W[0, 0] of the first layer changed by 1e-6 relative."""
    first = weights.layers[0]
    W = first.W.copy()
    W[0, 0] *= 1 + 1e-6
    return dataclasses.replace(weights, layers=(dataclasses.replace(first, W=W), *weights.layers[1:]))


def _expected(rep, weights, key, dtype, y64):
    return bt.default_tolerance(dtype, float(np.abs(y64).max()), weights.ni,
                                max(layer.nn for layer in weights.layers), len(weights.layers), T)


def test_crosscheck_tolerances_is_the_formula_and_honours_rtol_atol():
    y = np.full((T, 2), 3.0)
    size = {"ni": 4, "nn": 100, "layers": 2, "steps": T}
    tols = bt.crosscheck_tolerances({"a": ("float64", y), "b": ("float32", y)}, size, tolerance_scale=2.0)
    assert tols["a"] == pytest.approx(2.0 * bt.default_tolerance("float64", 3.0, **size))
    assert tols["b"] == pytest.approx(2.0 * bt.default_tolerance("float32", 3.0, **size))
    over = bt.crosscheck_tolerances({"a": ("float64", y)}, size, rtol=1e-3, atol=1e-9)
    assert over["a"] == pytest.approx(1e-9 + 1e-3 * bt.matlab_norm(y))
    with pytest.raises(ParameterError, match="atol"):
        bt.crosscheck_tolerances({"a": ("float64", y)}, size, atol=-1.0)


@pytest.mark.parametrize("kind, nn, layers", [("GRU", 100, 2), ("RNN", 300, 1)])
@pytest.mark.parametrize("init", ["torch", "random"])
def test_large_correct_gru_rnn_pass_in_both_precisions(kind, nn, layers, init):
    if init == "torch":
        w = _torch_weights(kind, nn, layers)
    else:
        from blockloop.diagrams import GRUNetworkWeights, RNNNetworkWeights

        w = {"GRU": GRUNetworkWeights, "RNN": RNNNetworkWeights}[kind].random(4, nn, 2, n_layers=layers, seed=0)
    rep = tr.crosscheck(w, _u())
    assert rep.ok, rep.as_dict()
    y64 = rep.results["diagram"]["float64"]["y"]
    for dt in ("float64", "float32"):
        assert rep.comparisons[dt].tolerance == pytest.approx(_expected(rep, w, dt, dt, y64))
    # not vacuous: float64's tolerance is far below float32's real difference
    if init == "torch":
        assert rep.comparisons["float64"].tolerance < 1e-9 < rep.comparisons["float32"].norm


@pytest.mark.parametrize("kind, nn, layers", [("GRU", 100, 2), ("RNN", 300, 1)])
def test_a_1e6_weight_error_fails_gru_rnn_in_float64(monkeypatch, kind, nn, layers):
    w = _torch_weights(kind, nn, layers)
    forward = tr.torch_forward
    monkeypatch.setattr(tr, "torch_forward", lambda weights, u, dtype="float64", **kw:
                        forward(_perturbed(weights), u, dtype, **kw))
    c = tr.crosscheck(w, _u()).comparisons["float64"]
    assert not c.ok and c.norm > 100 * c.tolerance


def test_gru_rtol_atol_and_cli(capsys):
    w = _torch_weights("GRU", 5, 1)
    rep = tr.crosscheck(w, _u(), rtol=0.0, atol=1e-30)
    assert not rep.ok and rep.comparisons["float32"].tolerance == 1e-30
    assert main(["crosscheck", "--cell", "gru", "--nn", "100", "--layers", "2", "--steps", str(T)]) == 0
    assert main(["crosscheck", "--cell", "rnn", "--nn", "300", "--steps", str(T)]) == 0
    assert main(["crosscheck", "--cell", "gru", "--steps", "5", "--rtol", "0", "--atol", "1e-30"]) == 1
    assert main(["crosscheck", "--cell", "rnn", "--steps", "5", "--rtol", "1e-3"]) == 0
    assert " NO" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- other libraries
def _onnx_check():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import blockloop.interop.onnx as bo

    def wrong(monkeypatch, weights):
        bad = bo.load_onnx(bo.to_onnx(_perturbed(weights)))
        forward = bo.onnx_forward
        monkeypatch.setattr(bo, "onnx_forward", lambda net, u, *a, **k: forward(bad, u, *a, **k))

    return bo.crosscheck_onnx, wrong


def _keras_check():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("these checks run Keras on torch")
    import blockloop.interop.keras as bk

    def wrong(monkeypatch, weights):
        forward = bk.keras_forward
        monkeypatch.setattr(bk, "keras_forward",
                            lambda w, u, dtype="float64", **k: forward(_perturbed(w), u, dtype, **k))

    return bk.crosscheck_keras, wrong


def _jax_check():
    pytest.importorskip("jax")
    pytest.importorskip("flax")
    import blockloop.interop.jax as bj

    def wrong(monkeypatch, weights):
        forward = bj.flax_forward
        monkeypatch.setattr(bj, "flax_forward",
                            lambda w, u, dtype="float64", **k: forward(_perturbed(w), u, dtype, **k))

    return bj.crosscheck_flax, wrong


LIBRARIES = {"onnx": _onnx_check, "keras": _keras_check, "jax": _jax_check}


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
@pytest.mark.parametrize("lib", list(LIBRARIES))
def test_other_libraries_scale_and_still_catch_a_1e6_error(monkeypatch, lib):
    check, wrong = LIBRARIES[lib]()
    w = _torch_weights("LSTM", 100, 2)
    rep = check(w, _u())
    assert rep.ok, rep.as_dict()
    y64 = rep.results["diagram"]["float64"]
    assert rep.comparisons["float32"].tolerance == pytest.approx(_expected(rep, w, "float32", "float32", y64))
    assert rep.comparisons["reference_setup"].tolerance == rep.comparisons["float32"].tolerance
    assert rep.comparisons["float64"].tolerance < 1e-11  # float64's eps, not float32's
    assert check(w, _u(), rtol=0.0, atol=1e-30).ok is False
    wrong(monkeypatch, w)
    c = check(w, _u()).comparisons["float64"]
    assert not c.ok and c.norm > 100 * c.tolerance


def test_cli_against_onnx_passes_rtol_atol(capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import json

    assert main(["crosscheck", "--steps", "5", "--against", "onnx", "--rtol", "0", "--atol", "1e-30", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["onnx float32"]["tolerance"] == 1e-30 and not out["onnx float32"]["ok"]
    assert main(["crosscheck", "--steps", "5", "--against", "onnx", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["onnx float64"]["tolerance"] < 1e-13 < out["onnx float32"]["tolerance"] < 1e-4
