"""Ways to make tensors, with torch's signatures, dtype rules and errors: from data, filled, ranges,
``*_like`` and random draws.

Every factory takes ``dtype=``, ``device=`` (the CPU only: see ``retroprop.devices``) and
``requires_grad=`` (floating-point dtypes only) as torch's do; sizes are ``zeros(2, 3)``,
``zeros((2, 3))`` or ``zeros(size=(2, 3))``. ``empty`` returns zeros (torch leaves the memory as it
was). Random draws come from retroprop's generator (``rp.manual_seed``), a ``generator=`` or an int
seed: NumPy's PCG64, so a seed gives the same distribution as torch's but other numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retroprop.devices import resolve_device, resolve_dtype
from retroprop.random import get_generator
from retroprop.tensor import DEFAULT_DTYPE, Tensor, as_array


class FactoryError(ValueError, RuntimeError):
    """A factory's arguments describe no tensor: a negative size, an unbounded or inconsistent
    range, ``low >= high``, a negative ``std``. A ``RuntimeError``, as torch raises for these."""


class DtypeNotImplementedError(TypeError, NotImplementedError):
    """A range factory asked for a dtype it has no kernel for (bool): a ``TypeError``, and the
    ``NotImplementedError`` (a ``RuntimeError``) that torch raises."""


def _refuse_bool(target: np.dtype, where: str) -> None:
    if target.kind == "b":
        raise DtypeNotImplementedError(f"\"{where}_cpu\" not implemented for 'Bool' ({where} cannot make a "
                                       f"bool tensor; pass a numeric dtype)")


class Generator(np.random.Generator):
    """torch's ``torch.Generator`` on NumPy's: ``rp.Generator().manual_seed(42)`` can be given as
    ``generator=`` wherever retroprop draws, and is a ``numpy.random.Generator`` itself."""

    def __init__(self, device: Any = None) -> None:
        resolve_device(device, "rp.Generator")
        self._initial_seed = int(np.random.SeedSequence().entropy) % 2**63
        super().__init__(np.random.PCG64(self._initial_seed))

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (a non-negative int); returns the generator."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be a non-negative integer, got {seed!r}")
        self._initial_seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._initial_seed).state
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy) % 2**63).initial_seed()

    def initial_seed(self) -> int:
        return self._initial_seed

    @property
    def device(self) -> Any:
        return resolve_device(None, "rp.Generator")


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------
def _dimension(value: Any, where: str) -> int:
    if isinstance(value, Tensor) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}(): size must be a tuple of ints, got {type(value).__name__} {value!r}")
    return int(value)


def _size(args: tuple[Any, ...], size: Any, where: str) -> tuple[int, ...]:
    """torch's size arguments: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(size=(2, 3))``."""
    if size is not None:
        if args:
            raise TypeError(f"{where}() got the size both as arguments and as size=")
        args = (size,)
    if not args:
        raise TypeError(f"{where}() missing the size, as in {where}(2, 3) or {where}((2, 3))")
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    dims = tuple(_dimension(n, where) for n in args)
    if any(n < 0 for n in dims):
        raise FactoryError(f"{where}: trying to create a tensor with negative dimension "
                           f"{min(dims)}: {list(dims)}")
    return dims


def _sequence_size(size: Any, where: str) -> tuple[int, ...]:
    """A size that must be one tuple or list (``full``, ``randint``, ``normal``), as in torch."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{where}(): size must be a tuple of ints, got {type(size).__name__} {size!r}")
    return _size((tuple(size),), None, where)


def _number(value: Any, where: str, name: str) -> int | float:
    """A Python number from an int, float, bool, NumPy scalar or one-element tensor."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{where}(): {name} must be a number or a one-element tensor, got a tensor "
                            f"of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(f"{where}(): {name} must be a number, got {type(value).__name__}")


def _dtype(dtype: Any, default: np.dtype, where: str) -> np.dtype:
    return default if dtype is None else resolve_dtype(dtype, where)


