"""Layers: Linear, activations, Flatten/Identity, BatchNorm1d errors, Dropout, loss modules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn

F = rp.F
RNG = np.random.default_rng(11)

# Expected weight std for Linear(in=256, out=128, init=name).
FAN_IN, FAN_OUT = 256, 128
EXPECTED_STD = {
    "xavier_uniform": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "glorot_uniform": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "xavier_normal": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "glorot_normal": math.sqrt(2.0 / (FAN_IN + FAN_OUT)),
    "kaiming_uniform": math.sqrt(2.0 / FAN_IN),
    "he_uniform": math.sqrt(2.0 / FAN_IN),
    "kaiming_normal": math.sqrt(2.0 / FAN_IN),
    "he_normal": math.sqrt(2.0 / FAN_IN),
    "lecun_uniform": math.sqrt(1.0 / FAN_IN),
    "lecun_normal": math.sqrt(1.0 / FAN_IN),
    "orthogonal": math.sqrt(1.0 / FAN_IN),  # rows are orthonormal: each has unit norm
    "zeros": 0.0,
}
# Linear.reset_parameters calls INITIALIZERS[name](weight, generator): the generator lands in
# xavier_*_/orthogonal_'s ``gain`` parameter (None * float -> TypeError).


def _init_param(name):
    return pytest.param(name)


# -- Linear -------------------------------------------------------------------------------------
def test_linear_shapes_and_registration():
    lin = nn.Linear(4, 8)
    assert lin.weight.shape == (8, 4) and lin.bias.shape == (8,)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    assert lin.weight.requires_grad and lin.bias.requires_grad
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    assert lin.label() == "Linear 4→8"


def test_linear_without_bias():
    lin = nn.Linear(4, 8, bias=False)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    x = rp.randn(3, 4)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T, rtol=1e-6)
    assert list(lin.state_dict()) == ["weight"]


@pytest.mark.parametrize("args", [(0, 3), (3, 0), (2.0, 3), (True, 3), (-1, 2)])
def test_linear_rejects_bad_sizes(args):
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(*args)


def test_linear_default_init_matches_pytorch_bounds():
    rp.manual_seed(0)
    lin = nn.Linear(1000, 400)
    bound = 1.0 / math.sqrt(1000)
    assert np.abs(lin.weight.data).max() <= bound
    assert np.abs(lin.bias.data).max() <= bound
    np.testing.assert_allclose(lin.weight.data.std(), bound / math.sqrt(3), rtol=0.02)
    assert abs(lin.weight.data.mean()) < 0.02 * bound
    assert lin.bias.data.std() > 0.4 * bound  # the bias is drawn too, not zero
    small = nn.Linear(4, 3)
    assert np.abs(small.weight.data).max() <= 0.5 and np.abs(small.bias.data).max() <= 0.5


@pytest.mark.parametrize("name", [_init_param(n) for n in sorted(nn.init.INITIALIZERS)])
def test_linear_named_init_std(name):
    assert set(EXPECTED_STD) == set(nn.init.INITIALIZERS)
    rp.manual_seed(1)
    lin = nn.Linear(FAN_IN, FAN_OUT, init=name)
    assert lin.weight.shape == (FAN_OUT, FAN_IN)
    np.testing.assert_allclose(lin.weight.data.std(), EXPECTED_STD[name], rtol=0.05, atol=1e-12)
    assert not lin.bias.data.any(), "a named init starts the bias at zero"


@pytest.mark.parametrize("name", [_init_param(n) for n in ("he_normal", "xavier_uniform", "orthogonal")])
def test_linear_named_init_generator_is_reproducible(name):
    a = nn.Linear(8, 6, init=name, generator=3)
    b = nn.Linear(8, 6, init=name, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_linear_callable_init():
    lin = nn.Linear(5, 3, init=lambda t: nn.init.constant_(t, 0.25))
    np.testing.assert_array_equal(lin.weight.data, np.full((3, 5), 0.25, dtype=np.float32))
    assert not lin.bias.data.any()
    rp.manual_seed(2)
    normal = nn.Linear(FAN_IN, FAN_OUT, init=lambda t: nn.init.normal_(t, 0.0, 0.02))
    np.testing.assert_allclose(normal.weight.data.std(), 0.02, rtol=0.05)
    assert not normal.bias.data.any()


def test_linear_reset_parameters_reuses_callable_init():
    lin = nn.Linear(5, 3, init=lambda t: nn.init.constant_(t, 0.25))
    lin.weight.data[...] = 7.0
    lin.reset_parameters()
    np.testing.assert_array_equal(lin.weight.data, np.full((3, 5), 0.25, dtype=np.float32))


def test_linear_reset_parameters_redraws_default():
    lin = nn.Linear(16, 4)
    before = lin.weight.data.copy()
    weight = lin.weight
    lin.reset_parameters()
    assert lin.weight is weight
    assert not np.array_equal(before, lin.weight.data)
    assert np.abs(lin.weight.data).max() <= 0.25


def test_linear_unknown_init_lists_choices():
    with pytest.raises(ValueError, match="unknown init 'glorious'") as info:
        nn.Linear(3, 2, init="glorious")
    for name in nn.init.INITIALIZERS:
        assert name in str(info.value)


def test_linear_wrong_width_is_shape_error():
    lin = nn.Linear(4, 8)
    with pytest.raises(rp.ShapeError) as info:
        lin(rp.randn(2, 5))
    message = str(info.value)
    assert "Linear 4→8" in message and "4" in message and "5 features" in message
    with pytest.raises(rp.ShapeError, match="Linear 4→8"):
        lin(rp.tensor(1.0))


def test_linear_dtype_argument():
    lin = nn.Linear(3, 2, dtype=np.float64)
    assert lin.weight.dtype == np.float64 and lin.bias.dtype == np.float64
    out = lin(rp.randn(4, 3, dtype=np.float64))
    assert out.dtype == np.float64


def test_linear_forward_and_backward():
    lin = nn.Linear(4, 3, dtype=np.float64)
    x = rp.tensor(RNG.normal(size=(5, 4)), requires_grad=True)
    out = lin(x)
    np.testing.assert_allclose(out.data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-12)
    g = RNG.normal(size=(5, 3))
    out.backward(g)
    np.testing.assert_allclose(x.grad, g @ lin.weight.data, rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad, g.T @ x.data, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, g.sum(0), rtol=1e-12)


def test_linear_three_d_input():
    lin = nn.Linear(4, 3, dtype=np.float64)
    x = rp.tensor(RNG.normal(size=(2, 5, 4)), requires_grad=True)
    out = lin(x)
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out.data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-12)
    out.sum().backward()
    assert lin.weight.grad.shape == (3, 4)
    np.testing.assert_allclose(lin.bias.grad, np.full(3, 10.0))


def test_linear_manual_seed_reproducible():
    rp.manual_seed(42)
    a = nn.Linear(6, 5)
    rp.manual_seed(42)
    b = nn.Linear(6, 5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    c = nn.Linear(6, 5)
    assert not np.array_equal(a.weight.data, c.weight.data)


# -- activations --------------------------------------------------------------------------------
ACTIVATIONS = [
    (nn.ReLU(), F.relu),
    (nn.LeakyReLU(), lambda x: F.leaky_relu(x, 0.01)),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (nn.ELU(), F.elu),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (nn.SELU(), F.selu),
    (nn.GELU(), F.gelu),
    (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    (nn.Sigmoid(), F.sigmoid),
    (nn.Tanh(), F.tanh),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, axis=1)),
    (nn.Softmax(dim=0), lambda x: F.softmax(x, axis=0)),
    (nn.LogSoftmax(dim=1), lambda x: F.log_softmax(x, axis=1)),
    (nn.LogSoftmax(dim=-1), lambda x: F.log_softmax(x, axis=-1)),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize(("module", "fn"), ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activation_module_equals_functional(module, fn):
    data = RNG.normal(size=(4, 5)) * 3
    x1 = rp.tensor(data, requires_grad=True)
    x2 = rp.tensor(data, requires_grad=True)
    out1, out2 = module(x1), fn(x2)
    np.testing.assert_array_equal(out1.data, out2.data)
    g = RNG.normal(size=(4, 5))
    out1.backward(g)
    out2.backward(g)
    np.testing.assert_array_equal(x1.grad, x2.grad)
    assert list(module.parameters()) == []


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_identity_returns_its_input_and_ignores_arguments():
    x = rp.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x


@pytest.mark.parametrize(("shape", "start", "end", "expected"), [
    ((2, 3, 4), 1, -1, (2, 12)),
    ((2, 3, 4), 0, -1, (24,)),
    ((2, 3, 4, 5), 1, 2, (2, 12, 5)),
    ((2, 3, 4, 5), 2, 3, (2, 3, 20)),
    ((2, 3), 1, -1, (2, 3)),
])
def test_flatten(shape, start, end, expected):
    data = RNG.normal(size=shape)
    x = rp.tensor(data, requires_grad=True)
    layer = nn.Flatten(start, end) if (start, end) != (1, -1) else nn.Flatten()
    out = layer(x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.data, data.reshape(expected))
    out.backward(np.ones(expected))
    np.testing.assert_array_equal(x.grad, np.ones(shape))


# -- BatchNorm1d (behaviour; numbers are checked against torch in test_torch_parity_nn) -----------
def test_batchnorm_registration():
    bn = nn.BatchNorm1d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(bn.weight.data, np.ones(4))
    np.testing.assert_array_equal(bn.running_var.data, np.ones(4))
    assert bn.num_batches_tracked.item() == 0
    assert bn.label() == "BatchNorm1d 4"
    plain = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(plain.parameters()) == [] and list(plain.buffers()) == []


def test_batchnorm_training_batch_of_one_is_clear_error():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match="BatchNorm1d 4") as info:
        bn(rp.randn(1, 4))
    assert "at least 2" in str(info.value)
    assert bn.num_batches_tracked.item() == 0  # a rejected batch is not counted
    np.testing.assert_array_equal(bn.running_mean.data, np.zeros(4))


def test_batchnorm_one_sample_in_eval_works():
    bn = nn.BatchNorm1d(4).eval()
    x = rp.randn(1, 4)
    out = bn(x)
    np.testing.assert_allclose(out.data, x.data / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_batchnorm_one_sample_without_running_stats_errors_in_eval():
    bn = nn.BatchNorm1d(4, track_running_stats=False).eval()
    with pytest.raises(ValueError, match="at least 2"):
        bn(rp.randn(1, 4))


def test_batchnorm_one_sample_with_length_is_fine():
    bn = nn.BatchNorm1d(3)
    assert bn(rp.randn(1, 3, 5)).shape == (1, 3, 5)


@pytest.mark.parametrize("shape", [(5, 3), (5, 3, 4), (5,), (2, 4, 3, 3)])
def test_batchnorm_wrong_features_is_shape_error(shape):
    with pytest.raises(rp.ShapeError, match="BatchNorm1d 4"):
        nn.BatchNorm1d(4)(rp.randn(*shape))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"num_features": 0}, "positive integer"), ({"num_features": 3, "eps": 0}, "eps"),
    ({"num_features": 3, "momentum": 1.5}, "momentum"),
])
def test_batchnorm_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.BatchNorm1d(**kwargs)


def test_batchnorm_error_inside_sequential_names_layer():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match=r"layer '1'.*BatchNorm1d 4.*at least 2"):
        model(rp.randn(1, 3))
    model.eval()
    assert model(rp.randn(1, 3)).shape == (1, 4)


# -- Dropout ------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_dropout_p_out_of_range(p):
    with pytest.raises(ValueError, match=r"\bp\b.*\[0, 1\]") as info:
        nn.Dropout(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("p", ["0.5", None, [0.5], True])
def test_dropout_p_not_a_number(p):
    with pytest.raises(TypeError, match="p must be a number"):
        nn.Dropout(p)


def test_dropout_eval_is_identity():
    layer = nn.Dropout(0.5).eval()
    x = rp.randn(50, 50)
    np.testing.assert_array_equal(layer(x).data, x.data)


def test_dropout_p_zero_is_identity_in_training():
    x = rp.randn(50, 50)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)


def test_dropout_p_one_gives_zeros_and_zero_upstream_gradient():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Dropout(1.0), nn.Linear(6, 2))
    out = model(rp.randn(5, 4))
    np.testing.assert_array_equal(out.data, np.broadcast_to(model[2].bias.data, (5, 2)))
    np.testing.assert_array_equal(model[1](rp.randn(3, 3)).data, np.zeros((3, 3)))
    out.sum().backward()
    for p in model[0].parameters():
        assert p.grad is not None and np.all(p.grad == 0) and np.all(np.isfinite(p.grad))
    assert np.all(np.isfinite(model[2].weight.grad))


def test_dropout_inverted_scaling_and_gradient():
    rp.manual_seed(3)
    p = 0.3
    data = RNG.normal(size=(200, 200)) + 2.0
    x = rp.tensor(data, requires_grad=True)
    out = nn.Dropout(p)(x)
    kept = out.data != 0
    np.testing.assert_allclose(out.data[kept], data[kept] / (1 - p), rtol=1e-12)
    assert abs(kept.mean() - (1 - p)) < 0.01
    out.backward(np.ones_like(data))
    np.testing.assert_allclose(x.grad, kept / (1 - p), rtol=1e-12)
    np.testing.assert_allclose(out.data.mean(), data.mean(), rtol=0.02)


def test_dropout_float32_stays_float32():
    assert nn.Dropout(0.5)(rp.randn(4, 4)).dtype == np.float32


def test_dropout_manual_seed_reproducible():
    layer = nn.Dropout(0.5)
    x = rp.ones(100)
    rp.manual_seed(7)
    a = layer(x).data
    b = layer(x).data
    rp.manual_seed(7)
    np.testing.assert_array_equal(layer(x).data, a)
    np.testing.assert_array_equal(layer(x).data, b)
    assert not np.array_equal(a, b), "consecutive calls draw new masks"


def test_dropout_int_generator_draws_new_masks():
    layer = nn.Dropout(0.5, generator=0)
    x = rp.ones(100)
    assert not np.array_equal(layer(x).data, layer(x).data)


# -- losses ---------------------------------------------------------------------------------------
LOGITS = RNG.normal(size=(6, 4)) * 2
LABELS = RNG.integers(0, 4, size=6)
REGRESSION = RNG.normal(size=(6, 3))
TARGETS = RNG.normal(size=(6, 3))
BINARY = RNG.integers(0, 2, size=(6, 3)).astype(np.float64)


def _loss_cases():
    for reduction in ("mean", "sum", "none"):
        for smoothing in (0.0, 0.2):
            yield (nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
                   lambda x, t, r=reduction, s=smoothing: F.cross_entropy(x, t, reduction=r,
                                                                          label_smoothing=s),
                   LOGITS, LABELS)
        yield (nn.NLLLoss(reduction=reduction), lambda x, t, r=reduction: F.nll_loss(x, t, reduction=r),
               LOGITS, LABELS)
        yield (nn.MSELoss(reduction=reduction), lambda x, t, r=reduction: F.mse_loss(x, t, reduction=r),
               REGRESSION, TARGETS)
        yield (nn.BCEWithLogitsLoss(reduction=reduction),
               lambda x, t, r=reduction: F.binary_cross_entropy_with_logits(x, t, reduction=r), REGRESSION,
               BINARY)


@pytest.mark.parametrize(("module", "fn", "x", "t"), list(_loss_cases()))
def test_loss_module_equals_functional(module, fn, x, t):
    a, b = rp.tensor(x, requires_grad=True), rp.tensor(x, requires_grad=True)
    out_a, out_b = module(a, t), fn(b, t)
    np.testing.assert_array_equal(out_a.data, out_b.data)
    g = np.ones(out_a.shape)
    out_a.backward(g)
    out_b.backward(g)
    np.testing.assert_array_equal(a.grad, b.grad)


@pytest.mark.parametrize("cls", [nn.CrossEntropyLoss, nn.NLLLoss, nn.MSELoss, nn.BCEWithLogitsLoss])
def test_loss_bad_reduction(cls):
    with pytest.raises(ValueError, match=r"reduction.*'avg'"):
        cls(reduction="avg")


def test_loss_default_reduction_is_mean():
    x = rp.tensor(REGRESSION)
    np.testing.assert_allclose(nn.MSELoss()(x, TARGETS).item(), ((REGRESSION - TARGETS) ** 2).mean())


def test_standardize_layer():
    x = np.random.default_rng(0).normal(5.0, 30.0, size=(40, 3))
    x[:, 2] = 7.0  # a constant feature keeps scale 1
    layer = nn.Standardize.from_data(x)
    out = layer(rp.tensor(x)).data
    np.testing.assert_allclose(out[:, :2].mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(out[:, :2].std(axis=0), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(out[:, 2], 0.0)
    assert layer.mean.dtype == np.float64 and not list(layer.parameters())
    assert set(layer.state_dict()) == {"mean", "scale"} and layer.get_config() == {"num_features": 3}
    inputs = rp.tensor(x, requires_grad=True)
    layer(inputs).sum().backward()
    np.testing.assert_allclose(inputs.grad, np.broadcast_to(1.0 / layer.scale.data, x.shape))
    with pytest.raises(rp.ShapeError, match="Standardize 3 expects input"):
        layer(rp.ones(2, 4))
    with pytest.raises(ValueError, match="scale must be positive"):
        nn.Standardize(2, mean=[0, 0], scale=[1, 0])
    with pytest.raises(ValueError, match=r"mean must have shape \(2,\)"):
        nn.Standardize(2, mean=[0, 0, 0])
    integers = nn.Standardize.from_data(np.arange(6).reshape(3, 2))
    assert integers.mean.dtype == np.float64 and integers.dtype == np.float32
    with pytest.raises(TypeError, match="floating-point dtype"):
        nn.Standardize(2, dtype=np.int64)


def test_standardize_computes_in_float64_and_outputs_the_layer_dtype():
    # a timestamp-like feature: float32 holds 1.7e9 only in steps of 128, wider than its spread
    rng = np.random.default_rng(0)
    x = 1.7e9 + rng.uniform(-100.0, 100.0, size=(200, 1))
    exact = (x - x.mean()) / x.std()
    layer = nn.Standardize.from_data(x, dtype=np.float32)
    assert layer.mean.dtype == layer.scale.dtype == np.float64
    out = layer(rp.tensor(x))
    assert out.dtype == np.float32
    # only the final cast to float32 rounds: a relative error of float32's epsilon
    np.testing.assert_allclose(out.data, exact, rtol=2 * np.finfo(np.float32).eps, atol=1e-7)
    inputs = rp.tensor(x, requires_grad=True)
    layer(inputs).sum().backward()
    assert inputs.grad.dtype == np.float64
    np.testing.assert_allclose(inputs.grad, 1.0 / x.std(), rtol=1e-6)


def test_standardize_statistics_stay_float64_under_to():
    model = nn.Sequential(nn.Standardize(2, mean=[1e9, 0.5], scale=[3.0, 1.0]), nn.Linear(2, 1))
    mean = model[0].mean
    for cast, dtype in ((model.float, np.float32), (model.double, np.float64), (model.float, np.float32)):
        cast()
        assert model.dtype == model[0].dtype == model[1].weight.dtype == dtype
        assert model[0].mean is mean and mean.dtype == model[0].scale.dtype == np.float64
        assert mean.data[0] == 1e9
        assert model(rp.tensor(np.array([[1e9 + 3.0, 1.5]]))).dtype == dtype
    assert model.to(np.float64)[0](rp.tensor(np.array([[1e9 + 3.0, 1.5]]))).dtype == np.float64
    # weights saved by an older version (float32 statistics) load by a cast
    old = {name: array.astype(np.float32) for name, array in model.state_dict().items()}
    model[0].load_state_dict({"mean": old["0.mean"], "scale": old["0.scale"]})
    assert model[0].mean.dtype == np.float64 and model[0].mean.data[0] == np.float32(1e9)
    # a BatchNorm's running statistics still follow the model's dtype
    norm = nn.BatchNorm1d(3).double()
    assert norm.running_mean.dtype == np.float64 and norm.num_batches_tracked.dtype == np.int64


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_saved_standardize_loads_with_its_float64_statistics(tmp_path, suffix, dtype):
    x = 1.7e9 + np.random.default_rng(0).uniform(-100.0, 100.0, size=(50, 2))
    model = nn.Sequential(nn.Standardize.from_data(x), nn.Linear(2, 3)).to(dtype)
    path = tmp_path / f"model{suffix}"
    rp.save(model, path)
    loaded = rp.load(path)
    assert loaded.dtype == loaded[0].dtype == dtype
    for name, array in model.state_dict().items():
        assert loaded.state_dict()[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded.state_dict()[name], array)
    assert loaded[0].mean.dtype == np.float64 and loaded[0].mean.data[0] == model[0].mean.data[0]
    np.testing.assert_array_equal(rp.predict(loaded, x), rp.predict(model, x))
    # a file written before the statistics were kept in float64 (float32 ones) still loads
    model[0].mean.data = model[0].mean.data.astype(np.float32)
    model[0].scale.data = model[0].scale.data.astype(np.float32)
    rp.save(model, path)
    assert rp.load_state_dict(path)["0.mean"].dtype == np.float32
    old = rp.load(path)
    assert old[0].mean.dtype == old[0].scale.dtype == np.float64 and old.dtype == dtype
    np.testing.assert_array_equal(old[0].mean.data, model[0].mean.data.astype(np.float64))
    np.testing.assert_array_equal(old[1].weight.data, model[1].weight.data)


def test_standardize_takes_channels_on_axis_1():
    x = np.random.default_rng(1).normal(size=(20, 3, 4, 5)) * np.array([1.0, 50.0, 255.0])[:, None, None]
    x[:, 1] += 100.0
    layer = nn.Standardize.from_data(x)
    assert layer.num_features == 3
    np.testing.assert_allclose(layer.mean.data, x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(layer.scale.data, x.std(axis=(0, 2, 3)))
    inputs = rp.tensor(x, requires_grad=True)
    out = layer(inputs)
    np.testing.assert_allclose(out.data.mean(axis=(0, 2, 3)), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.data.std(axis=(0, 2, 3)), 1.0, rtol=1e-9)
    out.sum().backward()
    np.testing.assert_allclose(inputs.grad, np.broadcast_to(1.0 / layer.scale.data[:, None, None], x.shape))
    sequence = nn.Standardize.from_data(x[:, :, :, 0])  # (N, C, L)
    np.testing.assert_allclose(sequence(rp.tensor(x[:, :, :, 0])).data.mean(axis=(0, 2)), 0.0, atol=1e-9)
    with pytest.raises(rp.ShapeError, match=r"Standardize 3 expects input \(N, 3\) or \(N, 3, \.\.\.\)"):
        layer(rp.ones(2, 4, 4, 5))
    with pytest.raises(ValueError, match="x must have shape"):
        nn.Standardize.from_data(np.ones(5))
