"""Issue 10 §3: readable text/HTML displays of Result, LoopReport, CrosscheckReport and NetworkWeights;
Result.to_pandas, Result.save/load. Expectations are written by hand from the leaky integrator
y[k] = u[k] + 0.9·y[k−1] with u = 1: y = 1, 1.9, 2.71, 3.439."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.diagrams.weights import LayerWeights, NetworkWeights
from blockloop.engine.loops import feedback_loops
from blockloop.engine.result import Result
from blockloop.errors import BlockloopError, MissingDependencyError
from blockloop.interop.torch import Comparison, CrosscheckReport

EVIL = "<script>"


def leaky(delay: str = "z", out: str = "y") -> Diagram:
    d = Diagram("leaky")
    for name, block in [("u", Inport(1)), ("s", Sum("++")), ("a", Gain(0.9)), (delay, UnitDelay(0.0)),
                        (out, Outport())]:
        d.add(name, block)
    d.connect("u", "s.u1"); d.connect("s", delay); d.connect(delay, "a"); d.connect("a", "s.u2")
    d.connect("s", out)
    return d


# -- Result display --------------------------------------------------------------------------------

def test_result_str_lists_T_Ts_and_signals():
    r = leaky().simulate({"u": np.ones((4, 1))}, Ts=0.5)
    assert str(r) == ("Result: T=4 steps, Ts=0.5 s\n"
                      "  signal  kind    shape\n"
                      "  y       output  (4, 1)")


def test_result_str_batched_names_the_batch_and_probes():
    r = Result(t=np.arange(3) * 0.1, outputs={"y": np.zeros((3, 2, 1))}, probes={"s.y": np.zeros((3, 2, 4))},
               Ts=0.1, batched=True)
    lines = str(r).splitlines()
    assert lines[0] == "Result: T=3 steps, Ts=0.1 s, batch=2"
    assert lines[2].split() == ["y", "output", "(3,", "2,", "1)"]
    assert lines[3].split() == ["s.y", "probe", "(3,", "2,", "4)"]


def test_result_html_escapes_signal_names():
    r = Result(t=np.arange(2.0), outputs={EVIL: np.zeros((2, 1))})
    html = r._repr_html_()
    assert "<script>" not in html
    assert "<td>&lt;script&gt;</td><td>output</td><td>(2, 1)</td>" in html
    assert html.startswith("<div><b>Result: T=2 steps, Ts=1 s</b><table>")


# -- LoopReport display ----------------------------------------------------------------------------

def test_loop_report_str_and_html_escape_block_names():
    rep = feedback_loops(leaky(delay=EVIL))
    assert str(rep) == ("LoopReport: 1 loop in 1 family\n"
                        "  family    label             loops  first loop\n"
                        "  <script>  outer (<script>)  1      <script> → a → s → <script>")
    html = rep._repr_html_()
    assert "<script>" not in html
    assert "<td>&lt;script&gt;</td><td>outer (&lt;script&gt;)</td><td>1</td>" in html


def test_loop_report_str_without_loops():
    d = Diagram("open")
    d.add("u", Inport(1)); d.add("g", Gain(2.0)); d.add("y", Outport())
    d.connect("u", "g"); d.connect("g", "y")
    assert str(feedback_loops(d)) == "LoopReport: 0 loops in 0 families\n  (no feedback loops)"


# -- CrosscheckReport display ----------------------------------------------------------------------

def test_crosscheck_report_table_says_ok_and_NO():
    rep = CrosscheckReport(comparisons={"float64": Comparison(norm=1e-15, max_abs=5e-16, tolerance=1e-12),
                                        EVIL: Comparison(norm=0.5, max_abs=0.25, tolerance=1e-5)},
                           shapes={"ni": 4, "nn": [3], "no": 2})
    lines = str(rep).splitlines()
    assert lines[0] == "CrosscheckReport: NOT ok"
    assert lines[1] == "  ni=4, nn=[3], no=2"
    assert lines[2].split() == ["comparison", "norm", "max|diff|", "tolerance", "ok"]
    assert lines[3].split() == ["float64", "1e-15", "5e-16", "1e-12", "ok"]
    assert lines[4].split() == [EVIL, "0.5", "0.25", "1e-05", "NO"]
    html = rep._repr_html_()
    assert "<script>" not in html
    assert "<tr><td>&lt;script&gt;</td><td>0.5</td><td>0.25</td><td>1e-05</td><td>NO</td></tr>" in html
    good = CrosscheckReport(comparisons={"float64": Comparison(norm=0.0, max_abs=0.0, tolerance=1e-12)}, shapes={})
    assert str(good).splitlines()[0] == "CrosscheckReport: ok"


# -- NetworkWeights display ------------------------------------------------------------------------

def test_network_weights_str_lists_layer_shapes():
    w = NetworkWeights.random(ni=4, nn=3, no=2, n_layers=2)
    lines = str(w).splitlines()
    assert lines[0] == "NetworkWeights: 2 LSTM layers, ni=4, no=2"
    assert lines[2].split() == ["layer", "1", "3", "(12,", "4)", "(12,", "3)", "(12,)"]
    assert lines[3].split() == ["layer", "2", "3", "(12,", "3)", "(12,", "3)", "(12,)"]
    assert lines[4].split() == ["F", "(2,", "3)"]
    one = NetworkWeights(layers=(LayerWeights(W=np.ones((8, 1)), R=np.ones((8, 2)), b=np.ones(8)),),
                         F=np.ones((1, 2)), F_bias=np.ones(1))
    assert str(one).splitlines()[0] == "NetworkWeights: 1 LSTM layer, ni=1, no=1"
    assert str(one).splitlines()[-1].split() == ["F", "(1,", "2)", "(1,)"]
    assert "<td>layer 1</td><td>2</td><td>(8, 1)</td><td>(8, 2)</td><td>(8,)</td>" in one._repr_html_()


# -- to_pandas -------------------------------------------------------------------------------------

def test_to_pandas_unbatched_indexed_by_t():
    pd = pytest.importorskip("pandas")
    r = leaky().simulate({"u": np.ones((4, 1))}, Ts=0.5, probes=["s.y"])
    df = r.to_pandas()
    assert df.index.name == "t"
    assert df.index.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert list(df.columns) == ["y[0]", "s.y[0]"]
    np.testing.assert_allclose(df["y[0]"].to_numpy(), [1.0, 1.9, 2.71, 3.439], rtol=0, atol=1e-12)
    assert isinstance(df, pd.DataFrame)


def test_to_pandas_batched_multiindex_t_sequence():
    pytest.importorskip("pandas")
    y = np.array([[[1.0, 10.0], [2.0, 20.0]], [[3.0, 30.0], [4.0, 40.0]], [[5.0, 50.0], [6.0, 60.0]]])  # (T=3, B=2, 2)
    r = Result(t=np.array([0.0, 0.1, 0.2]), outputs={"y": y}, Ts=0.1, batched=True)
    df = r.to_pandas()
    assert df.index.names == ["t", "sequence"]
    assert df.index.tolist() == [(0.0, 0), (0.0, 1), (0.1, 0), (0.1, 1), (0.2, 0), (0.2, 1)]
    assert df["y[0]"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert df["y[1]"].tolist() == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert df.loc[(0.1, 1), "y[1]"] == 40.0


def test_to_pandas_without_pandas_names_the_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    r = Result(t=np.arange(2.0), outputs={"y": np.zeros((2, 1))})
    with pytest.raises(MissingDependencyError, match="pip install pandas") as info:
        r.to_pandas()
    assert isinstance(info.value, ImportError) and isinstance(info.value, BlockloopError)


# -- save / load -----------------------------------------------------------------------------------

@pytest.mark.parametrize("batched", [False, True])
def test_save_load_round_trip(tmp_path, batched):
    rng = np.random.default_rng(1)
    shape = (5, 3, 2) if batched else (5, 2)
    r = Result(t=np.arange(5) * 0.25, outputs={"y": rng.standard_normal(shape), EVIL: rng.standard_normal(shape)},
               probes={"lstm1/sig_f.y": rng.standard_normal(shape[:-1] + (4,))}, Ts=0.25, batched=batched)
    r.save(tmp_path / "run.npz")
    back = Result.load(tmp_path / "run.npz")
    assert list(back.outputs) == ["y", EVIL] and list(back.probes) == ["lstm1/sig_f.y"]
    assert back.Ts == 0.25 and back.batched is batched
    np.testing.assert_array_equal(back.t, r.t)
    for name in r.signals:
        np.testing.assert_array_equal(back[name], r[name])
    with np.load(tmp_path / "run.npz", allow_pickle=False) as data:  # arrays only: readable without pickle
        assert all(data[k].dtype != object for k in data.files)


def test_save_load_without_probes(tmp_path):
    r = leaky().simulate({"u": np.ones((4, 1))}, Ts=0.5)
    r.save(tmp_path / "plain")  # numpy appends .npz
    back = Result.load(tmp_path / "plain.npz")
    assert back.probes == {} and list(back.outputs) == ["y"]
    np.testing.assert_allclose(back["y"].ravel(), [1.0, 1.9, 2.71, 3.439], rtol=0, atol=1e-12)
