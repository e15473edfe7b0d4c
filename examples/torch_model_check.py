"""Check your own trained PyTorch model against its block diagram.

    python examples/torch_model_check.py [--out DIR]    # writes DIR/model.json + DIR/model.npz

Trains a small ``nn.LSTM`` (1 input, 8 units) + ``nn.Linear`` for a few seconds to imitate a
first-order filter, builds the blockloop diagram of the trained weights with
:func:`blockloop.interop.torch.from_torch`, runs both on a fresh input and compares: in float64
the two agree to rounding (≲ 1e-14). The diagram is saved, so the shell can run it too::

    blockloop simulate DIR/model.json --input u.npy --ts 0.01
    blockloop loops DIR/model.json

Needs PyTorch (``pip install -e '.[torch]'``).
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from blockloop.diagrams import lstm_network
from blockloop.interop.torch import crosscheck, from_torch
from blockloop.io import save_diagram


class Model(torch.nn.Module):
    """The usual sequence regressor: LSTM then a fully connected layer on every step."""

    def __init__(self, units: int = 8):
        super().__init__()
        self.lstm = torch.nn.LSTM(1, units, batch_first=True)
        self.head = torch.nn.Linear(units, 1)

    def forward(self, u):
        h, _ = self.lstm(u)
        return self.head(h)


def target(u: np.ndarray) -> np.ndarray:
    """What the model learns: the first-order filter y[k] = 0.8·y[k−1] + 0.2·u[k]."""
    y = np.zeros_like(u)
    for k in range(len(u)):
        y[k] = 0.8 * (y[k - 1] if k else 0.0) + 0.2 * u[k]
    return y


def train(model: Model, steps: int = 150) -> float:
    u = np.random.default_rng(0).standard_normal((8, 100, 1))
    x, y = torch.tensor(u, dtype=torch.float32), torch.tensor(np.stack([target(s) for s in u]), dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
    return loss.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for model.json/.npz (default: .)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest (and not slowed by a busy machine)
    model = Model()
    print(f"trained: MSE {train(model):.2e} against the filter")

    weights = from_torch(model.lstm, model.head)                # the trained weights, float64
    net = lstm_network(weights)                                 # gains, sums, products, σ, tanh, delays
    u = np.random.default_rng(1).standard_normal((200, 1))
    y_diagram = net.simulate({"u": u}, Ts=0.01)["y"]
    with torch.no_grad():
        y_model = model.double()(torch.from_numpy(u[None]))[0].numpy()  # your model, in float64
    diff = np.abs(y_diagram - y_model).max()
    print(f"diagram vs your model (float64): max |difference| = {diff:.1e}")
    print(f"diagram vs its filter target: max |difference| = {np.abs(y_diagram - target(u)).max():.3f}")
    report = crosscheck(weights, u, Ts=0.01)                    # also float32, MATLAB-style norms
    print(f"crosscheck: float64 norm {report.as_dict()['float64']['norm']:.1e}, "
          f"float32 norm {report.as_dict()['float32']['norm']:.1e}, ok = {report.ok}")

    args.out.mkdir(parents=True, exist_ok=True)
    save_diagram(net, args.out / "model.json")
    print(f"wrote {args.out / 'model.json'} and {args.out / 'model.npz'}")
    return 0 if diff < 1e-12 and report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
