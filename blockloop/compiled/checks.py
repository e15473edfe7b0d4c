"""Checking a block's declared lowering against its ports and sizes before any kernel sees it.

The kernels do not bounds-check (that is what makes them fast), so every table entry a block
contributes — op name, parameter count, indices, sizes — is checked here against the program's
known sizes. A block whose lowering does not fit runs on the interpreter instead, and the
warning says why: a user's ``Block`` subclass with a wrong ``lowering()`` can never crash the
process or produce silent garbage.
"""

from __future__ import annotations

import numpy as np

from ..blocks import FromArray, Inport
from ..blocks.base import Lowering
from ..blocks.mathfunction import MATH_FUNCTIONS
from ..blocks.nonsmooth import SWITCH_CRITERIA
from .opcodes import OPCODES

__all__ = ["STRUCTURAL_OPS", "lowering_problem"]

#: Ops resolved when lowering (no kernel): see :mod:`.lowering`.
STRUCTURAL_OPS = ("constant", "source", "sink", "split", "delay")


def lowering_problem(program, name: str, lowering) -> str | None:
    """Why ``lowering`` cannot run block ``name`` of ``program`` on the compiled backend, or None."""
    if not isinstance(lowering, Lowering):
        return f"lowering() returned {type(lowering).__name__}, not a Lowering"
    op = lowering.op
    if op not in OPCODES and op not in STRUCTURAL_OPS:
        return f"unknown op {op!r}"
    block = program.blocks[name]
    ins = [program.in_sizes[(name, p)] for p in block.inputs]
    outs = [program.out_sizes[(name, p)] for p in block.outputs]
    try:
        params = None if lowering.params is None else np.asarray(lowering.params, dtype=np.float64).reshape(-1)
        ints = [int(i) for i in lowering.ints]
    except (TypeError, ValueError):
        return "parameters or integer arguments that are not numbers"
    check = _CHECKS.get(op) or _STATEFUL_CHECKS.get(op)
    if check is None:
        return f"op {op!r} cannot be declared by a block"
    return check(block, ins, outs, params, ints)


def _shape(ins, outs, n_in, n_out):
    if (n_in is not None and len(ins) != n_in) or len(outs) != n_out:
        return f"op expects {n_in} input(s) and {n_out} output(s), the block has {len(ins)} and {len(outs)}"
    return None


def _elementwise(block, ins, outs, params, ints, n_in=None, n_params=0):
    problem = _shape(ins, outs, n_in, 1)
    if problem:
        return problem
    if not ins or any(s != outs[0] for s in ins):
        return f"inputs of sizes {ins} for an output of size {outs[0]}"
    size = 0 if params is None else params.size
    if size != n_params:
        return f"{n_params} parameter(s) expected, {size} given"
    return None


def _sum(block, ins, outs, params, ints):
    problem = _elementwise(block, ins, outs, params, ints, n_params=len(ins))
    if problem is None and not np.all(np.abs(params) == 1):
        problem = "signs must be ±1"
    return problem


