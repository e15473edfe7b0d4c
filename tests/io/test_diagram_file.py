"""Diagram files: exact round trips, reproducible bytes, and a located error for every malformed file."""

import doctest
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from blockloop.blocks import (
    BLOCK_TYPES,
    Abs,
    Block,
    Constant,
    DeadZone,
    Demux,
    FromArray,
    Gain,
    GaussianNoise,
    Inport,
    MathFunction,
    MatrixProduct,
    MinMax,
    Mux,
    Outport,
    Probe,
    Product,
    Pulse,
    Ramp,
    Saturation,
    Selector,
    Sigmoid,
    Sine,
    Step,
    Sum,
    Switch,
    Tanh,
    UnitDelay,
)
from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_network
from blockloop.engine import Diagram
from blockloop.errors import DiagramFileError, ParameterError
from blockloop.io import arrays_path, decode_diagram, encode_diagram, load_diagram, save_diagram

DOC = Path(__file__).resolve().parents[2] / "docs" / "diagram-format.md"
PROBES = ["lstm1/sig_f.y", "lstm1/c_sum.y", "lstm2/h_delay.y"]


def _network(dtype):
    w = NetworkWeights.random(ni=4, nn=3, no=2, n_layers=2, seed=7)
    layers = tuple(LayerWeights(*(np.asarray(getattr(lw, k), dtype=dtype) for k in ("W", "R", "b", "h0", "c0")))
                   for lw in w.layers)
    return lstm_network(NetworkWeights(layers=layers, F=w.F.astype(dtype), F_bias=np.arange(2.0).astype(dtype)))


def _add_all(diagram, blocks):
    for name, block in blocks:
        diagram.add(name, block)
    return diagram


def _levels(dtype):
    """Subsystem ``level1`` (a feedback accumulator) holding subsystem ``level2`` (gates and a Probe)."""
    level2 = _add_all(Diagram("level2"), [("p", Inport(3)), ("s", Sigmoid()), ("t", Tanh()), ("m", Product(2)),
                                          ("pr", Probe()), ("o", Outport())])
    level2.chain("p", "s", "m.u1")
    level2.chain("p", "t", "m.u2")
    level2.connect("m", "pr")
    level2.connect("m", "o")
    level1 = _add_all(Diagram("level1"), [("a", Inport()), ("g", Gain(np.asarray(0.5, dtype))), ("acc", Sum("++")),
                                          ("z", UnitDelay(np.asarray([0.1, 0.2, 0.3], dtype))), ("deep", level2),
                                          ("out", Outport())])
    level1.chain("a", "g", "acc.u1")
    level1.connect("z", "acc.u2")
    level1.chain("acc", "z")
    level1.chain("acc", "deep.p")
    level1.chain("deep.o", "out")
    return level1


def _control():
    """Subsystem ``ctl``: the non-smooth and math blocks, a matrix product and the four sources."""
    ctl = _add_all(Diagram("ctl"), [
        ("a", Inport(2)), ("sat", Saturation(-0.5, 0.75)), ("dz", DeadZone(-0.1, 0.2)), ("ab", Abs()),
        ("sw", Switch(0.3, ">")), ("mm", MinMax("max", 2)), ("ex", MathFunction("exp")),
        ("mp", MatrixProduct(1, 2, 1)), ("st", Step(2, 0.0, 1.0)), ("rp", Ramp(0.25, 1)), ("sn", Sine(1.0, 0.1)),
        ("pl", Pulse(2.0, 3, 1)), ("srcs", Mux(4)), ("sg", Selector([0, 1])), ("out", Outport()),
        ("ps", Probe())])
    ctl.chain("a", "sat", "dz", "ab", "sw.control")
    ctl.connect("a", "sw.u1"); ctl.connect("sat", "sw.u2")
    ctl.connect("sw", "mm.u1"); ctl.connect("sg", "mm.u2"); ctl.chain("mm", "ex", "mp.u1"); ctl.connect("a", "mp.u2")
    for j, name in enumerate(("st", "rp", "sn", "pl"), start=1):
        ctl.connect(name, f"srcs.u{j}")
    ctl.chain("srcs", "sg"); ctl.connect("srcs", "ps"); ctl.connect("mp", "out")
    return ctl


