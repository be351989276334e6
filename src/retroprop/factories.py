"""Ways to make tensors: from data, filled, and random (drawn from retroprop's generator)."""

from __future__ import annotations

from typing import Any

import numpy as np

from retroprop.random import get_generator
from retroprop.tensor import DEFAULT_DTYPE, Tensor


def _size(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _dtype(dtype: Any) -> np.dtype:
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    dtype rule (as torch): arrays keep their dtype, Python floats become float32, Python ints
    int64; ``dtype=`` overrides.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor that shares memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        Tensor(array)  # raises the unsupported-dtype error
    t = Tensor._make(array)
    t.requires_grad = requires_grad
    return t


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_size(shape), dtype=_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_size(shape), dtype=_dtype(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype=t.dtype if dtype is None else dtype),
                  requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(t.shape, dtype=t.dtype if dtype is None else dtype),
                  requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    values = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return Tensor(values, dtype=dtype)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          generator: Any = None) -> Tensor:
    """Standard normal samples from retroprop's generator (see ``rp.manual_seed``)."""
    values = get_generator(generator).standard_normal(_size(shape))
    return Tensor(values, dtype=_dtype(dtype), requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from retroprop's generator."""
    values = get_generator(generator).random(_size(shape))
    return Tensor(values, dtype=_dtype(dtype), requires_grad=requires_grad)
