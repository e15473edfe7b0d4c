"""``blockloop draw``: a picture of a diagram (.dot, .svg, .png, .pdf) with its feedback loops coloured.

.dot is always written (text). .svg/.png/.pdf use the built-in matplotlib renderer (right-angle
wires, feedback on return lanes); ``--renderer dot`` uses Graphviz instead. ``--depth N`` draws
subsystems nested deeper than N levels as one block each (``--depth 0``: a 3-layer network as
three blocks).
"""

from __future__ import annotations

import logging

from ._args import LazyChoices
from ._diagram_source import add_diagram_arguments, diagram_from_args

__all__ = ["register", "run"]

logger = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("draw", help="draw a diagram to .dot/.svg/.png/.pdf with its loops highlighted",
                       description=__doc__)
    add_diagram_arguments(p)
    p.add_argument("--out", "-o", required=True, metavar="FILE",
                   help="output file; the suffix picks the format: .dot, .svg, .png or .pdf")
    p.add_argument("--highlight", choices=LazyChoices("blockloop.viz.style", "HIGHLIGHTS"), default="all",
                   metavar="WHICH", help="colour the inner loops, the outer loops, all (default) or none; "
                                         "algebraic loops are coloured unless 'none'")
    p.add_argument("--renderer", choices=LazyChoices("blockloop.viz.render", "RENDERERS"), default="auto",
                   metavar="NAME", help="auto (default: the built-in matplotlib renderer), mpl, or dot (Graphviz)")
    p.add_argument("--depth", type=_depth, default=None, metavar="N",
                   help="draw subsystems deeper than N levels as one block each (0: every subsystem)")
    p.add_argument("--no-sizes", action="store_true", help="do not write signal sizes on the wires")
    p.set_defaults(run=run)


def _depth(text: str) -> int:
    """``--depth``: an integer ≥ 0."""
    import argparse

    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text!r}")
    return int(text)


def run(args) -> int:
    from ..viz.dot import dot_program
    from ..viz.render import write_picture

    diagram, words = diagram_from_args(args)
    path, used = write_picture(diagram, args.out, renderer=args.renderer, highlight=args.highlight,
                               names=words, sizes=not args.no_sizes, depth=args.depth)
    how = {"text": "as Graphviz DOT text", "dot": f"with Graphviz ({dot_program()})", "mpl": "with matplotlib"}[used]
    logger.info("renderer: %s", used)
    print(f"wrote {path} {how}")
    return 0
