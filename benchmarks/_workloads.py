"""The benchmark workloads and their contenders, shared by ``run.py`` and the single-case scripts.

Each ``*_runner`` returns a :class:`_timing.Runner` whose ``fn()`` returns its output as a
(T, B, n) float64 array, so :func:`check_agree` can compare every contender with blockloop's
compiled backend before anything is timed. torch and bdsim are imported only when asked for.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.diagrams import NetworkWeights, lstm_network
from blockloop.engine import Diagram

from _timing import Runner


def as_tbn(y, steps: int) -> np.ndarray:
    """An output as a float64 (T, B, n) array: (T, n) gets B = 1."""
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(steps, 1, -1) if y.ndim == 2 else y


# -- the LSTM case ------------------------------------------------------------------------------

def lstm_case(nn: int = 5, batch: int = 1, steps: int = 1001, ni: int = 1, no: int = 1, n_layers: int = 1,
              seed: int = 0):
    """(weights, program, u): MATLAB-style random weights, the compiled float64 diagram, normal input.

    ``u`` is (T, Ni) for batch 1 (an unbatched run) and (T, B, Ni) otherwise.
    """
    w = NetworkWeights.random(ni=ni, nn=nn, no=no, n_layers=n_layers, seed=seed)
    program = lstm_network(w).compile()
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((steps, ni)) if batch == 1 else rng.standard_normal((steps, batch, ni))
    return w, program, u


def simulate_runner(name: str, program, u, backend: str, note: str = "", rounds: int | None = None) -> Runner:
    """``program.simulate({"u": u}, backend=backend)``, the whole public call."""
    steps = u.shape[0]
    return Runner(name, lambda: as_tbn(program.simulate({"u": u}, backend=backend)["y"], steps), steps,
                  rounds=rounds, note=note)


def run_plan_runner(name: str, program, u, threads: int, note: str = "") -> Runner:
    """The compiled backend's ``run_plan`` with a fixed thread count (``plan_run`` included, no Result)."""
    from blockloop.compiled.backend import run_plan
    from blockloop.engine.simulate import plan_run

    return Runner(name, lambda: run_plan(program, plan_run(program, {"u": u}), threads=threads)["y"], u.shape[0],
                  note=note)


def numpy_lstm(w: NetworkWeights, u: np.ndarray) -> np.ndarray:
    """The LSTM recurrence written by hand with numpy, one step at a time (the floor for a Python loop).

    ``u`` is (T, Ni) or (T, B, Ni); returns (T, B, No). One layer.
    """
    if u.ndim == 2:
        u = u[:, None, :]
    L = w.layers[0]
    nn = L.nn
    WT, RT, b, FT = L.W.T.copy(), L.R.T.copy(), L.b, w.F.T.copy()
    B = u.shape[1]
    h, c = np.tile(L.h0, (B, 1)), np.tile(L.c0, (B, 1))
    ys = np.empty((u.shape[0], B, FT.shape[1]))
    for k in range(u.shape[0]):
        z = u[k] @ WT + h @ RT + b
        i = 1.0 / (1.0 + np.exp(-z[:, :nn]))
        f = 1.0 / (1.0 + np.exp(-z[:, nn:2 * nn]))
        g = np.tanh(z[:, 2 * nn:3 * nn])
        o = 1.0 / (1.0 + np.exp(-z[:, 3 * nn:]))
        c = f * c + i * g
        h = o * np.tanh(c)
        ys[k] = h @ FT
    return ys


def numpy_lstm_runner(w: NetworkWeights, u: np.ndarray, name: str = "numpy hand loop", **kw) -> Runner:
    return Runner(name, lambda: numpy_lstm(w, u), u.shape[0], **kw)


def torch_runner(name: str, w: NetworkWeights, u: np.ndarray, dtype: str, threads: int, **kw) -> Runner:
    """``nn.LSTM`` + ``nn.Linear`` (from :func:`blockloop.interop.torch.to_torch`), no_grad, batch_first.

    ``torch.set_num_threads(threads)`` runs before each (timed) call, outside the timing.
    """
    import torch

    from blockloop.interop.torch import to_torch

    tdtype = getattr(torch, dtype)
    lstm, linear, (h0, c0) = to_torch(w, dtype)
    u3 = u[:, None, :] if u.ndim == 2 else u
    B = u3.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(u3.transpose(1, 0, 2))).to(tdtype)  # (B, T, Ni)
    h0, c0 = h0.expand(-1, B, -1).contiguous(), c0.expand(-1, B, -1).contiguous()

    def run():
        with torch.no_grad():
            return linear(lstm(x, (h0, c0))[0]).numpy().transpose(1, 0, 2)

    kw.setdefault("note", f"{threads} thread{'s' if threads > 1 else ''}")
    return Runner(name, run, u3.shape[0], before=lambda: torch.set_num_threads(threads), **kw)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def bdsim_missing() -> str | None:
    """Why bdsim cannot be timed, or None when it can."""
    if importlib.util.find_spec("bdsim") is None:
        return "bdsim is not installed (pip install 'blockloop[bdsim]')"
    return None


