"""PyTorch code that used to raise in retroprop (issue 14's "errors where torch works"): 0-d
tensors, ``squeeze`` of a dim that is not 1, ``x ** tensor``, ``size()``, ``clamp`` with min > max,
empty reductions, and torch's exception types for shape mismatches.

Each case is compared with torch 2.x itself (forward values, dtypes, gradients and the exception
type it raises) and, where differentiable, with float64 finite differences."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
import retroprop.functional as F
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

# torch warns (a UserWarning) on var/std without degrees of freedom
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*degrees of freedom:UserWarning")]
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
randn = keyed_normal
# forward values, gradients and the output's dtype as torch's
_parity = partial(assert_matches_torch, check_dtype=True)


def _both_raise(error: type[BaseException], rp_fn: Any, torch_fn: Any) -> BaseException:
    """torch raises ``error`` and so does retroprop; returns retroprop's exception."""
    with pytest.raises(error):
        torch_fn()
    with pytest.raises(error) as caught:
        rp_fn()
    return caught.value


# ---------------------------------------------------------------------------------------------
# 0-d tensors
# ---------------------------------------------------------------------------------------------
ZERO_D = [
    pytest.param(lambda t: F.softmax(t, dim=0), lambda t: torch.softmax(t, dim=0), id="softmax-0"),
    pytest.param(lambda t: F.softmax(t, dim=-1), lambda t: torch.softmax(t, dim=-1), id="softmax-neg"),
    pytest.param(lambda t: F.softmax(t), lambda t: torch.softmax(t, dim=-1), id="softmax-default"),
    pytest.param(lambda t: F.log_softmax(t, dim=0), lambda t: torch.log_softmax(t, dim=0), id="logsoftmax-0"),
    pytest.param(lambda t: F.log_softmax(t, -1), lambda t: torch.log_softmax(t, -1), id="logsoftmax-neg"),
    pytest.param(lambda t: rp.nn.Softmax(dim=0)(t), lambda t: torch.nn.Softmax(dim=0)(t), id="module"),
    pytest.param(lambda t: t.sum(-1), lambda t: t.sum(-1), id="sum-neg"),
    pytest.param(lambda t: t.sum(0), lambda t: t.sum(0), id="sum-0"),
    pytest.param(lambda t: t.sum(0, keepdim=True), lambda t: t.sum(0, keepdim=True), id="sum-keepdim"),
    pytest.param(lambda t: t.mean(-1), lambda t: t.mean(-1), id="mean-neg"),
    pytest.param(lambda t: t.mean(dim=0), lambda t: t.mean(dim=0), id="mean-0"),
    pytest.param(lambda t: t.amax(-1), lambda t: t.amax(-1), id="amax-neg"),
    pytest.param(lambda t: t.amin(0), lambda t: t.amin(0), id="amin-0"),
    pytest.param(lambda t: t.max(0).values, lambda t: t.max(0).values, id="max-dim"),
    pytest.param(lambda t: t.var(0), lambda t: t.var(0), id="var-0"),
    pytest.param(lambda t: t.std(-1, unbiased=False), lambda t: t.std(-1, unbiased=False), id="std-biased"),
    pytest.param(lambda t: t.squeeze(0), lambda t: t.squeeze(0), id="squeeze-0"),
    pytest.param(lambda t: t.squeeze(-1), lambda t: t.squeeze(-1), id="squeeze-neg"),
    pytest.param(lambda t: t.squeeze(), lambda t: t.squeeze(), id="squeeze-all"),
    pytest.param(lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0), id="unsqueeze-0"),
    pytest.param(lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1), id="unsqueeze-neg"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), ZERO_D)
def test_zero_d_as_torch(rp_fn, torch_fn, dtype):
    _parity(rp_fn, torch_fn, np.array(0.7), dtype=dtype)


@pytest.mark.parametrize("rp_fn", [pytest.param(p.values[0], id=p.id) for p in ZERO_D if p.id != "var-0"])
def test_zero_d_gradient_matches_finite_differences(rp_fn):
    check_grad(rp_fn, np.array(-1.3))


