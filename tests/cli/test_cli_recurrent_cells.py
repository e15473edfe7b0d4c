"""`blockloop crosscheck --cell gru|rnn` and `blockloop loops/draw gru|rnn`: GRU and Elman RNN from the CLI."""

import json

import pytest

from blockloop.cli import main

pytest.importorskip("torch")


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_crosscheck_cell_agrees_with_torch(cell, capsys):
    assert main(["crosscheck", "--cell", cell, "--layers", "2", "--batch", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["float64"]["max_abs"] <= 1e-12
    assert out["float32"]["max_abs"] <= 5e-6


def test_crosscheck_cell_text_names_the_torch_module(capsys):
    assert main(["crosscheck", "--cell", "gru"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("GRU diagram vs torch.nn.GRU")
    assert "Simulink" not in text  # the reference's figure is about the LSTM


@pytest.mark.parametrize("extra", [["--against", "bdsim"], ["--per-gate"]])
def test_crosscheck_cell_refuses_lstm_only_options(extra, capsys):
    assert main(["crosscheck", "--cell", "rnn", *extra]) == 2
    assert "work with --cell lstm only" in capsys.readouterr().err


def test_loops_of_the_builtin_gru_and_rnn(capsys):
    assert main(["loops", "rnn", "--layers", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("h_delay → R → pre → tanh_h → h_delay") == 2  # one hidden loop per layer, by hand
    assert main(["loops", "gru"]) == 0
    text = capsys.readouterr().out
    assert "6 loops in 1 family" in text  # the leak loop and the five through R: the GRU's one family
    assert "h_delay → h_minus_n → z_h → h_sum → h_delay" in text


def test_draw_the_builtin_gru(tmp_path):
    out = tmp_path / "gru.svg"
    assert main(["draw", "gru", "--out", str(out), "--renderer", "mpl"]) == 0
    assert out.stat().st_size > 1000
