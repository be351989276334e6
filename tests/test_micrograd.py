"""micrograd's engine as a second reference: the scalar graphs of its own engine tests (a ReLU chain,
and one that reuses and overwrites nodes, with powers, negation and division), built once with
micrograd's ``Value`` and once with retroprop tensors written as torch code writes them, give the
same value and the same gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import retroprop as rp

engine = pytest.importorskip("micrograd.engine")


def relu_chain(x: Any) -> Any:
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    return (z * z).relu() + q + q * x


def reused_nodes(a: Any, b: Any) -> Any:
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    f = (c - d) ** 2
    return f / 2.0 + 10.0 / f


def as_retroprop(value: float) -> rp.Tensor:
    x = rp.Tensor([value]).double()  # the torch spelling micrograd's tests use
    x.requires_grad = True
    return x


@pytest.mark.parametrize("graph, inputs, exact", [
    (relu_chain, (-4.0,), True), (relu_chain, (1.5,), True), (reused_nodes, (-4.0, 2.0), False),
    (reused_nodes, (0.5, -1.25), False),
])
def test_values_and_gradients_match_micrograd(graph: Callable[..., Any], inputs: tuple[float, ...],
                                              exact: bool) -> None:
    ours = [as_retroprop(v) for v in inputs]
    theirs = [engine.Value(v) for v in inputs]
    out, reference = graph(*ours), graph(*theirs)
    out.backward()
    reference.backward()
    tolerance = 0.0 if exact else 1e-6
    assert abs(out.data.item() - reference.data) <= tolerance * max(1.0, abs(reference.data))
    for x, v in zip(ours, theirs, strict=True):
        assert abs(x.grad.item() - v.grad) <= tolerance * max(1.0, abs(v.grad))
