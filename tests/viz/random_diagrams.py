"""Random block diagrams for the picture tests: nested subsystems, feedback, fan-out, deterministic seeds.

:func:`random_diagram` builds, from an integer seed, a diagram of scalar signals made of Gains,
Sums (2–5 inputs), Products, Sigmoids, Tanhs, Mux/Demux pairs and subsystems nested up to
``max_depth`` levels. Some inputs are left open while blocks are added; at the end each is fed,
through a UnitDelay, by an output of a block added later (or by a subsystem's output), so
feedback loops close across subsystem boundaries. The same seed always gives the same diagram.
"""

from __future__ import annotations

import random

from blockloop import Diagram
from blockloop.blocks import Demux, Gain, Inport, Mux, Outport, Product, Sigmoid, Sum, Tanh, UnitDelay

__all__ = ["random_diagram"]

_KINDS = ("gain", "gain", "sum", "sum", "product", "sigmoid", "tanh", "mux")


def random_diagram(seed: int, max_depth: int = 3) -> Diagram:
    """The diagram of ``seed``: top level with 1–2 inputs and 1–2 outputs, subsystems 0–``max_depth`` deep.

    >>> a, b = random_diagram(7), random_diagram(7)
    >>> [str(w) for w in a.wires()] == [str(w) for w in b.wires()]
    True
    """
    rng = random.Random(seed)
    depth = rng.randint(0, max_depth)  # how deep this diagram may nest
    return _build(rng, f"r{seed}", depth, rng.randint(1, 2), rng.randint(1, 2), top=True)


def _build(rng: random.Random, name: str, depth: int, n_in: int, n_out: int, top: bool = False) -> Diagram:
    d = Diagram(name)
    outs = []
    for i in range(n_in):
        d.add(f"in{i + 1}", Inport(1))
        outs.append(f"in{i + 1}.y")
    open_inputs: list[tuple[str, int]] = []  # (input port, number of outputs existing when it was made)
    n_blocks = rng.randint(4, 9) if top else rng.randint(2, 6)
    subs = 0
    for i in range(n_blocks):
        if depth > 0 and subs < 3 and rng.random() < (0.45 if top else 0.3):
            ins, new = _subsystem(rng, d, f"sub{i}", depth - 1)
            subs += 1
        else:
            ins, new = _leaf(rng, d, f"b{i}")
        for port in ins:
            if rng.random() < 0.25 and outs:
                open_inputs.append((port, len(outs)))
            else:  # prefer recent outputs: wires mostly go left to right over a few columns
                d.connect(outs[max(0, len(outs) - 1 - int(rng.expovariate(0.5)))], port)
        outs += new
    for j, (port, made) in enumerate(open_inputs):
        later = outs[made:] or outs
        z = f"z{j}"
        d.add(z, UnitDelay(0.0))
        d.connect(rng.choice(later), f"{z}.u")
        d.connect(f"{z}.y", port)
    tails = outs[-n_out:] if len(outs) >= n_out else outs * n_out
    for k in range(n_out):
        d.add(f"out{k + 1}", Outport())
        d.connect(tails[k], f"out{k + 1}")
    return d


def _subsystem(rng, d: Diagram, name: str, depth: int) -> tuple[list[str], list[str]]:
    n_in, n_out = rng.randint(1, 2), rng.randint(1, 2)
    d.add(name, _build(rng, name, depth, n_in, n_out))
    return [f"{name}.in{k + 1}" for k in range(n_in)], [f"{name}.out{k + 1}" for k in range(n_out)]


def _leaf(rng, d: Diagram, name: str) -> tuple[list[str], list[str]]:
    kind = rng.choice(_KINDS)
    if kind == "gain":
        d.add(name, Gain(round(rng.uniform(-2.0, 2.0), 2)))
        return [f"{name}.u"], [f"{name}.y"]
    if kind in ("sigmoid", "tanh"):
        d.add(name, Sigmoid() if kind == "sigmoid" else Tanh())
        return [f"{name}.u"], [f"{name}.y"]
    if kind == "sum":
        n = rng.randint(2, 5)
        d.add(name, Sum("".join(rng.choice("+-") for _ in range(n))))
        return [f"{name}.u{k + 1}" for k in range(n)], [f"{name}.y"]
    if kind == "product":
        d.add(name, Product(2))
        return [f"{name}.u1", f"{name}.u2"], [f"{name}.y"]
    n = rng.randint(2, 3)  # a Mux and the Demux that splits its vector again
    d.add(name, Mux(n))
    d.add(f"{name}_d", Demux([1] * n))
    d.connect(f"{name}.y", f"{name}_d.u")
    return [f"{name}.u{k + 1}" for k in range(n)], [f"{name}_d.y{k + 1}" for k in range(n)]
