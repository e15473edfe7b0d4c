"""The examples in the core modules' docstrings and in ``docs/*.md`` run and do what they say.

Every ``python`` block of every file in ``docs/`` runs (in order, per file, in a temporary
folder); every ``blockloop …`` command of their shell blocks parses; every ``json`` block is JSON.
"""

import doctest
import importlib
import json

import numpy as np
import pytest
from markdown_examples import ROOT, check_shell_block, code_blocks, run_python_blocks

DOCS = sorted((ROOT / "docs").glob("*.md"))

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
    "blockloop.blocks.nonsmooth",
    "blockloop.blocks.mathfunction",
    "blockloop.blocks.matrix",
    "blockloop.blocks.sources",
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


def check_round_trip(ns, out):
    from blockloop.diagrams import NetworkWeights, lstm_network

    assert open("net.json", encoding="utf-8").read().lstrip().startswith("{") and open("net.npz", "rb").read(2) == b"PK"
    u = np.random.default_rng(0).standard_normal((20, 4))
    original = lstm_network(NetworkWeights.random(4, 3, 2)).simulate({"u": u})["y"]
    assert np.array_equal(ns["diagram"].simulate({"u": u})["y"], original)  # "bit-for-bit the same results"


DOC_CHECKS = {"diagram-format.md": {'diagram = load_diagram("net.json")': check_round_trip}}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_python_blocks_run(path, tmp_path):
    report = run_python_blocks(path, tmp_path, DOC_CHECKS.get(path.name, {}))
    assert not report.skipped, report.skipped
    assert len(report.ran) == len(code_blocks(path, "python"))
    assert report.checked == set(DOC_CHECKS.get(path.name, {}))


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_shell_commands_parse_and_json_blocks_load(path):
    for block in code_blocks(path, "bash", "sh", "shell", "console"):
        assert check_shell_block(block), f"{block.where}: a shell block without a blockloop command"
    for block in code_blocks(path, "json"):
        json.loads(block.code)


def test_docs_have_code_to_run():
    assert sum(len(code_blocks(p, "python")) for p in DOCS) >= 1
    assert sum(len(code_blocks(p, "sh", "bash")) for p in DOCS) >= 1
