"""The ``blockloop`` command line: one module per sub-command, each with ``register(subparsers)``.

Registering imports nothing heavy (choices that live in the library are :class:`~._args.LazyChoices`,
each command imports what it needs when it runs), so ``blockloop --help`` and ``--version`` are quick.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..errors import BlockloopError

__all__ = ["main", "version"]

# Sub-command modules (blockloop.cli.<name>), in the order ``--help`` lists them.
COMMANDS = ("reproduce", "seeds", "sweep", "crosscheck", "approx", "loops", "draw", "simulate", "kalman",
            "import_model")


def version() -> str:
    """The installed distribution's version (``importlib.metadata``), else ``blockloop.__version__``.

    The fallback covers running from a source tree that was never installed.
    """
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("blockloop")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


class _VersionAction(argparse.Action):
    """``--version``: print ``blockloop X.Y.Z`` on stdout and exit 0 (the version is looked up only then)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"blockloop {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blockloop",
        description="Discrete-time block diagrams with explicit feedback loops, checked against PyTorch "
                    "and bdsim; and the study of how well an LSTM approximates a linear system.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action=_VersionAction, help="print blockloop's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 success, 1 a check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.run(args) or 0)
    except BlockloopError as exc:
        print(f"blockloop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file to read or write: missing folder, no permission, disk full
        print(f"blockloop {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
