"""The README's Python examples of the backends and gradients sections run, and say what they print.

(Issue 10 extends this to every block of the README and docs.)
"""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README section that starts with ``## heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {heading}")
    end = text.find("\n## ", start + 3)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def run(code: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)  # the project's own README, not user input
    return namespace


def test_backends_example(tmp_path, monkeypatch, capsys):
    (code,) = python_blocks("Two backends")
    ns = run(code, tmp_path, monkeypatch)
    assert capsys.readouterr().out.strip() == "True"
    assert np.abs(ns["fast"]["y"] - ns["ref"]["y"]).max() < 1e-12


def test_gradient_examples(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    grad_code, fit_code = python_blocks("Gradients through the diagram")
    ns = run(grad_code, tmp_path, monkeypatch)
    assert ns["r"].grads["lstm1/R.K"].shape == (20, 5) and ns["r"].backend == "compiled"
    ns = run(fit_code, tmp_path, monkeypatch)
    res = ns["res"]
    assert round(float(res.loss[0]), 2) == 2.06 and res.final_loss < 1e-20
    poles = np.sort_complex(np.linalg.eigvals(res.values["A.K"]))
    np.testing.assert_allclose(poles, np.sort_complex(np.linalg.eigvals(np.array(ns["true"][0]))), atol=1e-8)
