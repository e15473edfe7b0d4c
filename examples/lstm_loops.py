"""See an LSTM's feedback loops: list them, then draw the diagram with the loops highlighted.

    python examples/lstm_loops.py [--out DIR]    # writes DIR/lstm.dot and DIR/lstm.png

One LSTM layer has an inner (cell) loop closed by ``c_delay`` and an outer (hidden) family of
four loops closed by ``h_delay``, one through each gate. Two stacked layers have two of each.
"""

import argparse
from pathlib import Path

from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.engine import feedback_loops
from blockloop.viz.render import write_picture

NAMES = {"c_delay": "cell", "h_delay": "hidden"}  # words for the loop labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for lstm.dot and lstm.png (default: .)")
    args = parser.parse_args(argv)

    net = lstm_network(NetworkWeights.random(ni=4, nn=3, no=2))
    report = feedback_loops(net, names=NAMES)
    for fam in report.families:
        print(f"{fam.label}: {len(fam.loops)} loop(s) closed by {', '.join(fam.delays)}")
        for loop in fam.loops:
            print(f"    {loop.describe(strip='lstm1/')}")

    two = feedback_loops(lstm_network(NetworkWeights.random(ni=4, nn=3, no=2, n_layers=2)), names=NAMES)
    print("two layers:", [(f.name, f.role, len(f.loops)) for f in two.families])

    args.out.mkdir(parents=True, exist_ok=True)
    for name, renderer in (("lstm.dot", "auto"), ("lstm.png", "mpl")):  # mpl: no Graphviz needed
        path, used = write_picture(net, args.out / name, renderer=renderer, highlight="all", names=NAMES)
        print(f"wrote {path} ({used})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
