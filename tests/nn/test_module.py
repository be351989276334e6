"""Module: registration, tree walking, hooks, modes, dtypes, state dicts and repr."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn


class Net(nn.Module):
    """A custom module mixing a nested Sequential, a child layer, a direct Parameter and a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Sequential(nn.Linear(5, 3)))
        self.head = nn.Linear(3, 2)
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.register_buffer("steps", np.zeros(2, dtype=np.float32))
        self.note = "plain attribute"

    def forward(self, x):
        return self.head(self.features(x)) * self.scale


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3)
        self.b.weight = self.a.weight  # one Parameter under two names


def _grads(module):
    x = rp.randn(6, module.features[0].in_features if isinstance(module, Net) else 4)
    module(x).sum().backward()


# -- walking the tree -------------------------------------------------------------------------
def test_named_modules_dotted_preorder():
    net = Net()
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "features", "features.0", "features.1", "features.2", "features.2.0", "head"]
    modules = dict(net.named_modules())
    assert modules[""] is net
    assert modules["features.2.0"] is net.features[2][0]
    assert list(net.modules()) == [m for _, m in net.named_modules()]


def test_named_parameters_dotted_own_params_first():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.2.0.weight",
                     "features.2.0.bias", "head.weight", "head.bias"]
    assert [p for _, p in net.named_parameters()] == list(net.parameters())
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.head.named_parameters(prefix="head")] == ["head.weight", "head.bias"]


def test_children_are_direct_submodules_only():
    net = Net()
    assert list(net.children()) == [net.features, net.head]
    assert [n for n, _ in net.named_children()] == ["features", "head"]
    assert len(list(net.features.children())) == 3


def test_plain_attributes_are_not_registered():
    net = Net()
    assert net.note == "plain attribute"
    assert "note" not in dict(net.named_parameters())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = net.missing


def test_shared_parameter_counted_once():
    tied = Tied()
    params = list(tied.parameters())
    assert len(params) == 3  # a.weight (== b.weight), a.bias, b.bias
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    assert tied.num_parameters() == 9 + 3 + 3


def test_shared_module_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]


def test_register_buffer():
    net = Net()
    assert isinstance(net.steps, rp.Tensor)
    assert not isinstance(net.steps, nn.Parameter)
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    assert "steps" not in dict(net.named_parameters())
    assert "steps" in net.state_dict()
    assert not net.steps.requires_grad


def test_register_buffer_none_is_skipped():
    m = nn.Module()
    m.register_buffer("empty", None)
    assert m.empty is None
    assert list(m.named_buffers()) == []
    assert list(m.state_dict()) == []


def test_delattr_unregisters():
    net = Net()
    del net.head
    assert "head" not in [n for n, _ in net.named_children()]
    with pytest.raises(AttributeError):
        _ = net.head
    del net.scale
    assert "scale" not in dict(net.named_parameters())
    del net.steps
    assert list(net.named_buffers()) == []
    assert next(iter(net.state_dict())) == "features.0.weight"


def test_reassigning_a_parameter_keeps_its_position():
    lin = nn.Linear(3, 2)
    new = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    lin.weight = new
    assert lin.weight is new
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    assert next(iter(lin.parameters())) is new


def test_replacing_a_child_updates_attribute_and_registry():
    net = Net()
    head = nn.Linear(3, 2, bias=False)
    net.head = head
    assert net.head is head and dict(net.named_children())["head"] is head
    assert "head.bias" not in net.state_dict()


def test_assign_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Broken()


def test_add_module_rejects_non_modules():
    m = nn.Module()
    with pytest.raises(TypeError, match="must be a Module"):
        m.add_module("x", 3)


def test_forward_not_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(rp.ones(2))


# -- hooks --------------------------------------------------------------------------------------
def test_forward_hook_receives_module_inputs_and_output():
    lin = nn.Linear(3, 2)
    calls = []
    handle = lin.register_forward_hook(lambda mod, inputs, out: calls.append((mod, inputs, out)))
    x = rp.randn(4, 3)
    y = lin(x)
    assert len(calls) == 1
    mod, inputs, out = calls[0]
    assert mod is lin
    assert isinstance(inputs, tuple) and len(inputs) == 1 and inputs[0] is x
    assert out is y
    handle.remove()
    lin(x)
    assert len(calls) == 1
    handle.remove()  # removing twice is harmless


def test_forward_hook_return_value_replaces_output():
    lin = nn.Linear(3, 2)
    lin.register_forward_hook(lambda mod, inputs, out: None)  # None keeps the output
    lin.register_forward_hook(lambda mod, inputs, out: out * 2)
    x = rp.randn(4, 3)
    expected = (x.data @ lin.weight.data.T + lin.bias.data) * 2
    np.testing.assert_allclose(lin(x).data, expected, rtol=1e-6)


def test_forward_hooks_run_in_registration_order():
    lin = nn.Identity()
    lin.register_forward_hook(lambda m, i, o: o + 1)
    lin.register_forward_hook(lambda m, i, o: o * 10)
    assert lin(rp.tensor(1.0)).item() == 20.0


def test_forward_hook_handle_is_a_context_manager():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    seen = []
    with seq[1].register_forward_hook(lambda m, i, o: seen.append(o.shape)) as handle:
        assert isinstance(handle, nn.RemovableHandle)
        seq(rp.randn(2, 3))
    seq(rp.randn(2, 3))
    assert seen == [(2, 4)]


def test_hook_in_child_sees_gradient_graph():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    seq[0].register_forward_hook(lambda m, i, o: o * 0)
    seq(rp.randn(5, 3)).sum().backward()
    assert np.all(seq[0].weight.grad == 0)
    assert seq[2].bias.grad is not None


