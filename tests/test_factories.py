"""Tensor factories with torch's meaning (issue 14): sizes, dtype rules, values, errors and the
``*_like`` family checked against torch 2.13.0; the random ones for shape, dtype, range and
distribution (their numbers are NumPy's) and for reproducibility under ``rp.manual_seed`` and
``generator=``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop.factories import FactoryError


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


def _same_kind(ours: rp.Tensor, theirs: Any) -> None:
    """Shape, dtype and requires_grad as torch's."""
    assert isinstance(ours, rp.Tensor)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == theirs.detach().numpy().dtype, (ours.dtype, theirs.dtype)
    assert ours.requires_grad == theirs.requires_grad


# ---------------------------------------------------------------------------------------------
# Deterministic factories: exact values
# ---------------------------------------------------------------------------------------------
EXACT = {
    "zeros-args": lambda m: m.zeros(2, 3),
    "zeros-tuple": lambda m: m.zeros((2, 3)),
    "zeros-list": lambda m: m.zeros([2, 3]),
    "zeros-size-kw": lambda m: m.zeros(size=(2, 3)),
    "zeros-0d": lambda m: m.zeros(()),
    "zeros-empty-dim": lambda m: m.zeros(0, 3),
    "zeros-numpy-int": lambda m: m.zeros(np.int64(2), 3),
    "zeros-0d-int-tensor": lambda m: m.zeros(m.tensor(3)),
    "zeros-long": lambda m: m.zeros(2, dtype=m.long),
    "zeros-grad": lambda m: m.zeros(2, dtype=m.float64, requires_grad=True),
    "ones-bool": lambda m: m.ones(3, dtype=m.bool),
    "ones-int": lambda m: m.ones(2, 3, dtype=m.int),
    "ones-grad": lambda m: m.ones(2, requires_grad=True),
    "eye": lambda m: m.eye(3),
    "eye-rect": lambda m: m.eye(2, 3),
    "eye-m-kw": lambda m: m.eye(2, m=3),
    "eye-empty": lambda m: m.eye(0),
    "eye-bool": lambda m: m.eye(2, dtype=m.bool),
    "eye-long-grad": lambda m: m.eye(3, 2, dtype=m.float64, requires_grad=True),
    "full-int": lambda m: m.full((2, 3), 1),
    "full-bool": lambda m: m.full((2,), True),
    "full-float": lambda m: m.full((2,), 1.5),
    "full-cast": lambda m: m.full((2,), 1.5, dtype=m.int64),
    "full-0d": lambda m: m.full([], 2),
    "full-int-tensor": lambda m: m.full((2,), m.tensor(2)),
    "full-bool-tensor": lambda m: m.full((2,), m.tensor(True)),
    "full-f64-tensor": lambda m: m.full((2,), m.tensor(1.5, dtype=m.float64)),
    "full-np-float64": lambda m: m.full((2,), np.float64(1.5)),
    "full-np-int32": lambda m: m.full((2,), np.int32(3)),
    "full-nan": lambda m: m.full((2,), float("nan")),
    "full-kw": lambda m: m.full(size=(2,), fill_value=1),
    "full-grad": lambda m: m.full((2,), 1.5, requires_grad=True),
    "arange-int": lambda m: m.arange(5),
    "arange-float-start": lambda m: m.arange(0.0, 5),
    "arange-down": lambda m: m.arange(5, 0, -1),
    "arange-empty": lambda m: m.arange(5, 5),
    "arange-f64": lambda m: m.arange(0, 10, 3, dtype=m.float64),
    "arange-quarter-down": lambda m: m.arange(1, 0, -0.25),
    "arange-int64-truncates": lambda m: m.arange(-2.5, 3, 1.5, dtype=m.int64),
    "arange-int32-length": lambda m: m.arange(-2.5, 3, 1.5, dtype=m.int32),
    "arange-int32-float-end": lambda m: m.arange(0, 2.5, 1, dtype=m.int32),
    "arange-int64-float-end": lambda m: m.arange(0, 2.5, 1, dtype=m.int64),
    "arange-int64-float-start": lambda m: m.arange(0.5, 3, dtype=m.int64),
    "arange-bool-bound": lambda m: m.arange(True),
    "arange-kw": lambda m: m.arange(start=1, end=4),
    "arange-end-kw": lambda m: m.arange(end=4),
    "arange-tensor-bound": lambda m: m.arange(m.tensor(3.0)),
    "arange-np-int": lambda m: m.arange(np.int32(3)),
    "arange-huge-int": lambda m: m.arange(2**60, 2**60 + 3),
    "arange-uint8": lambda m: m.arange(0, 5, 1, dtype=m.uint8),
    "arange-grad": lambda m: m.arange(0.0, 5, requires_grad=True),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace-int-bounds": lambda m: m.linspace(0, 10, 5),
    "linspace-long": lambda m: m.linspace(0, 10, 5, dtype=m.long),
    "linspace-long-truncates-bounds": lambda m: m.linspace(0.5, 10.5, 5, dtype=m.long),
    "linspace-one": lambda m: m.linspace(0, 1, 1),
    "linspace-one-long": lambda m: m.linspace(2.7, 9, 1, dtype=m.long),
    "linspace-none": lambda m: m.linspace(0, 1, 0),
    "linspace-tensors": lambda m: m.linspace(m.tensor(0.0), m.tensor(1.0), 3),
    "linspace-grad": lambda m: m.linspace(0, 1, 3, requires_grad=True),
    "logspace": lambda m: m.logspace(0, 2, 3),
    "logspace-base": lambda m: m.logspace(0, 2, 3, base=2),
    "logspace-long": lambda m: m.logspace(0, 2, 3, dtype=m.long),
    "logspace-int32": lambda m: m.logspace(0.5, 3.5, 4, dtype=m.int),
    "logspace-one": lambda m: m.logspace(0.5, 1, 1),
    "logspace-none": lambda m: m.logspace(0, 1, 0),
    "logspace-f64": lambda m: m.logspace(-2.5, 3.7, 9, base=3.0, dtype=m.float64),
}


