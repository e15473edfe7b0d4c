"""The API-misuse corpus: every argument of the public builders and of ``simulate``, substituted.

Each argument gets every value of :data:`API_VALUES` (the file corpus's substitutes plus numpy
scalars, tuples and objects). Whether the documentation accepts a value is written by hand, per
argument, in the ``accepts`` predicates below (not derived from the code); :func:`api_cases` yields
``(name, action, places, valid, faithful)`` for :func:`reliability_corpus.judge`.
"""

from __future__ import annotations

import math

import numpy as np
from reliability_corpus import SUBSTITUTES

from blockloop.blocks import Constant, Demux, FromArray, Gain, Inport, Mux, Product, Selector, Sum, UnitDelay
from blockloop.blocks.base import MAX_PORTS, MAX_SIGNAL_SIZE
from blockloop.diagrams import LayerWeights, NetworkWeights, lstm_layer, lstm_network, state_space_diagram
from blockloop.diagrams.examples import accumulator
from blockloop.engine import Diagram

API_VALUES = {
    **SUBSTITUTES,
    "np_bool": np.bool_(True),
    "np_float": np.float64(2.5),
    "np_int": np.int64(2),
    "tuple": (2, 2),
    "ifgo": "ifgo",
    "str_array": np.array(["1"]),
    "object": object(),
    "bool_array": np.array([True, False]),
    "complex": 1 + 2j,
    "nested3": [[[1.0]]],
    "ragged": [[1.0], [1.0, 2.0]],
    "huge_int_list": [10**400],
}


# -- what the documentation accepts (hand-written) -----------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and (not isinstance(v, int) or abs(v) < 1.7e308))


def _leaves(v):
    """Leaves and depth of a number or (nested) list/tuple of numbers; None if ragged or non-numeric."""
    if isinstance(v, np.ndarray):
        return (v.reshape(-1).tolist(), v.ndim, v.shape) if v.dtype.kind in "fiu" else None
    if _is_real(v):
        return [float(v)], 0, ()
    if not isinstance(v, (list, tuple)):
        return None
    try:
        arr = np.array(v, dtype=object)
    except ValueError:
        return None
    if arr.dtype != object or any(not _is_real(x) for x in arr.reshape(-1)) or arr.size == 0 and v != [] and v != ():
        return None
    if any(isinstance(x, (list, tuple)) for x in arr.reshape(-1)):
        return None  # ragged
    return [float(x) for x in arr.reshape(-1)], arr.ndim, arr.shape


def numbers(max_ndim: int, min_ndim: int = 0, vector: bool = False):
    """A non-empty number or nested list of numbers of at most ``max_ndim`` dimensions."""
    def accepts(v):
        got = _leaves(v)
        if got is None:
            return False
        leaves, ndim, shape = got
        if not leaves or ndim > max_ndim or ndim < min_ndim:
            return False
        return not (vector and ndim == 2 and 1 not in shape)
    return accepts


def integer(lo: int, hi: int, none_ok: bool = False):
    return lambda v: (v is None and none_ok) or (_is_int(v) and lo <= v <= hi)


def int_list(lo: int, hi: int, single_ok: bool = False):
    def accepts(v):
        if single_ok and _is_int(v):
            return lo <= v <= hi
        if isinstance(v, np.ndarray):
            return v.ndim == 1 and v.size > 0 and v.dtype.kind in "iu" and v.min() >= lo and v.max() <= hi
        return isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_int(x) and lo <= x <= hi for x in v)
    return accepts


def sign_string(v) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_PORTS and not set(v) - {"+", "-"}


def flag(v) -> bool:
    return isinstance(v, (bool, np.bool_))


def positive_time(v) -> bool:
    return _is_real(v) and math.isfinite(v) and v > 0 and 2 * float(v) < math.inf


def _series(value) -> bool:
    """A finite input for the accumulator's size-1 input: (T,), (T, 1) or (T, B, 1), T, B ≥ 1."""
    got = _leaves(value) if numbers(3, min_ndim=1)(value) else None
    if got is None or not all(math.isfinite(x) for x in got[0]):
        return False
    shape = got[2]
    return len(shape) == 1 or shape[-1] == 1


def _same_numbers(given, stored) -> bool:
    got = _leaves(given)
    return got is not None and np.array_equal(np.asarray(got[0]), np.asarray(stored, dtype=float).reshape(-1),
                                              equal_nan=True)


# -- the cases -----------------------------------------------------------------------------------
def _block_case(cls, param, others, accepts, array=False):
    for key, value in API_VALUES.items():
        kwargs = {**others, param: value}

        def action(kwargs=kwargs):
            return cls(**kwargs)

        def faithful(block, value=value):
            stored = block.params()[param]
            if array:
                return "" if _same_numbers(value, stored) else f"read {value!r} as {stored!r}"
            if _is_int(value) and not isinstance(stored, list):
                return "" if type(stored) is int and stored == value else f"read {value!r} as {stored!r}"
            return ""

        yield (f"{cls.__name__}({param}={key})", action, [f"{cls.__name__} {param}"], accepts(value), faithful)


