"""Pictures stay clean on any diagram: geometric checks on a corpus, and the checker itself checked."""

from __future__ import annotations

import dataclasses

import pytest
from corpus import corpus, five_input_sum, nested_loop
from geometry import SEPARATION, segments, violations

from blockloop import Diagram, ParameterError, flatten
from blockloop.blocks import Inport, Outport
from blockloop.blocks.base import Block
from blockloop.cli import main
from blockloop.viz import dot as dotmod
from blockloop.viz import draw_mpl, layout
from blockloop.viz.collapse import collapse
from blockloop.viz.draw_mpl import branch_points, draw_diagram
from blockloop.viz.render import choose_renderer, fit_width, picture_svg, write_picture
from blockloop.viz.routing import Layout, Route, layout_diagram
from blockloop.viz.style import Glyph

CORPUS = corpus()


@pytest.fixture(scope="module")
def lstm_layout():
    d = CORPUS["lstm1"]
    return layout_diagram(d), flatten(d)


def test_corpus_has_at_least_ten_diagrams():
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_layout_is_clean(name):
    flat = flatten(CORPUS[name])
    lay = layout_diagram(flat)
    assert len(segments(lay)) >= flat.number_of_edges()
    assert sorted((r.src, r.src_port, r.dst, r.dst_port) for r in lay.routes) == sorted(
        (a, e["src_port"], b, e["dst_port"]) for a, b, e in flat.edges(data=True))
    assert violations(lay, flat) == []


@pytest.mark.parametrize("name", ["lstm3", "pid", "nested"])
def test_collapsed_layouts_are_clean(name):
    flat = flatten(collapse(CORPUS[name], 0))
    assert violations(layout_diagram(flat), flat) == []


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_nested_loop_wires_keep_apart_at_every_depth(depth):
    flat = flatten(collapse(nested_loop(), depth))
    lay = layout_diagram(flat)
    assert violations(lay, flat) == []
    if depth == 1:  # the wires that once ran 0.025 apart over a stretch of the channel before c/f
        into = next(r for r in lay.routes if (r.src, r.dst) == ("err", "c/f"))
        out = next(r for r in lay.routes if (r.src, r.dst) == ("c/sat", "G"))
        assert abs(into.points[-1][1] - out.points[0][1]) >= SEPARATION


def test_layout_keeps_wires_at_least_the_checker_separation_apart():
    assert layout.WIRE_SEP >= SEPARATION


def _with_route(lay, i, points):
    routes = list(lay.routes)
    routes[i] = dataclasses.replace(routes[i], points=tuple(points))
    return dataclasses.replace(lay, routes=tuple(routes))


def test_checker_catches_a_diagonal_wire(lstm_layout):
    lay, flat = lstm_layout
    r = lay.routes[0]
    broken = _with_route(lay, 0, [r.points[0], (r.points[0][0] + 1.0, r.points[0][1] + 1.0)])
    assert [v for v in violations(broken, flat) if v.startswith("diagonal")]


def test_checker_catches_a_wire_through_a_block(lstm_layout):
    lay, flat = lstm_layout
    b = lay.boxes["lstm1/gates"]
    through = [(b.x - 2.0, b.y), (b.x + 2.0, b.y)]
    found = violations(_with_route(lay, 0, through), flat)
    assert any(v.startswith("crosses") and "lstm1/gates" in v for v in found)


def test_checker_catches_two_nets_on_one_line(lstm_layout):
    lay, flat = lstm_layout
    i, j = next((i, j) for i, r in enumerate(lay.routes) for j, s in enumerate(lay.routes)
                if (r.src, r.src_port) != (s.src, s.src_port) and len(s.points) >= 4)
    other = lay.routes[j].points
    found = violations(_with_route(lay, i, [other[1], other[2]]), flat)
    assert any(v.startswith("shared") for v in found)


def test_checker_catches_two_nets_side_by_side(lstm_layout):
    lay, flat = lstm_layout
    i, j = next((i, j) for i, r in enumerate(lay.routes) for j, s in enumerate(lay.routes)
                if (r.src, r.src_port) != (s.src, s.src_port) and len(s.points) >= 4)
    (x0, y0), (x1, y1) = lay.routes[j].points[1:3]
    dx, dy = (0.04, 0.0) if abs(x0 - x1) < 1e-9 else (0.0, 0.04)  # beside it, 0.04 off, same stretch
    found = violations(_with_route(lay, i, [(x0 + dx, y0 + dy), (x1 + dx, y1 + dy)]), flat)
    assert any(v.startswith("close") for v in found)


@pytest.mark.parametrize(("gap", "shift", "close"), [(0.02, 0.0, True), (SEPARATION - 0.01, 0.5, True),
                                                     (SEPARATION, 0.0, False), (0.02, 1.2, False)])
def test_checker_separation_needs_a_common_stretch(gap, shift, close):
    a = Route("a", "y", "p", "u", ((0.0, 0.0), (1.0, 0.0)))
    b = Route("b", "y", "q", "u", ((shift, gap), (shift + 1.0, gap)))
    lay = Layout(boxes={}, routes=(a, b), frames=(), bounds=(0.0, 0.0, 2.0, 1.0))
    assert bool(violations(lay, None)) == close
    turned = Layout(boxes={}, routes=tuple(dataclasses.replace(r, points=tuple((y, x) for x, y in r.points))
                                           for r in (a, b)), frames=(), bounds=lay.bounds)
    assert bool(violations(turned, None)) == close