# -- modes --------------------------------------------------------------------------------------
def test_train_and_eval_are_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.features[2][0].training
    net.features.train()
    assert net.features[2][0].training and not net.training and not net.head.training


# -- gradients ----------------------------------------------------------------------------------
def test_zero_grad_set_to_none_default():
    net = Net()
    _grads(net)
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_set_to_none_false_fills_zeros():
    net = Net()
    _grads(net)
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    for p, g in zip(net.parameters(), grads, strict=True):
        assert p.grad is g  # zeroed in place
        assert p.grad.shape == p.shape
        assert not p.grad.numpy().any()


# -- dtypes -------------------------------------------------------------------------------------
def test_double_and_float_convert_params_and_buffers_in_place():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(rp.randn(5, 3)).sum().backward()
    params = list(model.parameters())
    buffers = list(model.buffers())
    values = [p.data.copy() for p in params]
    assert model.double() is model
    assert list(model.parameters()) == params
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
    assert all(a is b for a, b in zip(model.buffers(), buffers, strict=True))
    for p, v in zip(params, values, strict=True):
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, v)
    bn = model[1]
    assert bn.running_mean.dtype == np.float64 and bn.running_var.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert model.dtype == np.float64
    assert model(rp.randn(5, 3, dtype=np.float64)).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert bn.running_var.dtype == np.float32
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))


def test_to_dtype():
    lin = nn.Linear(2, 2)
    weight = lin.weight
    lin.to(np.float64)
    assert lin.weight is weight and weight.dtype == np.float64
    lin.to(rp.float32)
    assert weight.dtype == np.float32
    # as torch's: a string is a device, not a dtype
    with pytest.raises(rp.DeviceError, match="invalid device string 'float32'"):
        lin.to("float32")
    with pytest.raises(TypeError, match="floating-point"):
        lin.to(np.int32)


def test_dtype_of_parameterless_module():
    assert nn.ReLU().dtype == np.float32


# -- state dict ---------------------------------------------------------------------------------
def test_state_dict_keys_params_then_buffers_per_module():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), bn=nn.BatchNorm1d(4), out=nn.Linear(4, 1)))
    assert list(model.state_dict()) == [
        "fc.weight", "fc.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked", "out.weight", "out.bias",
    ]
    assert list(Net().state_dict()) == [
        "scale", "steps", "features.0.weight", "features.0.bias", "features.2.0.weight",
        "features.2.0.bias", "head.weight", "head.bias",
    ]


def test_state_dict_returns_copies():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    saved = {k: v.copy() for k, v in state.items()}
    model[0].weight.data += 1.0
    model(rp.randn(6, 3))  # updates the running statistics in place
    for key, value in saved.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)
    state["0.weight"][...] = 123.0
    assert not np.any(model[0].weight.data == 123.0)


def test_load_state_dict_round_trip_keeps_identity():
    source, target = Net(), Net()
    source(rp.randn(4, 4))
    params = list(target.parameters())
    buffers = list(target.buffers())
    missing, unexpected = target.load_state_dict(source.state_dict())
    assert missing == [] and unexpected == []
    assert all(a is b for a, b in zip(target.parameters(), params, strict=True))
    assert all(a is b for a, b in zip(target.buffers(), buffers, strict=True))
    for (key, a), b in zip(source.state_dict().items(), target.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=key)
    x = rp.randn(3, 4)
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_casts_to_parameter_dtype():
    lin = nn.Linear(2, 2)
    state = {k: v.astype(np.float64) + 1 for k, v in lin.state_dict().items()}
    lin.load_state_dict(state)
    assert lin.weight.dtype == np.float32
    np.testing.assert_allclose(lin.weight.data, state["weight"], rtol=1e-6)


def test_load_state_dict_accepts_tensors():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": rp.ones(2, 2), "bias": rp.zeros(2)})
    np.testing.assert_array_equal(lin.weight.data, np.ones((2, 2)))


def test_load_state_dict_missing_keys():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    state = model.state_dict()
    del state["0.bias"], state["1.running_var"]
    with pytest.raises(KeyError, match=r"missing keys: 0\.bias, 1\.running_var"):
        model.load_state_dict(state)


def test_load_state_dict_unexpected_keys():
    model = nn.Linear(3, 4)
    state = model.state_dict()
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"unexpected keys: extra\.weight"):
        model.load_state_dict(state)


def test_load_state_dict_non_strict_reports_and_loads_the_rest():
    model = nn.Linear(3, 4)
    state = {"weight": np.ones((4, 3)), "other": np.zeros(1)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["bias"] and unexpected == ["other"]
    np.testing.assert_array_equal(model.weight.data, np.ones((4, 3)))


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    model = nn.Sequential(nn.Linear(3, 4))
    state = model.state_dict()
    state["0.weight"] = np.zeros((5, 3))
    before = model[0].weight.data.copy()
    with pytest.raises(ValueError, match=r"0\.weight.*\(5, 3\).*\(4, 3\)") as info:
        model.load_state_dict(state)
    assert not isinstance(info.value, KeyError)
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing half-loaded


# -- repr ---------------------------------------------------------------------------------------
def test_repr_shows_architecture_counts_and_total():
    model = nn.Sequential(nn.Linear(100, 100), nn.ReLU(), nn.Sequential(nn.Linear(100, 2, bias=False)))
    model[0].bias.requires_grad = False
    text = repr(model)
    lines = text.splitlines()
    assert lines[0] == "Sequential("
    assert "(0): Linear(in_features=100, out_features=100, bias=True)  # 10,100 params" in text
    assert "(1): ReLU()" in text
    assert "(0): Linear(in_features=100, out_features=2, bias=False)  # 200 params" in text
    assert lines[-1] == "Total parameters: 10,300 (10,200 trainable)"


def test_repr_of_leaf_layer_has_no_total():
    assert repr(nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)"
