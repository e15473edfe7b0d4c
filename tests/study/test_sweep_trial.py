"""One sweep run in this process (blockloop.study.sweep.trial): starts, measures and outcomes.

The bounds come from how the pieces work, not from a previous run: one Adam step moves each
element by at most lr0 (|m̂/(√v̂ + ε)| ≤ 1 at the first step), the gates i, f, o sit at
σ(±100) where their gradient is ~1e-44, and MATLAB-style rand weights lie in [0, 1) while the
computed gate biases are ±100.
"""

import doctest
import math

import numpy as np
import pytest

from blockloop.study.seeds import run_seeds
from blockloop.study.sweep import trial
from blockloop.study.sweep.config import normalize_run
from blockloop.study.sweep.trial import block_distances, run_trial, start_weights

SYSTEM_DCGAIN = 7.5351  # the reference system's published DC gain


def test_docstring_examples():
    failures, tried = doctest.testmod(trial)
    assert tried >= 3 and failures == 0


def test_one_epoch_from_the_computed_weights_moves_only_the_cell_gate_and_fc_by_at_most_lr0():
    out = run_trial(normalize_run({"epochs": 1, "steps": 100}))
    m = out["metrics"]
    assert out["status"] == "completed" and out["error"] is None and out["wall_s"] > 0
    assert max(m["start_dist"].values()) == 0.0 and m["start_max_rel_dist"] == 0.0
    # gate g: W_g (5×1), R_g (5×5), b_g (5) = 35 elements, each moved by at most lr0 = 1e-4
    assert 0 < m["dist"]["g"] <= 1e-4 * math.sqrt(35) * (1 + 1e-9)
    assert 0 < m["dist"]["fc"] <= 1e-4 * math.sqrt(6) * (1 + 1e-9)           # F (1×5) and its bias
    assert max(m["dist"][g] for g in "ifo") < 1e-30                            # pinned gates do not move
    assert m["initial_loss"] > 0 and m["best_loss"] <= min(m["initial_loss"], m["final_loss"])
    assert m["val_u"] > 0 and m["val_3u"] > 0
    assert m["gate_margin"] > 90 and m["near_linear"] is True                  # b = ±100, W and R rows zero
    assert abs(m["dcgain_error"] - (m["dcgain"] / SYSTEM_DCGAIN - 1)) < 1e-4
    assert 0 < m["pole_error"] < 1e-2                                          # ‖ΔA‖_F ≤ 5e-4


def test_random_start_is_about_one_block_norm_away_and_not_near_linear():
    out = run_trial(normalize_run({"init": "random", "epochs": 2, "steps": 60}))
    m = out["metrics"]
    # gate i: computed rows are b = 100 (5 units), W = R = 0; rand values lie in [0, 1):
    # ‖Δ‖ is between √5·99 and √(5·100² + 30), relative to √5·100
    assert 0.99 <= m["start_rel_dist"]["i"] <= 1.0 + 1e-3
    assert m["near_linear"] is False and m["gate_margin"] < 0
    assert m["dcgain"] is None and m["pole_error"] is None


def test_relative_noise_keeps_zeros_and_absolute_noise_does_not():
    from blockloop.study.sweep.trial import _computed

    computed = _computed("n+m", 1e-3, 100.0, "matlab")
    rel = start_weights(normalize_run({"init": "perturbed", "noise": 1e-3}), computed, None)
    ab = start_weights(normalize_run({"init": "perturbed", "noise": 1e-3, "noise_kind": "absolute"}), computed, None)
    assert np.all(rel.layers[0].gate("i", "W") == 0) and np.all(rel.layers[0].gate("f", "R") == 0)
    assert np.all(ab.layers[0].gate("i", "W") != 0)
    _, r = block_distances(computed, rel)
    assert all(1e-4 < r[k] < 3e-3 for k in r)          # each block off by ~noise × RMS(ε), ε ~ N(0, 1)
    # absolute: gate i's 35 elements each get 1e-3·ε; ‖Δ‖ ≈ 1e-3·√35 ≈ 5.9e-3
    dist, _ = block_distances(computed, ab)
    assert 2e-3 < dist["i"] < 1.2e-2
    again = start_weights(normalize_run({"init": "perturbed", "noise": 1e-3}), computed, None)
    assert np.array_equal(again.layers[0].R, rel.layers[0].R)                  # seeded: the same start


def test_an_overflowing_loss_is_diverged_and_a_bad_config_is_failed():
    out = run_trial(normalize_run({"epochs": 5, "steps": 50, "lr0": 1e300}))
    assert out["status"] == "diverged" and "lower the initial learning rate" in out["error"]
    assert out["metrics"]["start_max_rel_dist"] == 0.0 and "final_loss" not in out["metrics"]
    bad = run_trial({"init": "warm"})
    assert bad["status"] == "failed" and "ConfigError" in bad["error"] and "init" in bad["error"]


@pytest.mark.parametrize("init, run", [("computed", "from_computed"), ("random", "from_random")])
def test_default_options_train_exactly_the_studys_two_runs(init, run):
    # The same seed, data, start and published options as `blockloop seeds`: the same float64 numbers.
    ours = run_trial(normalize_run({"init": init, "epochs": 3, "seed": 4}))["metrics"]
    (theirs,) = run_seeds([4], epochs=3, runs=(run,))
    assert ours["final_loss"] == theirs.final_loss
