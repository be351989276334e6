"""rp.autograd.Function (custom forward/backward on Tensors, written as torch writes them),
rp.autograd.grad and rp.autograd.backward, against torch 2.13.0 and finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import retroprop as rp
from tests.helpers import assert_matches_torch, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]
SHAPES = [pytest.param((3, 4), id="2d"), pytest.param((1,), id="size1"), pytest.param((), id="0d")]


def legendre(lib: Any) -> Any:
    """The P3 example of torch's tutorial, as a Function of ``lib`` (retroprop or torch)."""

    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 - 1)

    return LegendrePolynomial3


P3, TORCH_P3 = legendre(rp).apply, legendre(torch).apply


def scaled_product(lib: Any) -> Any:
    """Two tensors and two non-tensor arguments in, two tensors out."""

    class ScaledProduct(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any, scale: float, b: Any, mode: str) -> Any:
            assert mode == "both"
            ctx.scale = scale  # any attribute
            ctx.save_for_backward(a, b)
            return a * b * scale, a - b

        @staticmethod
        def backward(ctx: Any, g_product: Any, g_difference: Any) -> Any:
            a, b = ctx.saved_tensors
            grad_a = g_product * b * ctx.scale + g_difference if ctx.needs_input_grad[0] else None
            grad_b = g_product * a * ctx.scale - g_difference if ctx.needs_input_grad[2] else None
            return grad_a, None, grad_b, None

    return ScaledProduct


ScaledProduct, TorchScaledProduct = scaled_product(rp), scaled_product(torch)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_legendre_example_matches_torch(shape: tuple[int, ...], dtype: Any) -> None:
    assert_matches_torch(P3, TORCH_P3, keyed_normal(shape, "p3"), dtype=dtype, check_dtype=True)


def test_the_legendre_example_finite_differences() -> None:
    check_grad(P3, keyed_normal((2, 3), "p3"))
    check_grad(lambda x: P3(P3(x) * 0.5) + x, keyed_normal((4,), "p3 twice"))


def test_the_result_is_in_the_graph_as_torch() -> None:
    x = rp.tensor([0.5, -0.2], requires_grad=True)
    y = P3(x)
    assert y.requires_grad and not y.is_leaf and type(y.grad_fn).__name__ == "LegendrePolynomial3Backward"
    assert "grad_fn=<LegendrePolynomial3Backward>" in repr(y)
    with rp.no_grad():
        assert P3(x).grad_fn is None and not P3(x).requires_grad
    constant = P3(rp.tensor([0.5]))
    assert constant.grad_fn is None and not constant.requires_grad