@pytest.mark.torch
@pytest.mark.parametrize("make", EXACT.values(), ids=EXACT.keys())
def test_deterministic_factories_match_torch(torch: Any, make: Callable[[Any], Any]) -> None:
    ours, theirs = make(rp), make(torch)
    _same_kind(ours, theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())


LIKE = {
    "zeros_like": lambda m, f, i: m.zeros_like(f),
    "zeros_like-dtype": lambda m, f, i: m.zeros_like(i, dtype=m.float64),
    "zeros_like-grad": lambda m, f, i: m.zeros_like(i, dtype=m.float32, requires_grad=True),
    "ones_like-int": lambda m, f, i: m.ones_like(i),
    "ones_like-grad": lambda m, f, i: m.ones_like(i, dtype=m.float32, requires_grad=True),
    "full_like-int-keeps-dtype": lambda m, f, i: m.full_like(i, 2.7),
    "full_like-float": lambda m, f, i: m.full_like(f, 2),
    "full_like-bool-value": lambda m, f, i: m.full_like(i, True),
    "full_like-dtype": lambda m, f, i: m.full_like(f, 3, dtype=m.int32),
}


@pytest.mark.torch
@pytest.mark.parametrize("make", LIKE.values(), ids=LIKE.keys())
def test_like_factories_match_torch(torch: Any, make: Callable[..., Any]) -> None:
    ours = make(rp, rp.tensor([[1.0, 2.0]], requires_grad=True), rp.tensor([[1, 2]]))
    theirs = make(torch, torch.tensor([[1.0, 2.0]], requires_grad=True), torch.tensor([[1, 2]]))
    _same_kind(ours, theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())


@pytest.mark.torch
def test_empty_has_torch_shape_and_dtype_and_holds_zeros(torch: Any) -> None:
    for make in (lambda m: m.empty(2, 3), lambda m: m.empty((2, 3), dtype=m.int32),
                 lambda m: m.empty_like(m.ones(2, dtype=m.float64)), lambda m: m.empty(0)):
        ours, theirs = make(rp), make(torch)
        _same_kind(ours, theirs)
        assert not ours.numpy().any()  # documented: retroprop's empty memory is zeroed


