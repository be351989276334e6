"""What watching costs: ``rp.fit`` with the default doctor against ``rp.fit`` without, on healthy MLPs.

Each row trains the same network from the same seed with and without ``doctor=True``. The runs are
interleaved (A B, B A, ...) and the table reports the median of the paired time ratios, because
absolute speed on a shared machine drifts, on two clocks: wall (elapsed time) and cpu (this process's
CPU time, less disturbed by other processes on a busy machine). One thread per library. Nothing here
is asserted; the target is a default overhead of at most 5 %.

Run: ``python benchmarks/doctor_overhead.py [--rounds N] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import itertools
import time

from _env import blas_description, use_native_blas_kernel

use_native_blas_kernel()

import numpy as np  # noqa: E402  (after the BLAS environment is settled)

import retroprop as rp  # noqa: E402
from retroprop import nn  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = rp.data.load_digits()
    return rp.data.standardize(x), y


def synthetic(n: int, features: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ rng.normal(size=(features, classes))).argmax(axis=1)
    return x, y


ROWS = [
    # steps 0, 37 and 74 are probed (to name gradient problems within the first 100 steps), later ones
    # every 100: the first row is mostly early phase, the others are runs of ordinary length
    # (a deep ReLU network is healthy with He initialization; with the default one the doctor rightly
    # finds dead units and a plateau in it)
    ("digits 64-64-64-10 (short)", digits, [64, 64, 64, 10], 32, 3, None),
    ("digits 64-64-64-10", digits, [64, 64, 64, 10], 32, 10, None),
    ("digits 64-256-256-10", digits, [64, 256, 256, 10], 32, 10, None),
    ("synthetic 256-512-512-10", lambda: synthetic(4096, 256), [256, 512, 512, 10], 128, 5, None),
    ("synthetic 64-(64 x 8)-10, He", lambda: synthetic(4096, 64), [64] + [64] * 8 + [10], 64, 5, "he_normal"),
]


CLOCKS = ("wall", "cpu")  # wall: perf_counter; cpu: this process's CPU time (steadier on a shared machine)


def run(data: tuple[np.ndarray, np.ndarray], sizes: list[int], batch: int, epochs: int,
        doctor: bool, init: str | None = None) -> tuple[float, float]:
    """One training run: its wall time and its CPU time."""
    rp.manual_seed(0)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out, init=init))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start, cpu = time.perf_counter(), time.process_time()
    rp.fit(model, *data, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=batch,
           verbose=0, seed=0, doctor=doctor)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds per row (default 31)")
    parser.add_argument("--only", help="rows whose name contains this text")
    args = parser.parse_args()
    if threadpool_limits is not None:
        threadpool_limits(limits=1)
    print("fit with the default doctor vs without (median of paired ratios)")
    print(f"  numpy {np.__version__} ({blas_description()}), retroprop {rp.__version__}, one thread, "
          f"{args.rounds} rounds\n")
    print(f"{'network':<28} {'clock':>5} {'steps':>6} {'plain s':>8} {'doctor s':>9} {'overhead':>9} "
          f"{'middle half':>15}")
    for name, load, sizes, batch, epochs, init in ROWS:
        if args.only and args.only not in name:
            continue
        data = load()
        run(data, sizes, batch, 1, False, init)  # warm-up
        run(data, sizes, batch, 1, True, init)
        plain, watched = [], []
        for r in range(args.rounds):
            pair = [(False, plain), (True, watched)]
            for doctor, times in pair if r % 2 == 0 else pair[::-1]:
                times.append(run(data, sizes, batch, epochs, doctor, init))
        steps = epochs * -(-len(data[1]) // batch)
        for index, clock in enumerate(CLOCKS):
            alone = np.array([t[index] for t in plain])
            with_doctor = np.array([t[index] for t in watched])
            ratios = with_doctor / alone
            ratio = float(np.median(ratios))
            low, high = np.percentile(ratios, [25, 75]) - 1
            print(f"{name if index == 0 else '':<28} {clock:>5} {steps:>6} {np.median(alone):8.3f} "
                  f"{np.median(with_doctor):9.3f} {ratio - 1:+8.1%} {low:+6.1%}..{high:+.1%}")
    print("\noverhead = median(doctor time / plain time) - 1, middle half = its interquartile range over the "
          "rounds;\nwall: elapsed time; cpu: the process's CPU time (less disturbed by other processes on a "
          "busy machine).\nBy default the doctor probes at steps 0, 37 and 74, then every 100 (closer "
          "together while a symptom shows).")


if __name__ == "__main__":
    main()
