"""Pictures stay clean on random diagrams: nested subsystems, feedback across their borders, fan-out."""

from __future__ import annotations

import collections
import dataclasses
import doctest
import importlib

import networkx as nx
import pytest
from geometry import violations
from random_diagrams import random_diagram

from blockloop import flatten
from blockloop.viz.layout import CAPTION, COLUMN_GAP, ROW_GAP
from blockloop.viz.routing import layout_diagram

SEEDS = range(120)


@pytest.fixture(scope="module")
def laid_out():
    """Seed → (layout, flattened graph), computed once for the whole module."""
    out = {}
    for seed in SEEDS:
        flat = flatten(random_diagram(seed))
        out[seed] = layout_diagram(flat), flat
    return out


def test_the_same_seed_gives_the_same_diagram():
    def wires(seed):
        return [str(w) for w in random_diagram(seed).wires()]

    assert wires(3) == wires(3)
    assert wires(3) != wires(4)


def _depth(flat) -> int:
    return max(sub.count("/") + 1 if sub else 0 for _, sub in flat.nodes(data="subsystem"))


def test_the_corpus_covers_nesting_feedback_and_every_block_kind(laid_out):
    depths = collections.Counter(_depth(flat) for _, flat in laid_out.values())
    assert set(depths) == {0, 1, 2, 3}
    kinds = {b.type_name for _, flat in laid_out.values() for _, b in flat.nodes(data="block")}
    assert {"Gain", "Sum", "Product", "Sigmoid", "Tanh", "UnitDelay", "Mux", "Demux"} <= kinds
    assert any(len(b.inputs) == 5 for _, flat in laid_out.values() for _, b in flat.nodes(data="block")
               if b.type_name == "Sum")
    crossing = 0  # diagrams with a feedback loop through blocks of different subsystems
    for _, flat in laid_out.values():
        loops = [c for c in nx.strongly_connected_components(nx.DiGraph(flat)) if len(c) > 1]
        crossing += any(len({flat.nodes[n]["subsystem"] for n in c}) > 1 for c in loops)
    assert crossing >= len(SEEDS) // 4


@pytest.mark.parametrize("seed", SEEDS)
def test_random_layout_is_clean(laid_out, seed):
    lay, flat = laid_out[seed]
    assert sorted((r.src, r.src_port, r.dst, r.dst_port) for r in lay.routes) == sorted(
        (a, e["src_port"], b, e["dst_port"]) for a, b, e in flat.edges(data=True))
    assert violations(lay, flat) == []


WIDTH_FACTOR = 3.0  # measured on seeds 0-199 and the fixed corpus: at most 2.8, median 1.15
HEIGHT_FACTOR = 3.0  # measured: at most 2.5, median 1.4


def _scopes_of(group: str) -> list[str]:
    parts = group.split("/") if group else []
    return ["/".join(parts[: k + 1]) for k in range(len(parts))]


def picture_size_bound(lay) -> tuple[float, float]:
    """Reference width and height of a layout, from its block sizes alone.

    Width: the columns side by side (the widest box of each, plus a column gap). Height: the
    fullest column, where a subsystem counts as one item over all the columns it spans, as tall
    as its own fullest column plus a frame's border and title (frames that share a column must
    come one under the other). Wires, return lanes and alignment are what the factors allow for.
    """
    blocks = [b for b in lay.boxes.values() if not b.dummy]
    cols = collections.defaultdict(list)
    for b in blocks:
        cols[b.layer].append(b)
    width = sum(max(b.w for b in bs) for bs in cols.values()) + COLUMN_GAP * (len(cols) + 1)
    paths = {s for b in blocks for s in _scopes_of(b.group)}

    def height(scope: str) -> float:
        load = collections.defaultdict(float)
        for b in blocks:
            if b.group == scope:
                load[b.layer] += b.h + CAPTION + ROW_GAP
        for child in (p for p in paths if p.rpartition("/")[0] == scope):
            span = [b.layer for b in blocks if child in _scopes_of(b.group)]
            for c in range(min(span), max(span) + 1):
                load[c] += height(child) + 0.6
        return max(load.values())

    return width, height("")


@pytest.mark.parametrize("seed", SEEDS)
def test_random_pictures_stay_compact(laid_out, seed):
    lay, _ = laid_out[seed]
    x0, y0, x1, y1 = lay.bounds
    width, height = picture_size_bound(lay)
    assert x1 - x0 <= WIDTH_FACTOR * width
    assert y1 - y0 <= HEIGHT_FACTOR * height


def test_the_size_bound_catches_a_spread_out_picture(laid_out):
    lay, _ = laid_out[0]
    x0, y0, x1, y1 = lay.bounds
    width, height = picture_size_bound(lay)
    spread = dataclasses.replace(lay, bounds=(x0, y0, x0 + 4 * (x1 - x0), y0 + 4 * (y1 - y0)))
    boxes = {n: dataclasses.replace(b, x=4 * b.x, y=4 * b.y) for n, b in lay.boxes.items()}
    assert picture_size_bound(dataclasses.replace(spread, boxes=boxes)) == (width, height)
    sx0, sy0, sx1, sy1 = spread.bounds
    assert sx1 - sx0 > WIDTH_FACTOR * width and sy1 - sy0 > HEIGHT_FACTOR * height


@pytest.mark.parametrize("module", ["layout", "routing", "stacking"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"blockloop.viz.{module}")
    failures, tried = doctest.testmod(mod)
    assert tried > 0 and failures == 0
