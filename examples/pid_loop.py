"""A PID loop from library blocks: step response of a first-order plant, checked against a hand loop.

    python examples/pid_loop.py [--out DIR]      # writes DIR/pid_step.png (default: the current folder)

Plant (a first-order lag, DC gain 1):  x[k+1] = 0.9·x[k] + 0.1·u[k],  y[k] = x[k].
Controller (parallel PID, backward-Euler integral, backward-difference derivative), e = r − y:

    I[k] = I[k−1] + Ki·Ts·e[k]
    u[k] = Kp·e[k] + I[k] + (Kd/Ts)·(e[k] − e[k−1])

Every term is a Gain, a Sum or a UnitDelay. y[k] depends on u[k−1] only (the plant's delay), so
the loop has no algebraic loop. The integral action drives y to the reference 1.
"""

import argparse
from pathlib import Path

import numpy as np

from blockloop import Diagram
from blockloop.blocks import Gain, Inport, Outport, Sum, UnitDelay
from blockloop.engine import feedback_loops

KP, KI, KD, TS = 2.0, 1.0, 0.05, 0.1
A, B = 0.9, 0.1


def pid_loop() -> Diagram:
    d = Diagram("pid loop")
    for name, block in [
        ("r", Inport(1)),
        ("e", Sum("+-")),                                     # e = r − y
        ("kp", Gain(KP)),
        ("ki", Gain(KI * TS)), ("i_sum", Sum("++")), ("i_z", UnitDelay(0.0)),   # I = Ki·Ts·e + I[k−1]
        ("e_z", UnitDelay(0.0)), ("de", Sum("+-")), ("kd", Gain(KD / TS)),      # (Kd/Ts)·(e − e[k−1])
        ("u_sum", Sum("+++")),
        ("b", Gain(B)), ("a", Gain(A)), ("p_sum", Sum("++")), ("x_z", UnitDelay(0.0)),  # the plant
        ("y", Outport()), ("u", Outport()),
    ]:
        d.add(name, block)
    for src, dst in [("r", "e.u1"), ("x_z", "e.u2"),
                     ("e", "kp"), ("e", "ki"), ("ki", "i_sum.u1"), ("i_z", "i_sum.u2"), ("i_sum", "i_z"),
                     ("e", "e_z"), ("e", "de.u1"), ("e_z", "de.u2"), ("de", "kd"),
                     ("kp", "u_sum.u1"), ("i_sum", "u_sum.u2"), ("kd", "u_sum.u3"),
                     ("u_sum", "b"), ("b", "p_sum.u1"), ("x_z", "a"), ("a", "p_sum.u2"), ("p_sum", "x_z"),
                     ("x_z", "y"), ("u_sum", "u")]:
        d.connect(src, dst)
    return d


def hand_loop(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same equations as a plain Python loop."""
    x = integral = e_prev = 0.0
    ys, us = [], []
    for rk in r:
        y = x
        e = rk - y
        integral = KI * TS * e + integral
        u = KP * e + integral + KD / TS * (e - e_prev)
        ys.append(y)
        us.append(u)
        x, e_prev = B * u + A * x, e
    return np.array(ys), np.array(us)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for pid_step.png (default: .)")
    args = parser.parse_args(argv)

    diagram = pid_loop()
    r = np.ones((150, 1))                                     # a unit step, 15 s
    result = diagram.simulate({"r": r}, Ts=TS)
    y_hand, u_hand = hand_loop(r[:, 0])
    diff = max(np.abs(result["y"][:, 0] - y_hand).max(), np.abs(result["u"][:, 0] - u_hand).max())
    print(f"y at t = 0, 1, 2, 5, 14.9 s: {np.round(result['y'][[0, 10, 20, 50, 149], 0], 4).tolist()}")
    print(f"peak y {result['y'].max():.4f} (no overshoot), error at 14.9 s {abs(1 - result['y'][-1, 0]):.1e}")
    print(f"diagram vs hand-written loop: max |difference| = {diff:.1e}")
    for fam in feedback_loops(diagram).families:
        print(f"loop family {fam.name} ({fam.role}): {len(fam.loops)} loop(s)")
    args.out.mkdir(parents=True, exist_ok=True)
    result.plot(file=args.out / "pid_step.png")
    print(f"wrote {args.out / 'pid_step.png'}")
    return 0 if diff < 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