@pytest.mark.parametrize("used", ["both", "product", "difference"])
def test_two_inputs_two_outputs_and_non_tensor_arguments_match_torch(used: str) -> None:
    def run(lib: Any, fn: Any) -> list[np.ndarray]:
        a = lib.tensor(keyed_normal((2, 3), "a"), requires_grad=True)
        b = lib.tensor(keyed_normal((2, 3), "b"), requires_grad=True)
        product, difference = fn(a, 3.0, b, "both")
        loss = {"both": (product * difference).sum(), "product": product.sum(),
                "difference": (difference**2).sum()}[used]
        loss.backward()
        return [np.asarray(t.tolist()) for t in (product, difference, a.grad, b.grad)]

    for mine, theirs in zip(run(rp, ScaledProduct.apply), run(torch, TorchScaledProduct.apply), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_needs_input_grad_as_torch() -> None:
    seen: dict[str, list[tuple[bool, ...]]] = {"rp": [], "torch": []}

    def recorder(lib: Any, key: str) -> Any:
        class Record(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, a: Any, k: int, b: Any) -> Any:
                seen[key].append(tuple(ctx.needs_input_grad))
                return a * b * k

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                seen[key].append(tuple(ctx.needs_input_grad))
                return grad, None, grad

        return Record.apply

    for lib, key in ((rp, "rp"), (torch, "torch")):
        fn = recorder(lib, key)
        a, b = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([3.0, 4.0])
        fn(a, 2, b).sum().backward()
        fn(b, 2, a).sum().backward()
        fn(a, 2, a).sum().backward()
        with lib.no_grad():
            fn(a, 2, a)
    assert seen["rp"] == seen["torch"]
    assert seen["rp"][0] == (True, False, False)


def test_none_gradients_leave_grad_none_as_torch() -> None:
    def ignoring(lib: Any) -> Any:
        class FirstOnly(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, a: Any, b: Any) -> Any:
                return a + b

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                return grad, None

        return FirstOnly.apply

    for lib in (rp, torch):
        a, b = lib.tensor([1.0], requires_grad=True), lib.tensor([2.0], requires_grad=True)
        ignoring(lib)(a, b).sum().backward()
        assert a.grad is not None and b.grad is None


def test_materialize_grads_and_non_differentiable_outputs_as_torch() -> None:
    def split(lib: Any, materialize: bool, log: list[Any]) -> Any:
        class SortWithIndex(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.set_materialize_grads(materialize)
                doubled, flag = x * 2, x > 0
                ctx.mark_non_differentiable(flag)
                return doubled, x * 3, flag

            @staticmethod
            def backward(ctx: Any, g_doubled: Any, g_tripled: Any, g_flag: Any) -> Any:
                grads = (g_doubled, g_tripled, g_flag)
                log.append([None if g is None else np.asarray(g.tolist()) for g in grads])
                total = 0
                if g_doubled is not None:
                    total = total + 2 * g_doubled
                if g_tripled is not None:
                    total = total + 3 * g_tripled
                return total

        return SortWithIndex.apply

    for materialize in (True, False):
        logs: list[list[Any]] = []
        grads = []
        for lib in (rp, torch):
            log: list[Any] = []
            x = lib.tensor([1.0, -2.0], requires_grad=True)
            doubled, tripled, flag = split(lib, materialize, log)(x)
            assert not flag.requires_grad and flag.dtype in (np.bool_, torch.bool)
            assert tripled.requires_grad
            doubled.sum().backward()
            logs.append(log[0])
            grads.append(np.asarray(x.grad.tolist()))
        for mine, theirs in zip(*logs, strict=True):
            assert (mine is None) == (theirs is None), materialize
            if mine is not None:
                np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(*grads)


def test_a_saved_tensor_changed_in_place_raises_as_torch() -> None:
    changes = {
        "input_add_": lambda x, y: x.add_(1.0),
        "input_data": lambda x, y: x.data.__setitem__(0, 5.0),
        "output_mul_": lambda x, y: y.mul_(2.0),
    }
    for name, change in changes.items():
        # torch does not track writes through .data; retroprop does (see its notes on versions)
        for lib, p3 in ((rp, P3), (torch, TORCH_P3))[: 1 if name == "input_data" else 2]:
            leaf = lib.tensor([0.5, 0.25], requires_grad=True)
            x = leaf * 1.0  # a non-leaf, changeable in place
            y = p3(x) if name != "output_mul_" else _saves_output(lib)(x)
            with lib.no_grad():
                change(x, y)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()
    x = rp.tensor([0.5, 0.25], requires_grad=True)
    y = P3(x * 1.0)
    with pytest.raises(rp.ModifiedInPlaceError, match="saved tensor 0 of LegendrePolynomial3Backward"):
        with rp.no_grad():
            y.grad_fn.inputs[0].add_(1.0)
        y.sum().backward()


def _saves_output(lib: Any) -> Any:
    class ExpKeepsOutput(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (out,) = ctx.saved_tensors
            return grad * out

    return ExpKeepsOutput.apply


def _returning(grads: Any, *, name: str = "Broken") -> Any:
    def backward(ctx: Any, grad: Any) -> Any:
        return grads(grad)

    cls = type(name, (rp.autograd.Function,), {
        "forward": staticmethod(lambda ctx, a, b: a * b),
        "backward": staticmethod(backward),
    })
    return cls.apply


def test_wrong_gradient_count_and_shape_name_the_function() -> None:
    a, b = rp.tensor([1.0, 2.0], requires_grad=True), rp.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function OneTooFewBackward returned an incorrect number of "
                                           r"gradients \(expected 2, got 1\)"):
        _returning(lambda g: g, name="OneTooFew")(a, b).sum().backward()
    with pytest.raises(RuntimeError, match=r"TooManyBackward returned an incorrect number of gradients"):
        _returning(lambda g: (g, g, g), name="TooMany")(a, b).sum().backward()
    _returning(lambda g: (g, g, None))(a, b).sum().backward()  # extra Nones are allowed, as torch's
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    with pytest.raises(RuntimeError, match=r"function BadShapeBackward returned an invalid gradient at "
                                           r"index 1 - got \[3\] but expected shape compatible with \[2\]"):
        _returning(lambda g: (g, rp.ones(3)), name="BadShape")(a, b).sum().backward()
    with pytest.raises(TypeError, match="NotATensorBackward returned a gradient of type ndarray"):
        _returning(lambda g: (g, np.ones(2)), name="NotATensor")(a, b).sum().backward()
    a.grad = None
    _returning(lambda g: (rp.ones((3, 2)), g))(a, b).sum().backward()  # broadcast: summed, as torch's
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_a_gradient_for_a_non_tensor_argument_is_refused_as_torch() -> None:
    class Scale(rp.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, k: float) -> Any:
            return x * k

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad, grad

    with pytest.raises(RuntimeError, match="1, but the corresponding forward input was not a Tensor"):
        Scale.apply(rp.tensor([1.0], requires_grad=True), 2.0).sum().backward()


def test_returned_gradients_are_never_kept_as_a_grad_by_reference() -> None:
    class KeepsOwnArray(rp.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * 1.0

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return x  # the input itself: the engine must copy it before keeping it as x.grad

    x = rp.tensor([1.0, 2.0], requires_grad=True)
    KeepsOwnArray.apply(x).sum().backward()
    KeepsOwnArray.apply(x).sum().backward()
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_forward_returning_its_input_keeps_the_input_a_leaf() -> None:
    class Identity(rp.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad * 2

    x = rp.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and not y.is_leaf
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_an_output_viewing_an_input_guards_the_input_against_in_place_changes() -> None:
    class Flatten(rp.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x.reshape(-1)  # a view of x's memory

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad.reshape(2, 2)

    x = rp.ones((2, 2), requires_grad=True)
    y = x * 2.0
    flat = Flatten.apply(y)
    with pytest.raises(RuntimeError, match="view in the graph shares"):
        y.mul_(3.0)  # flat's values would change without its graph knowing
    flat.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 2.0))


def test_integer_outputs_are_not_differentiable_as_torch() -> None:
    for lib in (rp, torch):
        class MaxWithIndex(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                index = x.argmax()
                ctx.save_for_backward(index)
                ctx.shape = x.shape
                return x.max(), index

            @staticmethod
            def backward(ctx: Any, grad: Any, grad_index: Any) -> Any:
                (index,) = ctx.saved_tensors
                full = grad.new_zeros(ctx.shape) if hasattr(grad, "new_zeros") else rp.zeros(ctx.shape)
                full[index] = grad
                return full

        x = lib.tensor([1.0, 3.0, 2.0], requires_grad=True)
        value, index = MaxWithIndex.apply(x)
        assert value.requires_grad and not index.requires_grad and index.tolist() == 1
        value.backward()
        assert x.grad.tolist() == [0.0, 1.0, 0.0]


def test_the_graph_is_freed_unless_retained_as_torch() -> None:
    x = rp.tensor([0.5], requires_grad=True)
    y = P3(x)
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    np.testing.assert_allclose(x.grad, 2 * 1.5 * (5 * 0.25 - 1))


def test_setup_context_and_keyword_arguments() -> None:
    class Cube(rp.autograd.Function):
        @staticmethod
        def forward(x: Any, scale: float = 1.0) -> Any:
            return x**3 * scale

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.scale = scale

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2 * ctx.scale, None

    x = rp.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x, scale=2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 24.0])
    x.grad = None
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])
    with pytest.raises(RuntimeError, match="apply"):
        Cube()