def test_zero_d_sum_backward():
    x = rp.tensor(2.0, requires_grad=True)
    (x.sum(-1) * 3.0).backward()
    assert x.grad.shape == () and x.grad == 3.0


@pytest.mark.parametrize(("rp_fn", "torch_fn"), [
    pytest.param(lambda t: F.softmax(t, dim=1), lambda t: torch.softmax(t, dim=1), id="softmax"),
    pytest.param(lambda t: F.log_softmax(t, dim=-2), lambda t: torch.log_softmax(t, dim=-2), id="logsoftmax"),
    pytest.param(lambda t: t.sum(1), lambda t: t.sum(1), id="sum"),
    pytest.param(lambda t: t.mean(-2), lambda t: t.mean(-2), id="mean"),
    pytest.param(lambda t: t.squeeze(1), lambda t: t.squeeze(1), id="squeeze"),
    pytest.param(lambda t: t.unsqueeze(2), lambda t: t.unsqueeze(2), id="unsqueeze"),
])
def test_zero_d_dim_out_of_range_is_an_index_error(rp_fn, torch_fn):
    _both_raise(IndexError, lambda: rp_fn(rp.tensor(1.0)), lambda: torch_fn(torch.tensor(1.0)))


# ---------------------------------------------------------------------------------------------
# squeeze(dim) of a dim that is not 1; squeeze of a tuple of dims
# ---------------------------------------------------------------------------------------------
SQUEEZES = [0, 1, 2, 3, -1, -4, (0, 2), (1, 3), (0, 1, 2, 3), (-1, 0), ()]


@pytest.mark.parametrize("dim", SQUEEZES, ids=repr)
def test_squeeze_as_torch(dim):
    # a dim whose size is not 1 is left as it is, with no error, as torch's
    _parity(lambda t: t.squeeze(dim) * 2.0, lambda t: t.squeeze(dim) * 2.0, randn((2, 1, 3, 1), "sq"))
    _parity(lambda t: t.squeeze(dim=dim), lambda t: t.squeeze(dim=dim), randn((2, 1, 3, 1), "sq"))


@pytest.mark.parametrize("dim", [0, (0, 2), -1])
def test_squeeze_gradient(dim):
    check_grad(lambda t: t.squeeze(dim), randn((2, 1, 3, 1), "sqg"))


def test_squeeze_list_and_errors():
    x = rp.ones(2, 1, 3)
    assert x.squeeze([0, 1]).shape == tuple(torch.ones(2, 1, 3).squeeze((0, 1)).shape) == (2, 3)
    _both_raise(IndexError, lambda: x.squeeze(3), lambda: torch.ones(2, 1, 3).squeeze(3))
    _both_raise(IndexError, lambda: x.squeeze((0, 5)), lambda: torch.ones(2, 1, 3).squeeze((0, 5)))
    _both_raise(RuntimeError, lambda: x.squeeze((1, 1)), lambda: torch.ones(2, 1, 3).squeeze((1, 1)))


# ---------------------------------------------------------------------------------------------
# x ** tensor
# ---------------------------------------------------------------------------------------------
def _positive(shape: tuple[int, ...], *key: Any) -> np.ndarray:
    return np.abs(randn(shape, *key)) + 0.3


