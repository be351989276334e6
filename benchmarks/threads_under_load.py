"""BLAS threads on a busy machine: the library's default thread count vs retroprop's thread policy.

Each measurement runs with no load and under load (one busy process per core: a pure-Python spin
loop, bounded in time and ended at the end):

* ``gemm``: one float32 product ``x @ w.T`` of the shapes a ``Linear`` layer multiplies, on one
  thread vs on all of the BLAS library's threads: where threads start to pay when the cores are
  free, and what they cost when they are not (the evidence for ``retroprop.threads.SMALL_GEMM_MACS``);
* ``fit``: training runs of digits MLPs at batch 32 with the library's default BLAS threads vs
  inside ``training_threads`` (the policy: one thread for these models): the brief's 640-step run
  of 64-64-64-10 validated every epoch (as the demonstrations do), and 160 steps of 64-128-128-10.
  Every run's step losses are compared exactly, within each arm and between the arms;
* ``demo`` (``--demo``): ``python -m retroprop demo vanishing --no-files`` as a subprocess with
  ``RETROPROP_NUM_THREADS`` set to the default count vs unset (the policy). Until ``fit`` enters
  ``training_threads`` by itself (the header says whether it does), the policy arm is emulated with
  ``OPENBLAS_NUM_THREADS=1``, which is what the policy chooses for the demonstrations' models.

OpenBLAS already runs a GEMM of at most 65536 x 4 = 262144 multiply-adds on one thread, so a model
whose products are all that small gains nothing from the policy; validation at batch 256 or wider
layers cross that line. Above it, OpenBLAS sums in another order on one thread (its small-matrix
kernel) than on several, so the second model's losses differ between the arms in their last bits:
under the policy a small model's numbers no longer depend on the machine's core count.

Runs are interleaved in pairs (A B, B A, ...); the tables give each arm's median time and the median
and range of the per-pair ratios default / policy, because speed on a shared machine drifts from
minute to minute. The script re-runs itself without ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS`` and ``RETROPROP_NUM_THREADS`` (the default arm needs the library's own default)
and without a forced OpenBLAS kernel (see ``_env.py``). Nothing is asserted.

* ``--demo-all`` and ``--tests PATH...``: ``retroprop demo all`` (figures and reports written) and
  ``pytest -m "not slow" PATH...`` as subprocesses, the same two arms.

Run: ``python benchmarks/threads_under_load.py [--quick] [--rounds N] [--demo] [--demo-all]
[--tests PATH...]`` (about 2 minutes on two cores; each command adds a few of its own run times).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from _env import blas_description, use_native_blas_kernel

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RETROPROP_NUM_THREADS")
if "--keep-thread-env" not in sys.argv and any(name in os.environ for name in _THREAD_VARIABLES):
    os.execve(sys.executable, [sys.executable, *sys.argv, "--keep-thread-env"],
              {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES})
use_native_blas_kernel()

import numpy as np  # noqa: E402  (after the BLAS environment is settled)
from threadpoolctl import ThreadpoolController  # noqa: E402

import retroprop as rp  # noqa: E402
from retroprop import nn  # noqa: E402
from retroprop.threads import SMALL_GEMM_MACS, largest_gemm, training_threads  # noqa: E402

GEMM_SHAPES = [(32, 64, 64), (128, 128, 128), (128, 256, 256), (256, 256, 256), (256, 512, 512),
               (512, 512, 512), (1024, 1024, 1024)]
LOAD_SECONDS_MAX = 600  # a load process ends by itself after this, whatever happens to the parent


@dataclass(frozen=True)
class Case:
    """A training run: widths, batch, epochs and samples (steps = epochs x samples / batch)."""

    widths: tuple[int, ...]
    epochs: int
    samples: int
    validate: bool
    batch: int = 32

    @property
    def name(self) -> str:
        steps = self.epochs * (-(-self.samples // self.batch))
        return f"fit {'-'.join(map(str, self.widths))} {steps}st{' +val' if self.validate else ''}"


CASES = [Case((64, 64, 64, 10), epochs=20, samples=1024, validate=True),
         Case((64, 128, 128, 10), epochs=5, samples=1024, validate=False)]


def _spin(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for i in range(10_000):
            x = (x + i) % 7919


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """One process per core spinning in pure Python for the duration of the block."""
    context = multiprocessing.get_context("fork")  # the workers run no BLAS and import nothing
    workers = [context.Process(target=_spin, args=(time.monotonic() + LOAD_SECONDS_MAX,), daemon=True)
               for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.2)  # let the scheduler spread them
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=5)


def paired(arms: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Times of each arm, run in alternating order round by round."""
    names = list(arms)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            times[name].append(arms[name]())
    return times


