"""nn.Conv1d/2d and the pooling layers against torch: parameter names and shapes, default
initialization, reprs, outputs with the same weights, a training step of the MNIST-1D CNN, and
state_dict / file round trips."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.conv import ConvolutionError
from retroprop.tensor import ShapeError
from tests.helpers import keyed_normal

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")]

# constructor arguments, the same for both libraries
CONV_LAYERS = [
    pytest.param("Conv1d", (1, 25, 5), {"stride": 2, "padding": 1}, id="1d-mnist1d"),
    pytest.param("Conv1d", (8, 16, 5), {"groups": 4, "bias": False, "dilation": 2}, id="1d-groups-nobias"),
    pytest.param("Conv1d", (3, 6, 4), {"padding": "same"}, id="1d-same"),
    pytest.param("Conv2d", (3, 8, (3, 2)), {"stride": (2, 1), "padding": (1, 0)}, id="2d-non-square"),
    pytest.param("Conv2d", (4, 8, 3), {"groups": 2, "padding": "valid", "dilation": (1, 2)}, id="2d-groups"),
    pytest.param("Conv2d", (2, 3, 1), {}, id="2d-1x1"),
]
POOL_LAYERS = [
    pytest.param("MaxPool1d", (2,), {}, id="max1d"),
    pytest.param("MaxPool1d", (3,), {"stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
                 id="max1d-all"),
    pytest.param("MaxPool2d", (3, 2, 1), {}, id="max2d"),
    pytest.param("MaxPool2d", ((2, 3),), {"stride": (1, 2)}, id="max2d-tuples"),
    pytest.param("AvgPool1d", (3,), {}, id="avg1d"),
    pytest.param("AvgPool1d", (4, 2, 1), {"ceil_mode": True, "count_include_pad": False}, id="avg1d-all"),
    pytest.param("AvgPool2d", (3,), {"ceil_mode": True}, id="avg2d"),
    pytest.param("AvgPool2d", ((3, 2), 2, 1), {"divisor_override": 4}, id="avg2d-divisor"),
    pytest.param("AdaptiveAvgPool1d", (3,), {}, id="adaptive1d"),
    pytest.param("AdaptiveAvgPool2d", ((2, None),), {}, id="adaptive2d"),
]


def _input_for(name: str, *, channels: int = 4) -> np.ndarray:
    shape = (2, channels, 11) if "1d" in name else (2, channels, 9, 8)
    return keyed_normal(shape, name)


@pytest.mark.parametrize(("name", "args", "kwargs"), CONV_LAYERS)
def test_conv_parameters_repr_and_output_as_torch(name, args, kwargs):
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mine).split("  #")[0] == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in mine.named_parameters()] == \
        [(k, tuple(v.shape)) for k, v in theirs.named_parameters()]
    assert all(p.dtype == np.float32 for p in mine.parameters())
    for attr in ("kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"):
        assert getattr(mine, attr) == getattr(theirs, attr), attr
    # the same weights give torch's output and gradients (float64: exact up to rounding)
    mine.double()
    theirs.double()
    missing, unexpected = mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert not missing and not unexpected
    x = _input_for(name, channels=args[0])
    out, expected = mine(rp.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize(("name", "args", "kwargs", "fan_in"), [
    pytest.param("Conv2d", (32, 64, 3), {}, 32 * 9, id="2d"),
    pytest.param("Conv1d", (64, 128, 5), {"groups": 4}, 16 * 5, id="1d-groups"),
])
def test_default_init_as_torch(name, args, kwargs, fan_in):
    """kaiming_uniform(a=sqrt(5)) and the bias rule give U(±1/sqrt(fan_in)) for both, fan_in counting
    in_channels / groups: bounds, and a standard deviation of bound / sqrt(3)."""
    rp.manual_seed(0)
    torch.manual_seed(0)
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    bound = 1 / math.sqrt(fan_in)
    for (key, p), q in zip(mine.named_parameters(), theirs.parameters(), strict=True):
        values, reference = p.data.ravel(), q.detach().numpy().ravel()
        assert np.abs(values).max() <= bound and np.abs(reference).max() <= bound, key
        assert np.abs(values).max() > bound * (1 - 20 / values.size), key  # reaches the bound
        # the standard error of a uniform sample's std is about std * 0.45 / sqrt(n): 5 of them
        tolerance = 5 * 0.45 / math.sqrt(values.size)
        for sample in (values, reference):
            assert abs(sample.std() / (bound / math.sqrt(3)) - 1) < tolerance, key
            assert abs(sample.mean()) < 5 * bound / math.sqrt(3 * values.size), key


def test_generator_makes_init_reproducible():
    first = nn.Conv2d(3, 4, 3, generator=np.random.default_rng(7))
    second = nn.Conv2d(3, 4, 3, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)


@pytest.mark.parametrize(("name", "args", "kwargs"), POOL_LAYERS)
def test_pool_repr_and_output_as_torch(name, args, kwargs):
    mine, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(mine) == repr(theirs)
    x = _input_for(name)
    xr, xt = rp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = mine(xr), theirs(xt)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = keyed_normal(out.shape, "weights")
    out.backward(weights)
    expected.backward(torch.tensor(weights))
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_module_return_indices():
    x = _input_for("MaxPool2d")
    values, indices = nn.MaxPool2d(3, 2, 1, return_indices=True)(rp.tensor(x))
    expected_values, expected = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(values.data, expected_values.numpy())
    np.testing.assert_array_equal(indices.data, expected.numpy())


@pytest.mark.parametrize(("build", "error", "message"), [
    pytest.param(lambda m: m.Conv2d(4, 6, 3, groups=3), ValueError, "divisible by groups", id="in-groups"),
    pytest.param(lambda m: m.Conv1d(4, 6, 3, groups=4), ValueError, "divisible by groups", id="out-groups"),
    pytest.param(lambda m: m.Conv1d(2, 2, 3, padding="same", stride=2), ValueError, "strided", id="same"),
    pytest.param(lambda m: m.Conv1d(2, 2, 3, padding="full"), ValueError, "padding", id="padding"),
    pytest.param(lambda m: m.Conv2d(2, 2, (3, 3, 3)), None, "kernel_size", id="kernel-tuple"),
    pytest.param(lambda m: m.Conv2d(2, 2, 0), None, "kernel_size must be positive", id="kernel-zero"),
    pytest.param(lambda m: m.Conv2d(2, 2, 3, padding_mode="mirror"), ValueError, "padding_mode",
                 id="padding-mode"),
])
def test_bad_layer_arguments_raise(build, error, message):
    """Refused when built, as torch does (error None: torch builds the layer and fails, or makes an
    empty weight, later; retroprop refuses it at once)."""
    if error is not None:
        with pytest.raises(error):
            build(torch.nn)
    with pytest.raises(ValueError, match=message):
        build(nn)


def test_conv_layer_explains_a_wrong_input():
    layer = nn.Conv1d(3, 4, 3)
    with pytest.raises(ShapeError, match="to have 3 channels, but got 2"):
        layer(rp.tensor(np.ones((2, 2, 8), dtype=np.float32)))
    with pytest.raises(ConvolutionError, match="dtype float64 but the input has float32"):
        layer.double()(rp.tensor(np.ones((2, 3, 8), dtype=np.float32)))
    with pytest.raises(ShapeError, match="output would be empty"):
        nn.Conv1d(3, 4, 5, padding=1).float()(rp.tensor(np.ones((2, 3, 2), dtype=np.float32)))
    unbatched = layer.float()(rp.tensor(np.ones((3, 8), dtype=np.float32)))
    assert unbatched.shape == (4, 6)


def _mnist1d_cnn(lib: Any) -> Any:
    """The MNIST-1D paper's CNN: three Conv1d of 25 channels (kernels 5, 3, 3; stride 2; padding 1)."""
    return lib.nn.Sequential(
        lib.nn.Conv1d(1, 25, 5, stride=2, padding=1), lib.nn.ReLU(),
        lib.nn.Conv1d(25, 25, 3, stride=2, padding=1), lib.nn.ReLU(),
        lib.nn.Conv1d(25, 25, 3, stride=2, padding=1), lib.nn.ReLU(),
        lib.nn.Flatten(), lib.nn.Linear(125, 10),
    )