POW_SHAPES = [
    pytest.param((3,), (3,), id="same"),
    pytest.param((3, 1), (4,), id="broadcast-both"),
    pytest.param((2, 3), (), id="0d-exponent"),
    pytest.param((), (2, 3), id="0d-base"),
    pytest.param((), (), id="both-0d"),
    pytest.param((2, 1, 3), (4, 1), id="3d"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("base_shape", "exponent_shape"), POW_SHAPES)
def test_tensor_power_as_torch(base_shape, exponent_shape, dtype):
    base, exponent = _positive(base_shape, "b"), randn(exponent_shape, "e")
    _parity(lambda a, b: a**b, lambda a, b: a**b, base, exponent, dtype=dtype)
    _parity(lambda a, b: a.pow(b), lambda a, b: a.pow(b), base, exponent, dtype=dtype)


@pytest.mark.parametrize(("base_shape", "exponent_shape"), POW_SHAPES)
def test_tensor_power_gradient(base_shape, exponent_shape):
    check_grad(lambda a, b: a**b, _positive(base_shape, "gb"), randn(exponent_shape, "ge"))


def test_tensor_power_at_zero_and_negative_bases_as_torch():
    # 0 ** b: the exponent's gradient is 0 where b >= 0 (b ** 0 * log 0 would be 0 * -inf); a base's
    # gradient is 0 where b == 0; a negative base gives NaN for the exponent's gradient, as torch's
    base = np.array([0.0, 0.0, 0.0, -2.0, -2.0, 1.5, 2.0])
    exponent = np.array([2.0, 0.0, -1.0, 2.0, 3.0, 0.0, 0.5])
    _parity(lambda a, b: a**b, lambda a, b: a**b, base, exponent)


def test_tensor_power_operands_and_dtypes():
    x, e = randn((3,), "x"), randn((3,), "e")
    # an array or a list as the exponent, and an array as the base (ndarray ** Tensor)
    np.testing.assert_allclose((rp.tensor(np.abs(x)) ** e).data, np.abs(x) ** e, rtol=1e-6)
    np.testing.assert_allclose((rp.tensor(np.abs(x)) ** [1.0, 2.0, 3.0]).data,
                               np.abs(x) ** np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    rpow = np.abs(x) ** rp.tensor(e, requires_grad=True)
    assert isinstance(rpow, rp.Tensor)
    np.testing.assert_allclose(rpow.data, np.abs(x) ** e, rtol=1e-6)
    cases = [
        (np.array([2, 3]), np.array([2, 3])),  # int ** int stays int64
        (np.array([2, 3]), np.array(2.0, dtype=np.float32)),  # int ** 0-d float: float32
        (np.array([2.0, 3.0], dtype=np.float32), np.array(2.0)),  # a 0-d float64 keeps float32
        (np.array([2.0, 3.0], dtype=np.float32), np.array([2, 1])),
    ]
    for a, b in cases:
        got = rp.tensor(a) ** rp.tensor(b)
        want = torch.tensor(a) ** torch.tensor(b)
        assert got.dtype == want.numpy().dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(got.data, want.numpy())


def test_integer_power_with_negative_exponents_as_torch():
    base = np.array([2, 1, -1, -1, 0, 3, -2, 1])
    exponent = np.array([-1, -3, -3, -2, -1, 2, -1, 0])
    for dtypes in ((np.int64, np.int64), (np.int32, np.int8)):
        a, b = base.astype(dtypes[0]), exponent.astype(dtypes[1])
        got, want = rp.tensor(a) ** rp.tensor(b), torch.tensor(a) ** torch.tensor(b)
        assert got.dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.data, want.numpy())
    _both_raise(RuntimeError, lambda: rp.tensor([2, 3]) ** -1, lambda: torch.tensor([2, 3]) ** -1)


def test_tensor_power_broadcast_mismatch():
    error = _both_raise(RuntimeError, lambda: rp.ones(2, 3) ** rp.ones(4),
                        lambda: torch.ones(2, 3) ** torch.ones(4))
    assert isinstance(error, rp.ShapeError) and "cannot be broadcast" in str(error)


# ---------------------------------------------------------------------------------------------
# size()
# ---------------------------------------------------------------------------------------------
def test_size_is_a_method_as_torch():
    x, t = rp.ones(2, 3, 4), torch.ones(2, 3, 4)
    assert x.size() == t.size() == (2, 3, 4) and isinstance(x.size(), tuple)
    assert x.size().numel() == t.size().numel() == 24 == x.numel()
    assert x.shape == (2, 3, 4)
    for dim in (0, 1, 2, -1, -3):
        assert x.size(dim) == t.size(dim) and isinstance(x.size(dim), int)
    assert rp.tensor(1.0).size() == tuple(torch.tensor(1.0).size()) == ()
    for dim in (3, -4):
        _both_raise(IndexError, lambda dim=dim: x.size(dim), lambda dim=dim: t.size(dim))
    _both_raise(IndexError, lambda: rp.tensor(1.0).size(0), lambda: torch.tensor(1.0).size(0))
    with pytest.raises(TypeError, match="must be an int"):
        x.size(1.0)


def test_parameter_counts_use_numel():
    layer, reference = rp.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    assert layer.num_parameters() == sum(p.numel() for p in reference.parameters()) == 16
    assert "16 params" in repr(rp.nn.Sequential(rp.nn.Linear(3, 4), rp.nn.ReLU()))


# ---------------------------------------------------------------------------------------------
# clamp / clip
# ---------------------------------------------------------------------------------------------
CLAMP_X = np.array([-2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.0])
CLAMPS = [
    pytest.param(lambda t: t.clamp(3.0, 0.0), lambda t: t.clamp(3.0, 0.0), id="min-above-max"),
    pytest.param(lambda t: t.clip(0.5, -0.5), lambda t: t.clip(0.5, -0.5), id="clip-min-above-max"),
    pytest.param(lambda t: t.clamp(min=1.0, max=-1.0), lambda t: t.clamp(min=1.0, max=-1.0), id="keywords"),
    pytest.param(lambda t: t.clamp(min=-0.3), lambda t: t.clamp(min=-0.3), id="min-only"),
    pytest.param(lambda t: t.clamp(max=0.5), lambda t: t.clamp(max=0.5), id="max-only"),
    pytest.param(lambda t: t.clamp(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), id="bounds-on-values"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rp_fn", "torch_fn"), CLAMPS)
def test_clamp_as_torch(rp_fn, torch_fn, dtype):
    _parity(rp_fn, torch_fn, CLAMP_X, dtype=dtype)
    _parity(rp_fn, torch_fn, np.array(0.2), dtype=dtype)


@pytest.mark.parametrize("rp_fn", [pytest.param(p.values[0], id=p.id) for p in CLAMPS
                                   if p.id != "bounds-on-values"])
def test_clamp_gradient(rp_fn):
    check_grad(rp_fn, CLAMP_X + 0.05)  # away from every bound (the kinks)


def test_clamp_dtypes_and_no_bounds():
    ints = np.array([1, 5, -3])
    for low, high in ((0.5, 3), (0, 3), (3, 0), (None, 2.5)):
        got, want = rp.tensor(ints).clamp(low, high), torch.tensor(ints).clamp(low, high)
        assert got.dtype == want.numpy().dtype, (low, high)
        np.testing.assert_array_equal(got.data, want.numpy())
    _both_raise(RuntimeError, lambda: rp.ones(3).clamp(), lambda: torch.ones(3).clamp())
    _both_raise(RuntimeError, lambda: rp.ones(3).clip(None, None), lambda: torch.ones(3).clip(None, None))


# ---------------------------------------------------------------------------------------------
# Empty reductions
# ---------------------------------------------------------------------------------------------
EMPTY = [
    pytest.param((0,), lambda t: t.sum(), id="sum"),
    pytest.param((0, 3), lambda t: t.sum(0), id="sum-empty-dim"),
    pytest.param((0, 3), lambda t: t.sum(1), id="sum-other-dim"),
    pytest.param((0,), lambda t: t.mean(), id="mean"),
    pytest.param((0, 3), lambda t: t.mean(0), id="mean-empty-dim"),
    pytest.param((0, 3), lambda t: t.mean(1), id="mean-other-dim"),
    pytest.param((0, 3), lambda t: t.amax(1), id="amax-other-dim"),
    pytest.param((3, 0), lambda t: t.amin(0, keepdim=True), id="amin-other-dim"),
    pytest.param((0, 3), lambda t: t.max(1).values, id="max-dim-other"),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # torch gives NaN silently: so must we
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "fn"), EMPTY)
def test_empty_reductions_as_torch(shape, fn, dtype):
    _parity(fn, fn, np.zeros(shape), dtype=dtype)


def test_empty_sum_is_zero_and_mean_nan():
    assert rp.tensor([]).sum().item() == 0.0 and np.isnan(rp.tensor([]).mean().item())
    assert rp.zeros(0, dtype=np.int64).sum().item() == 0
    x = rp.tensor(np.zeros((0, 3)), requires_grad=True)
    x.mean(0).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize(("shape", "fn", "error"), [
    pytest.param((0,), lambda t: t.max(), RuntimeError, id="max"),
    pytest.param((0,), lambda t: t.min(), RuntimeError, id="min"),
    pytest.param((0, 3), lambda t: t.amax(), RuntimeError, id="amax-all"),
    pytest.param((0, 3), lambda t: t.amax(0), IndexError, id="amax-empty-dim"),
    pytest.param((3, 0), lambda t: t.amin(dim=(0, 1)), IndexError, id="amin-dims"),
    pytest.param((0, 3), lambda t: t.max(0), IndexError, id="max-dim-empty"),
])
def test_empty_extremum_raises_as_torch(shape, fn, error):
    _both_raise(error, lambda: fn(rp.zeros(*shape)), lambda: fn(torch.zeros(*shape)))


# ---------------------------------------------------------------------------------------------
# Exception types: torch raises RuntimeError for shape mismatches
# ---------------------------------------------------------------------------------------------
MISMATCHES = [
    pytest.param(lambda m: m.ones(2, 3) @ m.ones(2, 3), "cannot multiply shapes", id="matmul"),
    pytest.param(lambda m: m.ones(2, 3, 4) @ m.ones(5, 4, 2), "cannot be broadcast", id="matmul-batch"),
    pytest.param(lambda m: m.ones(2, 3) + m.ones(2, 2), "cannot be broadcast", id="add"),
    pytest.param(lambda m: m.ones(2, 3) * m.ones(4, 3), "cannot be broadcast", id="mul"),
    pytest.param(lambda m: m.ones(2, 3).reshape(4), "cannot reshape", id="reshape"),
    pytest.param(lambda m: m.ones(2, 3).view(4, 2), "cannot reshape", id="view"),
    pytest.param(lambda m: m.ones(2, 3).permute(0, 0), "not a permutation", id="permute"),
    pytest.param(lambda m: m.ones(2, 3, 4).flatten(2, 1), "comes after", id="flatten"),
    pytest.param(lambda m: m.maximum(m.ones(2, 3), m.ones(3, 2)), "cannot be broadcast", id="maximum"),
]


def _join(m: Any, name: str) -> Any:
    return getattr(m, "cat" if m is torch else "concatenate") if name == "cat" else m.stack


@pytest.mark.parametrize(("fn", "message"), [
    *MISMATCHES,
    pytest.param(lambda m: _join(m, "cat")([m.ones(2, 3), m.ones(2, 2)]), "must match", id="cat"),
    pytest.param(lambda m: _join(m, "stack")([m.ones(2, 3), m.ones(2, 2)]), "same shape", id="stack"),
])
def test_shape_mismatch_is_a_runtime_error_as_torch(fn, message):
    error = _both_raise(RuntimeError, lambda: fn(rp), lambda: fn(torch))
    # and still a ValueError (retroprop's callers catch that) and a ShapeError naming the shapes
    assert isinstance(error, ValueError) and isinstance(error, rp.ShapeError)
    assert message in str(error)


def test_shape_error_subclasses_both():
    assert issubclass(rp.ShapeError, RuntimeError) and issubclass(rp.ShapeError, ValueError)
    with pytest.raises(ValueError, match="cannot multiply shapes"):
        rp.ones(2, 3) @ rp.ones(2, 3)


@pytest.mark.parametrize(("fn", "error"), [
    pytest.param(lambda m: m.ones(2).item(), RuntimeError, id="item"),
    pytest.param(lambda m: bool(m.ones(2)), RuntimeError, id="bool"),
    pytest.param(lambda m: float(m.ones(2, 1)), ValueError, id="float"),  # torch's is a ValueError here
    pytest.param(lambda m: int(m.ones(3)), ValueError, id="int"),
])
def test_one_element_conversions_raise_as_torch(fn, error):
    raised = _both_raise(error, lambda: fn(rp), lambda: fn(torch))
    assert isinstance(raised, ValueError) and isinstance(raised, RuntimeError)
