"""Sequential runs a Linear followed by a ReLU as one fused node, unless a hook observes either."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import F, nn


def build() -> nn.Sequential:
    rp.manual_seed(4)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def reference(model: nn.Sequential, x: rp.Tensor) -> rp.Tensor:
    h = x
    for layer in model:
        if isinstance(layer, nn.Linear):
            h = F.linear(h, layer.weight, layer.bias)
        else:
            h = F.relu(h)
    return h


def test_fused_path_gives_the_same_numbers_as_the_layers_one_by_one():
    model = build()
    x = rp.tensor(np.random.default_rng(0).normal(size=(16, 6)))
    out = model(x)
    assert isinstance(out.grad_fn, F.Linear)
    assert type(out.grad_fn.inputs[0].grad_fn) is F.LinearReLU  # the hidden layers were fused
    loss = out.sum()
    loss.backward()
    fused = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    model.zero_grad()
    reference(model, x).sum().backward()
    np.testing.assert_array_equal(out.data, reference(model, x).data)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(fused[name], p.grad, err_msg=name)


def test_a_hook_on_either_layer_turns_fusion_off_and_sees_the_activations():
    model = build()
    x = rp.tensor(np.random.default_rng(1).normal(size=(4, 6)))
    seen = []
    handle = model[1].register_forward_hook(lambda m, inputs, out: seen.append(out.data.copy()))
    out = model(x)
    assert len(seen) == 1 and seen[0].shape == (4, 8) and (seen[0] >= 0).all()
    assert type(out.grad_fn.inputs[0].grad_fn) is F.LinearReLU  # the second pair has no hook
    handle.remove()
    pre = []
    model[0].register_forward_hook(lambda m, inputs, out: pre.append(out.data.copy()))
    model(x)
    assert len(pre) == 1 and (pre[0] < 0).any(), "the hook must see pre-activations, not ReLU outputs"


def test_subclasses_are_not_fused():
    class Shifted(nn.ReLU):
        def forward(self, x):
            return F.relu(x) + 1.0

    model = nn.Sequential(nn.Linear(3, 4), Shifted()).double()
    out = model(rp.tensor(np.zeros((2, 3))))
    assert (out.data >= 1.0).all()


def test_a_width_error_in_a_fused_pair_names_the_layer():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(rp.ShapeError, match=r"layer '2': Linear 5→8 expects 5 input features.*\(2, 8\)"):
        model(rp.ones(2, 6))


def test_an_output_only_hook_keeps_the_pair_fused_and_sees_the_same_output():
    model = build()
    x = rp.tensor(np.random.default_rng(2).normal(size=(5, 6)))
    plain = model(x).data.copy()
    seen = []
    handle = model[1].register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out.data.copy())),
                                            output_only=True)
    out = model(x)
    assert type(out.grad_fn.inputs[0].grad_fn) is F.LinearReLU
    assert type(out.grad_fn.inputs[0].grad_fn.inputs[0].grad_fn) is F.LinearReLU  # both pairs fused
    (module, inputs, activation), = seen
    assert module is model[1] and inputs is None  # fused: the ReLU's input was never built
    np.testing.assert_array_equal(activation, F.relu(F.linear(x, model[0].weight, model[0].bias)).data)
    np.testing.assert_array_equal(out.data, plain)
    replaced = model[3].register_forward_hook(lambda m, inputs, out: out * 0.0, output_only=True)
    # a returned value replaces the output: zeros in, the last layer gives its bias
    np.testing.assert_array_equal(model(x).data, np.broadcast_to(model[4].bias.data, (5, 3)))
    replaced.remove()
    handle.remove()
    model[1](x)  # called alone, the hook-free layer works as always