def _linear(dtype):
    """The stateful linear systems in a subsystem: a 2-vector → state space → transfer function → integrator."""
    from blockloop.blocks import DiscreteIntegrator, DiscreteStateSpace, DiscreteTransferFunction

    f = np.asarray
    lin = _add_all(Diagram("lin"), [
        ("a", Inport(2)),
        ("ss", DiscreteStateSpace(f([[0.5, 0.1], [0.0, 0.3]], dtype), f([[1.0, 0.0], [0.0, 1.0]], dtype),
                                  f([[1.0, -1.0]], dtype), f([[0.0, 0.25]], dtype), x0=f([0.1, 0.2], dtype))),
        ("tf", DiscreteTransferFunction(f([0.0, 0.5, 0.25], dtype), f([1.0, -0.3], dtype), x0=f([0.1, 0.0], dtype))),
        ("int", DiscreteIntegrator(K=f(2.0, dtype), Ts=0.5, method="backward", x0=f([0.3], dtype))),
        ("out", Outport())])
    lin.chain("a", "ss", "tf", "int", "out")
    return lin


def _every_block(dtype=np.float64):
    """Every library block type, Demux names, a Selector, FromArray, subsystems two levels deep."""
    rng = np.random.default_rng(3)
    top = _add_all(Diagram("top"), [
        ("u", Inport(2)), ("src", FromArray(rng.standard_normal((8, 3)).astype(dtype))),
        ("c", Constant(np.asarray([0.5, -1.0], dtype))), ("mux", Mux(2)),
        ("dmx", Demux([1, 3], names=["first", "rest"])), ("sel", Selector([2, 0, 0])),
        ("kv", Gain(np.asarray([1.0, 2.0, 3.0], dtype))), ("diff", Sum("+-")), ("sub", _levels(dtype)),
        ("km", Gain(rng.standard_normal((2, 3)).astype(dtype))), ("pf", Probe()), ("y", Outport()),
        ("first", Outport()), ("noise", GaussianNoise([[1.0, 0.2], [0.2, 0.5]], seed=5, mean=[0.1, 0.0])),
        ("pn", Probe()), ("ctl", _control()), ("yc", Outport())])
    top.connect("noise", "pn")
    top.connect("u", "ctl.a")
    top.connect("ctl.out", "yc")
    top.add("lin", _linear(dtype)); top.add("yl", Outport())
    top.connect("u", "lin.a"); top.connect("lin.out", "yl")
    top.connect("u", "mux.u1")
    top.connect("c", "mux.u2")
    top.chain("mux", "dmx.u")
    top.chain("dmx.rest", "sel", "kv", "diff.u1")
    top.connect("src", "diff.u2")
    top.chain("diff", "sub.a")
    top.chain("sub.out", "km", "y")
    top.connect("dmx.first", "pf")
    top.connect("dmx.first", "first")
    return top


def _types(diagram):
    out = set()
    for block in diagram.blocks.values():
        out |= _types(block) if isinstance(block, Diagram) else {block.type_name}
    return out


def _same_results(a, b):
    assert a.t.tolist() == b.t.tolist()
    assert list(a.signals) == list(b.signals)
    for name in a.signals:
        assert a[name].dtype == b[name].dtype
        assert np.array_equal(a[name], b[name]), name  # bit for bit, not approximately