def block_cases():
    """Every constructor argument of every parameterised library block."""
    yield from _block_case(Constant, "value", {}, numbers(2, vector=True), array=True)
    yield from _block_case(Gain, "K", {}, numbers(2), array=True)
    yield from _block_case(UnitDelay, "x0", {}, numbers(2, vector=True), array=True)
    yield from _block_case(FromArray, "data", {}, numbers(3, min_ndim=1), array=True)
    yield from _block_case(Sum, "signs", {}, sign_string)
    yield from _block_case(Product, "n_inputs", {}, integer(1, MAX_PORTS))
    yield from _block_case(Mux, "n_inputs", {}, integer(1, MAX_PORTS))
    yield from _block_case(Inport, "size", {}, integer(1, MAX_SIGNAL_SIZE, none_ok=True))
    yield from _block_case(Selector, "indices", {}, int_list(0, MAX_SIGNAL_SIZE - 1, single_ok=True))
    yield from _block_case(Demux, "sizes", {}, int_list(1, MAX_SIGNAL_SIZE))
    def names_ok(v):
        return v is None or (isinstance(v, (list, tuple)) and len(v) == 2 and len({str(n) for n in v}) == 2
                             and all(isinstance(n, str) and n and n.strip() == n and "." not in n
                                     and "/" not in n and n != "u" for n in v))
    yield from _block_case(Demux, "names", {"sizes": [1, 1]}, names_ok)


def diagram_cases():
    """Diagram(name), Diagram.add(name, block), Diagram.connect(src, dst)."""
    for key, value in API_VALUES.items():
        yield (f"Diagram(name={key})", lambda v=value: Diagram(v), ["name"], isinstance(value, str), None)
        ok_name = isinstance(value, str) and value and value.strip() == value and "." not in value
        yield (f"add(name={key})", lambda v=value: Diagram("d").add(v, Gain(1.0)), ["name"], bool(ok_name), None)
        yield (f"add(block={key})", lambda v=value: Diagram("d").add("k", v), ["'k'"], False, None)

        def connect(v=value, end="src"):
            d = accumulator()
            d.graph.remove_edges_from(list(d.graph.in_edges("y", keys=True)))
            return d.connect(v, "y") if end == "src" else d.connect("s", v)

        yield (f"connect(src={key})", connect, [repr(value)[:20], str(value)[:20]], False, None)
        yield (f"connect(dst={key})", lambda v=value: connect(v, "dst"), [repr(value)[:20], str(value)[:20]],
               False, None)
    d = Diagram("a")
    yield ("add(itself)", lambda: d.add("me", d), ["'a'"], False, None)


def simulate_cases():
    """Every argument of compile/simulate on the accumulator (input u of size 1, delay z)."""
    prog = accumulator().compile()
    u = np.ones((3, 1))

    def sim(v=None, arg=None, **kwargs):
        return prog.simulate(v if arg == "inputs" else {"u": u}, backend="interpreter", **kwargs)

    for key, value in API_VALUES.items():
        yield (f"compile(dtype={key})", lambda v=value: accumulator().compile(dtype=v), ["dtype"], False, None)
        yield (f"compile(check_finite={key})", lambda v=value: accumulator().compile(check_finite=v),
               ["check_finite"], flag(value), None)
        yield f"simulate(inputs={key})", lambda v=value: sim(v, "inputs"), ["input"], _series(value), None
        yield f"simulate(inputs[u]={key})", lambda v=value: sim({"u": v}, "inputs"), ["'u'"], _series(value), None
        yield f"simulate(Ts={key})", lambda v=value: sim(Ts=v), ["Ts"], positive_time(value), None
        yield (f"simulate(steps={key})", lambda v=value: sim(steps=v), ["steps"],
               value is None or (_is_int(value) and 1 <= value <= 3), None)
        probes_ok = value is None or (isinstance(value, (list, tuple)) and len(value) == 0)
        yield f"simulate(probes={key})", lambda v=value: sim(probes=v), ["probe"], probes_ok, None
        yield (f"simulate(initial_states={key})", lambda v=value: sim(initial_states=v), ["initial_state"],
               value is None or (isinstance(value, dict) and not value), None)
        got = _leaves(value) if numbers(2, min_ndim=1)(value) else None
        x0_ok = got is not None and got[2] in ((1,), (1, 1)) and all(math.isfinite(x) for x in got[0])
        yield (f"simulate(initial_states[z]={key})", lambda v=value: sim(initial_states={"z": v}), ["'z'"], x0_ok,
               None)
        yield f"simulate(check_finite={key})", lambda v=value: sim(check_finite=v), ["check_finite"], flag(value), None
        yield (f"simulate(backend={key})", lambda v=value: prog.simulate({"u": u}, backend=v), ["backend"], False,
               None)


