"""Training-step speed: retroprop vs PyTorch eager vs a hand-written NumPy step.

For each MLP (float32, ReLU, cross-entropy, SGD with momentum 0.9, the same batch every step) this
times one full training step three ways:

* retroprop through its public API only: ``opt.zero_grad(); loss_fn(model(x), y).backward();
  opt.step()`` on an ``nn.Sequential`` (nothing special-cased for these networks);
* torch eager, the same model and optimizer;
* a hand-written NumPy step for the same network (matmuls, in-place ReLU mask, fused
  softmax-cross-entropy, in-place momentum update): the practical limit for NumPy.

Each library runs on one thread (threadpoolctl for NumPy's BLAS, ``torch.set_num_threads(1)``):
two-thread pools spin against each other on a shared 2-core machine. Runs are interleaved
(A B C, C B A, ...) in short blocks and the table reports medians of the per-round ratios,
because absolute speed on shared machines drifts by tens of percent from minute to minute.

NumPy's BLAS runs with the kernel the CPU supports (see ``_env.py``; ``--keep-blas-env`` keeps a
forced one). Run: ``python benchmarks/train_mlp.py [--quick] [--rounds N]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from collections.abc import Callable

from _env import blas_description, use_native_blas_kernel

use_native_blas_kernel()

import numpy as np  # noqa: E402  (after the BLAS environment is settled)

import retroprop as rp  # noqa: E402
from retroprop import nn  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

ROWS = [
    ("784-256-128-10", [784, 256, 128, 10], 128),
    ("784-1024-1024-10", [784, 1024, 1024, 10], 128),
    ("40-100-100-10", [40, 100, 100, 10], 100),
    ("20 x 64 hidden", [64] + [64] * 20 + [10], 64),
]
# (rp vs torch, rp vs numpy) targets: speed ratio >= first, rp time within (1 + second) of numpy
TARGETS = {
    "784-256-128-10": (1.3, 0.15),
    "784-1024-1024-10": (1.0, 0.15),
    "40-100-100-10": (2.0, 0.30),
    "20 x 64 hidden": (2.0, 0.30),
}
LR, MOMENTUM = 0.01, 0.9


def make_weights(sizes: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        layers.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                       rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return layers


def retroprop_step(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
                   y: np.ndarray) -> Callable[[], float]:
    layers: list[nn.Module] = []
    for i, (w, b) in enumerate(weights):
        linear = nn.Linear(w.shape[1], w.shape[0])
        linear.weight.data[...] = w
        linear.bias.data[...] = b
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt = rp.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    inputs = rp.tensor(x)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(inputs), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_step(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
               y: np.ndarray) -> Callable[[], float]:
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def numpy_step(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
               y: np.ndarray) -> Callable[[], float]:
    """A careful hand-written step: what NumPy itself can do for this network."""
    params = [(w.copy(), b.copy()) for w, b in weights]
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    rows = np.arange(len(y))
    n = len(y)

    def step() -> float:
        activations = [x]
        masks = []
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T
            h += b
            if i < len(params) - 1:
                mask = h > 0
                h *= mask
                masks.append(mask)
            activations.append(h)
        shifted = h - h.max(axis=1, keepdims=True)
        loss = -shifted[rows, y]
        np.exp(shifted, out=shifted)
        total = shifted.sum(axis=1, keepdims=True)
        loss += np.log(total[:, 0])
        grad = shifted
        grad /= total
        grad[rows, y] -= 1
        grad *= 1.0 / n
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            vw, vb = velocity[i]
            grad_w = grad.T @ activations[i]
            grad_b = grad.sum(axis=0)
            if i > 0:
                grad = grad @ w
                grad *= masks[i - 1]
            vw *= MOMENTUM
            vw += grad_w
            vb *= MOMENTUM
            vb += grad_b
            w -= LR * vw
            b -= LR * vb
        return float(loss.mean())

    return step


def time_block(step: Callable[[], float], seconds: float) -> float:
    """Seconds per step over a block of about ``seconds``."""
    count = 0
    start = time.perf_counter()
    while True:
        step()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (about 30 s)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per row")
    parser.add_argument("--keep-blas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as the machine sets them")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)
    block = 0.15 if args.quick else 0.3
    limits = threadpool_limits(limits=1) if threadpool_limits else None
    if limits is None:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if torch is not None:
        torch.set_num_threads(1)

    print("Training step: retroprop (public API) vs torch eager vs hand-written NumPy")
    print(f"  machine : {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"  numpy {np.__version__}, retroprop {rp.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}; one thread each "
          f"({'threadpoolctl' if limits else 'OPENBLAS_NUM_THREADS=1 (threadpoolctl missing)'})")
    print(f"  BLAS    : NumPy uses {blas_description()}; torch uses its own MKL")
    print(f"  method  : {rounds} interleaved rounds of ~{block:.2f} s blocks; medians of paired ratios; "
          "float32, SGD momentum 0.9, same batch each step\n")
    header = (f"{'network':<18} {'batch':>5} {'rp ms':>7} {'torch ms':>8} {'numpy ms':>8} "
              f"{'torch/rp':>8} {'target':>7} {'rp/numpy':>8} {'target':>7}")
    print(header)
    print("-" * len(header))
    for name, sizes, batch in ROWS:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], size=batch)
        weights = make_weights(sizes)
        steps = {"rp": retroprop_step(weights, x, y), "numpy": numpy_step(weights, x, y)}
        if torch is not None:
            steps["torch"] = torch_step(weights, x, y)
        first = {k: s() for k, s in steps.items()}
        if "torch" in first and not np.isclose(first["rp"], first["torch"], rtol=1e-4):
            print(f"  ! {name}: first losses differ (rp {first['rp']:.6f}, torch {first['torch']:.6f})")
        for s in steps.values():  # warm-up
            time_block(s, block / 3)
        times: dict[str, list[float]] = {k: [] for k in steps}
        order = list(steps)
        for r in range(rounds):
            for key in order if r % 2 == 0 else order[::-1]:
                times[key].append(time_block(steps[key], block))
        rp_t = np.array(times["rp"])
        np_t = np.array(times["numpy"])
        torch_ratio = np.median(np.array(times["torch"]) / rp_t) if "torch" in times else float("nan")
        numpy_ratio = np.median(rp_t / np_t)
        target_torch, target_numpy = TARGETS[name]
        torch_ms = f"{np.median(times['torch']) * 1e3:8.3f}" if "torch" in times else f"{'n/a':>8}"
        print(f"{name:<18} {batch:>5} {np.median(rp_t) * 1e3:7.3f} {torch_ms} "
              f"{np.median(np_t) * 1e3:8.3f} {torch_ratio:7.2f}x {'>=' + format(target_torch, '.1f'):>7} "
              f"{numpy_ratio:7.2f}x {'<=' + format(1 + target_numpy, '.2f'):>7}")
    print("\ntorch/rp > 1 means retroprop takes less time per step than torch eager; rp/numpy is "
          "retroprop's time over the hand-written step (1.00 = no overhead). Targets are the project's.")


if __name__ == "__main__":
    main()