# ---------------------------------------------------------------------------------------------
# Ranges over many bounds: torch's lengths exactly, values to rounding
# ---------------------------------------------------------------------------------------------
def _bounds(count: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return [tuple(float(v) for v in rng.uniform(-50, 50, 2).round(int(rng.integers(0, 4))))
            for _ in range(count)]


@pytest.mark.torch
def test_arange_length_and_values_follow_torch_over_many_ranges(torch: Any) -> None:
    rng = np.random.default_rng(1)
    for start, end in _bounds(150, 1):
        step = round(float(rng.uniform(0.01, 5)), int(rng.integers(1, 4))) * (1 if end >= start else -1)
        for name in ("float32", "float64", "int64", "int32"):
            if name.startswith("int") and abs(step) < 1:
                continue  # the step truncates to 0: see test_arange_integer_dtype_needs_a_whole_step
            ours = rp.arange(start, end, step, dtype=getattr(rp, name))
            theirs = torch.arange(start, end, step, dtype=getattr(torch, name))
            _same_kind(ours, theirs)  # the length: ceil((end - start) / step), as torch's
            # torch adds the steps in float32 runs of a vector's width; NumPy in float64: the same
            # values within an ulp of the bounds' magnitude
            tolerance = 2 * np.finfo(ours.dtype).eps * max(abs(start), abs(end)) \
                if name.startswith("float") else 0
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=tolerance)


@pytest.mark.torch
def test_linspace_and_logspace_follow_torch_over_many_ranges(torch: Any) -> None:
    rng = np.random.default_rng(2)
    for start, end in _bounds(120, 2):
        steps = int(rng.integers(0, 40))
        for name in ("float32", "float64", "int64", "int32"):
            ours = rp.linspace(start, end, steps, dtype=getattr(rp, name))
            theirs = torch.linspace(start, end, steps, dtype=getattr(torch, name))
            _same_kind(ours, theirs)
            if steps:  # both ends exact: the second half counts back from the end, as torch's
                assert ours.numpy()[0] == theirs.numpy()[0] and ours.numpy()[-1] == theirs.numpy()[-1]
            if name.startswith("float"):
                tolerance = 2 * np.finfo(ours.dtype).eps * max(abs(start), abs(end))
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=tolerance)
            else:  # a point within rounding of a whole number may truncate either way (torch's own
                # choice depends on the CPU's vector width)
                assert np.abs(ours.numpy().astype(np.int64) - theirs.numpy()).max(initial=0) <= 1
            ours = rp.logspace(start / 10, end / 10, steps, dtype=getattr(rp, name))
            theirs = torch.logspace(start / 10, end / 10, steps, dtype=getattr(torch, name))
            _same_kind(ours, theirs)
            if name.startswith("float"):  # torch's powers come from a vector path that depends on the
                # CPU: an AMD EPYC and the machines of earlier sessions give results 1 ulp apart
                np.testing.assert_array_max_ulp(ours.numpy(), theirs.numpy(), maxulp=2)
            else:  # a power within rounding of a whole number may truncate either way, as above
                assert np.abs(ours.numpy().astype(np.int64) - theirs.numpy()).max(initial=0) <= 1


def test_linspace_integer_dtype_truncates_exact_points() -> None:
    # 0, 2.5, 5, 7.5, 10 truncate toward zero; -7.5 to -7
    assert rp.linspace(0, 10, 5, dtype=rp.long).tolist() == [0, 2, 5, 7, 10]
    assert rp.linspace(-10, 0, 5, dtype=rp.long).tolist() == [-10, -7, -5, -2, 0]


def test_arange_integer_dtype_needs_a_whole_step() -> None:
    # torch: int64 raises "step must be nonzero" (the step truncates to 0); int32 repeats the start
    # silently. retroprop raises for both.
    for dtype in (rp.long, rp.int, rp.uint8):
        with pytest.raises(FactoryError, match="step must be nonzero"):
            rp.arange(0, 5, 0.5, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Errors: torch's exception classes (retroprop's are subclasses of them)
