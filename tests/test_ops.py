"""Every primitive op against float64 central differences, over a matrix of shapes.

The shapes include broadcasting (leading axes added, size-1 axes stretched), 0-d tensors and
size-1 axes. Conventions at ties and bounds (torch's) are pinned down exactly below.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import away_from, check_grad

RNG = np.random.default_rng(1234)

BINARY_SHAPES = [
    ((), ()),
    ((3,), ()),
    ((), (2, 3)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3, 1), (1, 4)),
    ((2, 1, 3), (4, 1)),
    ((1,), (2, 2)),
    ((1, 1), (1, 1)),
]


def normal(shape, low=None):
    values = RNG.normal(size=shape)
    return np.abs(values) + low if low is not None else values


@pytest.mark.parametrize(("shape_a", "shape_b"), BINARY_SHAPES)
@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda a, b: a + b, id="add"),
        pytest.param(lambda a, b: a - b, id="sub"),
        pytest.param(lambda a, b: a * b, id="mul"),
        pytest.param(lambda a, b: a / b, id="div"),
    ],
)
def test_arithmetic(op, shape_a, shape_b):
    check_grad(op, normal(shape_a), normal(shape_b, low=0.5))


@pytest.mark.parametrize(("shape_a", "shape_b"), BINARY_SHAPES)
@pytest.mark.parametrize("op", [rp.maximum, rp.minimum], ids=["maximum", "minimum"])
def test_maximum_minimum(op, shape_a, shape_b):
    a = normal(shape_a)
    b = away_from(normal(shape_b), kinks=a.ravel(), margin=0.05)  # no tie within reach of eps
    check_grad(op, a, b)


@pytest.mark.parametrize(("shape_c", "shape_a", "shape_b"), [
    ((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()), ((3, 1), (1, 4), (3, 4)), ((), (2,), (2,)),
])
def test_where(shape_c, shape_a, shape_b):
    condition = RNG.random(shape_c) > 0.5
    check_grad(lambda a, b: rp.where(condition, a, b), normal(shape_a), normal(shape_b))


@pytest.mark.parametrize("scalar", [2.0, -1.5, 3])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_scalar_operands_on_both_sides(scalar, shape):
    x = normal(shape, low=0.5)
    check_grad(lambda t: t + scalar, x)
    check_grad(lambda t: scalar + t, x)
    check_grad(lambda t: scalar - t, x)
    check_grad(lambda t: t - scalar, x)
    check_grad(lambda t: scalar * t, x)
    check_grad(lambda t: scalar / t, x)
    check_grad(lambda t: t / scalar, x)
    check_grad(lambda t: -t, x)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_array_operands(shape):
    other = normal(shape, low=0.5)
    x = normal(shape, low=0.5)
    check_grad(lambda t: other * t + t / other - other, x)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, -2.5, 0, 1])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_pow(exponent, shape):
    check_grad(lambda t: t**exponent, normal(shape, low=0.3))


@pytest.mark.parametrize("base", [2.0, 0.5, np.e])
def test_scalar_base_pow(base):
    check_grad(lambda t: base**t, normal((2, 3)))


@pytest.mark.parametrize(("shape_a", "shape_b"), [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 1), (1, 1)),
])
def test_matmul(shape_a, shape_b):
    check_grad(lambda a, b: a @ b, normal(shape_a), normal(shape_b))


REDUCTION_CASES = [
    ((), None, False),
    ((4,), None, False),
    ((4,), 0, True),
    ((2, 3), None, True),
    ((2, 3), 0, False),
    ((2, 3), 1, True),
    ((2, 3), -1, False),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (1, -1), True),
    ((2, 1, 3), 1, False),
]


@pytest.mark.parametrize(("shape", "axis", "keepdims"), REDUCTION_CASES)
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_reductions(name, shape, axis, keepdims):
    check_grad(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), normal(shape))


def _reduced_count(shape, axis):
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return int(np.prod([shape[a] for a in axes]))


VAR_CASES = [(shape, axis, keepdims, ddof) for shape, axis, keepdims in REDUCTION_CASES
             for ddof in (0, 1) if _reduced_count(shape, axis) > ddof]


@pytest.mark.parametrize(("shape", "axis", "keepdims", "ddof"), VAR_CASES)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, shape, axis, keepdims, ddof):
    check_grad(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims, ddof=ddof), normal(shape))


def test_reduction_aliases_match_numpy_names():
    x = rp.tensor(normal((2, 3, 4)))
    for name in ("sum", "mean", "amax", "amin"):
        a = getattr(x, name)(axis=1, keepdims=True)
        b = getattr(x, name)(dim=1, keepdim=True)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_allclose(a.data, getattr(np, name)(x.data, axis=1, keepdims=True))
    for name in ("var", "std"):
        a = getattr(x, name)(axis=1, keepdims=True, ddof=0)
        b = getattr(x, name)(dim=1, keepdim=True, correction=0)
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_allclose(a.data, getattr(np, name)(x.data, axis=1, keepdims=True))
    np.testing.assert_allclose(x.var(correction=1).data, np.var(x.data, ddof=1))


def test_var_default_is_unbiased_as_torch():
    x = normal((5,))
    np.testing.assert_allclose(rp.tensor(x).var().data, np.var(x, ddof=1))
    np.testing.assert_allclose(rp.tensor(x).std().data, np.std(x, ddof=1))
    np.testing.assert_allclose(rp.tensor(x).var(ddof=0).data, np.var(x))
    assert np.isnan(rp.tensor([1.0]).var().item())  # no degrees of freedom: NaN, as torch


def test_std_of_constant_values_has_zero_gradient_as_torch():
    x = rp.tensor(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    x.std(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
    assert np.isfinite(x.grad).all()
    y = rp.tensor(np.ones((2, 1)), requires_grad=True)
    y.std(axis=1, ddof=0).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0.0], [0.0]])


def test_max_min_ties_share_the_gradient_equally():
    x = rp.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.amax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = rp.tensor(np.array([1.0, 1.0, 4.0]), requires_grad=True)
    y.min().backward()
    np.testing.assert_allclose(y.grad, [0.5, 0.5, 0.0])


def test_maximum_minimum_ties_split_in_half():
    a = rp.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = rp.tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    rp.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(b.grad, [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    rp.minimum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, 1.0, 0.0])
    np.testing.assert_allclose(b.grad, [0.5, 0.0, 1.0])


def test_clip_passes_gradient_at_its_bounds():
    x = rp.tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])
    x.grad = None
    x.clamp(min=0.0).sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, 1.0, 1.0])
    x.grad = None
    y = x.clip(1.0, -1.0)  # min > max: every value becomes max and no gradient passes, as torch's
    y.sum().backward()
    np.testing.assert_allclose(y.data, [-1.0] * 5)
    np.testing.assert_allclose(x.grad, [0.0] * 5)


def test_abs_gradient_is_zero_at_zero():
    x = rp.tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    abs(x).sum().backward()
    np.testing.assert_allclose(x.grad, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 3)])
def test_elementwise_functions(shape):
    check_grad(lambda t: t.exp(), normal(shape))
    check_grad(lambda t: t.log(), normal(shape, low=0.2))
    check_grad(lambda t: t.sqrt(), normal(shape, low=0.2))
    check_grad(lambda t: t.abs(), away_from(normal(shape), margin=0.05))
    check_grad(lambda t: t.clip(-0.5, 0.5), away_from(normal(shape), (-0.5, 0.5), margin=0.05))
    check_grad(lambda t: t.clip(max=0.2), away_from(normal(shape), (0.2,), margin=0.05))


# ---------------------------------------------------------------------------------------------
# Shape ops and indexing
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "fn"), [
    ((2, 3), lambda t: t.reshape(3, 2)),
    ((2, 3), lambda t: t.reshape((6,))),
    ((2, 3), lambda t: t.reshape(-1, 1)),
    ((), lambda t: t.reshape(1, 1)),
    ((2, 3), lambda t: t.view(6)),
    ((2, 3), lambda t: t.T),
    ((2, 3, 4), lambda t: t.T),
    ((2, 3, 4), lambda t: t.permute(1, 0, 2)),
    ((2, 3, 4), lambda t: t.permute((2, 0, 1))),
    ((2, 3, 4), lambda t: t.transpose(1, 2)),
    ((2, 3, 4), lambda t: t.permute(2, 0, 1)),
    ((2, 1, 3), lambda t: t.squeeze()),
    ((2, 1, 3), lambda t: t.squeeze(1)),
    ((2, 3), lambda t: t.unsqueeze(0)),
    ((2, 3), lambda t: t.unsqueeze(-1)),
    ((2, 3, 4), lambda t: t.flatten()),
    ((2, 3, 4), lambda t: t.flatten(1)),
    ((2, 3, 4, 5), lambda t: t.flatten(1, 2)),
    ((), lambda t: t.flatten()),
])
def test_shape_ops(shape, fn):
    check_grad(fn, normal(shape))


@pytest.mark.parametrize(("shape", "index"), [
    ((5,), 2),
    ((5,), -1),
    ((5,), slice(1, 4)),
    ((5,), slice(None, None, 2)),
    ((5,), slice(None, None, -1)),
    ((4, 3), (1, 2)),
    ((4, 3), (slice(None), 1)),
    ((4, 3), (Ellipsis, 0)),
    ((4, 3), (None, 0)),
    ((4, 3), np.array([0, 2, 2, 3])),
    ((4, 3), (np.array([0, 0, 1]), np.array([2, 2, 0]))),
    ((4, 3), (slice(1, 3), np.array([1, 1]))),
    ((4, 3), np.array([True, False, True, True])),
    ((4, 3), [3, 3, 0]),
])
def test_getitem(shape, index):
    check_grad(lambda t: t[index], normal(shape))


def test_getitem_repeated_indices_accumulate():
    x = rp.tensor(np.arange(4.0), requires_grad=True)
    x[[1, 1, 1, 3]].sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 3.0, 0.0, 1.0])


def test_getitem_with_tensor_indices_and_boolean_tensor_masks():
    x = rp.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    picked = x[rp.tensor([1, 0])]
    assert picked.data.tolist() == [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]
    masked = x[x > 2.5]
    assert masked.data.tolist() == [3.0, 4.0, 5.0]
    masked.sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0, 0], [1, 1, 1]])


def test_index_error_names_the_shape():
    with pytest.raises(IndexError, match=r"shape \(3,\)"):
        rp.ones(3)[5]


def test_shape_op_errors():
    with pytest.raises(rp.ShapeError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        rp.ones(2, 3).reshape(4, 2)
    assert rp.ones(2, 3).squeeze(1).shape == (2, 3)  # not size 1: left as it is, as torch's
    with pytest.raises(ValueError, match="not a permutation"):
        rp.ones(2, 3).permute(0, 0)


@pytest.mark.parametrize(("shapes", "axis"), [
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 2)], 1),
    ([(2, 3), (2, 2)], -1),
    ([(3,), (1,)], 0),
])
def test_concatenate(shapes, axis):
    arrays = [normal(s) for s in shapes]
    check_grad(lambda *ts: rp.concatenate(ts, axis=axis), *arrays)


@pytest.mark.parametrize(("shape", "count", "axis"), [((2, 3), 3, 0), ((2, 3), 2, 1),
                                                      ((2, 3), 2, -1), ((), 3, 0)])
def test_stack(shape, count, axis):
    arrays = [normal(shape) for _ in range(count)]
    check_grad(lambda *ts: rp.stack(ts, axis=axis), *arrays)


def test_concatenate_and_stack_errors():
    with pytest.raises(rp.ShapeError, match="Sizes of tensors must match except in dimension 0"):
        rp.concatenate([rp.ones(2, 3), rp.ones(2, 4)])
    with pytest.raises(rp.ShapeError, match="same shape"):
        rp.stack([rp.ones(2), rp.ones(3)])
    with pytest.raises(TypeError, match="non-empty sequence"):
        rp.stack([])


# ---------------------------------------------------------------------------------------------
# float32: the same gradients with float32's tolerance
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda a, b: (a * b + a / b).sum(axis=0),
    lambda a, b: (a @ b.T).exp().mean(),
    lambda a, b: rp.maximum(a, b).var(axis=1),
])
def test_float32_gradients(fn):
    a = normal((3, 4), low=0.5)
    b = normal((3, 4), low=1.0) + 0.1
    check_grad(fn, a, b, dtype=np.float32, eps=1e-4)
