"""Whether the doctor's cost stays constant over long runs: per-epoch time of ``rp.fit`` with and without
the doctor, at 1,000 and 16,000 one-step epochs with validation data (a tiny network, so the doctor's
bookkeeping is what is measured). Runs are interleaved (plain, doctor, doctor, plain, ...) and the table
reports the median of the paired doctor/plain ratios per length, with their spread. One BLAS thread.

Target (issue 12): the doctor costs the same per epoch at 16,000 epochs as at 1,000, and at most 1.3x a
plain fit. Nothing is asserted here; ``tests/doctor/test_constant_cost.py`` checks the mechanism (no
per-epoch work that grows with the run).

Run: ``python benchmarks/doctor_long_runs.py [--rounds N] [--lengths 1000,16000]``.
"""

from __future__ import annotations

import argparse
import statistics
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


def per_epoch(epochs: int, doctor: bool) -> float:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05)
    started = time.perf_counter()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=epochs, batch_size=32,
           validation_data=(x[::-1].copy(), y[::-1].copy()), verbose=0, doctor=doctor)
    return (time.perf_counter() - started) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lengths", default="1000,16000")
    args = parser.parse_args()
    lengths = [int(v) for v in args.lengths.split(",")]
    print(f"BLAS: {blas_description()}; one thread")
    ratios: dict[int, list[float]] = {n: [] for n in lengths}
    times: dict[int, list[float]] = {n: [] for n in lengths}
    limits = threadpool_limits(1) if threadpool_limits else None
    try:
        for round_ in range(args.rounds):
            for n in lengths:
                if round_ % 2:
                    watched, plain = per_epoch(n, True), per_epoch(n, False)
                else:
                    plain, watched = per_epoch(n, False), per_epoch(n, True)
                ratios[n].append(watched / plain)
                times[n].append(watched)
    finally:
        if limits is not None:
            limits.unregister()
    print("| epochs | doctor per epoch (median) | doctor / plain (median) | ratios |")
    print("|---|---|---|---|")
    for n in lengths:
        shown = ", ".join(f"{r:.2f}" for r in ratios[n])
        cost = statistics.median(times[n]) * 1e6
        print(f"| {n} | {cost:.0f} µs | {statistics.median(ratios[n]):.2f} | {shown} |")


if __name__ == "__main__":
    main()
