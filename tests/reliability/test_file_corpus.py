"""Every malformed diagram file ends in a typed error naming its place, fast, without unpickling.

The corpus is generated (``reliability_corpus``): every node of eight saved diagrams replaced by
every substitute, semantic mutations of every block and wire entry, and damaged ``.npz`` files.
A case passes when it raises a ``blockloop.errors`` exception whose message names the place (the
file location or the block), or when it loads and runs and what was read back is exactly what
was written (no coercion).
"""

from __future__ import annotations

import json
import pickle
import time
import tracemalloc

import numpy as np
import pytest
from reliability_corpus import (
    SAMPLE_TIME_MUTATIONS,
    SUBSTITUTES,
    base_diagrams,
    deep_document,
    nested,
    node_cases,
    npz_damages,
    run_doc_case,
    run_npz_case,
    save_bases,
    semantic_cases,
)

from blockloop.blocks import Inport, Outport
from blockloop.diagrams.examples import wrapped
from blockloop.engine import Diagram
from blockloop.errors import DiagramFileError, WiringError
from blockloop.io import decode_diagram, load_diagram, save_diagram
from blockloop.io._json import loads, loads_deep
from blockloop.io.diagram_file import dumps_json

BASES = list(base_diagrams())
#: By default the larger files give each node a rotating share of the substitutes (1 in STRIDE,
#: shifted node by node, so every node and every substitute still appear); ``--run-slow`` runs
#: every node with every substitute.
STRIDE = {"lstm": 3, "kitchen": 2, "nested": 2, "state_space": 2, "control": 2, "linear": 2}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases")
    return {s.name: s for s in save_bases(folder)}, folder


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch):
    """Any attempt to unpickle during a test fails it."""
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def _failures(outcomes):
    return [f"{name}: {out.kind}: {out.detail}" for name, out in outcomes if out.failed]


def _check(outcomes, minimum_cases: int):
    outcomes = list(outcomes)
    assert len(outcomes) >= minimum_cases, f"the corpus shrank to {len(outcomes)} cases"
    failures = _failures(outcomes)
    assert not failures, f"{len(failures)} of {len(outcomes)} cases failed:\n" + "\n".join(failures[:25])
    kinds = {out.kind for _, out in outcomes}
    assert "typed" in kinds  # the corpus does reach the checks
    return outcomes


