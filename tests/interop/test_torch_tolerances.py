"""The data-derived default tolerances of ``blockloop.interop.torch.crosscheck`` and ``--rtol/--atol``."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import blockloop.interop.torch as bt  # noqa: E402
from blockloop.cli import main  # noqa: E402
from blockloop.diagrams import LayerWeights, NetworkWeights  # noqa: E402
from blockloop.errors import ParameterError  # noqa: E402

EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
T = 20  # short runs: the large networks below still fail the old fixed tolerances at T = 20


def test_default_tolerance_is_the_documented_formula():
    assert bt.default_tolerance("float64", 2.0, ni=4, nn=3, layers=1, steps=51) == pytest.approx(
        2.0 * EPS64 * 8 * 1 * math.sqrt(51), rel=1e-15)
    # max |y| below 1 counts as 1; float32 uses float32's eps; layers multiply
    assert bt.default_tolerance("float32", 0.25, ni=4, nn=100, layers=2, steps=16) == pytest.approx(
        1.0 * EPS32 * 105 * 2 * 4, rel=1e-15)
    with pytest.raises(ParameterError):
        bt.default_tolerance("float16", 1.0, 1, 1, 1, 1)


def _u(ni, seed=0):
    return np.random.default_rng(seed).standard_normal((T, ni))


@pytest.mark.parametrize("nn, layers", [(100, 2), (300, 1)])
def test_large_correct_networks_pass_in_both_precisions(nn, layers):
    w = NetworkWeights.random(4, nn, 2, n_layers=layers, seed=0)
    rep = bt.crosscheck(w, _u(4))
    assert rep.ok, rep.as_dict()
    ymax = np.abs(rep.results["diagram"]["float64"]["y"]).max()
    for key, dt in (("float64", "float64"), ("float32", "float32"), ("reference_setup", "float32")):
        assert rep.comparisons[key].tolerance == pytest.approx(bt.default_tolerance(dt, ymax, 4, nn, layers, T))
    # the fixed tolerances these networks failed before (5e-6 float32, 1e-5 mixed) are really exceeded
    assert rep.comparisons["float32"].norm > bt.TOLERANCES["float32"]
    assert rep.comparisons["reference_setup"].norm > bt.TOLERANCES["reference_setup"]
    # and the scaled tolerance is not vacuous: real differences stay well inside, float64 far below float32
    assert rep.comparisons["float64"].tolerance < 1e-9 < rep.comparisons["float32"].norm


def _torch_init(nn, layers, gain=4.0, seed=0):
    """An nn.LSTM(4, nn, layers) + nn.Linear(nn, 2) with PyTorch's initialization scaled by ``gain``.

    Unlike ``NetworkWeights.random`` (weights in [0, 1), whose 100-unit gates saturate to exactly
    0 or 1 so that a changed weight does not move y at all), these gates work in their linear range.
    """
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(4, nn, num_layers=layers, dtype=torch.float64)
    fc = torch.nn.Linear(nn, 2, dtype=torch.float64)
    with torch.no_grad():
        for p in [*lstm.parameters(), *fc.parameters()]:
            p.mul_(gain)
    return bt.from_torch(lstm, fc)


@pytest.mark.parametrize("nn, layers", [(100, 2), (300, 1)])
def test_large_unsaturated_networks_pass_in_both_precisions(nn, layers):
    rep = bt.crosscheck(_torch_init(nn, layers), _u(4))
    assert rep.ok, rep.as_dict()
    assert 0 < rep.comparisons["float32"].norm < rep.comparisons["float32"].tolerance


def _perturbed(weights, how):
    layers = list(weights.layers)
    first = layers[0]
    if how == "one weight 1e-6 relative":
        W = first.W.copy()
        W[0, 0] *= 1 + 1e-6
        layers[0] = LayerWeights(W=W, R=first.R, b=first.b, h0=first.h0, c0=first.c0)
    else:  # the input and forget gates swapped (PyTorch's order is i, f, g, o)
        n = first.nn
        order = np.r_[n:2 * n, 0:n, 2 * n:4 * n]
        layers[0] = LayerWeights(W=first.W[order], R=first.R[order], b=first.b[order], h0=first.h0, c0=first.c0)
    return NetworkWeights(layers=tuple(layers), F=weights.F, F_bias=weights.F_bias)


@pytest.mark.parametrize("how", ["one weight 1e-6 relative", "gates i and f swapped"])
def test_a_wrong_network_still_fails_in_float64(monkeypatch, how):
    w = _torch_init(100, 2)
    forward = bt.torch_forward
    monkeypatch.setattr(bt, "torch_forward", lambda weights, u, dtype="float64", **kw:
                        forward(_perturbed(weights, how), u, dtype, **kw))
    rep = bt.crosscheck(w, _u(4))
    c = rep.comparisons["float64"]
    assert not c.ok and not rep.ok
    assert c.norm > 1e3 * c.tolerance


def test_rtol_atol_override_and_tolerance_scale_still_multiplies():
    w = NetworkWeights.random(4, 3, 2, seed=0)
    u = _u(4)
    base = bt.crosscheck(w, u)
    y_norm = bt.matlab_norm(base.results["diagram"]["float64"]["y"])
    rep = bt.crosscheck(w, u, rtol=1e-6, atol=1e-9)
    assert all(c.tolerance == pytest.approx(1e-9 + 1e-6 * y_norm) for c in rep.comparisons.values())
    assert rep.ok
    strict = bt.crosscheck(w, u, rtol=0.0, atol=1e-30)  # float32 differs by ~1e-7: must fail
    assert strict.comparisons["float64"].tolerance == 1e-30 and not strict.comparisons["float32"].ok
    scaled = bt.crosscheck(w, u, tolerance_scale=3.0)
    for key, c in scaled.comparisons.items():
        assert c.tolerance == pytest.approx(3.0 * base.comparisons[key].tolerance)
    none = bt.crosscheck(w, u, tolerance_scale=None)
    assert none.comparisons["float32"].tolerance == pytest.approx(base.comparisons["float32"].tolerance)
    for bad in (-1.0, float("nan"), "1e-3", True):
        with pytest.raises(ParameterError, match="rtol"):
            bt.crosscheck(w, u, rtol=bad)


def test_cli_large_networks_pass_and_rtol_atol(capsys):
    assert main(["crosscheck", "--nn", "100", "--layers", "2", "--steps", str(T)]) == 0
    assert main(["crosscheck", "--nn", "300", "--steps", str(T)]) == 0
    out = capsys.readouterr().out
    assert "(Ni+Nn+1)" in out and " NO" not in out
    assert main(["crosscheck", "--steps", str(T), "--rtol", "0", "--atol", "1e-30"]) == 1
    assert main(["crosscheck", "--steps", str(T), "--rtol", "1e-4"]) == 0
    assert "rtol 0.0001 × norm(y)" in capsys.readouterr().out
    assert main(["crosscheck", "--cell", "gru", "--steps", "5", "--rtol", "1e-3"]) == 0  # every cell takes them
    with pytest.raises(SystemExit):
        main(["crosscheck", "--atol", "-1"])


@pytest.mark.parametrize("name", ["rtol", "atol", "tolerance_scale"])
@pytest.mark.parametrize("bad", [10**400, np.float32("inf")])
def test_an_int_too_large_for_a_float_is_refused_by_name_not_an_overflow(name, bad):
    """Regression: 10**400 passed ``value < np.inf`` and then raised a bare OverflowError in float();
    a float32 inf passed ``value <= float max`` (numpy compared in float32) and made every check pass."""
    size = {"ni": 1, "nn": 1, "layers": 1, "steps": 3}
    with pytest.raises(ParameterError, match=f"^{name}: expected a"):
        bt.crosscheck_tolerances({"float64": ("float64", np.ones((3, 1)))}, size, **{name: bad})
    w = NetworkWeights.random(2, 2, 1, seed=0)
    with pytest.raises(ParameterError, match=f"^{name}: expected a"):
        bt.crosscheck(w, np.ones((3, 2)), backend="interpreter", **{name: bad})
    tols = bt.crosscheck_tolerances({"float64": ("float64", np.ones((3, 1)))}, size, **{name: 10**300})
    assert 0 < tols["float64"] < math.inf  # a large but representable number is taken