def test_every_block_type_is_covered():
    assert _types(_every_block()) == set(BLOCK_TYPES)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_network_round_trip_is_bit_exact(tmp_path, dtype):
    net = _network(dtype)
    loaded = load_diagram(save_diagram(net, tmp_path / "net.json"))
    u = np.random.default_rng(0).standard_normal((40, 3, 4))
    for sim_dtype in ("float64", "float32"):
        kw = dict(Ts=0.1, probes=PROBES)
        _same_results(net.compile(dtype=sim_dtype).simulate({"u": u}, **kw),
                      loaded.compile(dtype=sim_dtype).simulate({"u": u}, **kw))
    assert loaded.blocks["lstm2"].blocks["W"].K.dtype == np.dtype(dtype)
    assert loaded.blocks["lstm1"].name == "lstm1" and loaded.name == net.name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_block_round_trip(tmp_path, dtype):
    d = _every_block(dtype)
    loaded = load_diagram(save_diagram(d, tmp_path / "all.json"))
    doc, arrays = encode_diagram(d)
    doc2, arrays2 = encode_diagram(loaded)
    assert doc == doc2 and list(arrays) == list(arrays2)
    for key, arr in arrays.items():
        assert arr.dtype == arrays2[key].dtype and np.array_equal(arr, arrays2[key]), key
    assert loaded.blocks["dmx"].outputs == ("first", "rest")
    u = np.random.default_rng(1).standard_normal((8, 2))
    probes = ["sub/deep/m.y", "sub/z.y", "sel.y", "sub/deep/s.u"]
    _same_results(d.simulate({"u": u}, probes=probes), loaded.simulate({"u": u}, probes=probes))
    assert "sub/deep/pr" in loaded.simulate({"u": u}).probes


def test_saving_twice_gives_identical_bytes(tmp_path):
    p = save_diagram(_every_block(), tmp_path / "a.json")
    first = (p.read_bytes(), arrays_path(p).read_bytes())
    save_diagram(load_diagram(p), p)
    assert (p.read_bytes(), arrays_path(p).read_bytes()) == first


def test_json_is_readable_and_diffable(tmp_path):
    text = save_diagram(_network("float64"), tmp_path / "net.json").read_text()
    doc = json.loads(text)
    assert list(doc) == sorted(doc) and doc["schema_version"] == 1 and doc["format"] == "blockloop-diagram"
    assert '    {"from": "u.y", "to": "lstm1.x"},\n' in text  # one wire per line
    assert '"K": {"$array": "lstm1/W/K", "dtype": "float64", "shape": [12, 4]}' in text
    assert [b["name"] for b in doc["blocks"]] == ["u", "lstm1", "lstm2", "F", "F_bias", "fc", "y"]
    npz = np.load(arrays_path(tmp_path / "net.json"), allow_pickle=False)
    assert "lstm2/h_delay/x0" in npz.files and npz["lstm1/W/K"].shape == (12, 4)


def test_hand_written_file_with_inline_parameters(tmp_path):
    doc = {"format": "blockloop-diagram", "schema_version": 1, "name": "gain",
           "blocks": [{"name": "u", "type": "Inport", "params": {"size": 2}},
                      {"name": "k", "type": "Gain", "params": {"K": [[1, 2], [3, 4]]}},
                      {"name": "y", "type": "Outport"}],
           "wires": [{"from": "u", "to": "k"}, {"from": "k", "to": "y"}]}
    (tmp_path / "g.json").write_text(json.dumps(doc))
    d = load_diagram(tmp_path / "g.json")  # no .npz needed: nothing references it
    assert d.simulate({"u": [[1.0, 1.0]]})["y"].tolist() == [[3.0, 7.0]]


# -- malformed files ---------------------------------------------------------------------------

def _saved(tmp_path, diagram=None):
    p = save_diagram(diagram or _network("float64"), tmp_path / "net.json")
    return p, json.loads(p.read_text())


def _rewrite(p, doc):
    p.write_text(json.dumps(doc, indent=2))
    return p


def _error(p) -> str:
    with pytest.raises(DiagramFileError) as info:
        load_diagram(p)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def _lstm1(doc):
    return doc["blocks"][1]["diagram"]


def test_unknown_block_type_names_the_place(tmp_path):
    p, doc = _saved(tmp_path)
    _lstm1(doc)["blocks"][7]["type"] = "Sigmoidd"
    msg = _error(_rewrite(p, doc))
    assert 'blocks[1] ("lstm1").diagram.blocks[7] ("sig_f").type' in msg
    assert "unknown block type 'Sigmoidd'" in msg and "did you mean 'Sigmoid'" in msg


def test_type_names_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    p, doc = _saved(tmp_path)
    doc["blocks"][3]["type"] = f"__import__('os').system('touch {marker}')"
    msg = _error(_rewrite(p, doc))
    assert 'blocks[3] ("F").type' in msg and "unknown block type" in msg
    assert not marker.exists()