def _gain_matrix(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem is None and (params is None or params.size != outs[0] * ins[0]):
        problem = f"a {outs[0]}×{ins[0]} matrix expected, {0 if params is None else params.size} values given"
    return problem


def _concat(block, ins, outs, params, ints):
    problem = _shape(ins, outs, None, 1)
    if problem is None and sum(ins) != outs[0]:
        problem = f"inputs of sizes {ins} do not add up to the output size {outs[0]}"
    return problem


def _select(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem is None and (len(ints) != outs[0] or any(not 0 <= i < ins[0] for i in ints)):
        problem = f"{outs[0]} indices in 0…{ins[0] - 1} expected, got {ints[:8]}"
    return problem


def _split(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, len(outs))
    if problem is None and (ints != outs or sum(ints) != ins[0]):
        problem = f"sizes {ints} do not split an input of size {ins[0]} into outputs {outs}"
    return problem


def _constant(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 0, 1)
    if problem is None and (not block.is_constant or params is None or params.size != outs[0]):
        problem = f"a constant block with {outs[0]} value(s) expected"
    return problem


def _source(block, ins, outs, params, ints):
    if not isinstance(block, (Inport, FromArray)) and not (block.is_time_source
                                                           and callable(getattr(block, "samples", None))):
        return "only Inport, FromArray and blocks with samples(steps, batch, dtype) are sources"
    return _shape(ins, outs, 0, 1)


def _sink(block, ins, outs, params, ints):
    return _shape(ins, outs, 1, 0)


def _delay(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem is None and not (block.has_state and "x0" in block.arrays() and ins[0] == outs[0]):
        problem = "a stateful block with an x0 parameter and equal input and output sizes expected"
    return problem


def _kalman(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 2, 4)
    if problem:
        return problem
    if len(ints) != 3 or min(ints) < 1:
        return f"(n, m, p) ≥ 1 expected, got {ints}"
    n, m, p = ints
    if ins != [m, p] or outs != [n, n, p, p]:
        return f"inputs of sizes [{m}, {p}] and outputs [{n}, {n}, {p}, {p}] expected, got {ins} and {outs}"
    if params is None or params.size != 2 * n * n + n * m + p * n + p * m + p * p:
        return "A, B, H, D, Q, R expected as n², n·m, p·n, p·m, n², p² values"
    try:
        size = block.state_size(dict(zip(block.inputs, ins, strict=True)), dict(zip(block.outputs, outs, strict=True)))
    except Exception as exc:  # a user block's state_size: any failure means it does not fit
        return f"state_size failed ({exc})"
    if not getattr(block, "has_state", False) or size != n + n * n:
        return f"a state of n + n² = {n + n * n} values (x̂, P) expected, the block has {size}"
    return None


def _limits(block, ins, outs, params, ints):
    problem = _elementwise(block, ins, outs, params, ints, n_in=1, n_params=2)
    if problem is None and not params[0] <= params[1]:
        problem = f"limits {params[0]} ≤ {params[1]} expected"
    return problem


def _coded(problem, ints, count, what):
    """``problem``, or why ``ints`` is not ``count`` codes from 0 to ``count − 1``."""
    if problem is None and (len(ints) != 1 or not 0 <= ints[0] < count):
        problem = f"one {what} code from 0 to {count - 1} expected, got {ints[:8]}"
    return problem


def _switch(block, ins, outs, params, ints):
    problem = _elementwise(block, ins, outs, params, ints, n_in=3, n_params=1)
    return _coded(problem, ints, len(SWITCH_CRITERIA), "criterion")


def _min_max(block, ins, outs, params, ints):
    problem = _elementwise(block, ins, outs, params, ints)
    if problem is None and len(ins) < 2:
        problem = "at least 2 inputs expected"
    return _coded(problem, ints, 2, "min/max")


def _matrix_product(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 2, 1)
    if problem:
        return problem
    if len(ints) != 3 or min(ints) < 1:
        return f"(m, k, n) ≥ 1 expected, got {ints[:8]}"
    m, k, n = ints
    if ins != [m * k, k * n] or outs != [m * n]:
        return f"inputs of sizes [{m * k}, {k * n}] and an output of size {m * n} expected, got {ins} and {outs}"
    return None


_CHECKS = {
    "gain_scalar": lambda b, i, o, p, n: _elementwise(b, i, o, p, n, n_in=1, n_params=1),
    "gain_elementwise": lambda b, i, o, p, n: _elementwise(b, i, o, p, n, n_in=1, n_params=o[0] if o else 0),
    "gain_matrix": _gain_matrix,
    "sum": _sum,
    "product": lambda b, i, o, p, n: _elementwise(b, i, o, p, n),
    "sigmoid": lambda b, i, o, p, n: _elementwise(b, i, o, p, n, n_in=1),
    "tanh": lambda b, i, o, p, n: _elementwise(b, i, o, p, n, n_in=1),
    "concat": _concat,
    "select": _select,
    "split": _split,
    "constant": _constant,
    "source": _source,
    "sink": _sink,
    "delay": _delay,
    "kalman": _kalman,
    "saturation": _limits,
    "dead_zone": _limits,
    "abs": lambda b, i, o, p, n: _elementwise(b, i, o, p, n, n_in=1),
    "math_function": lambda b, i, o, p, n: _coded(_elementwise(b, i, o, p, n, n_in=1), n, len(MATH_FUNCTIONS),
                                                               "function"),
    "min_max": _min_max,
    "switch": _switch,
    "matrix_product": _matrix_product,
}


def _state_of(block, ins, outs, size):
    """None if ``block`` is stateful with a state of ``size`` values, else why not."""
    try:
        got = block.state_size(dict(zip(block.inputs, ins, strict=True)), dict(zip(block.outputs, outs, strict=True)))
    except Exception as exc:  # a user block's state_size: any failure means it does not fit
        return f"state_size failed ({exc})"
    if not getattr(block, "has_state", False) or got != size:
        return f"a state of {size} values expected, the block has {got}"
    return None


def _state_space(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem:
        return problem
    if len(ints) != 4 or min(ints[:3]) < 1:
        return f"(n, m, p, D ≠ 0) with n, m, p ≥ 1 expected, got {ints}"
    n, m, p, _ = ints
    if ins != [m] or outs != [p]:
        return f"an input of size {m} and an output of size {p} expected, got {ins} and {outs}"
    if params is None or params.size != n * n + n * m + p * n + p * m:
        return "A, B, C, D expected as n², n·m, p·n, p·m values"
    return _state_of(block, ins, outs, n)


def _transfer_function(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem:
        return problem
    if len(ints) != 2 or ints[0] < 2:
        return f"(L ≥ 2, num[0] ≠ 0) expected, got {ints}"
    if ins != outs:
        return f"input and output of the same size expected, got {ins} and {outs}"
    if params is None or params.size != 2 * ints[0]:
        return f"num and den expected as 2·{ints[0]} values"
    return _state_of(block, ins, outs, (ints[0] - 1) * outs[0])


def _integrator(block, ins, outs, params, ints):
    problem = _shape(ins, outs, 1, 1)
    if problem:
        return problem
    if len(ints) != 1 or ins != outs or params is None or params.size != 2:
        return f"(K, Ts), one flag and equal input and output sizes expected, got {ints}, {ins}, {outs}"
    return _state_of(block, ins, outs, outs[0])


#: The stateful linear ops (opcodes 30–35), each with a next-state op appended by the lowering.
_STATEFUL_CHECKS = {"state_space": _state_space, "transfer_function": _transfer_function, "integrator": _integrator}
