"""The fenced code blocks of the project's Markdown files, for the tests that run them.

* A ``python`` block runs as written: a file's blocks run in order, in one namespace, in a
  temporary folder, each with its own captured stdout. Tracebacks point at the Markdown file and
  line. A block is left out only when its first line reads ``# not run by the tests: <reason>``
  (visible to the reader too); a block that needs a missing optional extra (torch, bdsim, numba)
  is reported as skipped.
* A ``bash``/``sh`` block's ``blockloop …`` commands are parsed by the real argument parser
  (:func:`blockloop.cli.build_parser`): the sub-command and every flag must exist and every value
  must convert. ``python examples/NAME.py`` commands must name a script that exists.

Running the project's own documentation is the point here; nothing else is executed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```([\w+-]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
SKIP = re.compile(r"\A# not run by the tests: (\S.*)$", re.M)
OPTIONAL_EXTRAS = frozenset({"torch", "bdsim", "numba"})
SHELLS = ("bash", "sh", "shell", "console")
CONTROL_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its file, language tag, the line of its first code line, and its text."""

    path: Path
    lang: str
    line: int
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        match = SKIP.match(self.code)
        return match.group(1) if match else None


def code_blocks(path: Path, *langs: str) -> list[CodeBlock]:
    """The fenced blocks of ``path`` whose language tag is one of ``langs`` (all when none given)."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if not langs or m.group(1) in langs:
            out.append(CodeBlock(path, m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2)))
    return out


@dataclass
class Report:
    """What :func:`run_python_blocks` did: blocks run, skipped (with the reason) and checks applied."""

    ran: list[str]
    skipped: dict[str, str]
    checked: set[str]


def run_python_blocks(path: Path, folder: Path, checks: Mapping[str, Callable[[dict, str], None]]) -> Report:
    """Run every ``python`` block of ``path`` in order in one namespace, with ``folder`` as cwd.

    ``checks`` maps a piece of text to a check: the one block containing it is checked right
    after it ran, with the namespace and what the block printed. A key that matches no block, or
    several, is an error (the README changed under the test).
    """
    blocks = code_blocks(path, "python")
    for key in checks:
        hits = [b.where for b in blocks if key in b.code]
        if len(hits) != 1:
            raise AssertionError(f"check key {key!r} matches {len(hits)} python blocks of {path.name}: {hits}")
    namespace: dict = {"__name__": "__markdown__"}
    report = Report(ran=[], skipped={}, checked=set())
    with _cwd(folder):
        for block in blocks:
            if block.skip_reason:
                report.skipped[block.where] = block.skip_reason
                continue
            stdout = io.StringIO()
            # Padding keeps the Markdown file's line numbers in tracebacks.
            code = compile("\n" * (block.line - 1) + block.code, str(block.path), "exec")
            try:
                with contextlib.redirect_stdout(stdout):
                    exec(code, namespace)  # the project's own documentation, not user input
            except ModuleNotFoundError as exc:
                if (exc.name or "").split(".")[0] not in OPTIONAL_EXTRAS:
                    raise
                report.skipped[block.where] = f"needs the optional {exc.name}"
                continue
            report.ran.append(block.where)
            for key, check in checks.items():
                if key in block.code:
                    check(namespace, stdout.getvalue())
                    report.checked.add(key)
    return report


@contextlib.contextmanager
def _cwd(folder: Path):
    """``contextlib.chdir`` for Python 3.10."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def shell_commands(block: CodeBlock) -> list[list[str]]:
    """The simple commands of a shell block as argument lists (continuations joined, comments dropped)."""
    commands = []
    for line in block.code.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in CONTROL_OPERATORS:
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [c for c in commands if c]


def check_shell_block(block: CodeBlock) -> list[str]:
    """Parse every ``blockloop …`` command of ``block``; return them. Raises AssertionError naming a bad one."""
    from blockloop.cli import build_parser

    checked = []
    for argv in shell_commands(block):
        if argv[0] == "blockloop":
            stderr = io.StringIO()
            try:
                with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                    build_parser().parse_args(argv[1:])
            except SystemExit as exc:
                raise AssertionError(f"{block.where}: `{shlex.join(argv)}` does not parse "
                                     f"(exit {exc.code}): {stderr.getvalue().strip()}") from None
            checked.append(shlex.join(argv))
        elif argv[0].startswith("python") and len(argv) > 1 and argv[1].startswith("examples/"):
            if not (ROOT / argv[1]).is_file():
                raise AssertionError(f"{block.where}: `{shlex.join(argv)}`: no such script {argv[1]}")
            checked.append(shlex.join(argv))
    return checked