# ---------------------------------------------------------------------------------------------
ERRORS = {
    "zeros-no-size": (lambda m: m.zeros(), TypeError, "missing the size"),
    "zeros-float-size": (lambda m: m.zeros(2.5), TypeError, "tuple of ints"),
    "zeros-negative": (lambda m: m.zeros(-1), FactoryError, "negative dimension"),
    "zeros-mixed": (lambda m: m.zeros(2, (3,)), TypeError, "tuple of ints"),
    "zeros-bool-size": (lambda m: m.zeros(True), TypeError, "tuple of ints"),
    "zeros-float-in-tuple": (lambda m: m.zeros((2, 3.0)), TypeError, "tuple of ints"),
    "zeros-1d-tensor-size": (lambda m: m.zeros(m.tensor([2, 3])), TypeError, "tuple of ints"),
    "rand-negative": (lambda m: m.rand(2, -3), FactoryError, "negative dimension -3"),
    "full-int-size": (lambda m: m.full(3, 1.0), TypeError, "tuple of ints"),
    "full-str-value": (lambda m: m.full((2,), "a"), TypeError, "number"),
    "full-1d-tensor-value": (lambda m: m.full((2,), m.tensor([1.5])), TypeError, "number"),
    "arange-zero-step": (lambda m: m.arange(0, 5, 0), FactoryError, "step must be nonzero"),
    "arange-wrong-sign": (lambda m: m.arange(5, 0), FactoryError, "inconsistent with step sign"),
    "arange-nan": (lambda m: m.arange(float("nan")), FactoryError, "unsupported range"),
    "arange-inf": (lambda m: m.arange(float("inf")), FactoryError, "unsupported range"),
    "arange-int64-fraction-step": (lambda m: m.arange(0, 1, 0.3, dtype=m.int64), FactoryError,
                                   "step must be nonzero"),
    "linspace-negative": (lambda m: m.linspace(0, 1, -1), FactoryError, "non-negative"),
    "linspace-no-steps": (lambda m: m.linspace(0, 1), TypeError, "steps"),
    "linspace-float-steps": (lambda m: m.linspace(0, 1, 2.5), TypeError, "steps must be an int"),
    "eye-negative-n": (lambda m: m.eye(-1), FactoryError, "n must be greater or equal to 0"),
    "eye-negative-m": (lambda m: m.eye(2, -1), FactoryError, "m must be greater or equal to 0"),
    "eye-float": (lambda m: m.eye(2.0), TypeError, "tuple of ints|int"),
    "randint-empty": (lambda m: m.randint(5, 5, (3,)), FactoryError, "low=5 >= high=5"),
    "randint-int-size": (lambda m: m.randint(5, 3), TypeError, "tuple of ints"),
    "randint-float-bounds": (lambda m: m.randint(2.5, 5.5, (4,)), TypeError, "must be an int"),
    "randint-uint8-high": (lambda m: m.randint(0, 300, (4,), dtype=m.uint8), FactoryError, "out of bounds"),
    "randint-uint8-low": (lambda m: m.randint(-3, 0, (4,), dtype=m.uint8), FactoryError, "out of bounds"),
    "randint_like-empty": (lambda m: m.randint_like(m.tensor([1, 2]), 5, 5), FactoryError, "low=5"),
    "ones_like-list": (lambda m: m.ones_like([1, 2]), TypeError, "must be a Tensor"),
    "normal-no-size": (lambda m: m.normal(0.0, 1.0), TypeError, "needs a size"),
    "normal-negative-std": (lambda m: m.normal(0.0, -1.0, (2,)), FactoryError, "std >= 0.0"),
    "normal-shapes": (lambda m: m.normal(m.zeros(3), m.ones(4)), FactoryError, "broadcast"),
    "normal-tensor-negative-std": (lambda m: m.normal(m.zeros(3), -1.0), FactoryError, "std >= 0.0"),
    "normal-negative-std-tensor": (lambda m: m.normal(m.zeros(3), -m.ones(3)), FactoryError, "std >= 0.0"),
    "normal-tensor-and-size": (lambda m: m.normal(m.zeros(3), 1.0, (3,)), TypeError, "no size"),
}


