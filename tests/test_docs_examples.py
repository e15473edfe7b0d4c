"""The examples in the core modules' docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "blockloop.engine.diagram",
    "blockloop.engine.flatten",
    "blockloop.engine.port_graph",
    "blockloop.engine.compile",
    "blockloop.diagrams.weights",
    "blockloop.diagrams.lstm",
    "blockloop.diagrams.examples",
    "blockloop.autodiff.parameters",
    "blockloop.autodiff.losses",
    "blockloop.autodiff.gradient",
    "blockloop.autodiff.train",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0, f"{name} has no examples"
    assert failures == 0


def test_interop_torch_examples():
    pytest.importorskip("torch")
    module = importlib.import_module("blockloop.interop.torch")
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def test_import_blockloop_does_not_import_torch_or_matplotlib():
    import subprocess
    import sys

    code = "import sys, blockloop, blockloop.diagrams, blockloop.engine; " \
           "print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
