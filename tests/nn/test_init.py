"""nn.init: gains, fills, the Glorot/He/LeCun formulas, orthogonality, in-place and reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn

init = nn.init
SHAPE = (512, 512)
WIDE = (256, 1024)  # fan_in 1024, fan_out 256: tells fan_in and fan_out modes apart


def _param(shape=SHAPE, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def _assert_uniform(t, bound):
    data = t.data.astype(np.float64)
    assert np.abs(data).max() <= bound * (1 + 1e-6)
    assert np.abs(data).max() > 0.99 * bound  # actually reaches the bound
    np.testing.assert_allclose(data.std(), bound / math.sqrt(3), rtol=0.02)
    assert abs(data.mean()) < 0.02 * bound


def _assert_normal(t, std, mean=0.0):
    data = t.data.astype(np.float64)
    np.testing.assert_allclose(data.std(), std, rtol=0.02)
    assert abs(data.mean() - mean) < 0.02 * std
    assert np.abs(data - mean).max() > 3 * std  # tails, not a uniform with the same std


# -- calculate_gain (checked against torch in test_torch_parity_nn) ------------------------------
@pytest.mark.parametrize(("name", "param", "gain"), [
    ("linear", None, 1.0), ("identity", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0),
    ("conv3d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5.0 / 3), ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", 0, math.sqrt(2)), ("selu", None, 0.75),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_unknown():
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


# -- constant fills -----------------------------------------------------------------------------
@pytest.mark.parametrize(("fn", "value"), [
    (init.zeros_, 0.0), (init.ones_, 1.0), (lambda t: init.constant_(t, -2.5), -2.5),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_fills_in_place(fn, value, dtype):
    t = nn.Parameter(np.full((3, 4), 9.0, dtype=dtype))
    data = t.data
    out = fn(t)
    assert out is t and t.data is data and t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.full((3, 4), value, dtype=dtype))


def test_init_works_on_plain_tensors_and_1d_for_non_fan_functions():
    t = rp.zeros(10)
    init.uniform_(t, -1, 1)
    init.normal_(t)
    init.constant_(t, 3.0)
    assert np.all(t.data == 3.0)


def test_init_records_no_graph():
    t = _param((4, 4))
    init.normal_(t)
    assert t.is_leaf and t.grad_fn is None and t.requires_grad


# -- uniform_ / normal_ -------------------------------------------------------------------------
def test_uniform_bounds_and_moments():
    t = init.uniform_(_param(), -0.5, 1.5, generator=0)
    data = t.data.astype(np.float64)
    assert data.min() >= -0.5 and data.max() < 1.5
    np.testing.assert_allclose(data.mean(), 0.5, atol=0.01)
    np.testing.assert_allclose(data.std(), 2.0 / math.sqrt(12), rtol=0.02)
    default = init.uniform_(_param((100, 100)), generator=1).data
    assert default.min() >= 0 and default.max() < 1


def test_normal_moments():
    _assert_normal(init.normal_(_param(), mean=2.0, std=0.5, generator=0), 0.5, mean=2.0)
    _assert_normal(init.normal_(_param(), generator=1), 1.0)


# -- Glorot -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [SHAPE, WIDE, (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_uniform(shape, gain):
    fan_in, fan_out = _fans(shape)
    t = init.xavier_uniform_(_param(shape), gain=gain, generator=0)
    _assert_uniform(t, gain * math.sqrt(6 / (fan_in + fan_out)))


@pytest.mark.parametrize("shape", [SHAPE, WIDE, (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_normal(shape, gain):
    fan_in, fan_out = _fans(shape)
    t = init.xavier_normal_(_param(shape), gain=gain, generator=0)
    _assert_normal(t, gain * math.sqrt(2 / (fan_in + fan_out)))


def _fans(shape):
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


# -- He -----------------------------------------------------------------------------------------
KAIMING = [
    ({}, math.sqrt(2.0), "fan_in"),  # default: leaky_relu with a=0, i.e. relu's gain
    ({"mode": "fan_out"}, math.sqrt(2.0), "fan_out"),
    ({"nonlinearity": "relu"}, math.sqrt(2.0), "fan_in"),
    ({"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(2.0), "fan_out"),
    ({"a": 0.2}, math.sqrt(2 / 1.04), "fan_in"),
    ({"a": math.sqrt(5)}, math.sqrt(1 / 3), "fan_in"),  # torch's Linear default
    ({"nonlinearity": "tanh", "mode": "fan_out"}, 5 / 3, "fan_out"),
    ({"nonlinearity": "linear"}, 1.0, "fan_in"),
]


@pytest.mark.parametrize(("kwargs", "gain", "mode"), KAIMING)
@pytest.mark.parametrize("shape", [WIDE, (128, 64, 8)])
def test_kaiming_uniform(kwargs, gain, mode, shape):
    fan_in, fan_out = _fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    t = init.kaiming_uniform_(_param(shape), generator=0, **kwargs)
    _assert_uniform(t, gain * math.sqrt(3 / fan))


@pytest.mark.parametrize(("kwargs", "gain", "mode"), KAIMING)
@pytest.mark.parametrize("shape", [WIDE, (128, 64, 8)])
def test_kaiming_normal(kwargs, gain, mode, shape):
    fan_in, fan_out = _fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    t = init.kaiming_normal_(_param(shape), generator=0, **kwargs)
    _assert_normal(t, gain / math.sqrt(fan))


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_bad_mode(fn):
    with pytest.raises(ValueError, match="mode"):
        fn(_param((4, 4)), mode="fan_avg")


# -- LeCun --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [SHAPE, WIDE])
def test_lecun(shape):
    fan_in = shape[1]
    _assert_uniform(init.lecun_uniform_(_param(shape), generator=0), math.sqrt(3 / fan_in))
    _assert_normal(init.lecun_normal_(_param(shape), generator=0), math.sqrt(1 / fan_in))


# -- orthogonal ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape", [(64, 64), (32, 96), (96, 32)])
def test_orthogonal(shape, gain, dtype):
    w = init.orthogonal_(_param(shape, dtype), gain=gain, generator=0).data.astype(np.float64)
    rows, cols = shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, gain**2 * np.eye(rows), atol=tol * gain**2)
    else:
        np.testing.assert_allclose(w.T @ w, gain**2 * np.eye(cols), atol=tol * gain**2)


def test_orthogonal_flattens_trailing_axes():
    w = init.orthogonal_(_param((8, 4, 4), np.float64), generator=0).data.reshape(8, 16)
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-12)


def test_orthogonal_is_not_always_the_same_matrix():
    a = init.orthogonal_(_param((6, 6)), generator=0).data
    b = init.orthogonal_(_param((6, 6)), generator=1).data
    assert not np.allclose(a, b)


# -- in place, dtype, reproducibility, fan errors -----------------------------------------------
RANDOM_INITS = [
    lambda t, g=None: init.uniform_(t, -1, 1, generator=g),
    lambda t, g=None: init.normal_(t, 0, 1, generator=g),
    lambda t, g=None: init.xavier_uniform_(t, generator=g),
    lambda t, g=None: init.xavier_normal_(t, generator=g),
    lambda t, g=None: init.kaiming_uniform_(t, generator=g),
    lambda t, g=None: init.kaiming_normal_(t, generator=g),
    lambda t, g=None: init.lecun_uniform_(t, generator=g),
    lambda t, g=None: init.lecun_normal_(t, generator=g),
    lambda t, g=None: init.orthogonal_(t, generator=g),
]
IDS = ["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
       "lecun_uniform", "lecun_normal", "orthogonal"]


@pytest.mark.parametrize("fn", RANDOM_INITS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_and_dtype_preserved(fn, dtype):
    t = _param((6, 5), dtype)
    data = t.data
    assert fn(t) is t
    assert t.data is data and t.dtype == dtype
    assert np.any(t.data != 0)


@pytest.mark.parametrize("fn", RANDOM_INITS, ids=IDS)
def test_generator_reproducible(fn):
    a, b, c = fn(_param((6, 5)), 5).data, fn(_param((6, 5)), 5).data, fn(_param((6, 5)), 6).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    d = fn(_param((6, 5)), np.random.default_rng(5)).data
    np.testing.assert_array_equal(a, d)


@pytest.mark.parametrize("fn", RANDOM_INITS, ids=IDS)
def test_manual_seed_reproducible(fn):
    rp.manual_seed(123)
    a, b = fn(_param((6, 5))).data, fn(_param((6, 5))).data
    rp.manual_seed(123)
    np.testing.assert_array_equal(fn(_param((6, 5))).data, a)
    np.testing.assert_array_equal(fn(_param((6, 5))).data, b)
    assert not np.array_equal(a, b)


def test_bad_generator_type():
    with pytest.raises(TypeError, match="generator"):
        init.normal_(_param((2, 2)), generator="seed")


@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                init.kaiming_normal_, init.lecun_uniform_, init.lecun_normal_,
                                init.orthogonal_])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fan_needs_two_axes(fn, shape):
    with pytest.raises(ValueError, match="at least 2 axes"):
        fn(nn.Parameter(np.zeros(shape, dtype=np.float32)))


@pytest.mark.parametrize("shape", [(3000, 50), (7,), (), (0, 4), (5, 3, 2)])
def test_drawing_in_blocks_gives_the_numbers_of_one_draw(shape):
    t = rp.zeros(*shape, dtype=rp.float32) if shape else rp.tensor(0.0, dtype=rp.float32)
    nn.init.normal_(t, 0.5, 2.0, generator=np.random.default_rng(1))
    assert np.array_equal(t.data, np.random.default_rng(1).normal(0.5, 2.0, size=shape).astype(np.float32))
    nn.init.uniform_(t, -1, 2, generator=np.random.default_rng(2))
    assert np.array_equal(t.data, np.random.default_rng(2).uniform(-1, 2, size=shape).astype(np.float32))


def test_initializing_a_large_layer_holds_its_weights_about_once():
    import tracemalloc

    tracemalloc.start()
    try:
        nn.Linear(1024, 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024 * 4 * 1.2  # float32 weights; one float64 draw of them all would be 3x
