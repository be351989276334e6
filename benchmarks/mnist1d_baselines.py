"""Reproduce the MNIST-1D paper's logistic-regression, MLP and CNN baselines with retroprop.

The setup follows the paper's repository (greydanus/mnist1d, notebooks/models.py and train.py):
``make_dataset`` with its default arguments (4000 train / 1000 test), Adam with lr 1e-2, batches of
100 taken in order, 6000 steps, PyTorch's default initialization; ``Linear(40, 10)`` for logistic
regression, ``MLPBase`` (hidden size 100, ``h = relu(l1(x)); h = h + relu(l2(h)); l3(h)``) for the
MLP and ``ConvBase`` for the CNN (the input seen as ``(N, 1, 40)``; three ``Conv1d`` of 25 channels,
kernels 5/3/3, stride 2, padding 1, each followed by ReLU, giving lengths 19, 10, 5; flattened to
125 features for ``Linear(125, 10)``). The repository's notebooks print about 31.5 %, about 65 % and
(notebooks/mnist1d-classification.ipynb, seed 42) 92.3 % test accuracy; the paper's table and the
README give 32 %, 68 % and 94 %.

The models are written once, as the repository writes them, and built for either library: with
``--torch`` every run is repeated in torch (one thread) on the same data and batches, each library
drawing its default initialization from its own generator seeded with the same seed.

Run: ``python benchmarks/mnist1d_baselines.py [--models logistic mlp cnn] [--seeds 5] [--steps 6000]
[--torch]``; it prints the final-step test accuracy of every seed, the mean ± std per model and the
training time per run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

import retroprop as rp

KINDS = ("logistic", "mlp", "cnn")
PAPER = {"logistic": 31.5, "mlp": 65.0, "cnn": 94.0}


def model_builders(nn: ModuleType) -> dict[str, Callable[[], Any]]:
    """The paper's three models for a library whose ``nn`` module is ``nn`` (retroprop's or torch's):
    the same source for both, as notebooks/models.py writes it."""

    class MLPBase(nn.Module):
        """Two hidden ReLU layers of width 100, the second a residual block."""

        def __init__(self, input_size: int = 40, output_size: int = 10, hidden_size: int = 100) -> None:
            super().__init__()
            self.linear1 = nn.Linear(input_size, hidden_size)
            self.linear2 = nn.Linear(hidden_size, hidden_size)
            self.linear3 = nn.Linear(hidden_size, output_size)

        def forward(self, x: Any) -> Any:
            h = self.linear1(x).relu()
            h = h + self.linear2(h).relu()
            return self.linear3(h)

    class ConvBase(nn.Module):
        """Three strided Conv1d + ReLU and a linear classifier on the flattened features."""

        def __init__(self, output_size: int = 10, channels: int = 25, linear_in: int = 125) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.linear = nn.Linear(linear_in, output_size)

        def forward(self, x: Any) -> Any:
            x = x.view(-1, 1, x.shape[-1])
            h1 = self.conv1(x).relu()
            h2 = self.conv2(h1).relu()
            h3 = self.conv3(h2).relu()
            h3 = h3.view(h3.shape[0], -1)
            return self.linear(h3)

    return {"logistic": lambda: nn.Linear(40, 10), "mlp": MLPBase, "cnn": ConvBase}


_RETROPROP_MODELS = model_builders(rp.nn)


def build(kind: str) -> rp.nn.Module:
    """A freshly initialized retroprop model of the given kind ('logistic', 'mlp' or 'cnn')."""
    if kind not in _RETROPROP_MODELS:
        raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    return _RETROPROP_MODELS[kind]()


@dataclass
class Run:
    kind: str
    seed: int
    test_accuracy: float
    seconds: float
    library: str = "retroprop"


def train(kind: str, seed: int, steps: int = 6000, batch_size: int = 100, lr: float = 1e-2) -> Run:
    """One run of the paper's loop; returns the test accuracy (in %) after the last step."""
    data = rp.data.load_mnist1d()
    rp.manual_seed(seed)
    model = build(kind)
    optimizer = rp.optim.Adam(model.parameters(), lr=lr)
    loss_fn = rp.nn.CrossEntropyLoss()
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


def train_torch(kind: str, seed: int, steps: int = 6000, batch_size: int = 100, lr: float = 1e-2) -> Run:
    """The same run in torch on one thread: same model source, data, batches and optimizer; the
    initial weights are torch's default init from ``torch.manual_seed(seed)``."""
    import torch

    if kind not in KINDS:
        raise ValueError(f"unknown model {kind!r}; expected one of {', '.join(map(repr, KINDS))}")
    data = rp.data.load_mnist1d()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = model_builders(torch.nn)[kind]()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        start = time.perf_counter()
        for step in range(steps):
            begin = (step * batch_size) % len(x_train)
            loss = loss_fn(model(x_train[begin:begin + batch_size]), y_train[begin:begin + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            predictions = model(torch.from_numpy(data.x_test)).argmax(dim=1).numpy()
    finally:
        torch.set_num_threads(threads)
    return Run(kind, seed, 100.0 * float((predictions == data.y_test).mean()), seconds, "torch")


def _summary(name: str, runs: list[Run]) -> str:
    accuracies = np.array([r.test_accuracy for r in runs])
    spread = f" ± {accuracies.std(ddof=1):.1f}" if len(runs) > 1 else ""
    per_seed = ", ".join(f"{a:.1f}" for a in accuracies)
    return (f"  {name:<9} {accuracies.mean():5.1f}{spread} %  per seed: {per_seed}  "
            f"[{np.mean([r.seconds for r in runs]):.1f} s per run]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=KINDS, default=list(KINDS),
                        help="models to train (default: all three)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per model (default 5)")
    parser.add_argument("--steps", type=int, default=6000, help="training steps (default 6000)")
    parser.add_argument("--torch", action="store_true",
                        help="repeat every run in torch (one thread) on the same data and batches")
    args = parser.parse_args()
    if args.seeds < 1 or args.steps < 1:
        parser.error(f"--seeds and --steps must be at least 1, got {args.seeds} and {args.steps}")
    print(f"MNIST-1D baselines, {args.steps} steps of Adam(lr=1e-2), batch 100 in order, "
          f"seeds 0..{args.seeds - 1}; final-step test accuracy")
    for kind in args.models:
        print(f"{kind} (paper ≈ {PAPER[kind]} %)")
        print(_summary("retroprop", [train(kind, seed, steps=args.steps) for seed in range(args.seeds)]))
        if args.torch:
            print(_summary("torch", [train_torch(kind, seed, steps=args.steps)
                                     for seed in range(args.seeds)]))


if __name__ == "__main__":
    main()