def test_missing_field(tmp_path):
    p, doc = _saved(tmp_path)
    del doc["blocks"][3]["type"]
    assert 'blocks[3] ("F"): missing field "type"' in _error(_rewrite(p, doc))
    p, doc = _saved(tmp_path)
    del _lstm1(doc)["wires"]
    assert 'blocks[1] ("lstm1").diagram: missing field "wires"' in _error(_rewrite(p, doc))
    p, doc = _saved(tmp_path)
    del doc["blocks"][1]["diagram"]
    assert 'blocks[1] ("lstm1"): missing field "diagram"' in _error(_rewrite(p, doc))


def test_unknown_field_and_wrong_json_type(tmp_path):
    p, doc = _saved(tmp_path)
    doc["blocks"][3]["parms"] = {}
    msg = _error(_rewrite(p, doc))
    assert "blocks[3] (\"F\"): unknown field 'parms'" in msg and "name, type, params" in msg
    p, doc = _saved(tmp_path)
    doc["blocks"] = {"u": 1}
    assert "blocks: expected a list, got an object" in _error(_rewrite(p, doc))


def test_gain_with_3d_array_is_reported_at_the_parameter(tmp_path):
    d = Diagram("g")
    d.add("k", Gain(np.ones((2, 2))))
    p, doc = _saved(tmp_path, d)
    np.savez(arrays_path(p), **{"k/K": np.ones((2, 2, 2))})
    doc["blocks"][0]["params"]["K"]["shape"] = [2, 2, 2]
    msg = _error(_rewrite(p, doc))
    assert 'blocks[0] ("k").params.K: Gain K: expected a scalar, vector or matrix, got shape (2, 2, 2)' in msg


def test_npz_and_json_disagree_on_shape_or_dtype(tmp_path):
    p, doc = _saved(tmp_path)
    arrays = dict(np.load(arrays_path(p)))
    np.savez(arrays_path(p), **{**arrays, "lstm1/W/K": np.ones((4, 4))})
    msg = _error(p)
    assert 'blocks[1] ("lstm1").diagram.blocks[1] ("W").params.K' in msg
    assert "shape (4, 4) in the .npz but [12, 4] in the JSON" in msg
    np.savez(arrays_path(p), **{**arrays, "F/K": arrays["F/K"].astype(np.int64)})
    msg = _error(p)
    assert 'blocks[3] ("F").params.K' in msg and "dtype int64" in msg


def test_array_missing_from_npz(tmp_path):
    p, doc = _saved(tmp_path)
    arrays = dict(np.load(arrays_path(p)))
    del arrays["lstm1/c_delay/x0"]
    np.savez(arrays_path(p), **arrays)
    msg = _error(p)
    assert 'blocks[1] ("lstm1").diagram.blocks[15] ("c_delay").params.x0' in msg
    assert "'lstm1/c_delay/x0' is missing from the .npz" in msg


def test_npz_missing_corrupt_or_pickled(tmp_path):
    p, _ = _saved(tmp_path)
    npz = arrays_path(p)
    npz.unlink()
    assert f"{npz}: cannot read the arrays file" in _error(p)
    npz.write_bytes(b"PK\x03\x04 this is not a zip archive")
    assert f"{npz}: corrupt arrays file" in _error(p)
    npz.write_bytes(b"garbage that numpy would try to unpickle")
    assert "no zip signature" in _error(p)
    save_diagram(_network("float64"), p)
    npz.write_bytes(npz.read_bytes()[:300])  # truncated
    assert f"{npz}: corrupt arrays file" in _error(p)
    np.save(tmp_path / "one.npy", np.ones(3))
    npz.write_bytes((tmp_path / "one.npy").read_bytes())
    assert "not an .npz archive" in _error(p)
    np.savez(npz, **{"F/K": np.array([{"a": 1}], dtype=object)})
    assert "Python objects" in _error(p)


