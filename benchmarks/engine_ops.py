"""Per-op forward+backward timings: retroprop against PyTorch (eager, CPU).

Run from the repository root::

    python benchmarks/engine_ops.py            # about 1-2 minutes
    python benchmarks/engine_ops.py --quick    # about 20 seconds, fewer and shorter rounds
    python benchmarks/engine_ops.py --ops conv --mnist1d   # convolutions, and a CNN training step

For each op, at a tiny size (16x16: per-op overhead dominates) and a medium one (256x256, or a
batch of 128 x 512 features for linear, cross-entropy and batch norm: the kernels dominate), the
script times one forward pass plus one backward pass from leaf tensors that require gradients,
in retroprop and in torch, and prints the median time per call of each and the median of the
paired ratios torch_time / retroprop_time (above 1: retroprop is faster).

The convolution and pooling rows use their own shapes (``CONV_SHAPES``). ``--mnist1d`` adds one
whole Adam training step of the MNIST-1D paper's CNN (three Conv1d of 25 channels, kernels 5/3/3,
stride 2, padding 1, ReLU, Linear(125, 10); a batch of 100 inputs (100, 1, 40)), timed the same way.

Method, because the machine may be shared and noisy:

* one thread per library: threadpoolctl limits the BLAS/OpenMP pools to 1 when it is
  importable; otherwise OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS are set to 1
  before NumPy and torch are imported; torch.set_num_threads(1) in both cases;
* each step is warmed up and calibrated so that one timed block of repeated calls lasts a fixed
  time, with the garbage collector off during the block;
* rounds interleave the libraries (A B, B A, A B, ...) so that slow drifts of the machine hit
  both; the report gives medians over rounds and the median of per-round ratios, with the
  interquartile range of those ratios as a noise gauge;
* before timing, outputs and gradients of the two libraries are compared (float32, loose
  tolerance); a row marked '!' computed different values and its timing should not be trusted.

Nothing here asserts on timings: it reports them.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import blas_description, use_native_blas_kernel

use_native_blas_kernel()  # NumPy's BLAS with the CPU's own kernel (see _env.py)

_HAS_THREADPOOLCTL = importlib.util.find_spec("threadpoolctl") is not None
if not _HAS_THREADPOOLCTL:
    # Must happen before NumPy (OpenBLAS) and torch (OpenMP, MKL) start their thread pools.
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[_name] = "1"

import numpy as np  # noqa: E402 - imported after the thread environment is set

try:  # run from a checkout without installing: put src/ on the path
    import retroprop as rp
except ImportError:  # pragma: no cover - depends on how the script is run
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import retroprop as rp

try:
    import torch
    import torch.nn.functional as tF
except ImportError:
    torch = None
    tF = None

_LIMITER: Any = None


def limit_threads() -> str:
    """Pin every library to one thread; return how it was done."""
    global _LIMITER
    if _HAS_THREADPOOLCTL:
        from threadpoolctl import threadpool_limits

        _LIMITER = threadpool_limits(limits=1)  # held for the whole run
        how = "threadpoolctl threadpool_limits(1)"
    else:
        how = "threadpoolctl not importable: OMP/OPENBLAS/MKL_NUM_THREADS=1 set before import"
    if torch is not None:
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already fixed once torch did parallel work
            pass
        how += "; torch.set_num_threads(1)"
    return how


def prime_malloc() -> str:
    """Raise glibc's dynamic mmap threshold once, so that runs with and without torch compare.

    glibc serves blocks above its mmap threshold (128 KiB at start) with fresh pages and trims
    freed heap memory above twice that threshold. Arrays of a few hundred KiB allocated and freed
    every call then page-fault on every call (add on 256x256 float32 took ~400 us instead of
    ~25 us on a test machine). Freeing one large mapped block raises both thresholds for the rest
    of the process; importing torch happens to do that already, so without this step the
    retroprop timings would depend on whether torch is installed.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "not glibc: left as is"
    block = np.ones(8 << 20, dtype=np.uint8)  # 8 MiB: mapped, then unmapped on free
    del block
    return "glibc mmap/trim threshold raised by freeing one 8 MiB block (--no-malloc-prime: skip)"


# ---------------------------------------------------------------------------------------------
# The ops
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dims:
    label: str
    n: int  # square tensors: n x n
    batch: int  # rows for linear, cross-entropy and batch norm
    features: int  # in = out features for linear; channels for batch norm
    classes: int  # cross-entropy classes