@pytest.mark.torch
@pytest.mark.parametrize(("make", "error", "match"), ERRORS.values(), ids=ERRORS.keys())
def test_bad_arguments_raise_as_torch(torch: Any, make: Callable[[Any], Any], error: type,
                                      match: str) -> None:
    with pytest.raises(Exception) as theirs:  # torch's class is the oracle
        make(torch)
    with pytest.raises(error, match=match) as ours:
        make(rp)
    assert isinstance(ours.value, theirs.type), (type(ours.value), theirs.type)


# torch raises NotImplementedError ("... not implemented for 'Long'") or RuntimeError for these;
# retroprop's TypeError is its error for a dtype that cannot take part (as for requires_grad)
DTYPE_ERRORS = {
    "arange-bool": lambda m: m.arange(0, 5, dtype=m.bool),
    "rand-int": lambda m: m.rand(2, dtype=m.int64),
    "randn-int": lambda m: m.randn(2, dtype=m.int64),
    "rand_like-int": lambda m: m.rand_like(m.tensor([1, 2])),
    "randn_like-int": lambda m: m.randn_like(m.tensor([1, 2])),
    "normal-int-mean": lambda m: m.normal(m.zeros(3, dtype=m.int64), 1.0),
    "full-int-grad": lambda m: m.full((2,), 1, requires_grad=True),
    "ones-int-grad": lambda m: m.ones(2, dtype=m.int64, requires_grad=True),
    "arange-int-grad": lambda m: m.arange(0, 5, requires_grad=True),
    "randint-grad": lambda m: m.randint(0, 5, (2,), requires_grad=True),
    "zeros_like-int-grad": lambda m: m.zeros_like(m.tensor([1, 2]), requires_grad=True),
}


@pytest.mark.torch
@pytest.mark.parametrize("make", DTYPE_ERRORS.values(), ids=DTYPE_ERRORS.keys())
def test_dtypes_torch_refuses_raise_type_error(torch: Any, make: Callable[[Any], Any]) -> None:
    with pytest.raises((NotImplementedError, RuntimeError)):
        make(torch)
    with pytest.raises(TypeError):
        make(rp)


# ---------------------------------------------------------------------------------------------
# Random factories: torch's shapes and dtypes, values in range
# ---------------------------------------------------------------------------------------------
RANDOM = {
    "rand": lambda m: m.rand(2, 3),
    "rand-tuple": lambda m: m.rand((2, 3)),
    "rand-size-kw": lambda m: m.rand(size=(2, 3)),
    "rand-0d": lambda m: m.rand(()),
    "rand-grad": lambda m: m.rand(2, 3, requires_grad=True),
    "randn-f64": lambda m: m.randn(2, dtype=m.float64),
    "randn-half": lambda m: m.randn(4, dtype=m.half),
    "randint-high": lambda m: m.randint(5, (3,)),
    "randint-low-high": lambda m: m.randint(2, 5, (3, 2)),
    "randint-size-kw": lambda m: m.randint(5, size=(2,)),
    "randint-all-kw": lambda m: m.randint(low=2, high=5, size=(2,)),
    "randint-low-size-kw": lambda m: m.randint(2, 5, size=(2,)),
    "randint-float-dtype": lambda m: m.randint(0, 5, (2,), dtype=m.float32),
    "randint-uint8-full-range": lambda m: m.randint(0, 256, (4,), dtype=m.uint8),
    "rand_like": lambda m: m.rand_like(m.ones(2, 2)),
    "rand_like-f64": lambda m: m.rand_like(m.ones(2, dtype=m.float64)),
    "randn_like-grad": lambda m: m.randn_like(m.ones(3), requires_grad=True),
    "randint_like-high": lambda m: m.randint_like(m.ones(3), 5),
    "randint_like-low-high": lambda m: m.randint_like(m.tensor([1, 2]), 3, 5),
    "normal-floats": lambda m: m.normal(0.0, 1.0, (2,)),
    "normal-ints": lambda m: m.normal(0, 1, (2,)),
    "normal-f64-mean": lambda m: m.normal(m.zeros(3, dtype=m.float64), 1.0),
    "normal-broadcast": lambda m: m.normal(m.zeros(3), m.ones(2, 3)),
    "normal-std-tensor": lambda m: m.normal(0.0, m.ones(3)),
    "normal-mean-dtype-wins": lambda m: m.normal(m.zeros(3), m.ones(3, dtype=m.float64)),
    "normal-std-dtype": lambda m: m.normal(0.0, m.ones(3, dtype=m.float64)),
    "normal-grad": lambda m: m.normal(2.0, 3.0, size=(2,), requires_grad=True),
    "normal-kw": lambda m: m.normal(mean=m.zeros(3), std=1.0),
}