def _float_dtype(dtype: Any, default: np.dtype, where: str) -> np.dtype:
    dtype = _dtype(dtype, default, where)
    if dtype.kind != "f":
        raise TypeError(f"{where}: draws need a floating-point dtype, got {dtype} (torch: not "
                        f"implemented for that dtype); use randint for integers")
    return dtype


def _make(array: np.ndarray, requires_grad: bool, device: Any, where: str) -> Tensor:
    resolve_device(device, where)
    result = Tensor._make(array)
    result.requires_grad = requires_grad  # raises for integer and bool dtypes, as torch
    return result


def _like(input: Any, where: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}(): input must be a Tensor, got {type(input).__name__}")
    return input


# ---------------------------------------------------------------------------------------------
# From data
# ---------------------------------------------------------------------------------------------
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    dtype rule (as torch): arrays keep their dtype, Python floats become float32, Python ints
    int64; ``dtype=`` overrides.
    """
    resolve_device(device, "rp.tensor")
    return Tensor(data, requires_grad=requires_grad,
                  dtype=None if dtype is None else resolve_dtype(dtype, "rp.tensor"))


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """torch's ``as_tensor``: ``data`` itself when it is a tensor of that dtype, a tensor sharing an
    array's memory when no cast is needed, else a new tensor (``rp.tensor``'s dtype rule)."""
    resolve_device(device, "rp.as_tensor")
    target = None if dtype is None else resolve_dtype(dtype, "rp.as_tensor")
    if isinstance(data, Tensor):
        return data if target is None else data.to(target)
    if isinstance(data, np.ndarray) and (target is None or target == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=target)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor that shares memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        Tensor(array)  # raises the unsupported-dtype error
    t = Tensor._make(array)
    t.requires_grad = requires_grad
    return t


# ---------------------------------------------------------------------------------------------
# Filled
# ---------------------------------------------------------------------------------------------
def zeros(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Zeros of ``size`` (float32 unless ``dtype=``)."""
    dims = _size(shape, size, "zeros")
    return _make(np.zeros(dims, _dtype(dtype, DEFAULT_DTYPE, "zeros")), requires_grad, device, "zeros")


