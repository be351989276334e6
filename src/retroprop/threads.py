"""How many BLAS threads retroprop's training and evaluation use.

Small networks gain little from BLAS threads: a GEMM of a few million multiply-adds takes well
under a millisecond on one core, while handing it to a pool costs a wake-up and a barrier (tens of
microseconds on an idle machine, up to a scheduler time slice, milliseconds, when the other cores
are busy). So ``fit``, ``evaluate`` and ``predict`` run inside ``training_threads(model, batch)``:

* ``rp.set_num_threads(n)`` (or the environment variable ``RETROPROP_NUM_THREADS``) given: the
  BLAS libraries run on ``n`` threads for the block;
* otherwise the automatic policy: one thread when the model's largest GEMM (batch × in × out
  multiply-adds over its ``Linear`` layers) is below ``SMALL_GEMM_MACS``, else the libraries' own
  setting, untouched.

The limit is set once per block (per ``fit``), not per op, through threadpoolctl, and restored on
exit. It applies to the BLAS libraries loaded at the first block (NumPy's, which retroprop uses).
BLAS thread counts are process-wide: two ``fit`` calls running at once in two Python threads share
them. Results do not depend on the choice for models whose products OpenBLAS runs on one thread
anyway (at most 262144 multiply-adds); above that, one thread and several sum in different orders
and the last bits differ, so the policy also makes a small model's numbers independent of the
machine's core count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

ENV_VAR = "RETROPROP_NUM_THREADS"
# Below this many multiply-adds per GEMM, threads can save little and can cost much. A GEMM of t
# seconds on one core takes at best t/p on p free cores: the saving, t(1 - 1/p) < t, is under 4 ms
# at 2**26 ≈ 6.7e7 multiply-adds (one core does 15-18 GMAC/s in float32 with AVX2 OpenBLAS). When
# the other cores are busy, every threaded call waits for its helpers to be scheduled: a time slice,
# milliseconds, per call (measured on 2 shared cores: 40-70 ms medians for products that take
# 0.1-1 ms on one thread). Above the line the saving outgrows a slice and the library keeps its own
# setting. benchmarks/threads_under_load.py measures both sides on the machine at hand.
SMALL_GEMM_MACS = 2**26
_C_INT_MAX = 2**31 - 1  # threadpoolctl passes the count to the library as a C int

_setting: int | None = None  # set_num_threads's value; None: RETROPROP_NUM_THREADS, else automatic
_blas: Any = None  # threadpoolctl's controller for the loaded BLAS libraries, built once per process


def _positive_count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= _C_INT_MAX:
        raise ValueError(f"{what} must be a positive integer (a number of threads) or None, got {value!r}")
    return int(value)


def set_num_threads(n: int | None) -> None:
    """Run retroprop's training and evaluation on ``n`` BLAS threads (None: back to the default).

    The default is ``RETROPROP_NUM_THREADS`` when that is set, else the automatic policy (one
    thread for small models, the BLAS library's own setting for large ones).
    """
    global _setting
    _setting = None if n is None else _positive_count(n, "set_num_threads: n")


def get_num_threads() -> int | None:
    """The BLAS thread count retroprop will use, or None for the automatic policy.

    ``set_num_threads``'s value if one was set, else ``RETROPROP_NUM_THREADS`` if set (empty or
    ``auto`` mean automatic), else None.
    """
    if _setting is not None:
        return _setting
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw == "" or raw.lower() == "auto":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < 1 or value > _C_INT_MAX:
        raise ValueError(f"environment variable {ENV_VAR} must be a positive integer (a number of "
                         f"threads), empty or 'auto', got {raw!r}")
    return value


def largest_gemm(model: Any, batch_size: int) -> int:
    """Multiply-adds of the model's largest matrix product at ``batch_size`` rows.

    Each ``Linear`` (weight ``(out, in)``) costs batch × in × out in forward and in each of its two
    backward products. Other modules' own 2-D parameters are counted the same way (a custom layer
    holding a weight matrix), so an unknown model errs towards the library's default.
    """
    largest = 0
    for module in model.modules():
        for param in module._parameters.values():  # the module's own, as parameters(recurse=False)
            shape = () if param is None else param.shape
            if len(shape) == 2:
                largest = max(largest, batch_size * int(shape[0]) * int(shape[1]))
    return largest


def choose_num_threads(model: Any, batch_size: int) -> int | None:
    """The thread count ``training_threads`` sets for this model, or None to leave BLAS as it is."""
    setting = get_num_threads()
    if setting is not None:
        return setting
    return 1 if largest_gemm(model, batch_size) < SMALL_GEMM_MACS else None


def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now; built once (it scans them)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


@contextmanager
def training_threads(model: Any, batch_size: int) -> Iterator[int | None]:
    """Limit the BLAS threads for one training or evaluation run; restore them on exit.

    Yields the count set, or None when the libraries were left as they were (the automatic policy
    chose their default, or no BLAS library is loaded). Enter it once per ``fit``, not per step.
    ``batch_size`` is the largest batch the block multiplies (``fit``'s validation batches count).
    """
    threads = choose_num_threads(model, batch_size)
    blas = _blas_controller() if threads is not None else None
    if blas is None or not blas.lib_controllers:
        yield None
        return
    with blas.limit(limits=threads):
        yield threads
