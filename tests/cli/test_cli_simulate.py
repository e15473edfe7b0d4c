"""``blockloop simulate`` end to end: diagram file + input arrays → .npz, summary, plot, clean errors."""

import json

import numpy as np
import pytest

from blockloop.blocks import FromArray, Gain, Inport, Outport, Sum
from blockloop.cli import main
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.engine import Diagram
from blockloop.io import save_diagram


@pytest.fixture()
def lstm_file(tmp_path):
    net = lstm_network(NetworkWeights.random(4, 3, 2))
    u = np.random.default_rng(0).standard_normal((30, 4))
    np.save(tmp_path / "u.npy", u)
    return save_diagram(net, tmp_path / "net.json"), net, u


def _two_inputs(tmp_path):
    d = Diagram("adder")
    for name, block in [("a", Inport(2)), ("b", Inport(2)), ("k", Gain(3.0)), ("s", Sum("+-")), ("y", Outport())]:
        d.add(name, block)
    d.chain("a", "k", "s.u1")
    d.connect("b", "s.u2")
    d.connect("s", "y")
    return save_diagram(d, tmp_path / "adder.json")


def test_simulate_lstm_file_end_to_end(tmp_path, lstm_file, capsys):
    path, net, u = lstm_file
    out, png = tmp_path / "res.npz", tmp_path / "res.png"
    rc = main(["simulate", str(path), "--input", str(tmp_path / "u.npy"), "--out", str(out), "--ts", "0.1",
               "--probe", "lstm1/sig_f.y", "--probe", "lstm1/c_sum.y", "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "simulated 'lstm_net'" in text and "T = 30 steps, Ts = 0.1 s, float64" in text
    assert "lstm1/sig_f.y" in text and f"wrote {out} (t, y, lstm1/sig_f.y, lstm1/c_sum.y)" in text
    saved = np.load(out, allow_pickle=False)
    assert saved.files == ["t", "y", "lstm1/sig_f.y", "lstm1/c_sum.y"]
    direct = net.simulate({"u": u}, Ts=0.1, probes=["lstm1/sig_f.y", "lstm1/c_sum.y"])
    assert np.array_equal(saved["t"], direct.t)
    for key in ("y", "lstm1/sig_f.y", "lstm1/c_sum.y"):
        assert np.array_equal(saved[key], direct[key]), key
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_float32_steps_and_batch(tmp_path, lstm_file):
    path, net, _ = lstm_file
    u = np.random.default_rng(2).standard_normal((12, 3, 4))
    np.save(tmp_path / "ub.npy", u)
    out = tmp_path / "r32.npz"
    assert main(["simulate", str(path), "-i", f"u={tmp_path / 'ub.npy'}", "-o", str(out), "--dtype", "float32",
                 "--steps", "5"]) == 0
    y = np.load(out, allow_pickle=False)["y"]
    assert y.dtype == np.float32 and y.shape == (5, 3, 2)
    assert np.array_equal(y, net.compile(dtype="float32").simulate({"u": u}, steps=5)["y"])


def test_npz_and_named_inputs(tmp_path, capsys):
    path = _two_inputs(tmp_path)
    a, b = np.ones((4, 2)), np.arange(8.0).reshape(4, 2)
    np.savez(tmp_path / "in.npz", a=a, b=b)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    for spec in ([str(tmp_path / "in.npz")], [f"a={tmp_path / 'a.npy'}", f"b={tmp_path / 'b.npy'}"]):
        out = tmp_path / "o.npz"
        args = ["simulate", str(path), "-o", str(out)]
        for s in spec:
            args += ["--input", s]
        assert main(args) == 0
        assert np.array_equal(np.load(out)["y"], 3 * a - b)
    capsys.readouterr()
    assert main(["simulate", str(path), "-i", str(tmp_path / "a.npy")]) == 2
    assert "the diagram has inputs ['a', 'b']; say which with NAME=FILE.npy" in capsys.readouterr().err
    assert main(["simulate", str(path), "-i", f"a={tmp_path / 'a.npy'}"]) == 2
    assert "no data for diagram input b (T, 2); pass --input NAME=FILE.npy" in capsys.readouterr().err
    assert main(["simulate", str(path), "-i", f"c={tmp_path / 'a.npy'}"]) == 2
    assert "has no input 'c'; its inputs are ['a', 'b']" in capsys.readouterr().err
    assert main(["simulate", str(path), "-i", str(tmp_path / "in.npz"), "-i", f"a={tmp_path / 'a.npy'}"]) == 2
    assert "input 'a' is given twice" in capsys.readouterr().err


def test_diagram_without_inputs_runs_for_steps(tmp_path, capsys):
    d = Diagram("source")
    d.add("src", FromArray(np.arange(6.0)))
    d.add("y", Outport())
    d.connect("src", "y")
    path = save_diagram(d, tmp_path / "src.json")
    assert main(["simulate", str(path), "--steps", "4", "--out", str(tmp_path / "o.npz")]) == 0
    assert np.load(tmp_path / "o.npz")["y"].ravel().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_diagram_without_inputs_and_without_steps_asks_for_the_cli_option(tmp_path, capsys):
    # the engine's message says "pass steps=T" (a Python argument); the command line has --steps
    from blockloop.blocks import Step

    d = Diagram("step source", Ts=0.1)
    d.add("r", Step(step_time=2))
    d.add("y", Outport())
    d.connect("r", "y")
    path = save_diagram(d, tmp_path / "step.json")
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("blockloop simulate: error:") and "pass --steps T" in err and "steps=T" not in err


def test_errors_are_clean_messages(tmp_path, lstm_file, capsys):
    path, _, _ = lstm_file
    u = str(tmp_path / "u.npy")
    doc = json.loads(path.read_text())
    doc["blocks"][2]["type"] = "Gian"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    (tmp_path / "bad.npz").write_bytes((tmp_path / "net.npz").read_bytes())
    cases = [
        (["simulate", str(bad), "-i", u], 'blocks[2] ("F").type: unknown block type \'Gian\''),
        (["simulate", str(tmp_path / "none.json"), "-i", u], "cannot read the diagram file"),
        (["simulate", str(path), "-i", str(tmp_path / "missing.npy")], "no such file"),
        (["simulate", str(path), "-i", u, "--out", str(tmp_path / "r.txt")], "use a file name ending in .npz"),
        (["simulate", str(path), "-i", u, "--plot", str(tmp_path / "r.bmpx")], "--plot"),
        (["simulate", str(path), "-i", u, "--probe", "lstm1/nope.y"], "probe 'lstm1/nope.y': no block"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("blockloop simulate: error:") and message in err, (argv, err)
