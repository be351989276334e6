"""What watching a PyTorch run costs: a plain torch training loop with and without ``retroprop.torch.watch``.

Each row trains the same network from the same seed three ways: plain, under ``watch(model, optimizer)``
(hooks only), and under ``watch`` with ``doctor.observe(loss)`` every step (the loss rules on). The
loop is the leanest one people write (batches sliced from tensors in memory, no DataLoader), so the
doctor's share of the time is as large as it gets; ``watch`` and ``finish`` are inside the timing. The
three runs are interleaved in a rotating order and the table reports the median of the paired time
ratios with their middle half, because absolute speed on a shared machine drifts. One thread for
torch and for NumPy's BLAS. Nothing here is asserted; the target is an overhead of at most 5 %.

Run: ``python benchmarks/torch_watch_overhead.py [--rounds N] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _env import blas_description, use_native_blas_kernel

use_native_blas_kernel()

import numpy as np  # noqa: E402  (after the BLAS environment is settled)
import torch  # noqa: E402
from torch import nn  # noqa: E402

import retroprop as rp  # noqa: E402
from retroprop.torch import watch  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def digits_flat() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = rp.data.load_digits()
    return torch.tensor(rp.data.standardize(x), dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 digits upsampled (bilinear) to 1x28x28 images, scaled to [0, 1]."""
    x, y = rp.data.load_digits()
    images = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0
    images = nn.functional.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    return images.contiguous(), torch.tensor(y, dtype=torch.int64)


def synthetic(n: int, features: int, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


def mlp(*sizes: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    return build


class SmallCNN(nn.Module):
    """Two 3x3 conv layers (ReLU, 2x2 max-pool each) and a linear head, on 1x28x28 inputs."""

    def __init__(self, channels: tuple[int, int] = (16, 32), classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], 3, padding=1)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, padding=1)
        self.head = nn.Linear(channels[1] * 7 * 7, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


ROWS: list[tuple[str, Callable[[], Any], Callable[[], nn.Module], int, int, float]] = [
    # name, data, model, batch size, epochs, SGD-momentum learning rate
    ("MLP digits 64-64-64-10 (short)", digits_flat, mlp(64, 64, 64, 10), 32, 3, 0.05),
    ("MLP digits 64-256-256-10", digits_flat, mlp(64, 256, 256, 10), 32, 10, 0.05),
    ("MLP synthetic 256-512-512-10", lambda: synthetic(4096, 256), mlp(256, 512, 512, 10), 128, 5, 0.05),
    ("CNN digits 1x28x28 c16-c32-fc", digits_28, SmallCNN, 64, 3, 0.05),
]
MODES = ("plain", "watch", "watch+observe")
CLOCKS = ("wall", "cpu")  # wall: perf_counter; cpu: this process's CPU time (steadier on a shared machine)


def run(data: tuple[torch.Tensor, torch.Tensor], build: Callable[[], nn.Module], batch: int, epochs: int,
        lr: float, mode: str) -> tuple[float, float, int]:
    """One training run in the given mode: its wall time, its CPU time and the number of diagnoses."""
    torch.manual_seed(0)
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    start, cpu = time.perf_counter(), time.process_time()
    doctor = watch(model, optimizer) if mode != "plain" else None
    for _ in range(epochs):
        for i in range(0, len(x), batch):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
            loss.backward()
            if mode == "watch+observe":
                doctor.observe(loss)
            optimizer.step()
    found = 0
    if doctor is not None:
        doctor.finish()
        found = len(doctor.diagnoses)
    return time.perf_counter() - start, time.process_time() - cpu, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds per row (default 21)")
    parser.add_argument("--only", help="rows whose name contains this text")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if threadpool_limits is not None:
        threadpool_limits(limits=1)
    print("a torch training loop under retroprop.torch.watch vs without (median of paired ratios)")
    print(f"  torch {torch.__version__} ({torch.get_num_threads()} thread), numpy {np.__version__} "
          f"({blas_description()}), retroprop {rp.__version__}, {args.rounds} rounds\n")
    print(f"{'network':<31} {'clock':>5} {'steps':>6} {'plain s':>8} {'watch':>8} {'middle half':>15} "
          f"{'+observe':>9} {'middle half':>15} {'diagnoses':>9}")
    for name, load, build, batch, epochs, lr in ROWS:
        if args.only and args.only not in name:
            continue
        data = load()
        for mode in MODES:  # warm-up
            run(data, build, batch, 1, lr, mode)
        times: dict[tuple[str, str], list[float]] = {(clock, mode): [] for clock in CLOCKS for mode in MODES}
        found = 0
        for r in range(args.rounds):
            for mode in MODES[r % 3:] + MODES[:r % 3]:
                wall, cpu, diagnoses = run(data, build, batch, epochs, lr, mode)
                times["wall", mode].append(wall)
                times["cpu", mode].append(cpu)
                found = max(found, diagnoses)
        steps = epochs * -(-len(data[1]) // batch)
        for clock in CLOCKS:
            plain = np.array(times[clock, "plain"])
            cells = []
            for mode in MODES[1:]:
                ratios = np.array(times[clock, mode]) / plain
                low, high = np.percentile(ratios, [25, 75]) - 1
                cells.append(f"{float(np.median(ratios)) - 1:+8.1%} {low:+6.1%}..{high:+.1%}".rjust(24))
            print(f"{name if clock == 'wall' else '':<31} {clock:>5} {steps:>6} {np.median(plain):8.3f} "
                  f"{cells[0]} {cells[1]} {found:>9}")
    print("\noverhead = median(watched time / plain time) - 1 over the rounds; middle half = its\n"
          "interquartile range. wall: elapsed time; cpu: the process's CPU time (less disturbed by other\n"
          "processes on a busy machine). watch probes at steps 0, 37 and 74, then every 100 (closer\n"
          "together while a symptom shows). diagnoses: the most any watched run of the row found.")


if __name__ == "__main__":
    main()
