"""``import blockloop`` and ``blockloop --help`` load nothing heavy (issue 10); the public API is unchanged.

Checked on ``sys.modules`` in a fresh interpreter (deterministic, unlike a timing): networkx,
scipy, torch, matplotlib, python-control, numba and pandas are imported where they are used, not when
blockloop is imported. numpy is allowed.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("networkx", "scipy", "torch", "matplotlib", "control", "numba", "pandas")


def loaded_after(code: str) -> set[str]:
    """Top-level heavy packages in sys.modules after running ``code`` in a fresh interpreter."""
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}


def test_import_blockloop_is_light():
    assert loaded_after("import blockloop") == set()


def test_cli_help_and_version_are_light():
    code = ("import contextlib, io, blockloop.cli\n"
            "for argv in (['--help'], ['--version']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "        blockloop.cli.main(argv)")
    assert loaded_after(code) == set()


def test_diagram_needs_only_networkx():
    assert loaded_after("from blockloop import Diagram; Diagram('d')") == {"networkx"}


def test_blocks_need_only_numpy():
    assert loaded_after("from blockloop.blocks import Gain, Sigmoid, Sum, UnitDelay") == set()


def test_sigmoid_still_computes_with_scipy_loaded_on_use():
    code = ("import numpy as np\nfrom blockloop.blocks import Sigmoid\n"
            "(y,) = Sigmoid().output((np.array([[0.0, 800.0, -800.0]]),), None)\n"
            "assert y.tolist() == [[0.5, 1.0, 0.0]], y")
    assert "scipy" in loaded_after(code)


def test_public_names_still_import():
    import blockloop
    from blockloop import Diagram, Program, Result, compile_diagram, fit, flatten, gradient, simulate  # noqa: F401
    from blockloop.engine import Diagram as EngineDiagram

    assert blockloop.Diagram is EngineDiagram and Diagram is EngineDiagram
    assert set(blockloop.__all__) <= set(dir(blockloop))
    assert blockloop.engine.Diagram is EngineDiagram  # sub-packages are attributes, as before
    with pytest.raises(AttributeError, match="no attribute 'Diagramm'"):
        blockloop.Diagramm  # noqa: B018


@pytest.mark.parametrize("module", ["blockloop.autodiff", "blockloop.autodiff.gradient", "blockloop.compiled",
                                    "blockloop.engine.backends", "blockloop.study.training", "blockloop.viz.dot",
                                    "blockloop.io", "blockloop.interop.torch"])
def test_a_sub_package_imported_first_has_no_import_cycle(module):
    """``import blockloop`` no longer loads the engine first, so each entry point must stand on its own."""
    subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=True, timeout=120)