def test_mnist1d_cnn_training_steps_as_torch():
    """Three SGD steps from the same weights give torch's losses and weights (float64). torch's side
    updates by hand: building a torch optimizer first imports torch._dynamo (seconds)."""
    mine, theirs = _mnist1d_cnn(rp).double(), _mnist1d_cnn(torch).double()
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, y = keyed_normal((100, 1, 40), "x"), np.random.default_rng(0).integers(0, 10, size=100)
    optimizer = rp.optim.SGD(mine.parameters(), lr=0.5)
    for _ in range(3):
        loss = rp.F.cross_entropy(mine(rp.tensor(x)), y)
        expected = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-10)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        expected.backward()
        with torch.no_grad():
            for parameter in theirs.parameters():
                parameter -= 0.5 * parameter.grad
                parameter.grad = None
    assert loss.item() != pytest.approx(rp.F.cross_entropy(mine(rp.tensor(x)), y).item(), rel=1e-3)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(mine.state_dict()[key], value.numpy(), rtol=1e-8, atol=1e-10, err_msg=key)


def test_state_dict_and_file_round_trip(tmp_path):
    model = rp.nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    reference = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                                    torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(2),
                                    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    assert list(model.state_dict()) == list(reference.state_dict())
    path = tmp_path / "cnn.safetensors"
    rp.save(model, path)
    rebuilt = rp.nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    rebuilt.load_state_dict(rp.load_state_dict(path))
    x = rp.tensor(keyed_normal((2, 1, 8, 8), "x").astype(np.float32))
    np.testing.assert_array_equal(rebuilt(x).data, model(x).data)


