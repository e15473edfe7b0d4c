"""``blockloop --version``: the installed distribution's version, else the package's ``__version__``."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import blockloop
from blockloop import cli

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pyproject_version() -> str:
    return re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.M).group(1)


def test_version_flag_prints_the_project_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"blockloop {pyproject_version()}\n"


def test_package_version_matches_pyproject():
    assert blockloop.__version__ == pyproject_version()


def test_falls_back_to_the_package_version_when_not_installed(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    monkeypatch.setattr(blockloop, "__version__", "9.9.9-source")
    assert cli.version() == "9.9.9-source"


def test_console_script():
    out = subprocess.run([sys.executable, "-m", "blockloop", "--version"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == f"blockloop {pyproject_version()}"
