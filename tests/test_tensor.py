"""The Tensor type and the backward engine: dtypes, graph semantics, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import retroprop as rp
from retroprop.tensor import sum_to_shape


# ---------------------------------------------------------------------------------------------
# Creation and dtype rules
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        (3, np.int64),
        (True, np.bool_),
        (np.zeros(3), np.float64),
        (np.zeros(3, dtype=np.float16), np.float16),
        (np.arange(3, dtype=np.int32), np.int32),
        (np.float64(2.0), np.float64),
    ],
)
def test_dtype_rule_follows_torch(data, dtype):
    assert rp.tensor(data).dtype == np.dtype(dtype)


def test_dtype_override_and_copy():
    source = np.ones(3)
    t = rp.tensor(source, dtype=rp.float32)
    assert t.dtype == np.float32
    t2 = rp.tensor(source)
    source[0] = 5.0
    assert t2.data[0] == 1.0, "rp.tensor must copy its input"
    shared = rp.from_numpy(source)
    assert np.shares_memory(shared.data, source)


def test_data_is_always_an_ndarray_even_for_0d_results():
    x = rp.tensor(2.0, requires_grad=True)
    y = (x * 3).exp().sum()
    assert isinstance(y.data, np.ndarray) and y.shape == ()


@pytest.mark.parametrize("bad", [["a", "b"], np.array([object()]), np.array([1 + 2j])])
def test_unsupported_dtypes_are_refused(bad):
    with pytest.raises(TypeError, match="unsupported dtype"):
        rp.tensor(bad)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        rp.tensor([1, 2, 3], requires_grad=True)
    t = rp.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True


def test_promotion_follows_torch():
    f32 = rp.tensor([1.0, 2.0])
    f64 = rp.tensor(np.array([1.0, 2.0]))
    assert (f32 * 2.0).dtype == np.float32  # Python scalars are weak
    assert (f32 + 1).dtype == np.float32
    assert (f32 + f64).dtype == np.float64
    assert (f32 + np.ones(2)).dtype == np.float64
    assert (rp.tensor([1, 2]) * 0.5).dtype == np.float32  # int with a float scalar: torch's default


def test_factories_and_seed_reproducibility():
    rp.manual_seed(7)
    a = rp.randn(3, 4)
    rp.manual_seed(7)
    b = rp.randn((3, 4))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    assert rp.zeros(2, 3).shape == (2, 3)
    assert rp.ones(2, dtype=rp.float64).dtype == np.float64
    assert rp.full((2,), 3.0).data.tolist() == [3.0, 3.0]
    assert rp.arange(4).dtype == np.int64
    with pytest.raises(ValueError, match="non-negative integer"):
        rp.manual_seed(-1)


def test_manual_seed_leaves_numpy_global_state_alone():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - the legacy global state
    rp.manual_seed(3)
    rp.randn(10)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


# ---------------------------------------------------------------------------------------------
# Non-differentiable results
# ---------------------------------------------------------------------------------------------
def test_comparisons_and_argmax_are_not_differentiable():
    x = rp.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    for result in (x < 2, x > 2, x <= 2, x >= 2, x == 2, x != 2):
        assert result.dtype == np.bool_ and not result.requires_grad
    assert (x > 2).data.tolist() == [[False, True], [True, False]]
    assert x.argmax(axis=1).data.tolist() == [1, 0]
    assert x.argmin(dim=0).data.tolist() == [0, 1]
    assert not x.argmax().requires_grad
    assert x.argmax(axis=1, keepdims=True).shape == (2, 1)


# ---------------------------------------------------------------------------------------------
# Backward semantics
# ---------------------------------------------------------------------------------------------
def test_scalar_output_seeds_with_one():
    x = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])


def test_non_scalar_backward_needs_grad():
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar output"):
        (x * 2).backward()
    y = x * 2
    y.backward(np.array([1.0, 10.0], dtype=np.float32))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    with pytest.raises(rp.ShapeError, match=r"grad has shape \(3,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_grad_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        rp.tensor([1.0, 2.0]).sum().backward()


def test_gradients_accumulate_until_zeroed():
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.zero_grad(set_to_none=False)
    np.testing.assert_allclose(x.grad, [0.0, 0.0])
    x.zero_grad()
    assert x.grad is None


def test_graph_is_freed_unless_retained():
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_keeps_results_exact_for_fused_ops():
    logits = rp.tensor(np.array([[1.0, 2.0, 0.5]]), requires_grad=True)
    loss = rp.F.cross_entropy(logits, np.array([1]))
    loss.backward(retain_graph=True)
    first = logits.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(logits.grad, 2 * first)


def test_backward_is_iterative_for_deep_graphs():
    x = rp.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**10_000, rtol=1e-3)


def test_shared_subexpression_accumulates():
    x = rp.tensor(np.array([2.0]), requires_grad=True)
    a = x * x  # used twice below
    y = a * a + a
    y.sum().backward()
    # y = x^4 + x^2 -> dy/dx = 4x^3 + 2x
    np.testing.assert_allclose(x.grad, [4 * 8 + 4.0])


def test_gradients_are_never_aliased_between_leaves():
    p = rp.tensor([1.0, 2.0], requires_grad=True)
    q = rp.tensor([1.0, 2.0], requires_grad=True)
    (p + q).sum().backward()
    assert not np.shares_memory(p.grad, q.grad)
    p.grad += 1.0
    np.testing.assert_allclose(q.grad, [1.0, 1.0])
    # a reshape passes a view of its upstream gradient: the leaf must own a copy
    r = rp.tensor(np.ones((2, 2)), requires_grad=True)
    s = rp.tensor(np.ones(4), requires_grad=True)
    upstream = np.arange(4.0)
    (r.reshape(4) + s).backward(upstream)
    assert not np.shares_memory(r.grad, upstream) and not np.shares_memory(s.grad, upstream)
    assert not np.shares_memory(r.grad, s.grad)


def test_same_tensor_twice_in_one_op():
    x = rp.tensor([3.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0])


def test_backward_on_a_leaf():
    x = rp.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_retain_grad_on_intermediate():
    x = rp.tensor([1.0, -2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, [6.0, -12.0])
    np.testing.assert_allclose(x.grad, [18.0, -36.0])


def test_gradient_dtype_matches_input_dtype():
    x32 = rp.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    w64 = rp.tensor(np.full(3, 2.0), requires_grad=True)
    out = x32 * w64
    assert out.dtype == np.float64
    out.sum().backward()
    assert x32.grad.dtype == np.float32 and w64.grad.dtype == np.float64


def test_ndarray_on_the_left_defers_to_tensor():
    x = rp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, rp.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_detach_cuts_the_graph():
    x = rp.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0])


# ---------------------------------------------------------------------------------------------
# no_grad
# ---------------------------------------------------------------------------------------------
def test_no_grad_builds_no_graph():
    x = rp.tensor([1.0], requires_grad=True)
    with rp.no_grad():
        y = x * 2
        with rp.enable_grad():
            z = x * 2
        assert not rp.is_grad_enabled()
    assert rp.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_no_grad_as_decorator_and_restored_after_error():
    @rp.no_grad()
    def double(t):
        return t * 2

    x = rp.tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad
    with pytest.raises(ZeroDivisionError), rp.no_grad():
        raise ZeroDivisionError
    assert rp.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with rp.no_grad():
        worker = threading.Thread(target=lambda: seen.append(rp.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


# ---------------------------------------------------------------------------------------------
# Errors that name shapes and ops
# ---------------------------------------------------------------------------------------------
def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(rp.ShapeError, match=r"matmul.*\(2, 3\) and \(4, 5\)"):
        rp.ones(2, 3) @ rp.ones(4, 5)
    with pytest.raises(rp.ShapeError, match=r"batch axes"):
        rp.ones(2, 3, 4) @ rp.ones(5, 4, 2)


@pytest.mark.parametrize(("op", "name"), [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
    (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
    (rp.maximum, "maximum"),
])
def test_broadcast_mismatch_names_op_and_shapes(op, name):
    with pytest.raises(rp.ShapeError, match=rf"{name}.*\(2, 3\), \(4,\)"):
        op(rp.ones(2, 3), rp.ones(4))


def test_shape_error_is_a_value_error():
    assert issubclass(rp.ShapeError, ValueError)


def test_bad_operand_type():
    with pytest.raises(TypeError, match="unsupported operand"):
        rp.ones(2) + "a"
    with pytest.raises(TypeError, match=r"unsupported operand for '\*\*'"):
        rp.ones(2) ** "a"


# ---------------------------------------------------------------------------------------------
# Conversions and display
# ---------------------------------------------------------------------------------------------
def test_conversions_and_repr():
    x = rp.tensor([[1.0, 2.0]], requires_grad=True)
    assert x.shape == (1, 2) and x.ndim == 2 and x.numel() == 2 and len(x) == 1
    assert rp.tensor(3.5).item() == 3.5 and float(rp.tensor([2.0])) == 2.0
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=<Mul>" in repr(x * 2)
    assert "dtype=float64" in repr(rp.tensor(np.ones(1)))
    with pytest.raises(ValueError, match="one element"):
        x.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32
    assert np.shares_memory(x.numpy(), x.data)
    assert [row.shape for row in rp.ones(3, 2)] == [(2,)] * 3


def test_cast_is_differentiable():
    x = rp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(np.float32) * 2
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


@pytest.mark.parametrize(("grad_shape", "shape"), [
    ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()),
    ((4, 2, 3), (2, 1)), ((4, 1, 3), (1, 3)),
])
def test_sum_to_shape_undoes_broadcasting(grad_shape, shape):
    grad = np.random.default_rng(0).normal(size=grad_shape)
    out = sum_to_shape(grad, shape)
    assert out.shape == shape
    # summing to shape is the adjoint of broadcasting: <broadcast(v), g> == <v, sum_to_shape(g)>
    v = np.random.default_rng(1).normal(size=shape)
    np.testing.assert_allclose((np.broadcast_to(v, grad_shape) * grad).sum(), (v * out).sum())


# ---------------------------------------------------------------------------------------------
# Custom functions
# ---------------------------------------------------------------------------------------------
class Cube(rp.Function):
    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, grad):
        return 3 * self.x**2 * grad


class BrokenBackward(rp.Function):
    def forward(self, x):
        return x * 2

    def backward(self, grad):
        return grad, grad


def test_custom_function_joins_the_graph():
    x = rp.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = Cube.apply(x * 2)
    assert y.grad_fn.__class__ is Cube
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3 * (2 * x.data) ** 2 * 2)


def test_backward_returning_the_wrong_number_of_gradients_is_named():
    x = rp.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BrokenBackward\.backward returned 2 gradient"):
        BrokenBackward.apply(x).sum().backward()


class FirstOnly(rp.Function):
    """Passes gradient to its first input only; returns None for the second."""

    def forward(self, a, b):
        return a + 0 * b

    def backward(self, grad):
        return grad, None


def test_none_gradient_from_one_consumer_does_not_stall_other_paths():
    x = rp.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3  # non-leaf used by two consumers
    y = FirstOnly.apply(x * 1, h) + h * 2  # the first consumer sends None to h
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0 + 6.0, 1.0 + 6.0])
    z = rp.tensor(np.array([1.0]), requires_grad=True)
    chain = z * 5  # reaches the output only through a None gradient
    w = FirstOnly.apply(z * 1, chain * 2)
    w.sum().backward()
    np.testing.assert_allclose(z.grad, [1.0])
