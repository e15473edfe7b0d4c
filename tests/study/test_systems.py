"""Linear systems: the reference plant's published facts, file loading, random systems, validation."""

import doctest
import json

import control
import numpy as np
import pytest

from blockloop.errors import ParameterError
from blockloop.study import realizations, systems
from blockloop.study.systems import (
    as_statespace,
    check_matrices,
    load_system,
    random_stable_system,
    reference_system,
    sample_time,
    system_facts,
)


def _quadratics(poles):
    """(−2·Re p, |p|²) of each complex pair with Im p > 0, sorted."""
    return sorted((float(-2 * p.real), float(abs(p) ** 2)) for p in poles if p.imag > 0)


def test_reference_system_published_facts():
    sys = reference_system()
    assert sys.dt == 0.01 and sys.nstates == 4 and sys.ninputs == sys.noutputs == 1
    assert np.all(sys.D == 0)  # "sys.D  ans = 0"
    assert round(float(control.dcgain(sys)), 4) == 7.5351
    facts = system_facts(sys)
    assert round(facts["zpk_gain"], 6) == 0.078673
    # 0.078673 (z+3.517)(z−0.9608)(z+0.2599) / ((z²−1.826z+0.8353)(z²−1.72z+0.9608))
    zeros = sorted(float(z.real) for z in facts["zeros"])
    assert np.all(np.abs(np.imag(facts["zeros"])) < 1e-12)
    assert [round(z, 4) for z in zeros] == [-3.5168, -0.2599, 0.9608]
    assert round(-zeros[0], 3) == 3.517
    quads = _quadratics(facts["poles"])
    assert [(round(a, 3), round(b, 4)) for a, b in quads] == [(-1.826, 0.8353), (-1.72, 0.9608)]


def test_reference_system_other_sample_time_and_bad_ts():
    assert reference_system(0.02).dt == 0.02
    for bad in (0, -0.01, "x", float("nan")):
        with pytest.raises(ParameterError, match="sample time"):
            reference_system(bad)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_load_system_round_trip(tmp_path, suffix):
    sys = random_stable_system(3, 2, 2, Ts=0.05, seed=4)
    path = tmp_path / f"plant{suffix}"
    fields = {"A": sys.A, "B": sys.B, "C": sys.C, "D": sys.D, "Ts": 0.05}
    if suffix == ".npz":
        np.savez(path, **fields)
    else:
        path.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in fields.items()}))
    loaded = load_system(path)
    assert loaded.dt == 0.05
    for key in "ABCD":
        np.testing.assert_array_equal(getattr(loaded, key), getattr(sys, key))
    assert as_statespace(str(path)).nstates == 3


def test_load_system_without_ts(tmp_path):
    path = tmp_path / "siso.json"
    path.write_text(json.dumps({"A": [[0.5]], "B": [1], "C": [2], "D": 0}))
    assert load_system(path).dt is True
    assert sample_time(load_system(path)) == 1.0
    assert load_system(path, Ts=0.1).dt == 0.1


@pytest.mark.parametrize("content, message", [
    ({"A": [[0.5]], "B": [[1]], "C": [[1]]}, "missing field.*D"),
    ({"A": [[0.5, 0.1]], "B": [[1]], "C": [[1]], "D": [[0]]}, "A must be square"),
    ({"A": [[0.5]], "B": [[1], [2]], "C": [[1]], "D": [[0]]}, "B must have n = 1 rows"),
    ({"A": [[0.5]], "B": [[1]], "C": [[1, 2]], "D": [[0]]}, "C must have n = 1 columns"),
    ({"A": [[0.5]], "B": [[1]], "C": [[1]], "D": [[0, 0]]}, r"D must be p×m = 1×1"),
    ({"A": [[0.5]], "B": [[1]], "C": [[1]], "D": [[0]], "Ts": -1}, "Ts must be one non-negative"),
    ({"A": [["a"]], "B": [[1]], "C": [[1]], "D": [[0]]}, "A must be a matrix of real numbers"),
    ({"A": [[float("nan")]], "B": [[1]], "C": [[1]], "D": [[0]]}, "A has NaN"),
    ([1, 2, 3], "expected a JSON object"),
])
def test_load_system_errors_name_file_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))  # NaN is written as the JSON extension NaN
    with pytest.raises(ParameterError, match=message) as err:
        load_system(path)
    assert "bad.json" in str(err.value)


