"""Benchmark process set-up: run NumPy's OpenBLAS with the kernel the CPU actually supports.

Some machines here set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to work around old OpenBLAS
builds; with a current NumPy they force a slower kernel (e.g. Haswell on an AVX-512 CPU) and make
NumPy look slower than it is. Benchmarks re-run themselves once without them (tests and CI keep
the machine's settings). Import this module before NumPy.
"""

from __future__ import annotations

import os
import sys

_FORCED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def use_native_blas_kernel() -> None:
    """Re-exec the running script without the variables that pin OpenBLAS to another kernel."""
    if "--keep-blas-env" in sys.argv or not any(name in os.environ for name in _FORCED):
        return
    env = {k: v for k, v in os.environ.items() if k not in _FORCED}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def blas_description() -> str:
    """Which BLAS and kernel NumPy runs, as threadpoolctl reports it."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl missing)"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')} kernel)"
    return "unknown"