def test_a_function_inside_a_model_trains() -> None:
    class ReLU(rp.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return grad * (x > 0).float()

    rng = np.random.default_rng(0)
    xs = rp.tensor(rng.normal(size=(64, 2)))
    ys = rp.tensor((xs.data[:, :1] * xs.data[:, 1:] > 0).astype(np.float64))
    w1 = rp.tensor(rng.normal(size=(2, 16)), requires_grad=True)
    w2 = rp.tensor(rng.normal(size=(16, 1)) * 0.3, requires_grad=True)
    losses = []
    for _ in range(150):
        loss = ((ReLU.apply(xs @ w1) @ w2 - ys) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with rp.no_grad():
            for p in (w1, w2):
                p.add_(p.grad, alpha=-0.05)
                p.grad.zero_()
    assert losses[-1] < 0.5 * losses[0]


def test_the_low_level_array_function_is_unchanged() -> None:
    class Square(rp.Function):
        def forward(self, a: np.ndarray) -> np.ndarray:
            self.a = a
            return a * a

        def backward(self, grad: np.ndarray) -> np.ndarray:
            return 2 * self.a * grad

    x = rp.tensor([3.0], requires_grad=True)
    Square.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0])
    assert rp.Function is not rp.autograd.Function


# ---------------------------------------------------------------------------------------------
# autograd.grad and autograd.backward
# ---------------------------------------------------------------------------------------------
def test_grad_matches_torch_and_leaves_grad_alone() -> None:
    results = []
    for lib, p3 in ((rp, P3), (torch, TORCH_P3)):
        a = lib.tensor(keyed_normal((2, 3), "ga"), requires_grad=True)
        b = lib.tensor(keyed_normal((3,), "gb"), requires_grad=True)
        h = p3(a) * b
        first = (h**2).sum()
        second = h.mean(0)
        grads = lib.autograd.grad([first, second], [a, b, h],
                                  grad_outputs=[None, lib.tensor([1.0, -2.0, 0.5], dtype=a.dtype)])
        assert a.grad is None and b.grad is None and isinstance(grads, tuple)
        results.append([np.asarray(g.tolist()) for g in grads])
    for mine, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_grad_retain_graph_and_unused_inputs_as_torch() -> None:
    for lib in (rp, torch):
        x, unused = lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([1.0], requires_grad=True)
        y = (x * x).sum()
        (gx,) = lib.autograd.grad(y, x, retain_graph=True)
        np.testing.assert_array_equal(np.asarray(gx.tolist()), [2.0, 4.0])
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            lib.autograd.grad(y, [x, unused], retain_graph=True)
        gx, gu = lib.autograd.grad(y, [x, unused], allow_unused=True, retain_graph=True)
        assert gu is None
        gx, gu = lib.autograd.grad(y, [x, unused], allow_unused=True, materialize_grads=True)
        assert gu.tolist() == [0.0]
        with pytest.raises(RuntimeError, match="second time"):
            lib.autograd.grad(y, x)
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad((x * 2).sum(), lib.tensor([1.0]))
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"
                           if lib is torch else "needs a scalar output"):
            lib.autograd.grad(x * 2, x)
    x_leaf = rp.tensor([2.0], requires_grad=True)
    assert rp.autograd.grad(x_leaf, x_leaf)[0].tolist() == [1.0]
    with pytest.raises(NotImplementedError, match="create_graph"):
        rp.autograd.grad((x_leaf * x_leaf).sum(), x_leaf, create_graph=True)


def test_autograd_backward_of_several_tensors_matches_torch() -> None:
    results = []
    for lib in (rp, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        a, b = x * w, (x**2).sum()
        lib.autograd.backward([a, b, x], [lib.tensor([1.0, 2.0, 3.0]), None, lib.tensor([1.0, 1.0, 1.0])])
        results.append([np.asarray(x.grad.tolist()), np.asarray(w.grad.tolist())])
        lib.autograd.backward((x * w).sum(), inputs=[w])  # only w's .grad changes
        results.append([np.asarray(x.grad.tolist()), np.asarray(w.grad.tolist())])
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.backward(lib.tensor(1.0))
    for mine, theirs in zip(results[:2], results[2:], strict=True):
        for m, t in zip(mine, theirs, strict=True):
            np.testing.assert_allclose(m, t)