# ---------------------------------------------------------------------------------------------
# GEMM: one thread vs the library's threads
# ---------------------------------------------------------------------------------------------
def gemm_table(blas: ThreadpoolController, threads: int, samples: int, condition: str) -> None:
    print(f"\nGEMM x @ w.T, float32, 1 vs {threads} BLAS threads, {condition} "
          f"({samples} interleaved samples of >= 1 ms; ms per call)")
    print(f"  {'b x in x out':<18} {'MACs':>8}  {'min 1':>8} {'min all':>8} {'med 1':>8} {'med all':>8}"
          f"  {'min 1/all':>9}  {'GMAC/s 1':>8}")
    rng = np.random.default_rng(0)
    for b, n_in, n_out in GEMM_SHAPES:
        x = rng.standard_normal((b, n_in), dtype=np.float32)
        w = rng.standard_normal((n_out, n_in), dtype=np.float32)

        def per_call(k: int, x: np.ndarray = x, w: np.ndarray = w) -> float:
            with blas.limit(limits=k):
                x @ w.T  # wakes the pool
                count, start = 0, time.perf_counter()
                while True:  # at least 1 ms per sample, and at least one call
                    x @ w.T
                    count += 1
                    elapsed = time.perf_counter() - start
                    if elapsed > 1e-3:
                        return elapsed / count

        times = paired({"one": lambda: per_call(1), "all": lambda: per_call(threads)}, samples)
        macs = b * n_in * n_out
        one, all_ = min(times["one"]), min(times["all"])
        print(f"  {b:>5}x{n_in:<5}x{n_out:<5} {macs:8.1e}  {one * 1e3:8.3f} {all_ * 1e3:8.3f} "
              f"{statistics.median(times['one']) * 1e3:8.3f} {statistics.median(times['all']) * 1e3:8.3f}"
              f"  {one / all_:9.2f}  {macs / one / 1e9:8.1f}")


# ---------------------------------------------------------------------------------------------
# Training runs
# ---------------------------------------------------------------------------------------------
class ThreadsSeen(rp.callbacks.Callback):
    """Records the BLAS thread counts in force during a run (to see whether fit sets a policy)."""

    def __init__(self, blas: ThreadpoolController) -> None:
        super().__init__()
        self.blas = blas
        self.seen: set[int] = set()

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch == 0:
            self.seen.update(info["num_threads"] for info in self.blas.info())


def build(case: Case) -> nn.Sequential:
    rp.manual_seed(0)
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(case.widths):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def training_run(case: Case, data: tuple[np.ndarray, ...], losses: list[np.ndarray], *, policy: bool,
                 callback: rp.callbacks.Callback | None = None) -> float:
    x, y, x_val, y_val = data
    model = build(case)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    # the largest batch the run multiplies: fit validates at max(batch, 256)
    with training_threads(model, max(case.batch, 256)) if policy else nullcontext():
        history = rp.fit(model, x[:case.samples], y[:case.samples], loss="cross_entropy",
                         optimizer=optimizer, epochs=case.epochs, batch_size=case.batch, seed=0,
                         verbose=0, validation_data=(x_val, y_val) if case.validate else None,
                         callbacks=[callback] if callback else [])
    elapsed = time.perf_counter() - start
    losses.append(history.step_loss)
    return elapsed


def train_arms(case: Case, data: tuple[np.ndarray, ...], default_threads: int,
               losses: dict[str, list[np.ndarray]]) -> dict[str, Callable[[], float]]:
    def default() -> float:
        rp.set_num_threads(default_threads)  # the library's default count, whatever fit does itself
        try:
            return training_run(case, data, losses["default"], policy=False)
        finally:
            rp.set_num_threads(None)

    return {"default": default, "policy": lambda: training_run(case, data, losses["policy"], policy=True)}


