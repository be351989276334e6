"""In-place Tensor methods (add_, sub_, mul_, div_, pow_, clamp_, neg_, exp_, fill_, zero_, copy_,
masked_fill_, uniform_, normal_) against torch 2.13.0: values and dtypes, gradients through a
non-leaf changed in place, torch's leaf rule, version counters, dtype refusals, and parameter
updates under no_grad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, away_from, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
SHAPES = [pytest.param((3, 4), id="2d"), pytest.param((1,), id="size1"), pytest.param((), id="0d")]

# Each method applied to a non-leaf (x * 1.5), with a second tensor w where it takes one: the same
# code runs on retroprop and torch tensors.
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add_": lambda y, w: y.add_(w),
    "add_alpha": lambda y, w: y.add_(w, alpha=-0.5),
    "sub_": lambda y, w: y.sub_(w),
    "sub_alpha": lambda y, w: y.sub_(w, alpha=2.0),
    "mul_": lambda y, w: y.mul_(w),
    "div_": lambda y, w: y.div_(w.abs() + 0.5),
    "pow_": lambda y, w: y.clamp_(min=0.1).pow_(w),
    "iadd": lambda y, w: y.__iadd__(w),
    "imul": lambda y, w: y.__imul__(w),
}
UNARY: dict[str, Callable[[Any], Any]] = {
    "add_scalar": lambda y: y.add_(2.0),
    "mul_scalar": lambda y: y.mul_(-3.0),
    "div_scalar": lambda y: y.div_(4.0),
    "pow_scalar": lambda y: y.pow_(2),
    "clamp_": lambda y: y.clamp_(-0.3, 0.4),
    "clamp_min": lambda y: y.clamp_(min=0.1),
    "clip_": lambda y: y.clip_(max=0.2),
    "neg_": lambda y: y.neg_(),
    "exp_": lambda y: y.exp_(),
    "div_floor": lambda y: y.div_(0.3, rounding_mode="floor"),
    "div_trunc": lambda y: y.div_(0.3, rounding_mode="trunc"),
    "chain": lambda y: y.mul_(2.0).add_(1.0).div_(3.0).exp_(),
}


def _scaled(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` applied to ``x * 1.5`` (a non-leaf), returning the changed tensor itself."""

    def run(x: Any, *rest: Any) -> Any:
        y = x * 1.5
        out = method(y, *rest)
        assert out is y
        return y

    return run


def _data(shape: tuple[int, ...], *key: str) -> np.ndarray:
    # x * 1.5 kept away from the clamp bounds below, so finite differences stay on one side
    return away_from(keyed_normal(shape, *key), kinks=(-0.2, 0.1 / 1.5, 0.2 / 1.5, 0.4 / 1.5, 0.0))


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_methods_match_torch(name: str, shape: tuple[int, ...], dtype: Any) -> None:
    method = _scaled(BINARY[name])
    assert_matches_torch(method, method, _data(shape, name), _data(shape, name, "w"), dtype=dtype,
                         check_dtype=True)


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_methods_match_torch(name: str, shape: tuple[int, ...], dtype: Any) -> None:
    method = _scaled(UNARY[name])
    assert_matches_torch(method, method, _data(shape, name), dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("name", ["add_alpha", "mul_", "div_", "pow_"])
def test_binary_methods_finite_differences(name: str) -> None:
    check_grad(_scaled(BINARY[name]), _data((2, 3), name), _data((2, 3), name, "w"))


@pytest.mark.parametrize("name", ["clamp_", "exp_", "chain", "neg_"])
def test_unary_methods_finite_differences(name: str) -> None:
    check_grad(_scaled(UNARY[name]), _data((2, 3), name))


def test_broadcast_operand_and_its_gradient_match_torch() -> None:
    def fn(x: Any, row: Any) -> Any:
        y = x * 1.5
        y.mul_(row).add_(row, alpha=3.0)
        return y

    assert_matches_torch(fn, fn, _data((3, 4), "x"), _data((4,), "row"))
    assert_matches_torch(fn, fn, _data((3, 4), "x"), _data((1, 4), "row"))


def test_masked_fill_matches_torch() -> None:
    mask = keyed_normal((3, 4), "mask") > 0

    def fn(x: Any, value: Any) -> Any:
        m = rp.tensor(mask) if isinstance(x, rp.Tensor) else torch.tensor(mask)
        y = x * 1.5
        return y.masked_fill_(m, value)

    assert_matches_torch(fn, fn, _data((3, 4), "x"), np.float64(0.7))  # a 0-d tensor value, differentiable
    scalar = _scaled(lambda y: y.masked_fill_(rp.tensor(mask[0]) if isinstance(y, rp.Tensor)
                                              else torch.tensor(mask[0]), -2.0))
    assert_matches_torch(scalar, scalar, _data((3, 4), "x"))
    x = rp.tensor([1, 2, 3])
    assert x.masked_fill_(rp.tensor([True, False, True]), 0.9).tolist() == [0, 2, 0]  # cast, as torch's
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill_(rp.tensor([1, 0, 1]), 0)


OVERWRITES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "copy_": lambda y, w, v: y.copy_(w),
    "copy_broadcast": lambda y, w, v: y.copy_(w[0]),
    "fill_tensor": lambda y, w, v: y.fill_(v),
    "fill_number": lambda y, w, v: y.fill_(0.25),
    "zero_": lambda y, w, v: y.zero_(),
    "copy_then_mul_": lambda y, w, v: y.copy_(w).mul_(v),
}