SIZES = {
    "tiny": Dims("tiny", n=16, batch=16, features=16, classes=10),
    "medium": Dims("medium", n=256, batch=128, features=512, classes=1000),
}


@dataclass(frozen=True)
class Op:
    """An op: its inputs (array, requires_grad) and the same computation in both libraries."""

    name: str
    inputs: Callable[[Dims, np.random.Generator], list[tuple[np.ndarray, bool]]]
    rp_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    shape: Callable[[Dims], str]


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _square(d: Dims) -> str:
    return f"{d.n}x{d.n}"


def _rows(d: Dims) -> str:
    return f"{d.batch}x{d.features}"


def _one(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    return [(_normal(rng, d.n, d.n), True)]


def _two(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    return [(_normal(rng, d.n, d.n), True), (_normal(rng, d.n, d.n), True)]


def _positive(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    return [(np.abs(_normal(rng, d.n, d.n)) + np.float32(0.5), True)]


def _divide(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    denominator = _normal(rng, d.n, d.n)
    denominator += np.where(denominator >= 0, np.float32(0.5), np.float32(-0.5))
    return [(_normal(rng, d.n, d.n), True), (denominator, True)]


def _linear(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    scale = np.float32(1.0 / np.sqrt(d.features))
    return [(_normal(rng, d.batch, d.features), True),
            (_normal(rng, d.features, d.features) * scale, True),
            (_normal(rng, d.features), True)]


def _cross_entropy(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    return [(_normal(rng, d.batch, d.classes), True),
            (rng.integers(0, d.classes, size=d.batch, dtype=np.int64), False)]


def _batch_norm(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    c = d.features
    return [(_normal(rng, d.batch, c), True),
            (np.zeros(c, dtype=np.float32), False),  # running mean, updated in place
            (np.ones(c, dtype=np.float32), False),  # running variance, updated in place
            (1.0 + 0.1 * _normal(rng, c), True),  # weight
            (0.1 * _normal(rng, c), True)]  # bias


# (input, weight) shapes of the convolution rows: tiny measures per-call overhead, medium the kernels
# (medium conv1d is the middle layer of the MNIST-1D CNN at a batch of 512; conv2d a CIFAR-sized layer)
CONV_SHAPES = {
    "conv1d": {"tiny": ((4, 2, 16), (4, 2, 3)), "medium": ((512, 25, 20), (25, 25, 3))},
    "conv2d": {"tiny": ((2, 2, 8, 8), (4, 2, 3, 3)), "medium": ((32, 16, 32, 32), (32, 16, 3, 3))},
}


def _conv_inputs(kind: str) -> Callable[[Dims, np.random.Generator], list[tuple[np.ndarray, bool]]]:
    def inputs(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
        x_shape, w_shape = CONV_SHAPES[kind][d.label]
        scale = np.float32(1.0 / np.sqrt(np.prod(w_shape[1:])))
        return [(_normal(rng, *x_shape), True), (_normal(rng, *w_shape) * scale, True),
                (_normal(rng, w_shape[0]) * scale, True)]
    return inputs


def _conv_shape(kind: str) -> Callable[[Dims], str]:
    def shape(d: Dims) -> str:
        x_shape, w_shape = CONV_SHAPES[kind][d.label]
        return f"{'x'.join(map(str, x_shape))} * {'x'.join(map(str, w_shape[2:]))}"
    return shape


def _pool_input(d: Dims, rng: np.random.Generator) -> list[tuple[np.ndarray, bool]]:
    return [(_normal(rng, *CONV_SHAPES["conv2d"][d.label][0]), True)]


def _build_ops() -> list[Op]:
    F = rp.F
    return [
        Op("add", _two, lambda a, b: a + b, lambda a, b: a + b, _square),
        Op("mul", _two, lambda a, b: a * b, lambda a, b: a * b, _square),
        Op("div", _divide, lambda a, b: a / b, lambda a, b: a / b, _square),
        Op("matmul", _two, lambda a, b: a @ b, lambda a, b: a @ b,
           lambda d: f"{d.n}x{d.n} @ {d.n}x{d.n}"),
        Op("sum", _one, lambda x: x.sum(), lambda x: x.sum(), _square),
        Op("mean(axis=-1)", _one, lambda x: x.mean(axis=-1), lambda x: x.mean(dim=-1), _square),
        Op("max(axis=-1)", _one, lambda x: x.amax(axis=-1), lambda x: x.amax(dim=-1), _square),
        Op("exp", _one, lambda x: x.exp(), lambda x: x.exp(), _square),
        Op("log", _positive, lambda x: x.log(), lambda x: x.log(), _square),
        Op("tanh", _one, F.tanh, lambda x: x.tanh(), _square),
        Op("sigmoid", _one, F.sigmoid, lambda x: x.sigmoid(), _square),
        Op("relu", _one, F.relu, lambda x: tF.relu(x), _square),
        Op("gelu", _one, F.gelu, lambda x: tF.gelu(x), _square),
        Op("softmax", _one, lambda x: F.softmax(x, axis=-1), lambda x: tF.softmax(x, dim=-1),
           _square),
        Op("log_softmax", _one, lambda x: F.log_softmax(x, axis=-1),
           lambda x: tF.log_softmax(x, dim=-1), _square),
        Op("linear", _linear, F.linear, lambda x, w, b: tF.linear(x, w, b),
           lambda d: f"{d.batch}x{d.features} -> {d.features}"),
        Op("cross_entropy", _cross_entropy, F.cross_entropy,
           lambda z, t: tF.cross_entropy(z, t), lambda d: f"{d.batch}x{d.classes}"),
        Op("batch_norm(train)", _batch_norm,
           lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=True),
           lambda x, m, v, w, b: tF.batch_norm(x, m, v, w, b, training=True), _rows),
        Op("reshape", _one, lambda x: x.reshape(-1), lambda x: x.reshape(-1), _square),
        Op("getitem[1:-1, ::2]", _one, lambda x: x[1:-1, ::2], lambda x: x[1:-1, ::2], _square),
        Op("concatenate", _two, lambda a, b: rp.concatenate([a, b], axis=0),
           lambda a, b: torch.cat([a, b], dim=0), lambda d: f"2 x {d.n}x{d.n}"),
        Op("conv1d(s2,p1)", _conv_inputs("conv1d"), lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
           lambda x, w, b: tF.conv1d(x, w, b, stride=2, padding=1), _conv_shape("conv1d")),
        Op("conv2d(p1)", _conv_inputs("conv2d"), lambda x, w, b: F.conv2d(x, w, b, padding=1),
           lambda x, w, b: tF.conv2d(x, w, b, padding=1), _conv_shape("conv2d")),
        Op("max_pool2d(2)", _pool_input, lambda x: F.max_pool2d(x, 2), lambda x: tF.max_pool2d(x, 2),
           lambda d: "x".join(map(str, CONV_SHAPES["conv2d"][d.label][0]))),
    ]


# ---------------------------------------------------------------------------------------------
# Steps: one forward + backward from the leaves, gradients cleared first
# ---------------------------------------------------------------------------------------------
Step = Callable[[], Any]


def _rp_step(op: Op, arrays: Sequence[tuple[np.ndarray, bool]]) -> tuple[Step, Step]:
    tensors = [rp.tensor(a, requires_grad=g) for a, g in arrays]
    leaves = [t for t, (_, g) in zip(tensors, arrays, strict=True) if g]
    seed = np.ones(op.rp_fn(*tensors).shape, dtype=np.float32)

    def step() -> Any:
        for t in leaves:
            t.grad = None
        out = op.rp_fn(*tensors)
        out.backward(seed)
        return out

    def result() -> list[np.ndarray]:
        out = step()
        return [np.asarray(out.data), *(np.asarray(t.grad) for t in leaves)]

    return step, result


def _torch_step(op: Op, arrays: Sequence[tuple[np.ndarray, bool]]) -> tuple[Step, Step]:
    tensors = [torch.from_numpy(a.copy()).requires_grad_(g) for a, g in arrays]
    leaves = [t for t in tensors if t.requires_grad]
    seed = torch.ones_like(op.torch_fn(*tensors))

    def step() -> Any:
        for t in leaves:
            t.grad = None
        out = op.torch_fn(*tensors)
        out.backward(seed)
        return out

    def result() -> list[np.ndarray]:
        out = step()
        return [out.detach().numpy(), *(t.grad.numpy() for t in leaves)]

    return step, result


def _same_values(ours: list[np.ndarray], theirs: list[np.ndarray]) -> bool:
    return len(ours) == len(theirs) and all(
        a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-4)
        for a, b in zip(ours, theirs, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
def _block(step: Step, number: int) -> float:
    """Seconds per call over ``number`` back-to-back calls, with the GC off."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            step()
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_on:
            gc.enable()
    return elapsed / number


def _calibrate(step: Step, block_s: float) -> int:
    """Warm ``step`` up and pick how many calls make a timed block of about ``block_s``."""
    per_call = _block(step, 1)
    number = max(1, min(100_000, round(block_s / max(per_call, 1e-7))))
    per_call = _block(step, number)  # warm-up at full length, and a better estimate
    return max(1, min(100_000, round(block_s / max(per_call, 1e-7))))


@dataclass
class Row:
    op: str
    shape: str
    size: str
    rp_s: float
    torch_s: float | None
    ratio: float | None
    ratio_q1: float | None
    ratio_q3: float | None
    mismatch: bool


def measure(op: Op, dims: Dims, rounds: int, block_s: float, seed: int) -> Row:
    arrays = op.inputs(dims, np.random.default_rng(seed))
    rp_step, rp_result = _rp_step(op, arrays)
    steps = [rp_step]
    mismatch = False
    if torch is not None:
        torch_step, torch_result = _torch_step(op, arrays)
        steps.append(torch_step)
        mismatch = not _same_values(rp_result(), torch_result())
    numbers = [_calibrate(step, block_s) for step in steps]

    times: list[list[float]] = [[] for _ in steps]
    for r in range(rounds):
        order = range(len(steps)) if r % 2 == 0 else reversed(range(len(steps)))  # A B, B A
        for k in order:
            times[k].append(_block(steps[k], numbers[k]))

    rp_s = statistics.median(times[0])
    if torch is None:
        return Row(op.name, op.shape(dims), dims.label, rp_s, None, None, None, None, False)
    ratios = [t / r for t, r in zip(times[1], times[0], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return Row(op.name, op.shape(dims), dims.label, rp_s, statistics.median(times[1]),
               statistics.median(ratios), q1, q3, mismatch)


# ---------------------------------------------------------------------------------------------
# A whole training step: the MNIST-1D paper's CNN
# ---------------------------------------------------------------------------------------------
def _mnist1d_cnn(lib: Any) -> Any:
    """Three Conv1d of 25 channels (kernels 5, 3, 3; stride 2; padding 1), ReLU, Linear(125, 10)."""
    nn = lib.nn
    return nn.Sequential(nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
                         nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(125, 10))


def measure_mnist1d_step(rounds: int, block_s: float, seed: int, batch: int = 100) -> Row:
    """One Adam training step (zero_grad, forward, cross-entropy, backward, step) of the MNIST-1D
    CNN on a batch of ``batch`` inputs ``(batch, 1, 40)``, both libraries from the same weights."""
    rng = np.random.default_rng(seed)
    x = _normal(rng, batch, 1, 40)
    y = rng.integers(0, 10, size=batch, dtype=np.int64)
    ours = _mnist1d_cnn(rp)
    theirs = _mnist1d_cnn(torch)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours_opt = rp.optim.Adam(ours.parameters(), lr=1e-2)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    xr, xt, yt = rp.tensor(x), torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def rp_step() -> Any:
        ours_opt.zero_grad()
        loss = rp.F.cross_entropy(ours(xr), y)
        loss.backward()
        ours_opt.step()
        return loss

    def torch_step() -> Any:
        theirs_opt.zero_grad()
        loss = tF.cross_entropy(theirs(xt), yt)
        loss.backward()
        theirs_opt.step()
        return loss

    first = (rp.F.cross_entropy(ours(xr), y).item(), tF.cross_entropy(theirs(xt), yt).item())
    mismatch = not np.isclose(*first, rtol=1e-4)
    steps = [rp_step, torch_step]
    numbers = [_calibrate(step, block_s) for step in steps]
    times: list[list[float]] = [[], []]
    for r in range(rounds):
        for k in ((0, 1) if r % 2 == 0 else (1, 0)):
            times[k].append(_block(steps[k], numbers[k]))
    ratios = [t / r for t, r in zip(times[1], times[0], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return Row("mnist1d_cnn step", f"batch {batch}x1x40", "step", statistics.median(times[0]),
               statistics.median(times[1]), statistics.median(ratios), q1, q3, mismatch)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
COLUMNS = f"{'op':<20} {'shape':<18} {'retroprop us':>13} {'torch us':>11} " \
          f"{'torch/rp':>9} {'ratio IQR':>13}"


def _format_row(row: Row) -> str:
    torch_us = "n/a" if row.torch_s is None else f"{row.torch_s * 1e6:.1f}"
    ratio = "n/a" if row.ratio is None else f"{row.ratio:.2f}x"
    spread = "n/a" if row.ratio_q1 is None else f"{row.ratio_q1:.2f}-{row.ratio_q3:.2f}"
    flag = " !" if row.mismatch else ""
    return (f"{row.op:<20} {row.shape:<18} {row.rp_s * 1e6:>13.1f} {torch_us:>11} "
            f"{ratio:>9} {spread:>13}{flag}")


def header(threads: str, malloc: str, args: argparse.Namespace) -> str:
    torch_facts = "not installed (torch columns are n/a)"
    if torch is not None:
        torch_facts = f"{torch.__version__} (eager, CPU, {torch.get_num_threads()} thread)"
    lines = [
        "retroprop vs torch: forward + backward time per op",
        f"  machine   : {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        f"  retroprop : {rp.__version__}   numpy {np.__version__} (BLAS: {blas_description()})",
        f"  torch     : {torch_facts}",
        f"  threads   : {threads}",
        f"  malloc    : {malloc}",
        f"  method    : {args.rounds} interleaved rounds (A B / B A) per row, blocks of "
        f"~{args.block_ms:g} ms, medians; float32{'; --quick' if args.quick else ''}",
    ]
    return "\n".join(lines)


NOTE = """\
How to read this: 'retroprop us' and 'torch us' are median wall-clock microseconds for one
forward plus one backward call (leaf gradients cleared, upstream gradient of ones), each library
on one thread. 'torch/rp' is the median over rounds of torch_time / retroprop_time measured in
the same round: above 1.00x retroprop is faster, below it torch is. 'ratio IQR' is the middle
half of those per-round ratios; when it is wide or straddles 1.00 the machine was noisy and the
difference is not resolved, so rerun before drawing conclusions. Tiny rows measure per-op
overhead (Python dispatch and graph bookkeeping), medium rows measure the array kernels (NumPy
and its BLAS against ATen). A row marked '!' gave different values in the two libraries. Medium
rows also depend on the C allocator's state (see 'malloc' above). Timings vary between machines
and runs; compare ratios, not absolute times, and never assert on them."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter rounds (about 20 s instead of 1-2 minutes)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per row (default 21, --quick 7)")
    parser.add_argument("--block-ms", type=float, default=None,
                        help="length of one timed block in ms (default 40, --quick 20)")
    parser.add_argument("--ops", default=None,
                        help="comma-separated op names (prefixes) to run, e.g. add,linear")
    parser.add_argument("--sizes", default="tiny,medium", help="comma-separated: tiny,medium")
    parser.add_argument("--seed", type=int, default=0, help="seed for the input data")
    parser.add_argument("--mnist1d", action="store_true",
                        help="also time one Adam training step of the MNIST-1D CNN (needs torch)")
    parser.add_argument("--only-mnist1d", action="store_true", help="time only that training step")
    parser.add_argument("--no-malloc-prime", action="store_true",
                        help="leave glibc's malloc thresholds alone (see prime_malloc)")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 7 if args.quick else 21
    if args.block_ms is None:
        args.block_ms = 20.0 if args.quick else 40.0
    args.rounds = max(1, args.rounds)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = limit_threads()
    malloc = "left as is (--no-malloc-prime)" if args.no_malloc_prime else prime_malloc()
    ops = _build_ops()
    if args.ops:
        wanted = [w.strip() for w in args.ops.split(",") if w.strip()]
        ops = [op for op in ops if any(op.name.startswith(w) for w in wanted)]
    sizes = [SIZES[s.strip()] for s in args.sizes.split(",") if s.strip()]

    started = time.perf_counter()
    print(header(threads, malloc, args))
    print()
    print(COLUMNS)
    print("-" * len(COLUMNS))
    rows = []
    if args.only_mnist1d:
        sizes = []
    for dims in sizes:
        for op in ops:
            row = measure(op, dims, args.rounds, args.block_ms / 1e3, args.seed)
            rows.append(row)
            print(_format_row(row), flush=True)
        print()
    if (args.mnist1d or args.only_mnist1d) and torch is not None:
        row = measure_mnist1d_step(args.rounds, args.block_ms / 1e3, args.seed)
        rows.append(row)
        print(_format_row(row), flush=True)
        print()
    ratios = [row.ratio for row in rows if row.ratio is not None]
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        faster = sum(r > 1 for r in ratios)
        print(f"geometric mean of torch/rp over {len(ratios)} rows: {geo:.2f}x "
              f"(retroprop faster in {faster} of {len(ratios)})")
    if any(row.mismatch for row in rows):
        print("'!': retroprop and torch outputs or gradients differ beyond rtol=1e-3, atol=1e-4")
    print(f"total time: {time.perf_counter() - started:.1f} s")
    print()
    print(NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