def bdsim_runner(program, u: np.ndarray, name: str = "bdsim 1.4 export", **kw):
    """(runner, build seconds): ``to_bdsim(program, u)`` built and compiled once (timed apart), then ``run()``."""
    import time

    from blockloop.interop.bdsim import to_bdsim

    to_bdsim(program, u[:2], Ts=0.1)  # import bdsim and its block modules outside the timing
    t0 = time.perf_counter()
    model = to_bdsim(program, u, Ts=0.1)
    build_s = time.perf_counter() - t0
    steps = u.shape[0]
    return Runner(name, lambda: as_tbn(model.run()["y"], steps), steps, **kw), build_s


# -- the generic chain ---------------------------------------------------------------------------

def chain_gains(stages: int) -> np.ndarray:
    """Feedback gains of the chain's stages: ±0.5 alternating, so the cascade stays bounded."""
    return 0.5 * (-1.0) ** np.arange(stages)


def chain_diagram(n_blocks: int = 200) -> tuple[Diagram, np.ndarray]:
    """A chain of (n_blocks − 2)/3 first-order stages between an Inport and an Outport.

    Stage i (input x, output s_i) is a Sum with a delayed feedback through a Gain::

        s_i[k] = x[k] + c_i·d_i[k],   d_i[k+1] = s_i[k]   (d_i: the stage's UnitDelay, d_i[0] = 0)

    so a step runs a Gain, a Sum and a UnitDelay per stage, and every Sum feeds the next.
    Returns the diagram and the gains c.
    """
    stages = (n_blocks - 2) // 3
    if 3 * stages + 2 != n_blocks:
        raise ValueError(f"n_blocks: expected 3·stages + 2, got {n_blocks}")
    c = chain_gains(stages)
    d = Diagram("chain")
    d.add("u", Inport(1))
    source = "u"
    for i in range(stages):
        d.add(f"g{i}", Gain(float(c[i])))
        d.add(f"s{i}", Sum("++"))
        d.add(f"d{i}", UnitDelay(0.0))
        d.connect(source, f"s{i}.u1")
        d.connect(f"g{i}", f"s{i}.u2")
        d.connect(f"s{i}", f"d{i}")
        d.connect(f"d{i}", f"g{i}")
        source = f"s{i}"
    d.add("y", Outport())
    d.connect(source, "y")
    return d, c


def numpy_chain(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The chain's difference equations by hand, all stages of a step at once: (T, B, 1).

    s_i = s_{i−1} + c_i·d_i with s_0 = u is a running sum, so one step is
    ``s = cumsum([u, c·d])`` (the same additions in the same order as the diagram), then d = s.
    """
    if u.ndim == 2:
        u = u[:, None, :]
    T, B, _ = u.shape
    d = np.zeros((B, c.size))
    terms = np.empty((B, c.size + 1))
    ys = np.empty((T, B, 1))
    for k in range(T):
        terms[:, :1] = u[k]
        np.multiply(c, d, out=terms[:, 1:])
        s = np.cumsum(terms, axis=1)
        ys[k] = s[:, -1:]
        d = s[:, 1:]
    return ys


# -- agreement ---------------------------------------------------------------------------------

def check_agree(reference: np.ndarray, runners: list[Runner], tolerances: dict[str, float]) -> dict[str, float]:
    """Call every runner once (also its warm-up) and compare it with ``reference`` (T, B, n).

    A runner over fewer steps is compared on its first steps. The error is the largest
    absolute difference over the largest |reference|; above ``tolerances[name]`` (default
    1e-9) it raises, since timing a wrong result would mean nothing. Returns name → error.
    """
    scale = max(float(np.max(np.abs(reference))), 1e-300)
    errors = {}
    for runner in runners:
        if runner.before is not None:
            runner.before()
        out = as_tbn(runner.fn(), runner.steps)
        ref = reference[:runner.steps]
        if out.shape != ref.shape:
            raise AssertionError(f"{runner.name}: output shape {out.shape}, expected {ref.shape}")
        err = float(np.max(np.abs(out - ref))) / scale
        if not err <= tolerances.get(runner.name, 1e-9):
            raise AssertionError(f"{runner.name} differs from blockloop compiled by {err:.3e} (relative)")
        errors[runner.name] = err
    return errors