def _node_outcomes(s, stride=1):
    n_subs = len(SUBSTITUTES)
    for i, case in enumerate(node_cases(s)):
        if stride > 1 and (i + i // n_subs) % stride:  # 1 in stride, shifted node by node
            continue
        yield case.name, run_doc_case(s, case)


@pytest.mark.parametrize("base", BASES)
def test_every_node_of_a_saved_file_substituted(saved, base):
    bases, _ = saved
    stride = STRIDE.get(base, 1)
    outcomes = _check(_node_outcomes(bases[base], stride), minimum_cases=700 // stride)
    assert any(out.kind == "ok" for _, out in outcomes)  # some substitutes are valid values and load as written


@pytest.mark.slow
@pytest.mark.parametrize("base", list(STRIDE))
def test_every_node_with_every_substitute(saved, base):
    bases, _ = saved
    _check(_node_outcomes(bases[base]), minimum_cases=2500)


@pytest.mark.parametrize("base", BASES)
def test_semantic_mutations(saved, base):
    bases, _ = saved
    s = bases[base]
    _check(((c.name, run_doc_case(s, c)) for c in semantic_cases(s)), minimum_cases=20)


@pytest.mark.parametrize("base", [b for b in BASES  # those with a .npz (control's parameters are all numbers)
                                  if b not in ("accumulator", "delay_line", "gain_feedback", "control")])
def test_damaged_npz_fails_fast_and_small(saved, base):
    """Truncation, bad deflate data, no .npy magic, absurd shapes, pickled objects: each a located error."""
    bases, folder = saved
    s = bases[base]
    outcomes = []
    for name, data, places in npz_damages(s):
        tracemalloc.start()
        try:
            out = run_npz_case(s, folder, name, data, places)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 16 * 2**20, f"{name}: allocated {peak / 2**20:.1f} MiB"
        outcomes.append((name, out))
    _check(outcomes, minimum_cases=20)


def test_huge_counts_fail_in_milliseconds_without_allocating(saved):
    """n_inputs 10⁹, a 100 000-sign Sum, Demux sizes summing to 2·10⁹: refused before any allocation."""
    bases, _ = saved
    s = bases["kitchen"]
    huge = [c for c in semantic_cases(s) if "=1000000000" in c.name or "=str100000" in c.name
            or "=list2" in c.name or "=1000000000000" in c.name]
    assert len(huge) >= 5
    for case in huge:
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            out = run_doc_case(s, case)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert not out.failed, f"{case.name}: {out.kind}: {out.detail}"
        assert time.perf_counter() - t0 < 0.5 and peak < 8 * 2**20, case.name


def test_every_sample_time_mutation_is_a_file_error_naming_the_field_or_is_read_as_written(saved):
    """The top level's and a subsystem's ``sample_time`` with every substitute and mutation: a refused one is a
    DiagramFileError at ``sample_time`` (``blocks[1] ("m").diagram.sample_time`` in the subsystem); an accepted
    one is read as written and saved back the same (2 stays 2)."""
    bases, _ = saved
    s = bases["nested"]
    assert s.doc["sample_time"] == 0.25 and s.doc["blocks"][1]["diagram"]["sample_time"] == 2
    cases = [c for c in node_cases(s) if c.name.rpartition("=")[0].endswith("sample_time")]
    cases += [c for c in semantic_cases(s) if "sample_time=" in c.name]
    assert len(cases) == 2 * (len(SUBSTITUTES) + len(SAMPLE_TIME_MUTATIONS)) - 1  # (the int 2 is not put over 2)
    refused = 0
    for case in cases:
        where = "blocks[1] (\"m\").diagram.sample_time: " if "/diagram/" in case.name else ": sample_time: "
        try:
            d = decode_diagram(case.doc, s.arrays, source="nested.json")
        except DiagramFileError as exc:
            assert where in str(exc) and ("Ts: expected a finite sample time > 0" in str(exc) or
                                          "expected a sample time in seconds (a number > 0), got" in str(exc)), \
                f"{case.name}: {exc}"
            refused += 1
            continue
        written = case.doc if "/diagram/" not in case.name else case.doc["blocks"][1]["diagram"]
        got = d if "/diagram/" not in case.name else d.blocks["m"]
        value = written["sample_time"]
        assert (got.Ts is None and value is None) or (type(got.Ts) is type(value) and got.Ts == value), case.name
        out = run_doc_case(s, case)
        assert not out.failed, f"{case.name}: {out.kind}: {out.detail}"
    assert refused >= 2 * 16  # strings, bools, lists, dicts, 0, -1, NaN, inf, ±10**400, -0.0, -1e-300


def test_a_mux_with_a_billion_inputs_is_refused_with_the_limit(saved):
    bases, _ = saved
    s = bases["kitchen"]
    case = next(c for c in semantic_cases(s) if c.name.endswith(":m:n_inputs=1000000000"))
    out = run_doc_case(s, case)
    assert out.kind == "typed" and "blocks[8] (\"m\").params.n_inputs: Mux n_inputs: expected an integer from " \
        "1 to 10000, got 1000000000 (int)" in out.detail


# -- nesting ---------------------------------------------------------------------------------------
def test_a_2000_level_file_loads_runs_and_saves_back(tmp_path):
    """Far beyond the recursion limit (about 330 levels): read, run and written without recursion."""
    path = tmp_path / "deep.json"
    path.write_text(dumps_json(deep_document(2000)) + "\n")
    t0 = time.perf_counter()
    d = load_diagram(path)
    y = d.simulate({"x": np.array([[1.0], [3.0]])}, backend="interpreter")["o"]
    assert y.ravel().tolist() == [2.0, 6.0]  # the gain of 2 at the bottom
    once = save_diagram(d, tmp_path / "once.json")
    twice = save_diagram(load_diagram(once), tmp_path / "twice.json")
    assert once.read_text() == twice.read_text()
    lines = [line for line in once.read_text().splitlines() if "$array" not in line]  # (array keys are paths)
    assert max(len(line) for line in lines) < 200  # the indent stops growing
    assert time.perf_counter() - t0 < 20  # 6 000 blocks; about 3 s on a 2-core machine


def test_a_1200_level_diagram_built_in_python_compiles_and_saves(tmp_path):
    """Beyond every old recursion limit (save ~140 levels, load ~330, simulate ~980)."""
    d = nested(1200)
    deep = "m/" * 1201
    res = d.simulate({"u": np.ones((2, 1))}, backend="interpreter", probes=[deep + "g.u"])
    assert res["y"].ravel().tolist() == [2.0, 2.0]
    assert res[deep + "pr"].ravel().tolist() == [2.0, 2.0] and res[deep + "g.u"].ravel().tolist() == [1.0, 1.0]
    p = save_diagram(d, tmp_path / "n.json")
    assert load_diagram(p).simulate({"u": np.ones((2, 1))}, backend="interpreter")["y"].ravel().tolist() == [2.0, 2.0]


def test_a_diagram_that_contains_itself_gives_the_same_error_in_compile_and_save(tmp_path):
    inner = Diagram("inner")
    inner.add("x", Inport()); inner.add("o", Outport()); inner.connect("x", "o")
    outer = wrapped(inner, "outer")
    inner.graph.add_node("loop", block=outer)  # add() cannot make a cycle; the graph can
    message = "subsystem 'm/loop' contains itself"
    with pytest.raises(WiringError, match=message):
        outer.compile()
    with pytest.raises(WiringError, match=message):
        save_diagram(outer, tmp_path / "x.json")
    d = Diagram("a")
    with pytest.raises(WiringError, match="diagram 'a' cannot contain itself"):
        d.add("me", d)


# -- the JSON reader ---------------------------------------------------------------------------------
def test_the_iterative_parser_reads_what_json_reads(saved):
    bases, _ = saved
    texts = [s.json_path.read_text() for s in bases.values()]
    texts += ['{"a": [1, 2.5, -3e2, true, false, null, "\\u00e9\\n"], "b": {}}', "[]", "  7 ", '"x"',
              "[NaN, Infinity, -Infinity]"]
    for text in texts:
        assert json.dumps(loads_deep(text)) == json.dumps(json.loads(text))


@pytest.mark.parametrize("text, message", [
    ('{"a": 1,}', "Expecting property name enclosed in double quotes: line 1 column 9 (char 8)"),
    ("[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"),
    ("[1,]", "Expecting value: line 1 column 4 (char 3)"),
    ('{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"),
    ("[1] x", "Extra data: line 1 column 5 (char 4)"),
    ('["abc', "Unterminated string starting at: line 1 column 2 (char 1)"),
])
def test_the_iterative_parser_reports_errors_like_json(text, message):
    with pytest.raises(json.JSONDecodeError) as deep:
        loads_deep(text)
    with pytest.raises(json.JSONDecodeError) as std:
        json.loads(text)
    assert str(deep.value) == str(std.value) == message


def test_deep_json_beyond_the_recursion_limit_is_parsed():
    depth = 50_000
    value = loads("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("text, message", [
    ('{"format": "blockloop-diagram", "format": "x"}', "invalid JSON: the key 'format' appears twice in one object"),
    ("[" + "1" * 5000 + "]", "invalid JSON: Exceeds the limit (4300 digits)"),
    ("[" * 3000 + "]" * 2999, "invalid or truncated JSON at line 1, column 6000: Expecting ',' delimiter"),
])
def test_json_that_python_reads_oddly_is_a_file_error(tmp_path, text, message):
    path = tmp_path / "odd.json"
    path.write_text(text)
    with pytest.raises(DiagramFileError) as err:
        load_diagram(path)
    assert str(err.value).startswith(f"{path}: {message}")
