"""The matplotlib renderer and its layout: works without Graphviz, places loops as return lanes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from blockloop import Diagram, ParameterError, flatten
from blockloop.blocks import Inport, Outport, Sum
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.diagrams.examples import accumulator, algebraic_loop, delay_line, small_lstm
from blockloop.viz import dot as dotmod
from blockloop.viz.draw_mpl import diagram_svg, draw_diagram, save_diagram_image
from blockloop.viz.layout import layered_grid, loop_delays
from blockloop.viz.render import choose_renderer, picture_svg, write_picture
from blockloop.viz.routing import layout_diagram

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lstm():
    return small_lstm()


@pytest.fixture(scope="module")
def lay(lstm):
    return layout_diagram(lstm)


@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: None)


def test_png_svg_pdf_without_graphviz(lstm, tmp_path, no_graphviz):
    png = save_diagram_image(lstm, tmp_path / "lstm.png")
    data = png.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000
    svg = save_diagram_image(lstm, tmp_path / "lstm.svg", highlight="outer").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert save_diagram_image(lstm, tmp_path / "lstm.pdf").read_bytes().startswith(b"%PDF")
    path, used = write_picture(lstm, tmp_path / "auto.png")
    assert used == "mpl" and path.read_bytes().startswith(PNG)
    assert "<svg" in picture_svg(lstm)
    assert choose_renderer("auto") == "mpl"


def test_bad_format_and_highlight_are_rejected(lstm, tmp_path):
    with pytest.raises(ParameterError, match="png, svg, pdf"):
        save_diagram_image(lstm, tmp_path / "x.gif")
    with pytest.raises(ParameterError, match="highlight"):
        draw_diagram(lstm, highlight="cell")
    with pytest.raises(ParameterError, match=".dot, .svg, .png, .pdf"):
        write_picture(lstm, tmp_path / "x.jpg")
    with pytest.raises(ParameterError, match="renderer"):
        choose_renderer("cairo")


def test_layers_run_left_to_right(lay):
    x = {n: b.x for n, b in lay.boxes.items()}
    chain = ["u", "lstm1/W", "lstm1/gates", "lstm1/split", "lstm1/sig_f", "lstm1/f_c", "lstm1/c_sum",
             "lstm1/tanh_c", "lstm1/h_prod", "F", "y"]
    assert [x[n] for n in chain] == sorted(x[n] for n in chain) and len({x[n] for n in chain}) == len(chain)
    assert x["lstm1/R"] == x["lstm1/b"] == x["lstm1/W"]  # sources sit next to the gates sum


def test_loop_delays_sit_flipped_on_nested_return_lanes(lay):
    c, h = lay.boxes["lstm1/c_delay"], lay.boxes["lstm1/h_delay"]
    assert c.flipped and h.flipped
    forward = [b for b in lay.boxes.values() if not b.flipped and b.name.startswith("lstm1/")]
    assert h.top > max(b.bottom for b in forward)  # the hidden lane runs under the whole layer
    assert c.bottom < h.top  # the cell lane is nested inside it
    f_c, c_sum = lay.boxes["lstm1/f_c"], lay.boxes["lstm1/c_sum"]
    assert f_c.x <= c.x <= c_sum.x  # the cell delay lies under its own small loop
    assert lay.boxes["lstm1/R"].x < h.x < lay.boxes["lstm1/h_prod"].x


def test_every_wire_has_one_route_from_port_to_port(lstm, lay):
    flat = flatten(lstm)
    assert sorted((r.src, r.src_port, r.dst, r.dst_port) for r in lay.routes) == sorted(
        (a, e["src_port"], b, e["dst_port"]) for a, b, e in flat.edges(data=True))
    back = {(r.src, r.dst) for r in lay.routes if r.back}
    assert back == {("lstm1/c_sum", "lstm1/c_delay"), ("lstm1/c_delay", "lstm1/f_c"),
                    ("lstm1/h_prod", "lstm1/h_delay"), ("lstm1/h_delay", "lstm1/R")}
    for r in lay.routes:
        block = flat.nodes[r.src]["block"]
        k = block.outputs.index(r.src_port)
        assert r.points[0] == pytest.approx(lay.boxes[r.src].port("out", k, len(block.outputs)))
        dst = flat.nodes[r.dst]["block"]
        k = dst.inputs.index(r.dst_port)
        assert r.points[-1] == pytest.approx(lay.boxes[r.dst].port("in", k, len(dst.inputs)))


def test_blocks_do_not_overlap(lay):
    boxes = [b for b in lay.boxes.values() if not b.dummy]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart_x = abs(a.x - b.x) >= (a.w + b.w) / 2
            apart_y = abs(a.y - b.y) >= (a.h + b.h) / 2
            assert apart_x or apart_y, f"{a.name} overlaps {b.name}"


def test_subsystem_frame_holds_its_blocks_only(lay):
    (frame,) = lay.frames
    assert frame.path == "lstm1"
    for name, b in lay.boxes.items():
        inside = frame.x0 <= b.x - b.w / 2 and b.x + b.w / 2 <= frame.x1 and frame.y0 <= b.top and b.bottom <= frame.y1
        if not b.dummy:
            assert inside == name.startswith("lstm1/"), name


def test_stacked_layers_get_separate_frames_in_order():
    lay = layout_diagram(lstm_network(NetworkWeights.random(2, 2, 1, n_layers=2)))
    f1, f2 = lay.frames
    assert (f1.path, f2.path) == ("lstm1", "lstm2") and f1.x1 < f2.x0


def test_algebraic_loop_is_drawn_as_a_back_wire(tmp_path):
    d = algebraic_loop()
    lay = layout_diagram(d)
    assert [(r.src, r.dst) for r in lay.routes if r.back] == [("g", "s")]
    assert save_diagram_image(d, tmp_path / "alg.png").read_bytes().startswith(PNG)


def test_feedforward_delay_stays_in_line_and_empty_diagram_draws(tmp_path):
    d = delay_line()
    assert loop_delays(flatten(d)) == ()
    grid = layered_grid(flatten(d))
    assert [grid.boxes[n].layer for n in ("u", "z", "y")] == [0, 1, 2] and not grid.back
    assert save_diagram_image(Diagram("empty"), tmp_path / "empty.png").read_bytes().startswith(PNG)


def test_diagram_repr_svg_falls_back_to_matplotlib(lstm, no_graphviz):
    svg = lstm._repr_svg_()
    assert "<svg" in svg and len(svg) > 10_000
    assert Diagram("empty")._repr_svg_() is None
    assert diagram_svg(lstm, highlight="none") != svg


def test_importing_the_dot_writer_does_not_import_matplotlib():
    code = ("import argparse, sys, blockloop.viz.dot, blockloop.viz.render, blockloop.engine.loops\n"
            "from blockloop.cli import draw, loops\n"
            "sub = argparse.ArgumentParser().add_subparsers()\n"
            "draw.register(sub); loops.register(sub)\n"
            "print('matplotlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_parallel_subsystems_keep_their_loops_inside_their_frames():
    from blockloop.diagrams import lstm_layer

    w = NetworkWeights.random(2, 2, 1).layers[0]
    d = Diagram("parallel")
    d.add("u", Inport(2))
    d.add("A", lstm_layer(w, "A"))
    d.add("B", lstm_layer(w, "B"))
    d.add("s", Sum("+-"))
    d.add("y", Outport())
    d.connect("u", "A.x")
    d.connect("u", "B.x")
    d.connect("A.h", "s.u1")
    d.connect("B.h", "s.u2")
    d.connect("s", "y")
    lay = layout_diagram(d)
    fa, fb = sorted(lay.frames, key=lambda f: f.y0)
    assert fa.y1 < fb.y0  # stacked, not overlapping
    for frame in (fa, fb):
        for name in (f"{frame.path}/c_delay", f"{frame.path}/h_delay"):
            b = lay.boxes[name]
            assert frame.y0 < b.top and b.bottom < frame.y1


def test_output_fed_by_a_loop_delay_goes_right():
    d = accumulator(state_output=True, name="state_out")
    lay = layout_diagram(d)
    assert lay.boxes["x"].x == lay.boxes["y"].x > lay.boxes["s"].x
    (route,) = [r for r in lay.routes if r.dst == "x"]
    assert max(y for _, y in route.points) > lay.boxes["z"].bottom  # turns under the delay box


@pytest.mark.parametrize("name", ["blockloop.engine.loops", "blockloop.viz.style", "blockloop.viz.layout",
                                  "blockloop.viz.routing", "blockloop.viz.dot", "blockloop.viz.draw_mpl",
                                  "blockloop.viz.render", "blockloop.viz.collapse"])
def test_docstring_examples_of_loops_and_viz(name):
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(name))
    assert tried > 0 and failures == 0
