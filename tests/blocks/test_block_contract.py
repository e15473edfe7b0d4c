"""Every library block honours the block contract: documented, rebuildable from params, feedthrough declared."""

import numpy as np
import pytest

from blockloop.blocks import BLOCK_TYPES

EXAMPLES = {
    "Constant": dict(value=[1.0, 2.0]),
    "Gain": dict(K=[[1.0, 2.0]]),
    "Sum": dict(signs="+-"),
    "Product": dict(n_inputs=3),
    "Sigmoid": {},
    "Tanh": {},
    "UnitDelay": dict(x0=[0.5, 0.25]),
    "Mux": dict(n_inputs=2),
    "Demux": dict(sizes=[1, 2], names=["a", "b"]),
    "Selector": dict(indices=[1, 0]),
    "Inport": dict(size=2),
    "Outport": {},
    "FromArray": dict(data=np.ones((3, 2))),
    "Probe": {},
}

# Expected (input, output) feedthrough pairs, by hand.
FEEDTHROUGH = {
    "Constant": set(), "Gain": {("u", "y")}, "Sum": {("u1", "y"), ("u2", "y")},
    "Product": {("u1", "y"), ("u2", "y"), ("u3", "y")}, "Sigmoid": {("u", "y")}, "Tanh": {("u", "y")},
    "UnitDelay": set(), "Mux": {("u1", "y"), ("u2", "y")}, "Demux": {("u", "a"), ("u", "b")},
    "Selector": {("u", "y")}, "Inport": set(), "Outport": set(), "FromArray": set(), "Probe": set(),
}


def test_every_block_type_has_an_example():
    assert set(EXAMPLES) == set(BLOCK_TYPES) == set(FEEDTHROUGH)


@pytest.mark.parametrize("name", sorted(BLOCK_TYPES))
def test_block_contract(name):
    cls = BLOCK_TYPES[name]
    block = cls(**EXAMPLES[name])
    doc = cls.__doc__ or ""
    assert "Ports" in doc or "Port" in doc, f"{name} docstring must describe its ports"
    assert set(block.feedthrough()) == FEEDTHROUGH[name]
    clone = cls(**block.params())
    for key, val in block.params().items():
        np.testing.assert_array_equal(np.asarray(clone.params()[key], dtype=object),
                                      np.asarray(val, dtype=object))
    with pytest.raises(TypeError):
        cls(**EXAMPLES[name], no_such_argument=1)
    assert block.has_state == (name == "UnitDelay")
