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
    "GaussianNoise": dict(cov=[[2.0, 0.5], [0.5, 1.0]], seed=3, mean=[1.0, -1.0]),
}

# Expected (input, output) feedthrough pairs, by hand.
FEEDTHROUGH = {
    "Constant": set(), "Gain": {("u", "y")}, "Sum": {("u1", "y"), ("u2", "y")},
    "Product": {("u1", "y"), ("u2", "y"), ("u3", "y")}, "Sigmoid": {("u", "y")}, "Tanh": {("u", "y")},
    "UnitDelay": set(), "Mux": {("u1", "y"), ("u2", "y")}, "Demux": {("u", "a"), ("u", "b")},
    "Selector": {("u", "y")}, "Inport": set(), "Outport": set(), "FromArray": set(), "Probe": set(),
    "GaussianNoise": set(),
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


def test_every_library_block_has_a_compiled_op_and_its_adjoints():
    """docs/adding-a-block.md: the numpy rule, the lowering and the adjoints come together."""
    from blockloop.blocks import BLOCK_TYPES
    from blockloop.blocks.base import declares_with_rules
    from blockloop.compiled.opcodes import OPCODES

    structural = {"constant", "source", "sink", "split", "delay"}
    for name, cls in BLOCK_TYPES.items():
        assert "lowering" in vars(cls) or cls.__mro__[1].__name__ == "_Sink", f"{name} declares no lowering"
        if cls.is_time_source:
            continue  # inputs: nothing to differentiate through
        assert "output_vjp" in {a for c in cls.__mro__[:-1] for a in vars(c)}, f"{name} has no output_vjp"
        if cls.has_state:
            assert "update_vjp" in vars(cls), f"{name} has no update_vjp"
    example = {"Gain": dict(K=2.0), "Sum": {}, "Product": {}, "Sigmoid": {}, "Tanh": {}, "UnitDelay": {},
               "Mux": {}, "Demux": dict(sizes=[1]), "Selector": dict(indices=[0]), "Constant": dict(value=[1.0]),
               "Inport": {}, "Outport": {}, "Probe": {}, "FromArray": dict(data=[[1.0]]),
               "GaussianNoise": dict(cov=1.0)}
    assert set(example) == set(BLOCK_TYPES), "add the new block type here"
    for name, kwargs in example.items():
        block = BLOCK_TYPES[name](**kwargs)
        assert declares_with_rules(block, "lowering"), name
        op = block.lowering().op
        assert op in OPCODES or op in structural, f"{name}: unknown op {op!r}"
