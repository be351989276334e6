"""Reproduce the MNIST-1D paper's logistic-regression and MLP baselines with retroprop.

The setup follows the paper's repository (greydanus/mnist1d, notebooks/models.py and train.py):
``make_dataset`` with its default arguments (4000 train / 1000 test), Adam with lr 1e-2, batches of
100 taken in order, 6000 steps, PyTorch's default initialization; ``Linear(40, 10)`` for logistic
regression and ``MLPBase`` (hidden size 100, ``h = relu(l1(x)); h = h + relu(l2(h)); l3(h)``) for
the MLP. The repository's notebooks print about 31.5 % and about 65 % test accuracy.

Run: ``python benchmarks/mnist1d_baselines.py [--seeds 5] [--steps 6000]``; it prints the final-step
test accuracy of every seed and the mean ± std per model.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

import retroprop as rp
from retroprop import nn

PAPER = {"logistic": 31.5, "mlp": 65.0}


class MLPBase(nn.Module):
    """The paper's MLP: two hidden ReLU layers of width 100, the second a residual block."""

    def __init__(self, input_size: int = 40, output_size: int = 10, hidden_size: int = 100) -> None:
        super().__init__()
        self.linear1 = nn.Linear(input_size, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, output_size)

    def forward(self, x: rp.Tensor) -> rp.Tensor:
        h = rp.F.relu(self.linear1(x))
        h = h + rp.F.relu(self.linear2(h))
        return self.linear3(h)


def build(kind: str) -> nn.Module:
    if kind == "logistic":
        return nn.Linear(40, 10)
    if kind == "mlp":
        return MLPBase()
    raise ValueError(f"unknown model {kind!r}; expected 'logistic' or 'mlp'")


@dataclass
class Run:
    kind: str
    seed: int
    test_accuracy: float
    seconds: float


def train(kind: str, seed: int, steps: int = 6000, batch_size: int = 100, lr: float = 1e-2) -> Run:
    """One run of the paper's loop; returns the test accuracy (in %) after the last step."""
    data = rp.data.load_mnist1d()
    rp.manual_seed(seed)
    model = build(kind)
    optimizer = rp.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x_train, y_train = data.x_train, data.y_train
    start = time.perf_counter()
    for step in range(steps):
        begin = (step * batch_size) % len(x_train)  # batches taken in order, as the paper's loop
        xb = rp.tensor(x_train[begin:begin + batch_size])
        loss = loss_fn(model(xb), y_train[begin:begin + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    predictions = rp.predict(model, data.x_test).argmax(axis=1)
    return Run(kind, seed, 100.0 * float((predictions == data.y_test).mean()), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per model (default 5)")
    parser.add_argument("--steps", type=int, default=6000, help="training steps (default 6000)")
    args = parser.parse_args()
    print(f"MNIST-1D baselines, {args.steps} steps of Adam(lr=1e-2), batch 100 in order, "
          f"seeds 0..{args.seeds - 1}")
    for kind in ("logistic", "mlp"):
        runs = [train(kind, seed, steps=args.steps) for seed in range(args.seeds)]
        accuracies = np.array([r.test_accuracy for r in runs])
        per_seed = ", ".join(f"{a:.1f}" for a in accuracies)
        print(f"{kind:<9} test accuracy {accuracies.mean():5.1f} ± {accuracies.std(ddof=1):.1f} % "
              f"(paper ≈ {PAPER[kind]} %)  per seed: {per_seed}  "
              f"[{np.mean([r.seconds for r in runs]):.1f} s per run]")


if __name__ == "__main__":
    main()
