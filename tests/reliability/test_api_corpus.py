"""Every bad argument to the public API ends in a typed error naming the argument; valid ones are kept as given.

The cases are generated (``api_corpus``): every argument of the block constructors, Diagram
building, compile/simulate and the LSTM/PyTorch builders gets every substitute value. Which values
the documentation accepts is written by hand per argument in ``api_corpus``.
"""

from __future__ import annotations

import pytest
from api_corpus import block_cases, diagram_cases, lstm_cases, simulate_cases
from reliability_corpus import judge

GROUPS = {"blocks": block_cases, "diagram": diagram_cases, "simulate": simulate_cases, "lstm": lstm_cases}


def _run(cases, minimum: int):
    outcomes = [(name, judge(action, places, faithful, valid)) for name, action, places, valid, faithful in cases]
    assert len(outcomes) >= minimum
    failures = [f"{name}: {out.kind}: {out.detail}" for name, out in outcomes if out.failed]
    assert not failures, f"{len(failures)} of {len(outcomes)} failed:\n" + "\n".join(failures[:25])
    kinds = {out.kind for _, out in outcomes}
    assert {"ok", "typed"} <= kinds  # both valid and invalid values were tried


@pytest.mark.parametrize("group", list(GROUPS))
def test_bad_arguments_are_named(group):
    _run(GROUPS[group](), minimum=60)


def test_bad_arguments_to_the_torch_interop_are_named():
    pytest.importorskip("torch")
    from api_corpus import torch_cases

    _run(torch_cases(), minimum=100)