@pytest.mark.torch
@pytest.mark.parametrize("make", RANDOM.values(), ids=RANDOM.keys())
def test_random_factories_have_torch_shapes_and_dtypes(torch: Any, make: Callable[[Any], Any]) -> None:
    _same_kind(make(rp), make(torch))


def test_random_values_stay_in_their_ranges() -> None:
    rp.manual_seed(0)
    uniform = rp.rand(20000).numpy()
    assert uniform.min() >= 0 and uniform.max() < 1
    draws = rp.randint(-3, 4, (5000,)).numpy()
    assert set(np.unique(draws).tolist()) == set(range(-3, 4))  # every value, none outside
    assert rp.randint(0, 256, (3000,), dtype=rp.uint8).numpy().max() == 255
    # std 0 gives the mean itself: mean and std broadcast elementwise, as torch's
    mixed = rp.normal(rp.tensor([0.0, 100.0]), rp.tensor([1.0, 0.0]))
    assert mixed.numpy()[1] == 100.0 and mixed.numpy()[0] != 0.0


def test_random_distributions_have_their_moments() -> None:
    # 5 standard errors of the mean: fails by chance about once in 1.7 million runs
    n = 40_000
    rp.manual_seed(1)
    uniform = rp.rand(n).numpy().astype(np.float64)
    assert abs(uniform.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    normal = rp.randn(n).numpy().astype(np.float64)
    assert abs(normal.mean()) < 5 / math.sqrt(n)
    assert abs(normal.var() - 1) < 5 * math.sqrt(2 / n)
    shifted = rp.normal(3.0, 2.0, (n,)).numpy().astype(np.float64)
    assert abs(shifted.mean() - 3) < 5 * 2 / math.sqrt(n)
    assert abs(shifted.std() - 2) < 5 * 2 * math.sqrt(1 / (2 * n))


def test_rand_never_returns_one_even_when_the_draw_rounds_up() -> None:
    class AlmostOne(np.random.Generator):
        def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
            return np.full(size, 1 - 2.0**-30)  # rounds to 1.0 in float32

    generator = AlmostOne(np.random.PCG64(0))
    for dtype in (rp.float32, rp.half, rp.float64):
        values = rp.rand(4, dtype=dtype, generator=generator).numpy()
        assert values.max() < 1, dtype


# ---------------------------------------------------------------------------------------------
# Seeding: rp.manual_seed, generator= and rp.Generator
# ---------------------------------------------------------------------------------------------
SEEDED = {
    "rand": lambda: rp.rand(3, 2),
    "randn": lambda: rp.randn(4),
    "randint": lambda: rp.randint(0, 100, (5,)),
    "normal": lambda: rp.normal(1.0, 2.0, (3,)),
    "normal-tensors": lambda: rp.normal(rp.zeros(3), rp.ones(3)),
    "rand_like": lambda: rp.rand_like(rp.ones(3)),
    "randn_like": lambda: rp.randn_like(rp.ones(3)),
    "randint_like": lambda: rp.randint_like(rp.ones(3), 10),
}


@pytest.mark.parametrize("draw", SEEDED.values(), ids=SEEDED.keys())
def test_manual_seed_makes_every_random_factory_reproducible(draw: Callable[[], rp.Tensor]) -> None:
    rp.manual_seed(11)
    first, second = draw().numpy(), draw().numpy()
    rp.manual_seed(11)
    np.testing.assert_array_equal(draw().numpy(), first)
    np.testing.assert_array_equal(draw().numpy(), second)
    assert not np.array_equal(first, second)  # the stream moves on between draws


def test_generator_argument_is_reproducible_and_leaves_the_global_stream_alone() -> None:
    rp.manual_seed(5)
    expected = rp.rand(3).numpy()
    rp.manual_seed(5)
    a = rp.rand(3, generator=rp.Generator().manual_seed(42)).numpy()
    b = rp.randn(2, generator=7).numpy()
    np.testing.assert_array_equal(rp.rand(3).numpy(), expected)  # untouched by the two draws above
    np.testing.assert_array_equal(rp.rand(3, generator=rp.Generator().manual_seed(42)).numpy(), a)
    np.testing.assert_array_equal(rp.randn(2, generator=7).numpy(), b)
    np.testing.assert_array_equal(rp.randint(0, 9, (4,), generator=3).numpy(),
                                  rp.randint(0, 9, (4,), generator=3).numpy())


def test_generator_has_torch_methods() -> None:
    g = rp.Generator()
    assert isinstance(g, np.random.Generator)
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    first = g.random(2)
    g.manual_seed(3)
    np.testing.assert_array_equal(g.random(2), first)
    assert g.device == rp.device("cpu")
    new_seed = g.seed()
    assert g.initial_seed() == new_seed
    with pytest.raises(ValueError, match="non-negative integer"):
        g.manual_seed(-1)


# ---------------------------------------------------------------------------------------------
# From data and dtype aliases
# ---------------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("name", ["float", "float32", "float64", "double", "half", "float16", "int",
                                  "int32", "int64", "long", "bool", "uint8"])
