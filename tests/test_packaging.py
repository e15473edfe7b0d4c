"""The distribution carries its licence, its type marker (PEP 561) and a changelog."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_license_is_the_mit_text_the_pyproject_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert 'license = { text = "MIT" }' in pyproject()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the blockloop developers" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_py_typed_is_package_data():
    assert (ROOT / "blockloop" / "py.typed").is_file()
    assert re.search(r'^\[tool\.setuptools\.package-data\]\nblockloop = \["py\.typed"\]$', pyproject(), re.M)


def test_changelog_follows_keep_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject(), re.M).group(1)
    sections = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert sections[0] == "Unreleased" and version in sections
    kinds = set(re.findall(r"^### (\w+)$", text, re.M))
    assert kinds and kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_wheel_contains_py_typed_and_license(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "blockloop", src / "blockloop", ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("blockloop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "blockloop/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
