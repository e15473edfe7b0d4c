"""The ONNX, Keras and JAX bridges import their libraries only when used (``import blockloop`` stays light)."""

import json
import subprocess
import sys

HEAVY = ("onnx", "onnxruntime", "onnxscript", "keras", "jax", "jaxlib", "flax", "torch", "tensorflow")


def test_bridges_and_cli_import_no_deep_learning_library():
    code = ("import sys, json, blockloop.interop.onnx, blockloop.interop.keras, blockloop.interop.jax, "
            "blockloop.cli.import_model, blockloop.cli.crosscheck_libraries, blockloop.cli\n"
            "blockloop.cli.build_parser()\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.splitlines()[-1]) == []
