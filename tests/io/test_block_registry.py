"""User block types in diagram files: registered by name, never imported from what a file says."""

import numpy as np
import pytest

from blockloop import Diagram
from blockloop.blocks import Block, Function, Gain, Inport, Outport
from blockloop.errors import DiagramFileError, ParameterError
from blockloop.io import load_diagram, register_block_type, save_diagram, unregister_block_type


class Leaky(Block):
    """Ports: input u, output y = a·u + b (elementwise); a an array, b a plain number."""

    def __init__(self, a, b=0.0):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = float(b)
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {"a": self.a, "b": self.b}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}

    def output(self, u, x):
        return (self.a * u[0] + self.b,)


class LeakyVariant(Leaky):
    """A subclass may compute something else: not saved under its parent's name."""


@pytest.fixture
def registered():
    register_block_type("Leaky", Leaky)
    yield
    unregister_block_type("Leaky")


def diagram(block):
    d = Diagram("user")
    d.add("u", Inport(2)); d.add("l", block); d.add("y", Outport())
    d.chain("u", "l", "y")
    return d


def test_round_trip_of_a_registered_type(tmp_path, registered):
    path = save_diagram(diagram(Leaky([0.5, -2.0], b=1.5)), tmp_path / "user.json")
    assert '"type": "Leaky"' in path.read_text()
    loaded = load_diagram(path)
    block = loaded.blocks["l"]
    assert type(block) is Leaky and block.b == 1.5
    np.testing.assert_array_equal(block.a, [0.5, -2.0])
    u = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(loaded.simulate({"u": u}, backend="interpreter")["y"], 0.5 * u * [1, -4] + 1.5)


def test_unregistered_type_in_a_file_is_a_clear_error_with_the_hint(tmp_path, registered):
    path = save_diagram(diagram(Leaky([1.0, 1.0])), tmp_path / "user.json")
    unregister_block_type("Leaky")
    with pytest.raises(DiagramFileError, match=r"unknown block type 'Leaky'.*register_block_type\(name, cls\)"):
        load_diagram(path)


def test_a_file_cannot_name_a_module_to_import(tmp_path):
    path = tmp_path / "evil.json"
    path.write_text('{"format": "blockloop-diagram", "schema_version": 1, "name": "e", "wires": [], '
                    '"blocks": [{"name": "x", "type": "os.system", "params": {}}]}')
    with pytest.raises(DiagramFileError, match="unknown block type 'os.system'"):
        load_diagram(path)


def test_saving_an_unregistered_class_or_a_subclass_is_refused(tmp_path, registered):
    with pytest.raises(ParameterError, match=r"not a library block.*register_block_type\('LeakyVariant', cls\)"):
        save_diagram(diagram(LeakyVariant([1.0, 1.0])), tmp_path / "v.json")


def test_registration_errors():
    with pytest.raises(ParameterError, match="'Gain' is a library block type"):
        register_block_type("Gain", Leaky)
    with pytest.raises(ParameterError, match="'Diagram' is a library block type"):
        register_block_type("Diagram", Leaky)
    with pytest.raises(ParameterError, match="is a library block type"):
        register_block_type("MyGain", Gain)
    with pytest.raises(ParameterError, match="subclass of blockloop.blocks.Block"):
        register_block_type("Thing", dict)
    with pytest.raises(ParameterError, match="never carries code"):
        register_block_type("Fn", Function)
    with pytest.raises(ParameterError, match="identifier"):
        register_block_type("my block", Leaky)
    register_block_type("Leaky", Leaky)
    try:
        register_block_type("Leaky", Leaky)  # again: no-op
        with pytest.raises(ParameterError, match="already registered to"):
            register_block_type("Leaky", LeakyVariant)
        with pytest.raises(ParameterError, match="already registered as 'Leaky'"):
            register_block_type("Leaky2", Leaky)
    finally:
        unregister_block_type("Leaky")