def ones(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Ones of ``size`` (float32 unless ``dtype=``)."""
    dims = _size(shape, size, "ones")
    return _make(np.ones(dims, _dtype(dtype, DEFAULT_DTYPE, "ones")), requires_grad, device, "ones")


def empty(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` to be overwritten. Its values are zeros (torch's are whatever the memory
    held): code must not read them before writing."""
    dims = _size(shape, size, "empty")
    return _make(np.zeros(dims, _dtype(dtype, DEFAULT_DTYPE, "empty")), requires_grad, device, "empty")


def _fill_dtype(fill_value: Any) -> np.dtype:
    """torch's dtype for a fill value: bool, int64 for integers, the default (float32) for floats."""
    if isinstance(fill_value, Tensor):
        if fill_value.ndim != 0:
            raise TypeError(f"full(): fill_value must be a number, not a tensor of shape "
                            f"{tuple(fill_value.shape)}")
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(fill_value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(fill_value, (float, np.floating)):
        return DEFAULT_DTYPE
    raise TypeError(f"full(): fill_value must be a number, got {type(fill_value).__name__}")


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """``size`` (a tuple or list) filled with ``fill_value``; the dtype follows the value as torch's:
    bool, int64 for an int, float32 for a float."""
    dims = _sequence_size(size, "full")
    target = _dtype(dtype, _fill_dtype(fill_value), "full")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _make(np.full(dims, value, dtype=target), requires_grad, device, "full")


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity (``m`` defaults to ``n``): ones on the diagonal."""
    rows = _dimension(n, "eye")
    cols = rows if m is None else _dimension(m, "eye")
    for name, count in (("n", rows), ("m", cols)):
        if count < 0:
            raise FactoryError(f"eye: {name} must be greater or equal to 0, got {count}")
    return _make(np.eye(rows, cols, dtype=_dtype(dtype, DEFAULT_DTYPE, "eye")), requires_grad, device,
                 "eye")


# ---------------------------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------------------------
def arange(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(end)`` starts at 0), as torch's.

    The length is ``ceil((end - start) / step)``. dtype: int64 when every bound is an integer,
    float32 when any is a float. An integer ``dtype`` truncates the bounds first, as torch does.
    """
    if end is None:
        start, end = 0, start
    bounds = [_number(v, "arange", name) for v, name in ((start, "start"), (end, "end"), (step, "step"))]
    default = DEFAULT_DTYPE if any(isinstance(v, float) for v in bounds) else np.dtype(np.int64)
    target = _dtype(dtype, default, "arange")
    _refuse_bool(target, "arange")
    if not all(math.isfinite(v) for v in bounds[:2]):
        raise FactoryError(f"arange: unsupported range: {bounds[0]} -> {bounds[1]}")
    if not math.isfinite(bounds[2]):
        raise FactoryError(f"arange: step must be finite, got {bounds[2]}")
    integral = target.kind in "iu"
    x_start, x_end, x_step = (math.trunc(v) if integral else float(v) for v in bounds)
    if x_step == 0:  # an integer dtype truncates a step below 1 to 0 (torch raises for int64 too)
        raise FactoryError(f"arange: step must be nonzero, got {bounds[2]}"
                           + (f" (truncated to 0 for dtype {target})" if bounds[2] else ""))
    if (x_step > 0 and x_end < x_start) or (x_step < 0 and x_end > x_start):
        raise FactoryError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start {bounds[0]}, end {bounds[1]}, step {bounds[2]})")
    if target == np.int64:  # exact integer arithmetic, as torch for int64
        length = (x_end - x_start + x_step - (1 if x_step > 0 else -1)) // x_step
    else:
        length = math.ceil((float(bounds[1]) - float(bounds[0])) / float(bounds[2]))
    if integral:
        values = (x_start + x_step * np.arange(length, dtype=np.int64)).astype(target)
    else:
        values = (x_start + x_step * np.arange(length, dtype=np.float64)).astype(target)
    return _make(values, requires_grad, device, "arange")


def _steps(steps: Any, where: str) -> int:
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{where}(): steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise FactoryError(f"{where}: number of steps must be non-negative, got {steps}")
    return int(steps)


def _spaced(start: float, end: float, steps: int, dtype: np.dtype) -> np.ndarray:
    """torch's evenly spaced points: the first half counted from ``start``, the second from ``end``
    (so both ends are exact); bounds and step in ``dtype`` for floats, the step in float64 for
    integers (the bounds truncated first)."""
    work = dtype if dtype.kind == "f" else np.dtype(np.float64)
    first = np.asarray(math.trunc(start) if dtype.kind in "iu" else start).astype(dtype).astype(work)
    last = np.asarray(math.trunc(end) if dtype.kind in "iu" else end).astype(dtype).astype(work)
    if steps == 1:
        return first.reshape(1)
    step = (last - first) / work.type(steps - 1)
    index = np.arange(steps, dtype=work)
    half = steps // 2
    return np.concatenate([first + step * index[:half], last - step * (work.type(steps - 1) - index[half:])])


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced points from ``start`` to ``end``, both included (float32 unless
    ``dtype=``; an integer dtype truncates toward zero, as torch)."""
    count = _steps(steps, "linspace")
    first, last = _number(start, "linspace", "start"), _number(end, "linspace", "end")
    target = _dtype(dtype, DEFAULT_DTYPE, "linspace")
    _refuse_bool(target, "linspace")
    values = _spaced(first, last, count, target).astype(target) if count else np.zeros(0, target)
    return _make(values, requires_grad, device, "linspace")


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)`` (float32 unless ``dtype=``), the powers taken in
    float64 as torch's."""
    count = _steps(steps, "logspace")
    first, last = _number(start, "logspace", "start"), _number(end, "logspace", "end")
    radix = float(_number(base, "logspace", "base"))
    target = _dtype(dtype, DEFAULT_DTYPE, "logspace")
    _refuse_bool(target, "logspace")
    if count == 1:
        exponents = np.array([float(first)])
    elif count:  # bounds in the target dtype, the step and the exponents in float64 (torch's kernel)
        if target.kind in "iu":
            low, high = (int(np.asarray(math.trunc(v)).astype(target)) for v in (first, last))
            span = float(high - low)
        else:
            low_t, high_t = (np.asarray(v).astype(target) for v in (first, last))
            low, high, span = float(low_t), float(high_t), float(high_t - low_t)
        step = span / (count - 1)
        index = np.arange(count, dtype=np.float64)
        half = count // 2
        exponents = np.concatenate([low + step * index[:half], high - step * (count - 1 - index[half:])])
    else:
        exponents = np.zeros(0)
    with np.errstate(over="ignore"):
        values = np.power(radix, exponents).astype(target)
    return _make(values, requires_grad, device, "logspace")


# ---------------------------------------------------------------------------------------------
# *_like
# ---------------------------------------------------------------------------------------------
def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and dtype (``dtype=`` overrides)."""
    input = _like(input, "zeros_like")
    return _make(np.zeros(input.shape, _dtype(dtype, input.dtype, "zeros_like")), requires_grad, device,
                 "zeros_like")


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and dtype (``dtype=`` overrides)."""
    input = _like(input, "ones_like")
    return _make(np.ones(input.shape, _dtype(dtype, input.dtype, "ones_like")), requires_grad, device,
                 "ones_like")


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """A tensor of ``input``'s shape and dtype to be overwritten (zeros here; see ``empty``)."""
    input = _like(input, "empty_like")
    return _make(np.zeros(input.shape, _dtype(dtype, input.dtype, "empty_like")), requires_grad, device,
                 "empty_like")


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``input``'s shape filled with ``fill_value``, in ``input``'s dtype (not the value's)."""
    input = _like(input, "full_like")
    _fill_dtype(fill_value)  # a number or a 0-d tensor
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    target = _dtype(dtype, input.dtype, "full_like")
    return _make(np.full(input.shape, value, dtype=target), requires_grad, device, "full_like")


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              generator: Any = None) -> Tensor:
    """Uniform samples in [0, 1) of ``input``'s shape and (floating-point) dtype."""
    input = _like(input, "rand_like")
    return rand(input.shape, dtype=dtype if dtype is not None else input.dtype, device=device,
                requires_grad=requires_grad, generator=generator)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               generator: Any = None) -> Tensor:
    """Standard normal samples of ``input``'s shape and (floating-point) dtype."""
    input = _like(input, "randn_like")
    return randn(input.shape, dtype=dtype if dtype is not None else input.dtype, device=device,
                 requires_grad=requires_grad, generator=generator)


