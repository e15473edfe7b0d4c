"""The block library. Every block states its ports, direct feedthrough, state and rules.

``BLOCK_TYPES`` maps a type name (as written in diagram files) to its class.
"""

from types import MappingProxyType

from .base import Block, Lowering
from .discrete import UnitDelay
from .function import Function
from .io import FromArray, Inport, Outport, Probe
from .linear_systems import DiscreteIntegrator, DiscreteStateSpace, DiscreteTransferFunction
from .math import Constant, Gain, Product, Sum
from .mathfunction import MathFunction
from .matrix import MatrixProduct
from .noise import GaussianNoise
from .nonlinear import Sigmoid, Tanh
from .nonsmooth import Abs, DeadZone, MinMax, Saturation, Switch
from .routing import Demux, Mux, Selector
from .sources import Pulse, Ramp, Sine, Step

__all__ = [
    "Block",
    "Lowering",
    "Constant",
    "Gain",
    "Sum",
    "Product",
    "Sigmoid",
    "Tanh",
    "UnitDelay",
    "Mux",
    "Demux",
    "Selector",
    "Inport",
    "Outport",
    "FromArray",
    "Probe",
    "GaussianNoise",
    "Saturation",
    "DeadZone",
    "Abs",
    "Switch",
    "MinMax",
    "MathFunction",
    "MatrixProduct",
    "Step",
    "Ramp",
    "Sine",
    "Pulse",
    "DiscreteStateSpace",
    "DiscreteTransferFunction",
    "DiscreteIntegrator",
    "Function",
    "BLOCK_TYPES",
]

BLOCK_TYPES = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (Constant, Gain, Sum, Product, Sigmoid, Tanh, UnitDelay, Mux, Demux, Selector,
                    Inport, Outport, FromArray, Probe, GaussianNoise,
                    Saturation, DeadZone, Abs, Switch, MinMax, MathFunction, MatrixProduct, Step, Ramp, Sine, Pulse,
                    DiscreteStateSpace, DiscreteTransferFunction, DiscreteIntegrator)
    }
)
