"""``python examples/engine_spiral.py``: train a small network with the engine alone.

Tensors, ``F.linear``, ``F.relu``, ``F.cross_entropy`` and ``backward`` (no layers, no optimizer
objects) train a two-hidden-layer perceptron on a three-arm spiral, printing the loss, the accuracy
and each layer's gradient norm as it goes.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np

import retroprop as rp
from retroprop import F


def spiral(points_per_class: int = 200, classes: int = 3, noise: float = 0.2,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The classic interleaved-spiral classification set (float32 points, int64 labels)."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, points_per_class), classes)
    label = np.repeat(np.arange(classes), points_per_class)
    angle = label * (2 * np.pi / classes) + radius * 4.0 + rng.normal(scale=noise, size=radius.size)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return points.astype(np.float32), label


def init_layer(fan_in: int, fan_out: int, rng: np.random.Generator) -> tuple[rp.Tensor, rp.Tensor]:
    """He-initialized weight (out, in) and zero bias, as trainable tensors."""
    weight = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)
    return rp.tensor(weight, requires_grad=True), rp.zeros(fan_out, requires_grad=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/engine_spiral.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="full-batch steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    parser.add_argument("--noise", type=float, default=0.3, help="spiral noise (default 0.3)")
    parser.add_argument("--hidden", type=int, default=64, help="units per hidden layer (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.lr <= 0 or args.hidden < 1:
        parser.error("--epochs and --hidden must be at least 1 and --lr positive")

    points, labels = spiral(noise=args.noise, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(labels))
    held_out = order[: len(order) // 5]  # 20 % never trained on
    train = order[len(order) // 5 :]
    x, y = rp.tensor(points[train]), labels[train]
    sizes = [2, args.hidden, args.hidden, 3]
    layers = [init_layer(a, b, rng) for a, b in itertools.pairwise(sizes)]
    params = [p for layer in layers for p in layer]
    velocity = [np.zeros_like(p.data) for p in params]

    print(f"retroprop {rp.__version__}: a {'-'.join(map(str, sizes))} ReLU network learns a "
          f"3-arm spiral ({len(y)} training points) by backpropagation")
    print(f"{'step':>6} {'loss':>8} {'accuracy':>9}   gradient norm per layer (input -> output)")
    start = time.perf_counter()
    first_loss = last_loss = float("nan")
    for step in range(args.epochs):
        h = x
        for i, (weight, bias) in enumerate(layers):
            h = F.linear(h, weight, bias)
            if i < len(layers) - 1:
                h = F.relu(h)
        loss = F.cross_entropy(h, y)
        for p in params:
            p.zero_grad()
        loss.backward()
        with rp.no_grad():
            for p, v in zip(params, velocity, strict=True):
                v *= 0.9
                v += p.grad
                p.data -= args.lr * v
        last_loss = loss.item()
        if step == 0:
            first_loss = last_loss
        if step % max(1, args.epochs // 10) == 0 or step == args.epochs - 1:
            accuracy = float((h.data.argmax(axis=1) == y).mean())
            norms = " ".join(f"{np.linalg.norm(w.grad):8.2e}" for w, _ in layers)
            print(f"{step + 1:>6} {last_loss:8.4f} {accuracy:9.1%}   {norms}")
    elapsed = time.perf_counter() - start
    with rp.no_grad():
        h = rp.tensor(points[held_out])
        for i, (weight, bias) in enumerate(layers):
            h = F.linear(h, weight, bias)
            h = F.relu(h) if i < len(layers) - 1 else h
    test_accuracy = float((h.data.argmax(axis=1) == labels[held_out]).mean())
    print(f"loss {first_loss:.4f} -> {last_loss:.4f} in {args.epochs} steps ({elapsed:.2f} s); "
          f"accuracy on {len(held_out)} held-out points: {test_accuracy:.1%}")
    return 0 if last_loss < first_loss else 1


if __name__ == "__main__":
    sys.exit(main())