def lstm_cases():
    """lstm_layer/lstm_network/state_space_diagram with wrong objects, LayerWeights and random() arguments."""
    w = NetworkWeights.random(ni=2, nn=2, no=1)
    layer = w.layers[0]
    for key, value in API_VALUES.items():
        yield (f"lstm_layer({key})", lambda v=value: lstm_layer(v), ["weights", "LayerWeights"], False, None)
        yield (f"lstm_network({key})", lambda v=value: lstm_network(v), ["weights", "NetworkWeights"], False, None)
        yield (f"lstm_layer(name={key})", lambda v=value: lstm_layer(layer, name=v), ["name"],
               isinstance(value, str), None)
        yield (f"state_space_diagram({key})", lambda v=value: state_space_diagram(v), ["system"], False, None)
        for arg in ("W", "R", "b", "h0", "c0"):
            kwargs = {k: getattr(layer, k) for k in ("W", "R", "b", "h0", "c0")}
            kwargs[arg] = value
            state_ok = value is None or (numbers(2, vector=True)(value) and len(_leaves(value)[0]) == 2
                                         and all(math.isfinite(x) for x in _leaves(value)[0]))
            yield (f"LayerWeights({arg}={key})", lambda kw=kwargs: LayerWeights(**kw), [f"{arg}:"],
                   arg in ("h0", "c0") and state_ok, None)
        for arg in ("ni", "nn", "no", "n_layers"):
            kwargs = {"ni": 2, "nn": 2, "no": 1, "n_layers": 1, arg: value}
            yield (f"NetworkWeights.random({arg}={key})", lambda kw=kwargs: NetworkWeights.random(**kw), [arg],
                   _is_int(value) and 1 <= value <= 2, None)


def torch_cases():
    """from_torch/to_torch/torch_forward/crosscheck with wrong objects and shapes (needs torch)."""
    import torch

    from blockloop.interop.torch import crosscheck, from_torch, to_torch, torch_forward

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 3, num_layers=2, dtype=torch.float64)
    w = NetworkWeights.random(ni=2, nn=2, no=1)
    u = np.ones((4, 2))
    for key, value in API_VALUES.items():
        yield (f"from_torch({key})", lambda v=value: from_torch(v), ["LSTM"], False, None)
        yield (f"from_torch(linear={key})", lambda v=value: from_torch(lstm, v), ["Linear"], value is None, None)
        for arg in ("h0", "c0"):
            yield (f"from_torch({arg}={key})", lambda v=value, a=arg: from_torch(lstm, **{a: v}), [arg],
                   value is None, None)
        yield (f"to_torch({key})", lambda v=value: to_torch(v), ["weights", "NetworkWeights"], False, None)
        yield (f"torch_forward(u={key})", lambda v=value: torch_forward(w, v), ["u:"], False, None)
        yield (f"torch_forward(initial_states={key})", lambda v=value: torch_forward(w, u, initial_states=v),
               ["initial_state"], value is None or (isinstance(value, dict) and not value), None)
        yield (f"crosscheck(tolerance_scale={key})",
               lambda v=value: crosscheck(w, u, tolerance_scale=v, backend="interpreter"), ["tolerance_scale"],
               value is None or (_is_real(value) and 0 < value < math.inf), None)
    for shape in [(2, 3), (2, 1, 3)]:
        yield (f"from_torch(h0={shape})", lambda s=shape: from_torch(lstm, h0=np.zeros(s)), ["h0"], True, None)
    for shape in [(2, 4, 3), (3, 3), (2, 2), (6,), (2, 3, 1)]:
        yield (f"from_torch(h0={shape})", lambda s=shape: from_torch(lstm, h0=np.zeros(s)), ["h0"], False, None)
    yield ("from_torch(h0=nan)", lambda: from_torch(lstm, h0=np.full((2, 3), np.nan)), ["h0"], False, None)


def api_cases(with_torch: bool = True):
    yield from block_cases()
    yield from diagram_cases()
    yield from simulate_cases()
    yield from lstm_cases()
    if with_torch:
        yield from torch_cases()


if __name__ == "__main__":  # pragma: no cover - measuring tool
    import resource
    from collections import Counter

    from reliability_corpus import judge

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # a huge allocation fails instead of swapping

    counts, fails, examples = Counter(), Counter(), []
    for name, action, places, valid, faithful in api_cases():
        out = judge(action, places, faithful, valid)
        group = name.split("(")[0]
        counts[group] += 1
        if out.failed:
            fails[(group, out.kind)] += 1
            examples.append(f"{name}: {out.kind}: {out.detail[:220]}")
    print("cases:", sum(counts.values()), dict(counts))
    print("failed:", sum(fails.values()))
    for k, v in sorted(fails.items()):
        print(" ", k, v)
    for e in examples:
        print("   ", e)
