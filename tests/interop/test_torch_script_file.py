"""TorchScript archives (``torch.jit.save(torch.jit.script(model))``) as model files: read, mapped, refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from blockloop.cli import main  # noqa: E402
from blockloop.errors import ModelFileError  # noqa: E402
from blockloop.interop.torch_file import is_torchscript, load_torch_model  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, ni=3, nn=5, layers=2, no=2, **lstm_kw):
        super().__init__()
        self.lstm = torch.nn.LSTM(ni, nn, num_layers=layers, batch_first=True, dtype=torch.float64, **lstm_kw)
        self.drop = torch.nn.Dropout(0.2)
        self.fc = torch.nn.Linear(nn, no, dtype=torch.float64)

    def forward(self, x):
        return self.fc(self.drop(self.lstm(x)[0]))


class WithReLU(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
        self.fc = torch.nn.Linear(4, 2)
        self.act = torch.nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(self.lstm(x)[0]))


class WithGRU(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(3, 4, batch_first=True)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
        self.fc1 = torch.nn.Linear(4, 4)
        self.fc2 = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(self.fc1(self.lstm(x)[0]))


pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.s:DeprecationWarning")


def _scripted(tmp_path, model, name="model.pt"):
    path = tmp_path / name
    torch.jit.save(torch.jit.script(model.eval()), str(path))
    return path


def _u(T=12, ni=3):
    return np.random.default_rng(1).standard_normal((T, ni))


def test_a_scripted_lstm_and_linear_runs_like_the_module(tmp_path):
    torch.manual_seed(0)
    net = Net()
    path = _scripted(tmp_path, net)
    assert is_torchscript(path)
    w = load_torch_model(path)
    assert (w.ni, [layer.nn for layer in w.layers], w.no) == (3, [5, 5], 2)
    u = _u()
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(u)[None])[0].numpy()
    from blockloop.diagrams import lstm_network

    np.testing.assert_allclose(lstm_network(w).simulate({"u": u})["y"], expected, rtol=0, atol=1e-13)


class WithIdentity(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True, dtype=torch.float64)
        self.skip = torch.nn.Identity()
        self.fc = torch.nn.Linear(4, 2, dtype=torch.float64)

    def forward(self, x):
        return self.fc(self.skip(self.lstm(x)[0]))


def test_an_identity_module_is_read_as_the_identity(tmp_path):
    torch.manual_seed(2)
    net = WithIdentity()
    w = load_torch_model(_scripted(tmp_path, net, "identity.pt"))
    u = _u()
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(u)[None])[0].numpy()
    from blockloop.diagrams import lstm_network

    np.testing.assert_allclose(lstm_network(w).simulate({"u": u})["y"], expected, rtol=0, atol=1e-13)


def test_a_scripted_bare_lstm_gives_identity_head(tmp_path):
    torch.manual_seed(1)
    path = _scripted(tmp_path, torch.nn.LSTM(2, 3, num_layers=1), "bare.pth")
    w = load_torch_model(path)
    assert w.ni == 2 and w.no == 3 and np.array_equal(w.F, np.eye(3))


def test_a_state_dict_file_is_not_torchscript(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(Net().state_dict(), path)
    assert not is_torchscript(path) and not is_torchscript(tmp_path / "missing.pt")
    assert load_torch_model(path).ni == 3


@pytest.mark.parametrize("model, match", [
    (WithReLU, r"module 'act' \(ReLU\): a layer the diagram has no block for"),
    (WithGRU, r"module 'rnn' \(GRU\) has parameters \(weight_ih_l0.*neither an nn.LSTM nor an nn.Linear"),
    (TwoHeads, r"2 nn.Linear modules \('fc1', 'fc2'\)"),
    (lambda: Net(bidirectional=True), r"module 'lstm' \(LSTM\): a bidirectional nn.LSTM"),
    (lambda: Net(proj_size=2), r"module 'lstm' \(LSTM\): an nn.LSTM with proj_size = 2"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(3, 2)), r"0 nn.LSTM modules \(none\)"),
])
def test_unmappable_scripted_models_name_the_module_and_why(tmp_path, model, match):
    path = _scripted(tmp_path, model())
    with pytest.raises(ModelFileError, match=match) as info:
        load_torch_model(path)
    assert str(path) in str(info.value)


def test_a_damaged_archive_is_a_model_file_error(tmp_path):
    import zipfile

    path = _scripted(tmp_path, Net())
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():  # the module's record (data.pkl) replaced by bytes that are no pickle
            data = b"not a pickle" if item.filename.endswith("/data.pkl") else src.read(item)
            dst.writestr(item, data)
    assert is_torchscript(bad)
    with pytest.raises(ModelFileError, match=r"bad\.pt: not a readable TorchScript archive"):
        load_torch_model(bad)


def test_a_whole_pickled_model_is_still_refused_with_the_hint(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(Net(), path)
    with pytest.raises(ModelFileError, match=r"never unpickles.*torch\.jit\.save\(torch\.jit\.script\(model\)"):
        load_torch_model(path)


def test_cli_crosscheck_import_loops_draw_simulate_take_a_scripted_file(tmp_path, capsys):
    torch.manual_seed(3)
    net = Net(ni=2, nn=3, layers=2, no=1)
    path = _scripted(tmp_path, net, "mine.pt")
    assert main(["crosscheck", "--model", str(path), "--steps", "15", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] and (rep["shapes"]["ni"], rep["shapes"]["nn"]) == (2, [3, 3])
    out = tmp_path / "net.json"
    assert main(["import", str(path), "--out", str(out), "--check"]) == 0
    assert " NO" not in capsys.readouterr().out
    u = _u(T=9, ni=2)
    np.save(tmp_path / "u.npy", u)
    assert main(["simulate", str(path), "--input", str(tmp_path / "u.npy"), "--out", str(tmp_path / "r.npz")]) == 0
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(u)[None])[0].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "r.npz")["y"], expected, rtol=0, atol=1e-13)
    assert main(["loops", str(path)]) == 0
    assert main(["draw", str(path), "--out", str(tmp_path / "d.dot")]) == 0
    bad = _scripted(tmp_path, WithReLU(), "relu.pt")
    assert main(["loops", str(bad)]) == 2 and "module 'act' (ReLU)" in capsys.readouterr().err
