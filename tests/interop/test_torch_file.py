"""PyTorch state_dict files: ``interop.torch_file``, ``blockloop import X.pt``, ``crosscheck --model X.pt``."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blockloop.cli import main  # noqa: E402
from blockloop.errors import ModelFileError  # noqa: E402
from blockloop.interop.torch import torch_forward  # noqa: E402
from blockloop.interop.torch_file import load_torch_model  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, ni=3, nn=5, layers=2, no=2, **lstm_kw):
        super().__init__()
        self.lstm = torch.nn.LSTM(ni, nn, num_layers=layers, batch_first=True, dtype=torch.float64, **lstm_kw)
        self.fc = torch.nn.Linear(nn, no, dtype=torch.float64)

    def forward(self, x):
        return self.fc(self.lstm(x)[0])


def _u(T=12, ni=3):
    return np.random.default_rng(1).standard_normal((T, ni))


def _saved(tmp_path, obj, name="model.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_state_dict_of_lstm_and_linear_runs_like_the_module(tmp_path):
    torch.manual_seed(0)
    net = Net()
    w = load_torch_model(_saved(tmp_path, net.state_dict()))
    assert (w.ni, [layer.nn for layer in w.layers], w.no) == (3, [5, 5], 2)
    u = _u()
    with torch.no_grad():
        expected = net(torch.from_numpy(u)[None])[0].numpy()
    np.testing.assert_allclose(torch_forward(w, u), expected, rtol=0, atol=1e-13)
    from blockloop.diagrams import lstm_network

    np.testing.assert_allclose(lstm_network(w).simulate({"u": u}, Ts=0.1)["y"], expected, rtol=0, atol=1e-13)
    # the diagram's one bias is the sum of PyTorch's two
    np.testing.assert_allclose(w.layers[1].b, (net.lstm.bias_ih_l1 + net.lstm.bias_hh_l1).detach().numpy())


def test_bare_lstm_float32_no_bias_and_checkpoint_dict(tmp_path):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, bias=False)  # float32, top-level keys, no bias
    w = load_torch_model(_saved(tmp_path, lstm.state_dict(), "bare.pth"))
    assert w.no == 4 and np.array_equal(w.F, np.eye(4)) and w.F_bias is None
    assert not np.any(w.layers[0].b)
    u = _u(ni=2)
    with torch.no_grad():
        expected = lstm(torch.from_numpy(u).float())[0].double().numpy()
    np.testing.assert_allclose(torch_forward(w, u), expected, rtol=0, atol=1e-6)
    wrapped = load_torch_model(_saved(tmp_path, {"epoch": 3, "model_state_dict": Net().state_dict()}, "ck.pt"))
    assert wrapped.no == 2


@pytest.mark.parametrize("make, match", [
    (lambda: Net(bidirectional=True).state_dict(), r"'lstm\.weight_ih_l0_reverse': a bidirectional"),
    (lambda: torch.nn.LSTM(3, 5, proj_size=2).state_dict(), r"'weight_hr_l0': .*proj_size"),
    (lambda: {k: v for k, v in Net().state_dict().items() if k != "lstm.bias_hh_l1"},
     r"module lstm: missing key 'lstm\.bias_hh_l1'"),
    (lambda: {**Net().state_dict(), "fc.weight": torch.zeros(2, 4)}, r"module fc: weight has shape \(2, 4\)"),
    (lambda: {**Net().state_dict(), "lstm.weight_hh_l1": torch.zeros(20, 4)},
     r"module lstm: .*size mismatch for weight_hh_l1"),
    (lambda: {**Net().state_dict(), "head.weight": torch.zeros(2, 2)}, r"several weight matrices"),
    (lambda: {**Net().state_dict(), "norm.running_mean": torch.zeros(2)}, r"'norm\.running_mean': not part"),
    (lambda: {"enc.weight_ih_l0": torch.zeros(8, 1), "enc.weight_hh_l0": torch.zeros(8, 2),
              "dec.weight_ih_l0": torch.zeros(8, 2), "dec.weight_hh_l0": torch.zeros(8, 2)},
     r"several nn\.LSTM modules \('dec', 'enc'\)"),
    (lambda: {"fc.weight": torch.zeros(2, 2)}, r"no nn\.LSTM found"),
    (lambda: {"lstm.weight_ih_l0": torch.zeros(8, 1), "note": "hello"}, r"key 'note': expected a tensor"),
    (lambda: [torch.zeros(2)], r"expected a state_dict .* found a list"),
])
def test_unmappable_state_dicts_name_the_key_or_module(tmp_path, make, match):
    path = _saved(tmp_path, make())
    with pytest.raises(ModelFileError, match=match) as info:
        load_torch_model(path)
    assert info.value.path == str(path)


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a PyTorch file\x00\x01")
    with pytest.raises(ModelFileError, match=r"garbage\.pt: not a"):
        load_torch_model(bad)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(_saved(tmp_path, Net().state_dict()).read_bytes()[:200])
    with pytest.raises(ModelFileError, match="cut.pt"):
        load_torch_model(truncated)
    with pytest.raises(ModelFileError, match="no such file"):
        load_torch_model(tmp_path / "absent.pt")


class _Payload:
    """Unpickling this would create the marker file: the loader must refuse it without running it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle protocol 2", "pickle protocol 5"])