def test_load_system_file_errors(tmp_path):
    with pytest.raises(ParameterError, match="no such system file"):
        load_system(tmp_path / "missing.npz")
    (tmp_path / "sys.mat").write_bytes(b"\0")
    with pytest.raises(ParameterError, match="unknown system file type '.mat'"):
        load_system(tmp_path / "sys.mat")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ParameterError, match="cannot read as JSON"):
        load_system(tmp_path / "broken.json")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ParameterError, match="cannot read as .npz"):
        load_system(tmp_path / "broken.npz")


def test_load_system_refuses_pickled_npz(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, A=np.array([{"evil": 1}], dtype=object), B=[[1.0]], C=[[1.0]], D=[[0.0]])
    with pytest.raises(ParameterError, match="pickled.npz"):
        load_system(path)


def test_check_matrices_vectors_and_scalars():
    A, B, C, D = check_matrices(np.eye(2) * 0.5, [1.0, 2.0], [3.0, 4.0], 0.0)
    assert B.shape == (2, 1) and C.shape == (1, 2) and D.shape == (1, 1)
    A, B, C, D = check_matrices(np.eye(2) * 0.5, np.ones((2, 3)), np.ones((4, 2)), 0)
    assert D.shape == (4, 3) and not D.any()
    with pytest.raises(ParameterError, match="D is a scalar but must be 4×3"):
        check_matrices(np.eye(2) * 0.5, np.ones((2, 3)), np.ones((4, 2)), 1.0)


def test_as_statespace_accepts_transfer_functions_and_rejects_other_things():
    tf = control.tf([1.0], [1.0, -0.5], 0.1)
    assert as_statespace(tf).nstates == 1
    with pytest.raises(ParameterError, match="expected a control.StateSpace"):
        as_statespace(np.eye(2))


def test_sample_time_rejects_continuous_and_unspecified():
    with pytest.raises(ParameterError, match=r"continuous-time \(dt = 0\).*c2d"):
        sample_time(control.ss([[-1.0]], [[1.0]], [[1.0]], 0))
    with pytest.raises(ParameterError, match="unspecified time base"):
        sample_time(control.ss([[0.5]], [[1.0]], [[1.0]], 0, None))


def test_random_stable_system_is_stable_invertible_and_reproducible():
    for seed in range(20):
        sys = random_stable_system(5, 2, 3, seed=seed)
        radii = np.abs(sys.poles())
        assert np.all(radii < 1) and np.all(radii >= 0.2 - 1e-9)
        assert abs(np.linalg.det(sys.A)) > 0.2 ** 5 - 1e-12
        assert sys.dt == 0.01 and sys.B.shape == (5, 2) and sys.C.shape == (3, 5) and sys.D.shape == (3, 2)
    a, b = random_stable_system(4, seed=7), random_stable_system(4, seed=7)
    np.testing.assert_array_equal(a.A, b.A)
    assert not np.array_equal(a.A, random_stable_system(4, seed=8).A)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n: expected a positive integer"),
    ({"n": 2, "m": 1.5}, "m: expected a positive integer"),
    ({"n": 2, "p": True}, "p: expected a positive integer"),
    ({"n": 2, "Ts": 0}, "positive sample time"),
])
def test_random_stable_system_bad_arguments(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        random_stable_system(**kwargs)


def test_system_facts_mimo():
    facts = system_facts(random_stable_system(3, 2, 2, seed=1))
    assert facts["zpk_gain"] is None and facts["dcgain"].shape == (2, 2) and facts["poles"].shape == (3,)


@pytest.mark.parametrize("module", [systems, realizations])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
