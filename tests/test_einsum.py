"""einsum (issue 14) against torch 2.13.0 and finite differences: matmul, batched, outer, trace,
diagonal, ellipsis, implicit output, transpose, size-1 broadcasting, repeated subscripts, subscripts
summed in one operand only, three operands, the list form, dtypes, and torch's errors."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop.einsum import EinsumError
from retroprop.tensor import ShapeError
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
_parity = partial(assert_matches_torch, check_dtype=True)

CASES = [
    pytest.param("ij,jk->ik", [(2, 3), (3, 4)], id="matmul"),
    pytest.param("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)], id="batched-matmul"),
    pytest.param("bij,bjk", [(2, 2, 3), (2, 3, 4)], id="batched-implicit"),
    pytest.param("i,j->ij", [(3,), (4,)], id="outer"),
    pytest.param("i,i->", [(4,), (4,)], id="dot"),
    pytest.param("ii", [(3, 3)], id="trace"),
    pytest.param("ii->i", [(3, 3)], id="diagonal"),
    pytest.param("bii->bi", [(2, 3, 3)], id="batched-diagonal"),
    pytest.param("iji->j", [(3, 2, 3)], id="diagonal-summed"),
    pytest.param("ij->ji", [(2, 3)], id="transpose"),
    pytest.param("ji", [(2, 3)], id="implicit-transpose"),
    pytest.param("ij->", [(2, 3)], id="sum"),
    pytest.param("ij->j", [(2, 3)], id="column-sums"),
    pytest.param("...ij->...ji", [(2, 3, 4)], id="ellipsis-transpose"),
    pytest.param("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 4)], id="ellipsis-broadcast-matmul"),
    pytest.param("b...a", [(2, 3, 4)], id="implicit-ellipsis-first"),
    pytest.param("i...->...", [(3, 2)], id="ellipsis-sum"),
    pytest.param("bA", [(2, 3)], id="implicit-upper-first"),
    pytest.param("i,i->i", [(1,), (3,)], id="broadcast-size1"),
    pytest.param("ij,ij->ij", [(2, 1), (1, 3)], id="broadcast-both"),
    pytest.param("ii,i->i", [(1, 1), (3,)], id="broadcast-repeated"),
    pytest.param("ij,kl->", [(2, 3), (1, 2)], id="each-summed-alone"),
    pytest.param("iij,jk->ik", [(2, 2, 3), (3, 4)], id="repeated-in-first"),
    pytest.param("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], id="chain-of-three"),
    pytest.param("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)], id="bilinear"),
    pytest.param(",i->i", [(), (3,)], id="scalar-operand"),
    pytest.param("", [()], id="0d"),
    pytest.param(" i j , j k -> i k ", [(2, 3), (3, 2)], id="spaces"),
]


def _arrays(equation: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    return [keyed_normal(shape, equation, k) for k, shape in enumerate(shapes)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("equation", "shapes"), CASES)
def test_einsum_as_torch(equation, shapes, dtype):
    _parity(lambda *t: rp.einsum(equation, *t), lambda *t: torch.einsum(equation, *t),
            *_arrays(equation, shapes), dtype=dtype)


@pytest.mark.parametrize(("equation", "shapes"), CASES)
def test_einsum_gradients_by_finite_differences(equation, shapes):
    check_grad(lambda *t: rp.einsum(equation, *t), *_arrays(equation, shapes))


def test_list_form_and_tensor_methods_agree():
    a, b = keyed_normal((2, 3), "a"), keyed_normal((3, 4), "b")
    listed = rp.einsum("ij,jk", [rp.tensor(a), rp.tensor(b)])
    np.testing.assert_allclose(listed.data, torch.einsum("ij,jk", [torch.tensor(a), torch.tensor(b)]).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(rp.einsum("ij,jk", (a, b)).data, a @ b, rtol=1e-12)  # arrays are accepted


def test_gradient_of_one_operand_only():
    a, b = keyed_normal((2, 3), "a"), keyed_normal((3, 4), "b")
    ta, tb = rp.tensor(a, requires_grad=True), rp.tensor(b)
    rp.einsum("ij,jk->ik", ta, tb).sum().backward()
    np.testing.assert_allclose(ta.grad, np.ones((2, 4)) @ b.T, rtol=1e-12)
    assert tb.grad is None


def test_integer_operands_keep_their_dtype_as_torch():
    a = np.arange(6).reshape(2, 3)
    out = rp.einsum("ij->j", a)
    expected = torch.einsum("ij->j", torch.tensor(a))
    assert out.dtype == np.int64 and expected.dtype == torch.int64
    np.testing.assert_array_equal(out.data, expected.numpy())


def test_diagonal_gradient_stays_off_the_diagonal_zero():
    """The gradient of a diagonal read ('ii->i') lives on the diagonal only."""
    x = rp.tensor(keyed_normal((3, 3), "x"), requires_grad=True)
    rp.einsum("ii->i", x).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, np.diag([1.0, 2.0, 3.0]))


def test_large_contraction_matches_numpy():
    """optimize=True routes pairs through BLAS: the values are still NumPy's einsum's."""
    a, b, c = keyed_normal((8, 30, 20), "a"), keyed_normal((20, 40), "b"), keyed_normal((40, 5), "c")
    out = rp.einsum("bij,jk,kl->bil", a, b, c)
    np.testing.assert_allclose(out.data, np.einsum("bij,jk,kl->bil", a, b, c), rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# Bad input: torch raises a RuntimeError; retroprop's say the same and are also ValueErrors
# ---------------------------------------------------------------------------------------------
def _ones(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


BAD = [
    pytest.param("ij,jk", [(2, 3), (4, 5)], ShapeError,
                 "subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3",
                 id="sizes"),
    pytest.param("ij,jk", [(2, 3)], EinsumError, "fewer operands were provided", id="too-few-operands"),
    pytest.param("ij", [(2, 3), (3,)], EinsumError, "more operands were provided", id="too-many-operands"),
    pytest.param("ij", [(2, 3, 4)], ShapeError,
                 r"number of subscripts in the equation \(2\) does not match the number of dimensions \(3\)",
                 id="subscript-count"),
    pytest.param("ij...", [(2,)], ShapeError, r"more than the number of dimensions \(1\)",
                 id="ellipsis-too-few-dims"),
    pytest.param("ii", [(2, 3)], ShapeError,
                 "subscript i is repeated for operand 0 but the sizes don't match", id="repeated-sizes"),
    pytest.param("ij->k", [(2, 3)], EinsumError, "output subscript k does not appear", id="unknown-output"),
    pytest.param("ij->ii", [(2, 3)], EinsumError, "output subscript i appears more than once",
                 id="repeated-output"),
    pytest.param("i1", [(2, 3)], EinsumError, "invalid subscript given at index 1", id="bad-character"),
    pytest.param("ij->j->i", [(2, 3)], EinsumError, "invalid subscript given at index 5", id="two-arrows"),
    pytest.param("i...j...", [(2, 3)], EinsumError, "an ellipsis was already found", id="two-ellipses"),
    pytest.param("i.j", [(2, 3)], EinsumError, "not part of any ellipsis", id="lone-dot"),
    pytest.param("...i,...i", [(2, 2, 3), (4, 3)], ShapeError, "covered by ellipsis in operand 1",
                 id="ellipsis-sizes"),
]


@pytest.mark.parametrize(("equation", "shapes", "error", "message"), BAD)
def test_bad_input_raises_like_torch(equation, shapes, error, message):
    with pytest.raises(RuntimeError, match=message):  # the same words as torch's
        torch.einsum(equation, *[torch.ones(s) for s in shapes])
    with pytest.raises(error, match=message) as caught:
        rp.einsum(equation, *[rp.tensor(_ones(*s)) for s in shapes])
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)


def test_mixed_dtypes_are_refused_as_torch():
    with pytest.raises(RuntimeError):
        torch.einsum("ij,jk", torch.ones(2, 3), torch.ones(3, 4, dtype=torch.float64))
    with pytest.raises(EinsumError, match="operand 1 has dtype float64 but operand 0 has float32"):
        rp.einsum("ij,jk", _ones(2, 3), _ones(3, 4, dtype=np.float64))


def test_no_operand_and_non_string_equation_are_refused():
    with pytest.raises(EinsumError, match="at least one operand"):
        rp.einsum("ij")
    with pytest.raises(TypeError, match="equation must be a string"):
        rp.einsum(3, _ones(2))


def test_one_operand_transpose_or_diagonal_is_a_view_as_torch():
    """torch returns a view for 'ii->i' and 'ij->ji'; so does retroprop (writes show in the input, and
    a write after the forward pass is caught in backward)."""
    for equation in ("ii->i", "ij->ji"):
        x, reference = rp.zeros((3, 3)), torch.zeros(3, 3)
        rp.einsum(equation, x)[0] = 5
        torch.einsum(equation, reference)[0] = 5
        np.testing.assert_array_equal(x.data, reference.numpy())
    x = rp.tensor(keyed_normal((2, 3), "x"), requires_grad=True)
    y = rp.einsum("ij->ji", x * 1)
    z = y * y
    y.data[0, 0] = 5
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