@pytest.mark.parametrize("name", list(OVERWRITES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_overwrites_give_the_source_its_gradient_and_the_old_value_zeros(name: str, dtype: Any) -> None:
    arrays = [_data((3, 4), name).astype(dtype), _data((3, 4), name, "w").astype(dtype), np.array(0.3, dtype)]
    weights = keyed_normal((3, 4), name, "weights").astype(dtype)
    results = []
    for lib in (rp, torch):
        x, w, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        y = x * 1.5
        assert OVERWRITES[name](y, w, v) is y
        y.backward(lib.tensor(weights))
        results.append([np.asarray(y.tolist()), y.dtype]
                       + [None if t.grad is None else np.asarray(t.grad.tolist()) for t in (x, w, v)])
    for k, (mine, theirs) in enumerate(zip(*results, strict=True)):
        if k == 1:
            assert np.dtype(mine) == dtype
        elif mine is None or theirs is None:
            assert mine is None and theirs is None, (name, k)
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-6, err_msg=f"{name}: {k}")
    with pytest.raises(RuntimeError, match="0-dimension"):
        rp.zeros(3).fill_(rp.ones(2))


def test_integer_results_match_torch() -> None:
    cases = [
        lambda t: t.add_(3), lambda t: t.sub_(2, alpha=3), lambda t: t.mul_(-2), lambda t: t.neg_(),
        lambda t: t.pow_(2), lambda t: t.clamp_(-1, 3), lambda t: t.fill_(2.9), lambda t: t.zero_(),
        lambda t: t.div_(3, rounding_mode="floor"), lambda t: t.div_(-3, rounding_mode="trunc"),
        lambda t: t.div_(3, rounding_mode="trunc"), lambda t: t.copy_(torch.tensor([0.5, -1.5, 2.5, 7.9])
                                                                     if isinstance(t, torch.Tensor)
                                                                     else rp.tensor([0.5, -1.5, 2.5, 7.9])),
    ]
    for k, case in enumerate(cases):
        for dtype, torch_dtype in ((np.int64, torch.int64), (np.int32, torch.int32)):
            x = rp.tensor(np.array([-7, -1, 4, 8], dtype=dtype))
            t = torch.tensor([-7, -1, 4, 8], dtype=torch_dtype)
            assert case(x) is x
            case(t)
            assert x.dtype == dtype, k
            np.testing.assert_array_equal(x.data, t.numpy(), err_msg=f"case {k}")


def test_float_division_with_rounding_matches_torch() -> None:
    a = np.array([-7.5, -1.0, -0.2, 0.0, 4.0, 8.25, 1e30], dtype=np.float32)
    for b in (3.0, -0.7, 2.0):
        for mode in ("floor", "trunc"):
            x, t = rp.tensor(a.copy()), torch.tensor(a.copy())
            x.div_(b, rounding_mode=mode)
            t.div_(b, rounding_mode=mode)
            np.testing.assert_array_equal(x.data, t.numpy())
    with pytest.raises(ValueError, match="rounding_mode"):
        rp.ones(2).div_(2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError):
        rp.tensor([1, 2]).div_(0, rounding_mode="floor")


# ---------------------------------------------------------------------------------------------
# torch's rules
# ---------------------------------------------------------------------------------------------
LEAF_CASES: dict[str, Callable[[rp.Tensor], Any]] = {
    "add_": lambda w: w.add_(1.0), "sub_": lambda w: w.sub_(1.0), "mul_": lambda w: w.mul_(2.0),
    "div_": lambda w: w.div_(2.0), "pow_": lambda w: w.pow_(2), "clamp_": lambda w: w.clamp_(0, 1),
    "clip_": lambda w: w.clip_(0, 1), "neg_": lambda w: w.neg_(), "exp_": lambda w: w.exp_(),
    "fill_": lambda w: w.fill_(0.0), "zero_": lambda w: w.zero_(), "copy_": lambda w: w.copy_(rp.ones(2)),
    "uniform_": lambda w: w.uniform_(), "normal_": lambda w: w.normal_(),
    "masked_fill_": lambda w: w.masked_fill_(rp.tensor([True, False]), 0.0),
    "iadd": lambda w: w.__iadd__(1.0),
}


@pytest.mark.parametrize("name", list(LEAF_CASES))
def test_a_leaf_that_requires_grad_refuses_outside_no_grad(name: str) -> None:
    w = rp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as raised:
        LEAF_CASES[name](w)
    assert "a leaf Variable that requires grad is being used in an in-place operation." in str(raised.value)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    assert w._version == 0 and w.is_leaf
    with rp.no_grad():
        LEAF_CASES[name](w)  # allowed there, as torch's
    assert w._version == 1 and w.is_leaf and w.grad_fn is None


def test_a_view_of_a_leaf_refuses_as_torch() -> None:
    w = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        t[0:2].mul_(2)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[0:2].mul_(2)
    with pytest.raises(RuntimeError, match="view of another tensor"):  # torch rewrites the base's graph
        (w * 2)[0:2].mul_(2)
    np.testing.assert_array_equal(w.data, [1.0, 2.0, 3.0])


def test_a_tensor_with_views_in_the_graph_refuses_instead_of_a_wrong_gradient() -> None:
    x = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for make_view in (lambda y: y[0:2], lambda y: y.reshape(3, 1), lambda y: y.T):
        y = x * 2.0
        make_view(y)
        with pytest.raises(RuntimeError, match="view in the graph shares"):  # torch replays the view
            y.mul_(3.0)
    y = x * 2.0
    alias = y.detach()  # no graph: nothing to replay
    y.mul_(3.0)
    np.testing.assert_array_equal(alias.data, [6.0, 12.0, 18.0])
    with rp.no_grad():
        y = x * 2.0
        y[0:2].mul_(3.0)  # no graph recorded: a plain write
    np.testing.assert_array_equal(y.data, [6.0, 12.0, 6.0])


def test_a_consumer_of_a_freed_earlier_self_raises_rather_than_misroutes() -> None:
    for lib in (rp, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2.0
        c, d = y.sum(), (y * 3.0).sum()
        y.mul_(5.0)
        c.backward()  # frees y's earlier history
        y.mul_(2.0)
        with pytest.raises(RuntimeError, match="second time"):
            d.backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_a_constant_changed_by_a_tensor_that_requires_grad_joins_the_graph() -> None:
    w = rp.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    z, tz = rp.zeros(2), torch.zeros(2)
    alias = z
    z.add_(w, alpha=3.0).mul_(w)
    tz.add_(tw, alpha=3.0).mul_(tw)
    assert alias is z and not z.is_leaf and z.requires_grad and z._version == tz._version == 2
    z.sum().backward()
    tz.sum().backward()
    np.testing.assert_allclose(w.grad, tw.grad.numpy())


def test_consumers_made_before_the_change_keep_their_gradient() -> None:
    def run(lib: Any, x: Any) -> Any:
        y = x * 2.0
        before = (y * 3.0).sum() + y.sum()  # Mul by a constant keeps nothing of y; Sum keeps nothing
        y.mul_(x)  # y = 2x^2 from here on
        after = y.sum()
        y.add_(1.0)
        (before + after + (y * y).sum()).backward()
        return x.grad

    x, t = rp.tensor([0.5, -1.0, 2.0], requires_grad=True), torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    np.testing.assert_allclose(run(rp, x), run(torch, t).numpy(), rtol=1e-6)


SAVED_CASES: dict[str, tuple[Callable[[Any], Any], bool]] = {
    # (graph after y = x * 2 is changed by y.add_(1): the loss to backpropagate, whether torch raises)
    "pow_keeps_its_input": (lambda y: (y**2).sum(), True),
    "exp_keeps_its_output": (lambda y: y.exp(), True),
    "mul_by_a_constant_needs_no_input": (lambda y: (y * 3.0).sum(), False),
    "sum_keeps_nothing": (lambda y: y.sum(), False),
}


@pytest.mark.parametrize("name", list(SAVED_CASES))
def test_a_saved_value_changed_in_place_raises_as_torch(name: str) -> None:
    build, raises = SAVED_CASES[name]
    grads = []
    for lib in (rp, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2.0
        out = build(y)
        if name == "exp_keeps_its_output":
            y, out = out, out.sum()
        y.add_(1.0)
        if raises:
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                out.backward()
        else:
            out.backward()
            grads.append(np.asarray(x.grad.tolist()))
    if grads:
        np.testing.assert_allclose(grads[0], grads[1])


def test_a_write_under_no_grad_is_caught_with_its_version() -> None:
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    with rp.no_grad():
        x.add_(1.0)
    with pytest.raises(rp.ModifiedInPlaceError, match="is at version 1; expected version 0"):
        loss.backward()


def test_every_in_place_method_bumps_the_version_as_torch() -> None:
    x, t = rp.zeros(3), torch.zeros(3)
    for step in (lambda a: a.add_(1), lambda a: a.mul_(2), lambda a: a.fill_(3), lambda a: a.zero_(),
                 lambda a: a.uniform_(), lambda a: a.normal_(), lambda a: a.clamp_(0, 1), lambda a: a.exp_(),
                 lambda a: a.__isub__(1)):
        step(x)
        step(t)
        assert x._version == t._version
    view = x.detach()
    view.add_(1.0)  # detach shares the array and the counter
    assert x._version == view._version == t._version + 1


def test_a_gradient_read_by_a_graph_then_accumulated_into_raises() -> None:
    for lib, w in ((rp, rp.tensor([1.0, 2.0], requires_grad=True)),
                   (torch, torch.tensor([1.0, 2.0], requires_grad=True))):
        x = lib.tensor([3.0, 4.0], requires_grad=True)
        (w * w).sum().backward()
        g = w.grad
        z = (g * x).sum()  # keeps g for x's gradient
        (w * w).sum().backward()  # accumulates into w.grad in place: version 1
        assert w.grad is g and g._version > 0  # torch adds w's two gradients first: version 1; here 2
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()
    w, x = rp.tensor([1.0, 2.0], requires_grad=True), rp.tensor([3.0, 4.0], requires_grad=True)
    (w * w).sum().backward()
    z = (w.grad * x).sum()
    w.zero_grad(set_to_none=False)
    with pytest.raises(rp.ModifiedInPlaceError):
        z.backward()


# ---------------------------------------------------------------------------------------------
# dtypes and shapes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    pytest.param(lambda t: t.add_(0.5), id="int_add_float"),
    pytest.param(lambda t: t.sub_(1.5), id="int_sub_float"),
    pytest.param(lambda t: t.mul_(0.5), id="int_mul_float"),
    pytest.param(lambda t: t.div_(2), id="int_true_div"),
    pytest.param(lambda t: t.exp_(), id="int_exp"),
    pytest.param(lambda t: t.pow_(0.5), id="int_pow_float"),
    pytest.param(lambda t: t.clamp_(0.5), id="int_clamp_float"),
    pytest.param(lambda t: t.add_(1, alpha=0.5), id="int_alpha_float"),
])
def test_results_an_integer_tensor_cannot_hold_raise_as_torch(case: Callable[[Any], Any]) -> None:
    t = torch.tensor([1, 2, 3])
    with pytest.raises(RuntimeError) as expected:
        case(t)
    x = rp.tensor([1, 2, 3])
    with pytest.raises(RuntimeError) as got:
        case(x)
    assert x.tolist() == [1, 2, 3] and x._version == 0
    message = str(expected.value)
    if message.startswith("result type"):  # torch's clamp_ names the type 'long int': the start only
        assert message.split(" to the desired")[0] in str(got.value)
    else:
        assert "alpha must not be a floating point number" in message
        assert "alpha must not be a floating point number" in str(got.value)


def test_cast_messages_name_torch_dtypes() -> None:
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        rp.tensor([1, 2]).add_(0.5)
    with pytest.raises(TypeError, match="result type Long can't be cast to the desired output type Bool"):
        rp.tensor([True, False]).add_(1)
    with pytest.raises(TypeError, match="result type Double can't be cast to the desired output type Int"):
        rp.tensor(np.array([1, 2], dtype=np.int32)).add_(rp.tensor(np.array([0.5, 1.0])))


def test_lower_precision_and_integer_widths_are_cast_down_as_torch() -> None:
    x = rp.tensor(np.array([1.0, 2.0], dtype=np.float32))
    x.add_(rp.tensor(np.array([1e-9, 0.5])))  # float64 operand: computed in float64, stored in float32
    t = torch.tensor([1.0, 2.0]).add_(torch.tensor([1e-9, 0.5], dtype=torch.float64))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.data, t.numpy())
    i = rp.tensor(np.array([1, 2], dtype=np.int32)).mul_(rp.tensor([3, 4]))
    assert i.dtype == np.int32 and i.tolist() == [3, 8]
    b = rp.tensor([True, False]).mul_(rp.tensor([False, False]))
    assert b.dtype == np.bool_ and b.tolist() == [False, False]


