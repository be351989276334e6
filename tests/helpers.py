"""Test helpers shared by every op's test: finite-difference gradient checks and torch parity."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import retroprop as rp

# Tolerances for comparing an analytic gradient with float64 central differences.
GRAD_TOL = {np.float64: (1e-6, 1e-8), np.float32: (2e-2, 2e-3)}
# Tolerances for parity with torch, per dtype (forward values and gradients).
TORCH_TOL = {np.float64: (1e-7, 1e-10), np.float32: (1e-4, 1e-6)}


def away_from(values: np.ndarray, kinks: Sequence[float] = (0.0,), margin: float = 1e-2) -> np.ndarray:
    """Push values at least ``margin`` away from each kink, so finite differences stay on one side."""
    values = np.array(values, dtype=np.float64, copy=True)
    for kink in kinks:
        close = np.abs(values - kink) < margin
        values[close] = kink + np.where(values[close] >= kink, margin, -margin)
    return values


def numeric_grads(fn: Callable[..., rp.Tensor], arrays: Sequence[np.ndarray], eps: float = 1e-6,
                  weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Central differences in float64 of ``sum(fn(*arrays) * weights)`` w.r.t. each array."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def scalar(*xs: np.ndarray) -> float:
        with rp.no_grad():
            out = fn(*[rp.tensor(x) for x in xs]).data.astype(np.float64)
        return float((out * weights).sum()) if weights is not None else float(out.sum())

    grads = []
    for k, array in enumerate(arrays):
        grad = np.zeros_like(array)
        flat, gflat = array.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            plus = scalar(*arrays)
            flat[i] = saved - eps
            minus = scalar(*arrays)
            flat[i] = saved
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(grad)
        arrays[k] = array
    return grads


def check_grad(fn: Callable[..., rp.Tensor], *arrays: Any, dtype: Any = np.float64,
               eps: float = 1e-6, seed: int = 0) -> None:
    """Assert that backprop through ``fn`` matches float64 central differences.

    ``fn`` maps tensors to a tensor of any shape; its output is contracted with fixed random
    weights so that every output element's gradient is checked, not only their sum.
    """
    dtype = np.dtype(dtype).type
    rtol, atol = GRAD_TOL[dtype]
    inputs = [rp.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert isinstance(out, rp.Tensor), f"fn returned {type(out).__name__}, not a Tensor"
    assert out.dtype == dtype, f"output dtype {out.dtype} differs from input dtype {np.dtype(dtype)}"
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    out.backward(np.asarray(weights, dtype=dtype))
    expected = numeric_grads(fn, arrays, eps=eps, weights=weights)
    for k, (tensor_in, want) in enumerate(zip(inputs, expected, strict=True)):
        assert tensor_in.grad is not None, f"input {k} received no gradient"
        assert tensor_in.grad.shape == tensor_in.shape, (
            f"input {k}: gradient shape {tensor_in.grad.shape} != input shape {tensor_in.shape}"
        )
        assert tensor_in.grad.dtype == dtype, f"input {k}: gradient dtype {tensor_in.grad.dtype}"
        np.testing.assert_allclose(
            tensor_in.grad, want, rtol=rtol, atol=atol, err_msg=f"gradient of input {k}"
        )


def torch_or_skip() -> Any:
    """Import torch, or skip the calling test where it is not installed (CI requires it)."""
    return pytest.importorskip("torch")


def keyed_normal(shape: tuple[int, ...], *key: Any) -> np.ndarray:
    """Standard normal values of ``shape``, drawn from a seed derived from ``shape`` and ``key``."""
    return np.random.default_rng(zlib.crc32(repr((shape, key)).encode())).standard_normal(shape)


def assert_matches_torch(rp_fn: Callable[..., rp.Tensor], torch_fn: Callable[..., Any],
                         *arrays: Any, dtype: Any = np.float64, grad_inputs: Sequence[int] | None = None,
                         seed: int = 0, check_dtype: bool = False) -> None:
    """Run the same computation in retroprop and torch; compare outputs and input gradients (and,
    with ``check_dtype``, the output's dtype)."""
    torch = torch_or_skip()
    dtype = np.dtype(dtype).type
    rtol, atol = TORCH_TOL[dtype]
    grad_inputs = range(len(arrays)) if grad_inputs is None else grad_inputs
    rp_in, th_in = [], []
    for k, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        needs = k in grad_inputs and a.dtype.kind == "f"
        rp_in.append(rp.tensor(a, requires_grad=needs))
        th_in.append(torch.tensor(a, requires_grad=needs))
    rp_out = rp_fn(*rp_in)
    th_out = torch_fn(*th_in)
    np.testing.assert_allclose(rp_out.data, th_out.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg="forward values differ from torch")
    assert rp_out.shape == tuple(th_out.shape), f"shape {rp_out.shape} vs torch {tuple(th_out.shape)}"
    if check_dtype:
        assert rp_out.dtype == th_out.detach().numpy().dtype, f"dtype {rp_out.dtype} vs torch {th_out.dtype}"
    if not any(t.requires_grad for t in rp_in):
        return
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=rp_out.shape).astype(dtype)
    rp_out.backward(weights)
    th_out.backward(torch.tensor(weights))
    for k, (r, t) in enumerate(zip(rp_in, th_in, strict=True)):
        if not r.requires_grad:
            continue
        want = t.grad.numpy() if t.grad is not None else np.zeros(r.shape, dtype=dtype)
        np.testing.assert_allclose(r.grad, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {k} differs from torch")
