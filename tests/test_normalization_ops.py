"""F.layer_norm, F.group_norm and F.embedding against torch 2.13.0 and finite differences.

Each op: forward values, gradients and output dtype as torch's in float32 and float64; float64
central differences; normalized shapes over one and two trailing axes, size-1 axes (zero variance),
no leading axes; index tensors of any shape (0-d, empty, repeated indices), ``padding_idx``; and
the refusals torch makes, with the exception types torch raises.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
# (input shape, normalized_shape)
LAYER_SHAPES = [
    pytest.param((3, 4), (4,), id="last-axis"),
    pytest.param((2, 3, 4), (3, 4), id="two-axes"),
    pytest.param((2, 3, 4), 4, id="int-shape"),
    pytest.param((5,), (5,), id="no-leading-axes"),
    pytest.param((3, 1), (1,), id="size1-axis"),
    pytest.param((1, 2, 1), (2, 1), id="size1-both"),
]
AFFINE = ["both", "weight", "none"]
# over a single value torch's float32 x_hat is rounding noise (~1e-5 with eps=1e-5), retroprop's exactly 0:
# the weight's gradient sum(grad * x_hat) then differs by more than float32's tolerance (float64 agrees)
_ROUNDING_NOISE = "float32 over one value: torch's x_hat is rounding noise, not 0 (float64 is compared)"


def _affine(kind: str, shape: tuple[int, ...]) -> list[np.ndarray]:
    if kind == "none":
        return []
    weight = 1 + 0.5 * keyed_normal(shape, "weight")
    return [weight] if kind == "weight" else [weight, keyed_normal(shape, "bias")]


def _layer_norm(lib: Any, normalized_shape: Any) -> Any:
    fn = F.layer_norm if lib is F else TF.layer_norm
    shape = list(normalized_shape) if isinstance(normalized_shape, tuple) else [normalized_shape]
    return lambda x, *affine: fn(x, shape, *affine, eps=1e-5)


# ---------------------------------------------------------------------------------------------
# layer_norm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize(("shape", "normalized"), LAYER_SHAPES)
def test_layer_norm_matches_torch(shape: tuple[int, ...], normalized: Any, affine: str, dtype: Any) -> None:
    norm_shape = normalized if isinstance(normalized, tuple) else (normalized,)
    if dtype is np.float32 and math.prod(norm_shape) == 1 and affine != "none":
        pytest.skip(_ROUNDING_NOISE)
    x = 3 * keyed_normal(shape, "x") + 1
    assert_matches_torch(_layer_norm(F, normalized), _layer_norm(TF, normalized), x,
                         *_affine(affine, norm_shape), dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize(("shape", "normalized"), LAYER_SHAPES)
def test_layer_norm_gradients_match_finite_differences(shape: tuple[int, ...], normalized: Any,
                                                       affine: str) -> None:
    norm_shape = normalized if isinstance(normalized, tuple) else (normalized,)
    x = 3 * keyed_normal(shape, "x") + 1
    check_grad(_layer_norm(F, normalized), x, *_affine(affine, norm_shape))


def test_layer_norm_normalizes_with_the_biased_variance() -> None:
    x = keyed_normal((4, 6), "biased")
    out = F.layer_norm(rp.tensor(x), (6,), eps=0.0).data
    np.testing.assert_allclose(out, (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True), rtol=1e-12)


def test_layer_norm_gradient_of_the_weight_alone() -> None:
    x = rp.tensor(keyed_normal((3, 4), "x"))
    weight = rp.tensor(np.ones(4), requires_grad=True)
    F.layer_norm(x, (4,), weight).sum().backward()
    tx, tw = torch.tensor(x.data), torch.ones(4, dtype=torch.float64, requires_grad=True)
    TF.layer_norm(tx, [4], tw).sum().backward()
    np.testing.assert_allclose(weight.grad, tw.grad.numpy(), atol=1e-12)
    assert x.grad is None


def test_layer_norm_of_a_constant_row_is_the_bias_with_torch_s_gradient() -> None:
    # zero variance: x_hat is 0 and the input's gradient (grad - mean(grad)) / sqrt(eps)
    x = rp.tensor(np.full((2, 3), 7.0), requires_grad=True)
    bias = rp.tensor(np.array([1.0, 2.0, 3.0]))
    out = F.layer_norm(x, 3, None, bias)
    np.testing.assert_allclose(out.data, [[1, 2, 3], [1, 2, 3]])
    out.backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(x.grad, np.array([[-1, 0, 1], [-1, 0, 1]]) / np.sqrt(1e-5), rtol=1e-12)
    tx = torch.full((2, 3), 7.0, dtype=torch.float64, requires_grad=True)
    TF.layer_norm(tx, [3]).backward(torch.arange(6.0, dtype=torch.float64).reshape(2, 3))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-7)


def test_layer_norm_empty_batch_matches_torch() -> None:
    out = F.layer_norm(rp.zeros(0, 4), (4,))
    assert out.shape == tuple(TF.layer_norm(torch.zeros(0, 4), [4]).shape) == (0, 4)


@pytest.mark.parametrize(("make", "message"), [
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4))), [5]), "normalized_shape", id="trailing-shape"),
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4))), [3, 4, 1]), "normalized_shape", id="too-many-axes"),
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4))), [4], t(np.ones(3))), "weight", id="weight-shape"),
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4))), [4], None, t(np.ones(3))), "bias", id="bias-shape"),
    pytest.param(lambda lib, t: lib(t(np.zeros(2)), []), "normalized_shape", id="empty-shape"),
    pytest.param(lambda lib, t: lib(t(np.zeros(())), []), "normalized_shape", id="0d-input"),
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4), dtype=np.int64)), [4]), "floating",
                 id="integer-input"),
    pytest.param(lambda lib, t: lib(t(np.zeros((3, 4))), [4], t(np.ones(4, dtype=np.float32))), "dtype",
                 id="mixed-dtypes"),
])
def test_layer_norm_refuses_what_torch_refuses(make: Any, message: str) -> None:
    with pytest.raises(RuntimeError):
        make(TF.layer_norm, torch.tensor)
    with pytest.raises(RuntimeError, match=message):
        make(F.layer_norm, rp.tensor)


def test_layer_norm_refuses_a_negative_eps_and_a_bad_shape_type() -> None:
    with pytest.raises(ValueError, match="eps"):
        F.layer_norm(rp.zeros(2, 3), (3,), eps=-1.0)
    with pytest.raises(TypeError, match="normalized_shape"):
        F.layer_norm(rp.zeros(2, 3), "3")


# ---------------------------------------------------------------------------------------------
# group_norm
# ---------------------------------------------------------------------------------------------
GROUP_CASES = [
    pytest.param((2, 6, 3), 3, id="1d-3groups"),
    pytest.param((2, 6, 2, 3), 2, id="2d-2groups"),
    pytest.param((3, 4), 4, id="no-positions-instance"),
    pytest.param((2, 4, 5), 1, id="one-group"),
    pytest.param((3, 2, 1), 2, id="size1-groups"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize(("shape", "groups"), GROUP_CASES)
def test_group_norm_matches_torch(shape: tuple[int, ...], groups: int, affine: str, dtype: Any) -> None:
    if dtype is np.float32 and math.prod(shape[1:]) == groups:
        pytest.skip(_ROUNDING_NOISE)
    x = 2 * keyed_normal(shape, "gx") - 1
    assert_matches_torch(lambda x, *a: F.group_norm(x, groups, *a),
                         lambda x, *a: TF.group_norm(x, groups, *a),
                         x, *_affine(affine, (shape[1],)), dtype=dtype, check_dtype=True)


@pytest.mark.parametrize(("shape", "groups"), GROUP_CASES)
def test_group_norm_gradients_match_finite_differences(shape: tuple[int, ...], groups: int) -> None:
    x = 2 * keyed_normal(shape, "gx") - 1
    check_grad(lambda x, w, b: F.group_norm(x, groups, w, b), x, *_affine("both", (shape[1],)))


def test_group_norm_refuses_a_single_value_to_normalize_as_torch() -> None:
    # torch's check (shared with batch norm): N * C / num_groups * positions must exceed 1
    with pytest.raises(ValueError):
        TF.group_norm(torch.zeros(1, 2, 1), 2)
    with pytest.raises(ValueError, match="more than 1 value"):
        F.group_norm(rp.zeros(1, 2, 1), 2)


def test_group_norm_refuses_channels_that_do_not_split_into_groups() -> None:
    with pytest.raises(RuntimeError):
        TF.group_norm(torch.zeros(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(rp.zeros(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match="weight"):
        F.group_norm(rp.zeros(2, 6, 3), 3, rp.ones(3))


# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------
INDICES = [
    pytest.param(np.array([[0, 4, 4], [1, 0, 2]]), id="2d-repeats"),
    pytest.param(np.array([3, 1, 3, 3]), id="1d"),
    pytest.param(np.array(2), id="0d"),
    pytest.param(np.zeros((0, 3), dtype=np.int64), id="empty"),
    pytest.param(np.array([[[1], [4]], [[0], [1]]], dtype=np.int32), id="3d-int32"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 1, -1])
@pytest.mark.parametrize("indices", INDICES)
def test_embedding_matches_torch(indices: np.ndarray, padding_idx: int | None, dtype: Any) -> None:
    weight = keyed_normal((5, 3), "table")
    assert_matches_torch(lambda w, i: F.embedding(i, w, padding_idx),
                         lambda w, i: TF.embedding(i, w, padding_idx), weight, indices, dtype=dtype,
                         check_dtype=True)


@pytest.mark.parametrize("indices", INDICES)
def test_embedding_gradient_matches_finite_differences(indices: np.ndarray) -> None:
    check_grad(lambda w: F.embedding(indices, w), keyed_normal((5, 3), "table"))


def test_embedding_adds_the_gradients_of_repeated_indices_and_none_into_the_padding_row() -> None:
    weight = rp.tensor(np.zeros((4, 2)), requires_grad=True)
    out = F.embedding(rp.tensor([2, 0, 2, 2, 3]), weight, padding_idx=3)
    out.backward(np.ones((5, 2)))
    np.testing.assert_array_equal(weight.grad, [[1, 1], [0, 0], [3, 3], [0, 0]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_embedding_gradient_sums_many_repeats_in_every_float_dtype(dtype: Any) -> None:
    indices = np.random.default_rng(0).integers(0, 7, size=(40, 3))
    weight = rp.tensor(np.zeros((9, 2), dtype=dtype), requires_grad=True)
    grad = np.random.default_rng(1).integers(-3, 4, size=(40, 3, 2)).astype(dtype)
    F.embedding(indices, weight, padding_idx=-3).backward(grad)
    expected = np.zeros((9, 2))
    np.add.at(expected, indices.reshape(-1), grad.reshape(-1, 2))
    expected[6] = 0
    assert weight.grad.dtype == dtype
    np.testing.assert_array_equal(weight.grad, expected)


def test_embedding_gradient_ignores_a_later_change_to_the_indices() -> None:
    indices = rp.tensor([0, 1])
    weight = rp.tensor(np.zeros((3, 2)), requires_grad=True)
    out = F.embedding(indices, weight)
    indices.data[...] = 2
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad, [[1, 1], [1, 1], [0, 0]])


@pytest.mark.parametrize("bad", [5, -1, 100])
def test_embedding_index_out_of_range_raises_index_error(bad: int) -> None:
    with pytest.raises(IndexError):
        TF.embedding(torch.tensor([0, bad]), torch.zeros(5, 2))
    with pytest.raises(IndexError, match=rf"index {bad} is out of range.*\[0, 4\]"):
        F.embedding(rp.tensor([0, bad]), rp.zeros(5, 2))


@pytest.mark.parametrize(("indices", "weight", "error", "message"), [
    pytest.param(np.array([1.0]), np.zeros((3, 2)), RuntimeError, "integer", id="float-indices"),
    pytest.param(np.array([True]), np.zeros((3, 2)), RuntimeError, "integer", id="bool-indices"),
    pytest.param(np.array([1]), np.zeros(3), RuntimeError, "2-D", id="1d-weight"),
])
def test_embedding_refuses_what_torch_refuses(indices: np.ndarray, weight: np.ndarray, error: type,
                                              message: str) -> None:
    with pytest.raises(error):
        TF.embedding(torch.tensor(indices), torch.tensor(weight))
    with pytest.raises(error, match=message):
        F.embedding(rp.tensor(indices), rp.tensor(weight))


@pytest.mark.parametrize("padding_idx", [3, -4])
def test_embedding_refuses_a_padding_index_outside_the_table(padding_idx: int) -> None:
    with pytest.raises(AssertionError):
        TF.embedding(torch.tensor([0]), torch.zeros(3, 2), padding_idx=padding_idx)
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        F.embedding(rp.tensor([0]), rp.zeros(3, 2), padding_idx=padding_idx)


def test_embedding_options_it_does_not_implement_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding(rp.tensor([0]), rp.zeros(3, 2), max_norm=1.0)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (3, 2, 2, 3, 4)])
def test_functional_batch_norm_takes_n_c_star_as_torch(shape: tuple[int, ...]) -> None:
    """F.batch_norm normalizes (N, C, *) inputs per channel, as torch's (training and eval)."""
    x = keyed_normal(shape, "bn-nd")
    weight, bias = keyed_normal((shape[1],), "bn-w"), keyed_normal((shape[1],), "bn-b")
    for training in (True, False):
        r_mean, r_var = np.zeros(shape[1]), np.ones(shape[1])
        t_mean, t_var = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
        xr = rp.tensor(x, requires_grad=True)
        out = rp.F.batch_norm(xr, r_mean, r_var, rp.tensor(weight), rp.tensor(bias), training=training)
        (out * rp.tensor(x)).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        expected = torch.nn.functional.batch_norm(xt, t_mean, t_var, torch.tensor(weight), torch.tensor(bias),
                                                  training=training)
        (expected * torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(r_mean, t_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(r_var, t_var.numpy(), rtol=1e-12)