GROWS = r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"


def test_an_operand_that_would_grow_the_tensor_raises_as_torch() -> None:
    with pytest.raises(RuntimeError, match=GROWS):
        torch.zeros(3).add_(torch.ones(2, 3))
    x = rp.zeros(3)
    with pytest.raises(RuntimeError, match=GROWS):
        x.add_(rp.ones((2, 3)))
    with pytest.raises(ValueError):
        x.mul_(rp.ones(4))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        x.copy_(rp.ones(2))
    assert x.tolist() == [0.0, 0.0, 0.0] and x._version == 0


# ---------------------------------------------------------------------------------------------
# Parameter updates by hand
# ---------------------------------------------------------------------------------------------
def test_sgd_by_hand_with_add_and_zero_matches_torch() -> None:
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    w0 = rng.normal(size=(3, 1))
    w, b = rp.tensor(w0, requires_grad=True), rp.zeros(1, dtype=np.float64, requires_grad=True)
    tw, tb = torch.tensor(w0, requires_grad=True), torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for _ in range(5):
        for lib, (p, q) in ((rp, (w, b)), (torch, (tw, tb))):
            x, y = lib.tensor(xs), lib.tensor(ys)
            ((x @ p + q - y) ** 2).mean().backward()
            with lib.no_grad():
                p.add_(p.grad, alpha=-0.1)
                q.sub_(0.1 * q.grad)
                p.grad.zero_()
                q.grad = None
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-12)
    assert w.is_leaf and w.requires_grad and w.grad is not None and not w.grad.data.any()


