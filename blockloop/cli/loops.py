"""``blockloop loops``: list a diagram's feedback loops, the delay that closes each, inner vs outer."""

from __future__ import annotations

import json
import logging

from ._diagram_source import add_diagram_arguments, diagram_from_args

__all__ = ["register", "run", "format_loops"]


def register(sub) -> None:
    p = sub.add_parser("loops", help="list the feedback loops of a diagram and the delays that break them",
                       description=__doc__)
    add_diagram_arguments(p)
    p.add_argument("--max-loops", type=int, default=10_000, metavar="N",
                   help="stop listing after N elementary loops (default 10000); the output then says so")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of loops: blocks, ports, delays, family, scc, role, label")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..engine.loops import feedback_loops

    diagram, words = diagram_from_args(args)
    library_log = logging.getLogger("blockloop.engine.loops")
    quiet = _NoWarnings()
    if not args.json:  # the listing says when it stopped (once); JSON keeps the warning on stderr
        library_log.addFilter(quiet)
    try:
        report = feedback_loops(diagram, max_loops=args.max_loops, names=words)
    finally:
        library_log.removeFilter(quiet)
    if args.json:
        print(json.dumps([loop.as_dict() for loop in report], indent=2, ensure_ascii=False))
    else:
        print(format_loops(report, diagram.name))
    return 0


class _NoWarnings(logging.Filter):
    """Drops WARNING records (feedback_loops' truncation notice, which the text listing repeats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.WARNING


def format_loops(report, name: str) -> str:
    """A readable listing: one paragraph per loop family, one line per loop."""
    n_scc = len({f.scc for f in report.families})
    lines = [f"Feedback loops of '{name}': {len(report)} loop{'s' if len(report) != 1 else ''} in "
             f"{len(report.families)} famil{'ies' if len(report.families) != 1 else 'y'}, "
             f"{n_scc} strongly connected component{'s' if n_scc != 1 else ''}"]
    if report.truncated:
        lines.append(f"(stopped at --max-loops {report.max_loops}: the list is incomplete)")
    if not report.families:
        lines.append("No feedback loops: every signal flows from the inputs to the outputs.")
    number = 0
    for fam in report.families:
        prefix = fam.delays[0].rsplit("/", 1)[0] + "/" if fam.delays and "/" in fam.delays[0] else ""
        closed = f"closed by {' and '.join(fam.delays)}" if fam.delays else \
            "NO delay: compile rejects it; insert a UnitDelay on one of its wires"
        where = f" (in {prefix.rstrip('/')})" if prefix else ""
        lines += ["", f"{fam.label} — family {fam.name}, component {fam.scc}: "
                      f"{len(fam.loops)} loop{'s' if len(fam.loops) != 1 else ''}, {closed}{where}"]
        for loop in fam.loops:
            number += 1
            lines.append(f"  {number:>3}. {loop.describe(strip=prefix)}")
    return "\n".join(lines)