def test_dtype_aliases_name_torch_dtypes(torch: Any, name: str) -> None:
    theirs = torch.zeros(2, dtype=getattr(torch, name)).numpy().dtype
    assert np.dtype(getattr(rp, name)) == theirs
    ours = rp.zeros(2, dtype=getattr(rp, name))
    assert ours.dtype == getattr(rp, name) and ours.dtype == theirs
    assert rp.tensor([1, 0], dtype=getattr(rp, name)).dtype == theirs
    assert rp.tensor([1.0, 2.0]).to(getattr(rp, name)).dtype == theirs


def test_dtype_aliases_compare_with_numpy_dtypes() -> None:
    assert rp.tensor([1.0]).dtype == rp.float32 == rp.float == np.float32
    assert rp.tensor([1]).dtype == rp.long == rp.int64
    assert rp.tensor([True]).dtype == rp.bool
    assert rp.arange(3).to(rp.double).dtype == np.float64


def test_as_tensor_shares_memory_when_it_can() -> None:
    array = np.arange(3.0)
    shared = rp.as_tensor(array)
    array[0] = 7.0
    assert shared.numpy()[0] == 7.0 and shared.dtype == np.float64
    copied = rp.as_tensor(array, dtype=rp.float32)
    array[1] = 9.0
    assert copied.numpy()[1] == 1.0 and copied.dtype == np.float32
    t = rp.tensor([1.0, 2.0])
    assert rp.as_tensor(t) is t and rp.as_tensor(t, dtype=rp.float32) is t
    assert rp.as_tensor([1, 2]).dtype == np.int64 and rp.as_tensor([0.5]).dtype == np.float32


@pytest.mark.torch
def test_factory_gradients_flow_into_requires_grad_results(torch: Any) -> None:
    for make in (lambda m: m.linspace(-1, 1, 5, requires_grad=True),
                 lambda m: m.full((5,), 0.5, requires_grad=True),
                 lambda m: m.arange(0.0, 5.0, requires_grad=True)):
        ours, theirs = make(rp), make(torch)
        (ours * ours).sum().backward()
        (theirs * theirs).sum().backward()
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-6)
