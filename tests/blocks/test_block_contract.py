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
    "Saturation": dict(lower=-0.5, upper=2.0),
    "DeadZone": dict(start=-1.0, end=0.5),
    "Abs": {},
    "Switch": dict(threshold=0.5, criterion=">"),
    "MinMax": dict(function="max", n_inputs=3),
    "MathFunction": dict(function="log"),
    "MatrixProduct": dict(m=2, k=3, n=4),
    "Step": dict(step_time=3, initial=1.0, final=-2.0),
    "Ramp": dict(slope=0.5, start=2, initial=1.0),
    "Sine": dict(amplitude=2.0, frequency=0.1, phase=0.5, bias=-1.0),
    "Pulse": dict(amplitude=3.0, period=5, width=2, delay=1),
}

EXAMPLES.update({  # stateful linear systems (blockloop.blocks.linear_systems)
    "DiscreteStateSpace": dict(A=[[0.5, 0.1], [0.0, 0.8]], B=[[1.0], [0.5]], C=[[1.0, 0.0]], D=[[0.2]], x0=[0.1, 0.2]),
    "DiscreteTransferFunction": dict(num=[0.0, 1.0], den=[1.0, -0.5], x0=0.3),
    "DiscreteIntegrator": dict(K=2.0, Ts=0.1, method="backward", x0=[1.0, 2.0]),
})
#: Block types with a state (initial_state, update, state_size).
STATEFUL = {"UnitDelay", "DiscreteStateSpace", "DiscreteTransferFunction", "DiscreteIntegrator"}

# Expected (input, output) feedthrough pairs, by hand.
FEEDTHROUGH = {
    "Constant": set(), "Gain": {("u", "y")}, "Sum": {("u1", "y"), ("u2", "y")},
    "Product": {("u1", "y"), ("u2", "y"), ("u3", "y")}, "Sigmoid": {("u", "y")}, "Tanh": {("u", "y")},
    "UnitDelay": set(), "Mux": {("u1", "y"), ("u2", "y")}, "Demux": {("u", "a"), ("u", "b")},
    "Selector": {("u", "y")}, "Inport": set(), "Outport": set(), "FromArray": set(), "Probe": set(),
    "GaussianNoise": set(),
    "Saturation": {("u", "y")}, "DeadZone": {("u", "y")}, "Abs": {("u", "y")},
    "Switch": {("u1", "y"), ("control", "y"), ("u2", "y")}, "MinMax": {("u1", "y"), ("u2", "y"), ("u3", "y")},
    "MathFunction": {("u", "y")}, "MatrixProduct": {("u1", "y"), ("u2", "y")},
    "Step": set(), "Ramp": set(), "Sine": set(), "Pulse": set(),
}

FEEDTHROUGH.update({"DiscreteStateSpace": {("u", "y")}, "DiscreteTransferFunction": set(),
                    "DiscreteIntegrator": {("u", "y")}})


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
    assert block.has_state == (name in STATEFUL)


def test_every_library_block_has_a_compiled_op_and_its_adjoints():
    """docs/adding-a-block.md: the numpy rule, the lowering and the adjoints come together."""
    from blockloop.blocks import BLOCK_TYPES
    from blockloop.blocks.base import declares_with_rules
    from blockloop.compiled.opcodes import OPCODES

    structural = {"constant", "source", "sink", "split", "delay"}
    for name, cls in BLOCK_TYPES.items():
        # sinks and generated sources inherit their structural op ("sink", "source": rows logged, samples copied)
        assert "lowering" in vars(cls) or cls.__mro__[1].__name__ in ("_Sink", "_Source"), \
            f"{name} declares no lowering"
        if cls.is_time_source:
            continue  # inputs: nothing to differentiate through
        assert "output_vjp" in {a for c in cls.__mro__[:-1] for a in vars(c)}, f"{name} has no output_vjp"
        if cls.has_state:
            assert "update_vjp" in vars(cls), f"{name} has no update_vjp"
    example = {"Gain": dict(K=2.0), "Sum": {}, "Product": {}, "Sigmoid": {}, "Tanh": {}, "UnitDelay": {},
               "Mux": {}, "Demux": dict(sizes=[1]), "Selector": dict(indices=[0]), "Constant": dict(value=[1.0]),
               "Inport": {}, "Outport": {}, "Probe": {}, "FromArray": dict(data=[[1.0]]),
               "GaussianNoise": dict(cov=1.0), "Saturation": {}, "DeadZone": {}, "Abs": {}, "Switch": {},
               "MinMax": {}, "MathFunction": {}, "MatrixProduct": dict(m=1, k=1, n=1), "Step": {}, "Ramp": {},
               "Sine": {}, "Pulse": {}}
    example.update({"DiscreteStateSpace": dict(A=0.5, B=1.0, C=1.0), "DiscreteIntegrator": {},
                    "DiscreteTransferFunction": dict(num=[1.0, 0.5], den=[1.0, -0.2])})
    assert set(example) == set(BLOCK_TYPES), "add the new block type here"
    for name, kwargs in example.items():
        block = BLOCK_TYPES[name](**kwargs)
        assert declares_with_rules(block, "lowering"), name
        op = block.lowering().op
        assert op in OPCODES or op in structural, f"{name}: unknown op {op!r}"


def test_output_sizes_gets_every_input_port_with_none_when_unknown():
    # Block.output_sizes documents "the input sizes known so far (None = not known yet)", but
    # Diagram.connect and size inference called it with {}: a user block reading in_sizes["u"]
    # crashed with a bare KeyError inside connect().
    from blockloop import Diagram
    from blockloop.blocks import Block, Inport, Outport

    seen = []

    class Doubler(Block):
        def __init__(self):
            self.inputs, self.outputs = ("u",), ("y",)

        def params(self):
            return {}

        def output_sizes(self, in_sizes):
            seen.append(dict(in_sizes))
            n = in_sizes["u"]
            return {"y": None if n is None else n}

        def output(self, u, x):
            return (2.0 * u[0],)

    d = Diagram("user")
    d.add("u", Inport(3)); d.add("k", Doubler()); d.add("y", Outport())
    d.chain("u", "k", "y")
    y = d.simulate({"u": np.ones((2, 3))}, backend="interpreter")["y"]
    np.testing.assert_array_equal(y, 2.0 * np.ones((2, 3)))
    assert {"u": None} in seen and {"u": 3} in seen and all(set(s) == {"u"} for s in seen)