def test_copy_fill_and_random_fills_update_parameters_under_no_grad() -> None:
    w = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    alias = w.detach()
    with rp.no_grad():
        assert w.copy_(rp.tensor([4.0, 5.0, 6.0])) is w
        np.testing.assert_array_equal(alias.data, [4.0, 5.0, 6.0])
        w.copy_(np.array([7, 8, 9]))  # any dtype, cast
        np.testing.assert_array_equal(w.data, [7.0, 8.0, 9.0])
        w.fill_(0.5)
        np.testing.assert_array_equal(w.data, [0.5, 0.5, 0.5])
        w.uniform_(-2.0, -1.0, generator=rp.Generator().manual_seed(0))
        assert ((w.data >= -2.0) & (w.data < -1.0)).all()
        first = w.data.copy()
        w.uniform_(-2.0, -1.0, generator=rp.Generator().manual_seed(0))
        np.testing.assert_array_equal(w.data, first)  # reproducible with a seeded generator
        w.normal_(10.0, 0.0)
        np.testing.assert_array_equal(w.data, [10.0, 10.0, 10.0])
    big = rp.zeros(20000).normal_(1.0, 2.0, generator=rp.Generator().manual_seed(1))
    assert abs(big.data.mean() - 1.0) < 0.1 and abs(big.data.std() - 2.0) < 0.1
    assert big.dtype == np.float32
    assert ((rp.empty(1000).uniform_().data >= 0) & (rp.empty(1000).uniform_().data < 1)).all()
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        rp.tensor([1, 2]).uniform_()
    with pytest.raises(ValueError, match=r"std >= 0\.0"):
        rp.zeros(2).normal_(0.0, -1.0)
    with pytest.raises(ValueError, match=r"from=1\.0 > to=0\.0"):
        rp.zeros(2).uniform_(1.0, 0.0)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_augmented_assignment_changes_the_tensor_in_place_as_torch() -> None:
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    results = []
    for leaf in (x, t):
        h = leaf * 2.0
        alias = h
        view = h.detach()
        h += leaf
        h *= leaf
        assert alias is h
        results.append(view.tolist())
        h.sum().backward()
    assert results[0] == results[1]
    np.testing.assert_allclose(x.grad, t.grad.numpy())


