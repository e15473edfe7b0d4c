"""``blockloop import MODEL.onnx`` and ``blockloop crosscheck --model / --against onnx|keras|jax``."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from blockloop.cli import build_parser, main


def test_against_takes_several_libraries_and_keeps_bdsim():
    args = build_parser().parse_args(["crosscheck", "--against", "onnx", "keras", "--against", "jax"])
    assert args.against == ["onnx", "keras", "jax"]
    assert build_parser().parse_args(["crosscheck", "--against", "bdsim", "--json"]).against == ["bdsim"]
    assert build_parser().parse_args(["crosscheck"]).against is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["crosscheck", "--against", "tensorflow"])


def test_missing_extra_is_a_one_line_error(monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)    # as if the onnx extra were not installed
    assert main(["crosscheck", "--against", "onnx", "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'blockloop[onnx]'" in err


onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture
def model_file(tmp_path):
    from blockloop.diagrams import NetworkWeights
    from blockloop.interop.onnx import to_onnx

    path = tmp_path / "net2.onnx"
    to_onnx(NetworkWeights.random(ni=3, nn=4, no=2, n_layers=2, seed=1), path=path)
    return path


def test_import_writes_a_diagram_file_that_the_other_commands_read(model_file, tmp_path, capsys):
    from blockloop.io import load_diagram

    out = tmp_path / "net.json"
    assert main(["import", str(model_file), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "LSTM(4) → LSTM(4) → gain[2, 4]" in text and "wrote" in text
    u = np.random.default_rng(0).standard_normal((30, 2, 3))
    y = load_diagram(out).compile(dtype="float32").simulate({"u": u})["y"]
    sess = ort.InferenceSession(model_file.read_bytes(), providers=["CPUExecutionProvider"])
    y_ort = sess.run(None, {"u": u.astype(np.float32)})[0]                   # time-major [T, B, Ni]
    assert np.abs(y - y_ort).max() <= 5e-6
    assert main(["loops", str(out)]) == 0
    assert "lstm2/c_delay" in capsys.readouterr().out
    np.save(tmp_path / "u.npy", u)
    assert main(["simulate", str(out), "--input", str(tmp_path / "u.npy"), "--out", str(tmp_path / "r.npz")]) == 0


def test_import_check_and_json(model_file, tmp_path, capsys):
    assert main(["import", str(model_file), "--out", str(tmp_path / "n.json"), "--check", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["input_axes"] == ["time", "batch", "feature"] and info["stages"][0] == "LSTM(4)"
    assert info["crosscheck"]["ok"] and info["crosscheck"]["float32"]["norm"] <= 5e-6


def test_crosscheck_model_file(model_file, capsys):
    assert main(["crosscheck", "--model", str(model_file), "--batch", "2", "--steps", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["float64"]["norm"] <= 1e-12 and out["shapes"]["batch"] == 2
    assert out["model"]["stages"] == ["LSTM(4)", "LSTM(4)", "gain[2, 4]"]
    assert main(["crosscheck", "--model", str(model_file)]) == 0
    assert "float32 (ort)" in capsys.readouterr().out


def test_crosscheck_against_onnx(capsys):
    pytest.importorskip("torch")
    assert main(["crosscheck", "--against", "onnx", "--json", "--steps", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["onnx float64"]["norm"] <= 1e-12 and out["onnx float32"]["norm"] <= 5e-6 and out["ok"]
    assert out["float64"]["norm"] <= 1e-12                                  # the PyTorch comparison is still made


def test_bad_model_files_exit_2_naming_the_node(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["import", str(bad), "--out", str(tmp_path / "x.json")]) == 2
    assert "not an ONNX model" in capsys.readouterr().err
    from onnx import TensorProto, helper, numpy_helper

    H = 2
    W = numpy_helper.from_array(np.zeros((2, 4 * H, 1), np.float32), "W")
    R = numpy_helper.from_array(np.zeros((2, 4 * H, H), np.float32), "R")
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="encoder", hidden_size=H, direction="bidirectional")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "B", 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", 2, "B", H])], [W, R])
    bidi = tmp_path / "bidi.onnx"
    bidi.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
                     .SerializeToString())
    assert main(["crosscheck", "--model", str(bidi)]) == 2
    err = capsys.readouterr().err
    assert "'encoder' (LSTM)" in err and "bidirectional LSTM is not supported yet" in err
    assert main(["crosscheck", "--model", str(tmp_path / "model.h5")]) == 2
    assert "expected an ONNX file (.onnx) or a PyTorch file (.pt, .pth)" in capsys.readouterr().err
    assert main(["crosscheck", "--model", str(tmp_path / "model.pt")]) == 2  # .pt is read as a state_dict
    assert "model.pt: no such file" in capsys.readouterr().err