def test_checker_catches_a_block_in_a_foreign_frame(lstm_layout):
    lay, flat = lstm_layout
    (frame,) = lay.frames
    boxes = dict(lay.boxes)
    boxes["u"] = dataclasses.replace(boxes["u"], x=(frame.x0 + frame.x1) / 2, y=(frame.y0 + frame.y1) / 2)
    found = violations(dataclasses.replace(lay, boxes=boxes), flat)
    assert "frame: u lies in the frame of lstm1" in found
    boxes = dict(lay.boxes)
    boxes["lstm1/b"] = dataclasses.replace(boxes["lstm1/b"], x=frame.x0 - 3.0)
    assert "frame: lstm1/b is not inside its frame lstm1" in violations(dataclasses.replace(lay, boxes=boxes), flat)


def test_return_wires_stay_under_their_blocks_and_signals_split_at_dots():
    lay = layout_diagram(CORPUS["state_space"])
    dots = branch_points(lay)
    assert dots  # u feeds B and D; the state feeds A, C and the Outport x
    for x, y in dots:
        nets = {(r.src, r.src_port) for r in lay.routes if (x, y) in r.points}
        assert len(nets) == 1


def test_tall_sum_writes_a_sign_next_to_each_input():
    d = five_input_sum()
    fig = draw_diagram(d)
    lay = layout_diagram(d)
    box = lay.boxes["s"]
    assert box.h > box.w  # grows with its inputs
    signs = [t for t in fig.axes[0].texts if t.get_text() in "+−" and t.get_text()]
    ports = [box.port("in", k, 5)[1] for k in range(5)]
    assert sorted(t.get_position()[1] for t in signs) == pytest.approx(ports)
    assert "".join(t.get_text() for t in sorted(signs, key=lambda t: t.get_position()[1])) == "++−+−"


def test_depth_collapses_subsystems_to_one_block_each(tmp_path, capsys):
    net = CORPUS["lstm3"]
    full, small = draw_diagram(net), draw_diagram(net, depth=0)
    assert small.get_figwidth() < full.get_figwidth() / 3
    texts = {t.get_text() for t in small.axes[0].texts}
    assert {"lstm1", "lstm2", "lstm3"} <= texts
    assert set(flatten(collapse(net, 1))) == set(flatten(net))
    path, used = write_picture(net, tmp_path / "net.png", depth=0)
    assert used == "mpl" and path.stat().st_size > 1000
    assert main(["draw", "lstm", "--layers", "3", "--depth", "0", "-o", str(tmp_path / "n.svg")]) == 0
    svg = (tmp_path / "n.svg").read_text()
    assert ">lstm2<" in svg and "h_delay" not in svg
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["draw", "lstm", "--depth", "-1", "-o", str(tmp_path / "x.svg")])
    with pytest.raises(ParameterError, match="depth"):
        draw_diagram(net, depth=-1)
    with pytest.raises(ParameterError, match="flattened"):
        collapse(flatten(net), 0)


def test_matplotlib_is_the_default_even_with_graphviz(monkeypatch):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: "/usr/bin/dot")
    assert choose_renderer("auto") == "mpl" and choose_renderer("dot") == "dot"


def test_svg_keeps_text_and_fits_the_cell_width():
    svg = picture_svg(CORPUS["accumulator"])
    head = svg[svg.index("<svg"):svg.index(">", svg.index("<svg"))]
    assert 'width="100%"' in head and "viewBox" in head and "height=" not in head
    assert "<text" in svg and ">acc<" in svg
    assert fit_width('<svg width="10pt" height="5pt" viewBox="0 0 10 5"></svg>') == (
        '<svg width="100%" style="max-width: 10pt" viewBox="0 0 10 5"></svg>')


class Mystery(Block):
    """A block type the renderer has no glyph for. Ports: ``u`` → ``y``."""

    def __init__(self):
        self.inputs, self.outputs = ("u",), ("y",)

    def params(self):
        return {}

    def output_sizes(self, in_sizes):
        return {"y": in_sizes.get("u")}


def test_block_types_without_a_glyph_are_labelled_boxes(monkeypatch):
    d = Diagram("mystery")
    d.add("u", Inport(1))
    d.add("m", Mystery())
    d.add("y", Outport())
    d.chain("u", "m", "y")
    assert "Mystery" in {t.get_text() for t in draw_diagram(d).axes[0].texts}
    odd = Glyph("saturation", "sat")  # a shape name the renderer does not know yet
    for module in (layout, draw_mpl):
        monkeypatch.setattr(module, "glyph", lambda block, g=odd: odd if block.type_name == "Mystery" else
                            _real_glyph(block))
    assert layout.box_size(Mystery()) == (0.78, 0.5)
    assert "sat" in {t.get_text() for t in draw_diagram(d).axes[0].texts}


def _real_glyph(block):
    from blockloop.viz.style import glyph

    return glyph(block)
