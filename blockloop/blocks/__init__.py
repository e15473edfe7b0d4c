"""The block library. Every block states its ports, direct feedthrough, state and rules.

``BLOCK_TYPES`` maps a type name (as written in diagram files) to its class.
"""

from types import MappingProxyType

from .base import Block, Lowering
from .discrete import UnitDelay
from .io import FromArray, Inport, Outport, Probe
from .math import Constant, Gain, Product, Sum
from .noise import GaussianNoise
from .nonlinear import Sigmoid, Tanh
from .routing import Demux, Mux, Selector

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
    "BLOCK_TYPES",
]

BLOCK_TYPES = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (Constant, Gain, Sum, Product, Sigmoid, Tanh, UnitDelay, Mux, Demux, Selector,
                    Inport, Outport, FromArray, Probe, GaussianNoise)
    }
)