# ---------------------------------------------------------------------------------------------
# The vanishing demonstration as a command
# ---------------------------------------------------------------------------------------------
def command_arms(command: list[str], default_threads: int,
                 fit_applies_policy: bool) -> dict[str, Callable[[], float]]:
    """A retroprop command (or pytest) as a subprocess: the default arm pins BLAS to its default thread
    count through ``RETROPROP_NUM_THREADS``, the policy arm leaves it to the policy."""
    def run(env: dict[str, str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *command], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=3600)
        return time.perf_counter() - start

    base = dict(os.environ)
    policy_env = base if fit_applies_policy else {**base, "OPENBLAS_NUM_THREADS": "1"}
    return {"default": lambda: run({**base, "RETROPROP_NUM_THREADS": str(default_threads)}),
            "policy": lambda: run(policy_env)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    parser.add_argument("--rounds", type=int, default=None, help="paired training runs per condition")
    parser.add_argument("--demo", action="store_true", help="also time `retroprop demo vanishing`")
    parser.add_argument("--demo-all", action="store_true", help="also time `retroprop demo all` (with files)")
    parser.add_argument("--tests", nargs="+", metavar="PATH", default=None,
                        help="also time `pytest -q -m 'not slow' PATH...`")
    parser.add_argument("--no-gemm", action="store_true", help="skip the GEMM tables")
    parser.add_argument("--keep-blas-env", action="store_true", help="keep a forced OpenBLAS kernel")
    parser.add_argument("--keep-thread-env", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    samples = 5 if args.quick else 7
    cores = os.cpu_count() or 1

    blas = ThreadpoolController().select(user_api="blas")
    default_threads = max((info["num_threads"] for info in blas.info()), default=1)
    print(f"{platform.processor() or platform.machine()}, {cores} cores, load average "
          f"{os.getloadavg()[0]:.2f} at start; NumPy {np.__version__}, BLAS {blas_description()}, "
          f"default BLAS threads {default_threads}; policy: 1 thread below {SMALL_GEMM_MACS:.1e} MACs")
    if not blas.lib_controllers or default_threads == 1:
        print("no BLAS library with more than one thread: nothing to compare")
        return

    digits = rp.data.load_digits()
    x, x_val = rp.data.standardize(digits.x[:1437], digits.x[1437:])
    data = (x, digits.y[:1437], x_val, digits.y[1437:])
    probe = ThreadsSeen(blas)
    training_run(CASES[0], data, [], policy=False, callback=probe)
    fit_applies_policy = probe.seen == {1}
    print(f"fit applies the policy by itself: {'yes' if fit_applies_policy else 'no'}")
    for case in CASES:
        macs = largest_gemm(build(case), max(case.batch, 256) if case.validate else case.batch)
        print(f"  {case.name}: largest GEMM {macs:.1e} MACs")

    results: list[tuple[str, str, dict[str, list[float]]]] = []
    losses: dict[Case, dict[str, list[np.ndarray]]] = {case: {"default": [], "policy": []} for case in CASES}
    for condition in ("no load", f"{cores} busy processes"):
        with busy_cores(cores) if condition != "no load" else nullcontext():
            if not args.no_gemm:
                gemm_table(blas, default_threads, samples, condition)
            for case in CASES:
                times = paired(train_arms(case, data, default_threads, losses[case]), rounds)
                results.append((case.name, condition, times))
            commands = []
            if args.demo:
                commands.append(("demo vanishing", ["-m", "retroprop", "demo", "vanishing", "--no-files"]))
            if args.demo_all:
                out = os.path.join(tempfile.gettempdir(), "retroprop-threads-demo")
                commands.append(("demo all", ["-m", "retroprop", "demo", "all", "--out", out]))
            if args.tests:
                commands.append((f"pytest {' '.join(args.tests)}"[:28],
                                 ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                                  *args.tests]))
            for name, command in commands:
                arms = command_arms(command, default_threads, fit_applies_policy)
                results.append((name, condition, paired(arms, 1 if args.quick else 2)))

    print(f"\n{'run':<28} {'condition':<18} {'pairs':>5} {'default s':>9} {'policy s':>8} "
          f"{'default/policy':>14} [range]")
    for name, condition, times in results:
        default, policy = times["default"], times["policy"]
        ratios = [d / p for d, p in zip(default, policy, strict=True)]
        print(f"{name:<28} {condition:<18} {len(default):>5} {statistics.median(default):9.2f} "
              f"{statistics.median(policy):8.2f} {statistics.median(ratios):13.2f}x "
              f"[{min(ratios):.2f}-{max(ratios):.2f}]")
    if (args.demo or args.demo_all or args.tests) and not fit_applies_policy:
        print("the commands' policy arm: OPENBLAS_NUM_THREADS=1 (emulated: fit does not apply the policy)")
    for case in CASES:
        runs = losses[case]
        within = all(np.array_equal(run, arm[0]) for arm in runs.values() for run in arm)
        between = float(np.max(np.abs(runs["default"][0] - runs["policy"][0])))
        print(f"{case.name}: step losses identical within each arm: {'yes' if within else 'NO'}; "
              f"default vs policy: {'identical' if between == 0 else f'differ by up to {between:.1e}'}")


if __name__ == "__main__":
    main()