def test_an_operand_sharing_the_changed_memory_is_read_before_the_write() -> None:
    """``h.div_(h.detach())`` and ``h += h`` in a recorded graph: the operand is the earlier value (a
    copy of it where the new node keeps it), so the gradient is the true one instead of being read
    from the overwritten array."""
    w = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = w * 2
    h.div_(h.detach())
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 1 / np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    w = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = w * 2
    h += h
    h.sum().backward()
    tw = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    th = tw * 2
    th += th
    th.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())
    w = rp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = w * 2
    h.mul_(h)  # torch refuses at backward; the gradient here is that of (2w)^2
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [8.0, 16.0, 24.0])


def test_fill_zero_and_copy_outside_a_graph_write_directly_and_bump_the_version() -> None:
    x = rp.zeros(3)
    before = x._version
    x.copy_(np.array([1, 2, 3]))
    x.fill_(2.5)
    x.zero_()
    assert x._version == before + 3 and x.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(rp.ShapeError, match="cannot be broadcast"):
        x.copy_(np.ones(4))
    ints = rp.tensor([1, 5])
    ints.masked_fill_(rp.tensor([True, False]), rp.tensor(2.5))  # a constant takes the tensor's dtype
    assert ints.tolist() == [2, 5] and ints.dtype == np.int64