@pytest.mark.parametrize("build, shape", [
    (lambda: rp.nn.Sequential(nn.Conv2d(1, 4, (3, 2), padding="same"), nn.ReLU(),
                              nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2, divisor_override=3),
                              nn.AdaptiveAvgPool2d((2, None)), nn.Flatten()),
     (2, 1, 9, 8)),
    (lambda: rp.nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, bias=False), nn.MaxPool1d(2),
                              nn.AvgPool1d(2, count_include_pad=False), nn.AdaptiveAvgPool1d(3)),
     (2, 2, 20)),
])
def test_a_saved_cnn_loads_with_its_architecture(tmp_path, build, shape):
    model = build()
    path = tmp_path / "cnn.safetensors"
    rp.save(model, path)
    before = rp.random.default_generator().bit_generator.state
    loaded = rp.load(path)
    assert rp.random.default_generator().bit_generator.state == before  # rebuilding draws nothing of ours
    assert repr(loaded) == repr(model)
    x = rp.tensor(keyed_normal(shape, "x").astype(np.float32))
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


@pytest.mark.parametrize("config, message", [
    ({"class": "Conv1d", "config": {"in_channels": 2, "out_channels": 4, "kernel_size": [0]}},
     "positive integer"),
    ({"class": "Conv1d",
      "config": {"in_channels": 2, "out_channels": 4, "kernel_size": 3, "padding": "full"}},
     "'same' or 'valid'"),
    ({"class": "AdaptiveAvgPool2d", "config": {"output_size": [2, -1]}}, "non-negative integer"),
    ({"class": "AvgPool2d", "config": {"kernel_size": 2, "divisor_override": 1.5}}, "integer or null"),
    ({"class": "Conv2d", "config": {"in_channels": 2, "out_channels": 4, "kernel_size": [100000, 100000]}},
     "more than 2,147,483,648 weights"),
])
def test_a_bad_cnn_architecture_is_refused_before_anything_is_built(config, message):
    from retroprop.architecture import describe
    from retroprop.containers import FileFormatError

    with pytest.raises(FileFormatError, match=message):
        describe(config)