def test_dangling_wires(tmp_path):
    p, doc = _saved(tmp_path)
    doc["wires"][1]["to"] = "G.u"
    msg = _error(_rewrite(p, doc))
    assert 'wires[1] ("lstm1.h" → "G.u")' in msg and "no block named 'G'" in msg
    p, doc = _saved(tmp_path)
    _lstm1(doc)["wires"][1]["to"] = "gates.u9"
    msg = _error(_rewrite(p, doc))
    assert 'blocks[1] ("lstm1").diagram.wires[1] ("W.y" → "gates.u9")' in msg and "no input port 'u9'" in msg


def test_newer_schema_version(tmp_path):
    p, doc = _saved(tmp_path)
    doc["schema_version"] = 3
    msg = _error(_rewrite(p, doc))
    assert "schema_version: written by a newer blockloop: schema 3 > 2; upgrade" in msg


def test_truncated_json_reports_line_and_column(tmp_path):
    p, _ = _saved(tmp_path)
    text = p.read_text()
    p.write_text(text[: len(text) // 2])
    msg = _error(p)
    assert "invalid or truncated JSON at line" in msg and "column" in msg and str(p) in msg


def test_wrong_top_level_and_format(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    assert "(top level): expected an object" in _error(p) and "got a list" in _error(p)
    p.write_text(json.dumps({"format": "something-else", "schema_version": 1, "name": "x", "blocks": [],
                             "wires": []}))
    assert "format: not a blockloop diagram" in _error(p)
    assert "cannot read the diagram file" in _error(tmp_path / "absent.json")


def test_constructor_errors_become_located_file_errors(tmp_path):
    p, doc = _saved(tmp_path)
    _lstm1(doc)["blocks"][4]["params"]["signs"] = "+*+"
    assert 'blocks[1] ("lstm1").diagram.blocks[4] ("gates").params.signs: Sum signs' in _error(_rewrite(p, doc))
    p, doc = _saved(tmp_path)
    del _lstm1(doc)["blocks"][5]["params"]["sizes"]
    msg = _error(_rewrite(p, doc))
    assert '("split").params: missing parameter [\'sizes\']; Demux takes [\'sizes\', \'names\']' in msg
    p, doc = _saved(tmp_path)
    doc["blocks"][0]["params"]["width"] = 3
    assert "blocks[0] (\"u\").params: unknown parameter ['width']" in _error(_rewrite(p, doc))


def test_duplicate_block_and_inconsistent_port_lists(tmp_path):
    p, doc = _saved(tmp_path)
    doc["blocks"][3]["name"] = "u"
    assert 'blocks[3] ("u"): diagram \'lstm_net\' already has a block named \'u\'' in _error(_rewrite(p, doc))
    p, doc = _saved(tmp_path)
    doc["outputs"] = ["z"]
    assert "outputs[0]: lists ['z'] but the diagram's output blocks are ['y']" in _error(_rewrite(p, doc))


# -- saving ------------------------------------------------------------------------------------

class _Custom(Block):
    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {}


def test_save_rejects_what_no_file_could_rebuild(tmp_path):
    d = Diagram("c")
    d.add("mine", _Custom())
    with pytest.raises(ParameterError, match="cannot save block 'mine'.*not a library block"):
        save_diagram(d, tmp_path / "c.json")
    with pytest.raises(ParameterError, match="ending in .json"):
        save_diagram(Diagram("x"), tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())


# -- documentation -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["blockloop.io.diagram_file", "blockloop.io._decode", "blockloop.io._npz"])
def test_docstring_examples(name):
    failures, tried = doctest.testmod(importlib.import_module(name))
    assert tried > 0 and failures == 0


def test_format_document_example_loads():
    example = re.search(r"```json\n(.*?)```", DOC.read_text(), re.S).group(1)
    d = decode_diagram(json.loads(example), {"lstm1/W/K": np.zeros((12, 4))})
    assert d.inputs == ("u",) and d.blocks["lstm1"].outputs == ("h",)
    assert [str(a) for a, _ in d.blocks["lstm1"].wires()] == ["x.y", "W.y"]


def test_saving_a_bare_block_asks_for_a_diagram(tmp_path):
    from blockloop.blocks import Gain
    from blockloop.errors import ParameterError
    from blockloop.io import save_diagram

    with pytest.raises(ParameterError, match="expected a Diagram to save, got Gain"):
        save_diagram(Gain(2.0), tmp_path / "g.json")