def randint_like(input: Tensor, low: Any = None, high: Any = None, *, dtype: Any = None,
                 device: Any = None, requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Integers in ``[low, high)`` of ``input``'s shape and dtype: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    input = _like(input, "randint_like")
    if high is None:
        if low is None:
            raise TypeError("randint_like() missing high, as in randint_like(x, 10) or "
                            "randint_like(x, 0, 10)")
        low, high = 0, low
    return randint(0 if low is None else low, high, tuple(input.shape),
                   dtype=dtype if dtype is not None else input.dtype, device=device,
                   requires_grad=requires_grad, generator=generator)


# ---------------------------------------------------------------------------------------------
# Random
# ---------------------------------------------------------------------------------------------
def randn(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Standard normal samples from retroprop's generator (see ``rp.manual_seed``)."""
    dims = _size(shape, size, "randn")
    resolve_device(device, "randn")  # before drawing: a failed call leaves the generator as it was
    target = _float_dtype(dtype, DEFAULT_DTYPE, "randn")
    values = get_generator(generator).standard_normal(dims).astype(target, copy=False)
    return _make(values, requires_grad, device, "randn")


def rand(*shape: Any, size: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from retroprop's generator."""
    dims = _size(shape, size, "rand")
    resolve_device(device, "rand")
    target = _float_dtype(dtype, DEFAULT_DTYPE, "rand")
    values = get_generator(generator).random(dims).astype(target)
    below_one = np.nextafter(target.type(1), target.type(0))
    np.minimum(values, below_one, out=values)  # a draw just under 1 can round up to 1.0 in float32
    return _make(values, requires_grad, device, "rand")


def _integer_bound(value: Any, name: str) -> int:
    if isinstance(value, Tensor) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"randint(): {name} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


def randint(*args: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
            generator: Any = None, **bounds: Any) -> Tensor:
    """Integers drawn uniformly from ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)`` (``size`` a tuple), int64 unless ``dtype=``."""
    three = len(args) >= 3 or (len(args) == 2 and "size" in bounds) or "low" in bounds \
        or (len(args) == 1 and "high" in bounds)
    names = ("low", "high", "size") if three else ("high", "size")
    if len(args) > len(names):
        raise TypeError(f"randint() takes at most 3 positional arguments ({len(args)} given)")
    given = dict(zip(names, args, strict=False))
    for key, value in bounds.items():
        if key not in ("low", "high", "size") or key in given:
            raise TypeError(f"randint() got an unexpected or repeated argument {key!r}")
        given[key] = value
    if "high" not in given or "size" not in given:
        raise TypeError("randint() needs high and size, as in randint(10, (3,)) or randint(0, 10, (3,))")
    low, high = _integer_bound(given.get("low", 0), "low"), _integer_bound(given["high"], "high")
    dims = _sequence_size(given["size"], "randint")
    target = _dtype(dtype, np.dtype(np.int64), "randint")
    resolve_device(device, "randint")
    if low >= high:
        raise FactoryError(f"randint: low must be less than high, but got low={low} >= high={high}")
    if target.kind in "iub":
        info = (0, 1) if target.kind == "b" else (np.iinfo(target).min, np.iinfo(target).max)
        if low < info[0] or high - 1 > info[1]:
            raise FactoryError(f"randint: [{low}, {high}) is out of bounds for dtype {target} "
                               f"([{info[0]}, {info[1]}])")
    values = get_generator(generator).integers(low, high, dims, dtype=np.int64).astype(target)
    return _make(values, requires_grad, device, "randint")


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Normal samples, torch's four forms: ``normal(mean_tensor, std_tensor)`` (broadcast),
    ``normal(mean_tensor, std=1.0)``, ``normal(mean, std_tensor)`` and ``normal(mean, std, size)``.

    With tensors the result takes their shape and the mean's dtype (else the std's). It is not part
    of the graph (torch's would pass zero gradients back to ``mean`` and ``std``)."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal() with number mean and std needs a size, as in normal(0.0, 1.0, (3,))")
        dims = _sequence_size(size, "normal")
        mu, sigma = _number(mean, "normal", "mean"), _number(std, "normal", "std")
        if sigma < 0:
            raise FactoryError(f"normal expects std >= 0.0, but found std {sigma}")
        target = _float_dtype(dtype, DEFAULT_DTYPE, "normal")
        resolve_device(device, "normal")
        values = mu + sigma * get_generator(generator).standard_normal(dims)
        return _make(values.astype(target), requires_grad, device, "normal")
    if size is not None or dtype is not None or requires_grad:
        raise TypeError("normal() with tensor mean or std takes no size, dtype or requires_grad")
    resolve_device(device, "normal")
    target = tensors[0].dtype
    if target.kind != "f":
        raise TypeError(f"normal: not implemented for dtype {target}; give floating-point tensors")
    mu = as_array(mean, copy=False) if isinstance(mean, Tensor) else _number(mean, "normal", "mean")
    sigma = as_array(std, copy=False) if isinstance(std, Tensor) else _number(std, "normal", "std")
    if np.any(np.asarray(sigma) < 0):
        raise FactoryError("normal expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(np.shape(mu), np.shape(sigma))
    except ValueError:
        raise FactoryError(f"normal: the shapes of mean {np.shape(mu)} and std {np.shape(sigma)} do "
                           "not broadcast") from None
    values = mu + sigma * get_generator(generator).standard_normal(shape)
    return _make(np.asarray(values).astype(target), False, None, "normal")
