"""``.grad`` is a Tensor (no graph) or None, as torch's, so torch code that reads it runs as it is."""

import numpy as np
import pytest
import torch

import retroprop as rp
from retroprop.tensor import grad_array
from tests.helpers import check_grad

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=np.float32)


def _pair() -> tuple[rp.Tensor, torch.Tensor]:
    return rp.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)


def _loss(x):  # the same expression in both libraries
    return (x * x * x).sum() + (x * 2.0).sum()


def test_grad_is_a_tensor_without_graph_and_stable():
    a, t = _pair()
    assert a.grad is None and t.grad is None
    _loss(a).backward()
    _loss(t).backward()
    assert isinstance(a.grad, rp.Tensor) and not a.grad.requires_grad and a.grad.grad_fn is None
    assert a.grad is a.grad  # one object, as torch's
    assert a.grad.shape == tuple(t.grad.shape) and a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(a.grad), t.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.grad.data, t.grad.data.numpy(), rtol=1e-6)


def test_accumulation_keeps_the_object_and_adds_as_torch():
    a, t = _pair()
    _loss(a).backward()
    _loss(t).backward()
    first, tfirst = a.grad, t.grad
    _loss(a).backward()
    _loss(t).backward()
    assert a.grad is first and (t.grad is tfirst)  # accumulated in place in both
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_zero_clone_norm_on_grad():
    a, t = _pair()
    _loss(a).backward()
    _loss(t).backward()
    np.testing.assert_allclose(a.grad.norm().item(), t.grad.norm().item(), rtol=1e-6)
    kept, tkept = a.grad.clone(), t.grad.clone()
    a.grad.zero_()
    t.grad.zero_()
    assert np.all(a.grad.numpy() == 0) and np.all(t.grad.numpy() == 0)
    np.testing.assert_allclose(kept.numpy(), tkept.numpy(), rtol=1e-6)  # the clone is a copy
    _loss(a).backward()  # accumulates into the zeroed gradient
    _loss(t).backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_manual_sgd_updates_as_torch():
    a, t = _pair()
    b, u = _pair()
    for _ in range(3):
        _loss(a).backward()
        _loss(t).backward()
        _loss(b).backward()
        _loss(u).backward()
        a.data -= 0.1 * a.grad  # .data is the array here, updated from the gradient tensor
        t.data -= 0.1 * t.grad
        with rp.no_grad():
            b -= 0.1 * b.grad
        with torch.no_grad():
            u -= 0.1 * u.grad
        a.grad = None
        t.grad = None
        b.grad.zero_()
        u.grad.zero_()
    np.testing.assert_allclose(a.numpy(), t.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.numpy(), u.detach().numpy(), rtol=1e-5)
    assert a.grad is None and np.all(b.grad.numpy() == 0)


def test_assigning_grad():
    a, t = _pair()
    given, tgiven = rp.ones(2, 3), torch.ones(2, 3)
    a.grad = given
    t.grad = tgiven
    assert a.grad is given and t.grad is tgiven
    array = np.full((2, 3), 2.0, dtype=np.float32)
    a.grad = array  # an array is wrapped, sharing its memory
    assert isinstance(a.grad, rp.Tensor) and np.shares_memory(a.grad.numpy(), array)
    _loss(a).backward()
    _loss(t).backward()
    np.testing.assert_allclose(array, t.grad.numpy() + 1.0, rtol=1e-6)  # accumulated into it
    with pytest.raises(RuntimeError, match="assign a gradient of shape"):
        a.grad = rp.ones(3, 2)
    with pytest.raises(RuntimeError, match="assign a gradient of size"):
        t.grad = torch.ones(3, 2)
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) to a tensor of shape \(2, 3\)"):
        a.grad = np.ones((2,), dtype=np.float32)
    with pytest.raises(RuntimeError, match="with dtype float64"):
        a.grad = np.ones((2, 3), dtype=np.float64)
    with pytest.raises(RuntimeError, match="with dtype 'double'"):
        t.grad = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="Tensor, an array or None"):
        a.grad = [[1.0] * 3] * 2
    with pytest.raises(TypeError, match="Tensor or None"):
        t.grad = [[1.0] * 3] * 2
    a.grad = None
    assert a.grad is None


def test_retain_grad_on_a_non_leaf():
    a, t = _pair()
    h, s = a * 3.0, t * 3.0
    h.retain_grad()
    s.retain_grad()
    _loss(h).backward()
    _loss(s).backward()
    assert isinstance(h.grad, rp.Tensor) and h.grad is h.grad
    np.testing.assert_allclose(h.grad.numpy(), s.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5)


def test_ndarray_meets_a_gradient():
    a, _ = _pair()
    _loss(a).backward()
    expected = 3 * X * X + 2
    assert isinstance(np.ones(3, dtype=np.float32) + a.grad[0], rp.Tensor)  # the reflected operator
    assert isinstance(np.abs(a.grad), np.ndarray)  # a ufunc on a tensor without graph: an array
    np.testing.assert_allclose(np.abs(a.grad), np.abs(expected), rtol=1e-6)
    with pytest.raises(TypeError):
        np.exp(a)  # a tensor in a graph: the graph would be dropped silently


def test_optimizers_and_clipping_read_the_array_without_a_tensor():
    model = rp.nn.Linear(3, 2)
    opt = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = rp.tensor(X)
    model(x).sum().backward()
    assert all(type(p._grad) is np.ndarray for p in model.parameters())  # nothing wrapped yet
    rp.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    opt.step()
    assert all(type(p._grad) is np.ndarray for p in model.parameters())
    grad = model.weight.grad  # reading .grad wraps it once; internals read the same array
    assert grad_array(model.weight) is grad.numpy()
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and np.all(grad.numpy() == 0)
    opt.zero_grad()
    assert model.weight.grad is None and grad_array(model.weight) is None


@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), (1, False), (1, True), (0, False)])
def test_norm_and_clone_forward_and_backward_as_torch(dim, keepdim):
    x = np.array([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)  # a zero row: gradient 0
    a, t = rp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    n, m = a.clone().norm(dim=dim, keepdim=keepdim), t.clone().norm(dim=dim, keepdim=keepdim)
    assert n.shape == tuple(m.shape) and n.dtype == np.float32
    np.testing.assert_allclose(n.numpy(), m.detach().numpy(), rtol=1e-6)
    (n * 2.0).sum().backward()
    (m * 2.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_zero_on_a_leaf_that_requires_grad_only_under_no_grad():
    a, t = _pair()
    with pytest.raises(RuntimeError):
        t.zero_()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a.zero_()
    with rp.no_grad():
        assert a.zero_() is a
    assert np.all(a.numpy() == 0)


@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_norm_and_clone_gradcheck(dim):
    x = np.random.default_rng(0).normal(size=(3, 4))
    check_grad(lambda a: a.clone().norm(dim=dim) * 1.5, x)