def test_pickled_objects_are_refused_not_executed(tmp_path, writer, capsys):
    marker = tmp_path / "EXECUTED"
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save({"lstm.weight_ih_l0": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker), protocol=int(writer[-1])))
    assert not marker.exists()
    with pytest.raises(ModelFileError, match="never unpickles"):
        load_torch_model(path)
    assert main(["crosscheck", "--model", str(path)]) == 2
    assert main(["import", str(path), "--out", str(tmp_path / "net.json")]) == 2
    assert not marker.exists() and not (tmp_path / "net.json").exists()
    assert "never unpickles" in capsys.readouterr().err


def test_whole_pickled_module_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="Unsupported global.*save model.state_dict"):
        load_torch_model(_saved(tmp_path, Net()))


def test_whole_pickled_module_error_names_it_and_drops_torchs_allow_list_advice(tmp_path):
    # torch's message suggests torch.serialization.add_safe_globals, which blockloop never uses
    with pytest.raises(ModelFileError) as info:
        load_torch_model(_saved(tmp_path, Net()))
    text = str(info.value)
    assert "add_safe_globals" not in text and "if you trust" not in text
    assert "whole model saved with torch.save(model)" in text


def test_cli_import_then_simulate_the_diagram_file(tmp_path, capsys):
    torch.manual_seed(2)
    net = Net(ni=2, nn=4, layers=1, no=3)
    path = _saved(tmp_path, net.state_dict(), "mine.pt")
    out = tmp_path / "net.json"
    assert main(["import", str(path), "--out", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert "nn.LSTM(2, 4, num_layers=1) → nn.Linear(4, 3)" in text and " NO" not in text
    from blockloop.io import load_diagram

    u = _u(ni=2)
    with torch.no_grad():
        expected = net(torch.from_numpy(u)[None])[0].numpy()
    np.testing.assert_allclose(load_diagram(out).simulate({"u": u}, Ts=0.1)["y"], expected, rtol=0, atol=1e-13)
    assert main(["import", str(path), "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["ni"], info["nn"], info["no"], info["layers"]) == (2, [4], 3, 1)
    assert main(["import", str(path), "--out", str(out), "--output", "y"]) == 2


def test_cli_crosscheck_model_pt(tmp_path, capsys):
    torch.manual_seed(3)
    path = _saved(tmp_path, Net().state_dict())
    assert main(["crosscheck", "--model", str(path), "--steps", "15", "--batch", "2", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] and rep["shapes"]["model"] == str(path)
    assert (rep["shapes"]["ni"], rep["shapes"]["nn"], rep["shapes"]["batch"]) == (3, [5, 5], 2)
    assert rep["float64"]["norm"] < rep["float64"]["tolerance"] < 1e-12
    assert main(["crosscheck", "--model", str(path), "--steps", "15", "--rtol", "0", "--atol", "1e-30"]) == 1
    assert main(["crosscheck", "--model", str(path), "--cell", "gru"]) == 2
    assert main(["crosscheck", "--model", str(tmp_path / "net.h5")]) == 2


def test_loops_draw_simulate_take_a_pt_file(tmp_path, capsys):
    torch.manual_seed(4)
    net = Net(ni=2, nn=3, layers=2, no=1)
    path = _saved(tmp_path, net.state_dict(), "mine.pt")
    u = _u(T=9, ni=2)
    np.save(tmp_path / "u.npy", u)
    assert main(["simulate", str(path), "--input", str(tmp_path / "u.npy"), "--out", str(tmp_path / "r.npz")]) == 0
    with torch.no_grad():
        expected = net(torch.from_numpy(u)[None])[0].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "r.npz")["y"], expected, rtol=0, atol=1e-13)
    assert main(["loops", str(path)]) == 0
    # two layers, each with its inner (cell) and outer (hidden) loop families
    assert "Feedback loops of 'mine'" in capsys.readouterr().out
    assert main(["draw", str(path), "--out", str(tmp_path / "d.dot")]) == 0
    assert (tmp_path / "d.dot").stat().st_size > 0
    assert main(["loops", str(path), "--nn", "3"]) == 2  # shape flags shape built-ins only
    bad = _saved(tmp_path, Net(bidirectional=True).state_dict(), "bi.pt")
    assert main(["loops", str(bad)]) == 2 and "_reverse" in capsys.readouterr().err
