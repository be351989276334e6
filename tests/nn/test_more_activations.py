"""SiLU, Mish, Hardswish, Hardsigmoid, ReLU6, Hardtanh, Softsign, LogSigmoid and Softplus (and the
older leaky_relu, elu, selu, gelu) against torch 2.13.0: forward values, gradients and dtypes in
float32 and float64, 0-d and batched inputs, the values at the kinks (the gradient torch gives at
exactly 0, 6, ±1 or ±3), large |x| without overflow, NaN and inf, integer inputs; float64 finite
differences away from the kinks; the modules' reprs and their save/load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import F, nn
from tests.helpers import assert_matches_torch, away_from, check_grad, keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float64, id="f64"), pytest.param(np.float32, id="f32")]

# name -> (retroprop function, torch function, kinks where the derivative jumps)
ACTIVATIONS = {
    "silu": (F.silu, TF.silu, ()),
    "mish": (F.mish, TF.mish, ()),
    "hardswish": (F.hardswish, TF.hardswish, (-3.0, 3.0)),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, (-3.0, 3.0)),
    "relu6": (F.relu6, TF.relu6, (0.0, 6.0)),
    "hardtanh": (F.hardtanh, TF.hardtanh, (-1.0, 1.0)),
    "hardtanh(-2,3)": (lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0), (-2.0, 3.0)),
    "softsign": (F.softsign, TF.softsign, ()),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid, ()),
    "softplus": (F.softplus, TF.softplus, ()),
    "softplus(2,5)": (lambda x: F.softplus(x, 2.0, 5.0), lambda x: TF.softplus(x, 2.0, 5.0), (2.5,)),
    "softplus(-1)": (lambda x: F.softplus(x, -1.0), lambda x: TF.softplus(x, -1.0), ()),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), (0.0,)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7), (0.0,)),
    "selu": (F.selu, TF.selu, (0.0,)),
    "gelu": (F.gelu, TF.gelu, ()),
    "gelu-tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), ()),
}
NAMES = list(ACTIVATIONS)
KINKS = np.array([-100.0, -6.0, -3.0, -2.0, -1.0, -0.0, 0.0, 1.0, 2.5, 3.0, 6.0, 20.0, 100.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [pytest.param((2, 3, 4), id="3d"), pytest.param((), id="0d")])
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name: str, shape: tuple[int, ...], dtype: Any) -> None:
    mine, theirs, _ = ACTIVATIONS[name]
    x = 4 * keyed_normal(shape, name)
    assert_matches_torch(mine, theirs, x, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_at_the_kinks_as_torch(name: str, dtype: Any) -> None:
    """Exactly at 0, ±1, ±3, 6, ... torch picks one side's derivative (hardswish: 0 at -3, 1 at 3;
    relu6 and hardtanh: 0 at their bounds; hardsigmoid: 0 at ±3); retroprop must pick the same."""
    mine, theirs, _ = ACTIVATIONS[name]
    assert_matches_torch(mine, theirs, KINKS, dtype=dtype, check_dtype=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_large_inputs_nan_and_inf_as_torch(name: str, dtype: Any) -> None:
    """No overflow at ±100 or ±1e4 (softplus, logsigmoid, mish stay finite), and NaN or inf exactly
    where torch gives them, in values and gradients, without NumPy warnings."""
    mine, theirs, _ = ACTIVATIONS[name]
    x = np.array([-1e4, -100.0, 100.0, 1e4, np.nan, np.inf, -np.inf])
    # where torch's float32 kernel and its float64 one disagree on NaN (gelu at +inf in float32: NaN on
    # an AMD EPYC, inf on the machines of earlier sessions), torch's float64 value is the meaning to follow
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        in_dtype = theirs(torch.tensor(x.astype(dtype))).numpy()
        in_float64 = theirs(torch.tensor(x)).numpy()
    split = np.isnan(in_dtype) != np.isnan(in_float64)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # NumPy's default warnings
        assert_matches_torch(mine, theirs, x[~split], dtype=dtype, check_dtype=True)
        if split.any():
            np.testing.assert_array_equal(mine(rp.tensor(x[split].astype(dtype))).data,
                                          in_float64[split].astype(dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        t = rp.tensor(np.array([-100.0, 100.0], dtype), requires_grad=True)
        out = mine(t)
        out.sum().backward()
    assert np.isfinite(out.data).all() and np.isfinite(t.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_finite_differences_away_from_kinks(name: str) -> None:
    mine, _, kinks = ACTIVATIONS[name]
    x = away_from(4 * keyed_normal((3, 5), name, "fd"), kinks, margin=1e-3)
    check_grad(mine, x)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("array", [pytest.param(np.array([-7, -1, 0, 2, 9]), id="int64"),
                                   pytest.param(np.array([True, False]), id="bool")])
def test_integer_inputs_as_torch(name: str, array: np.ndarray) -> None:
    """relu6 and hardtanh keep integers (hardtanh's bounds truncated to integers), softsign gives
    float32, the others refuse integers with a RuntimeError as torch does."""
    mine, theirs, _ = ACTIVATIONS[name]
    try:
        expected = theirs(torch.tensor(array))
    except RuntimeError:
        with pytest.raises((RuntimeError, TypeError)):
            mine(rp.tensor(array))
        return
    out = mine(rp.tensor(array))
    assert out.dtype == expected.numpy().dtype
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)


def test_hardtanh_integer_bounds_are_truncated_and_invalid_bounds_refused() -> None:
    x = np.array([-7, -1, 0, 1, 2, 9])
    out = F.hardtanh(rp.tensor(x), -1.5, 1.5)
    np.testing.assert_array_equal(out.data, TF.hardtanh(torch.tensor(x), -1.5, 1.5).numpy())
    assert out.dtype == np.int64
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(rp.tensor([1.0]), 2.0, 1.0)
    # equal bounds are allowed by the function (every value becomes the bound, no gradient passes)
    assert_matches_torch(lambda t: F.hardtanh(t, 1.0, 1.0), lambda t: TF.hardtanh(t, 1.0, 1.0),
                         np.array([0.0, 1.0, 3.0]))


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------
MODULES = [
    ("SiLU", (), F.silu), ("Mish", (), F.mish), ("Hardswish", (), F.hardswish),
    ("Hardsigmoid", (), F.hardsigmoid), ("ReLU6", (), F.relu6), ("Hardtanh", (), F.hardtanh),
    ("Hardtanh", (-2, 3), lambda x: F.hardtanh(x, -2, 3)), ("Hardtanh", (-0.5, 2.5), None),
    ("Softsign", (), F.softsign), ("LogSigmoid", (), F.logsigmoid), ("Softplus", (), F.softplus),
    ("Softplus", (2, 10), lambda x: F.softplus(x, 2, 10)), ("Softplus", (2.5,), None),
]


@pytest.mark.parametrize(("name", "args", "function"), MODULES)
def test_modules_repr_and_output_as_torch(name: str, args: tuple[Any, ...], function: Any) -> None:
    mine, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert mine.extra_repr() == theirs.extra_repr()
    assert repr(mine).split("  #")[0] == repr(theirs)
    assert not list(mine.parameters())
    x = keyed_normal((4, 5), name, args) * 4
    assert_matches_torch(mine, theirs, x, dtype=np.float32, check_dtype=True)
    if function is not None:
        np.testing.assert_array_equal(mine(rp.tensor(x)).data, function(rp.tensor(x)).data)


def test_module_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"max_val \(1\) must be greater than min_val \(1\)"):
        nn.Hardtanh(1, 1)
    with pytest.raises(TypeError, match="beta must be a number"):
        nn.Softplus(beta="2")
    assert isinstance(nn.ReLU6(), nn.Hardtanh)  # as torch's


def test_saved_models_with_the_new_activations_load(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Linear(3, 6), nn.SiLU(), nn.Linear(6, 6), nn.Mish(), nn.Hardswish(), nn.Hardsigmoid(),
        nn.ReLU6(), nn.Hardtanh(-2, 3), nn.Softsign(), nn.Softplus(beta=2, threshold=10), nn.Linear(6, 2),
        nn.LogSigmoid(),
    )
    path = tmp_path / "model.safetensors"
    rp.save(model, path)
    loaded = rp.load(path)
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    assert repr(loaded[7]).startswith("Hardtanh(min_val=-2.0, max_val=3.0)")
    assert (loaded[9].beta, loaded[9].threshold) == (2.0, 10.0)
    x = rp.tensor(keyed_normal((5, 3), "saved"))
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    loaded.load_state_dict(model.state_dict())  # the configs compare equal (same types)


@pytest.mark.parametrize("name", NAMES)
def test_float16_stays_float16(name: str) -> None:
    mine, theirs, _ = ACTIVATIONS[name]
    x = np.array([-4.0, -0.5, 0.25, 2.5, 7.0], np.float16)
    out, expected = mine(rp.tensor(x)), theirs(torch.tensor(x))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.data.astype(np.float64), expected.numpy().astype(np.float64),
                               rtol=5e-3, atol=1e-3)


@pytest.mark.parametrize("activation", [nn.SiLU, nn.Mish, nn.Softplus, nn.Hardtanh, nn.ReLU6, nn.Hardswish,
                                        nn.Hardsigmoid, nn.Softsign, nn.LogSigmoid])
def test_the_doctor_reads_each_new_activation_as_a_nonlinearity(activation):
    from retroprop.doctor.checks import missing_nonlinearity
    from retroprop.doctor.structure import describe_model

    model = nn.Sequential(nn.Linear(3, 4), activation(), nn.Linear(4, 2))
    layers = describe_model(model)
    assert layers[1]["kind"] == "other_activation"
    assert missing_nonlinearity(layers) == []  # the Linear layers are separated by a nonlinearity


@pytest.mark.parametrize("name, args", [
    ("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.5,)), ("SELU", ()), ("Hardtanh", (-2.0, 3.0)),
    ("ReLU6", ()), ("SiLU", ()), ("Mish", ()), ("Hardswish", ()), ("Hardsigmoid", ()), ("Dropout", (0.25,)),
])
def test_inplace_argument_is_accepted_as_torch_writes_it(name: str, args: tuple) -> None:
    """``inplace=True`` (torch's signature) is accepted and shown as torch shows it; the output and
    its gradient are the out-of-place ones, and the input keeps its values."""
    ours, theirs = getattr(nn, name)(*args, inplace=True), getattr(torch.nn, name)(*args, inplace=True)
    assert repr(ours) == repr(theirs)
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    if name == "Dropout":
        return
    values = np.linspace(-5, 5, 23)
    x = rp.tensor(values, requires_grad=True)
    y = ours(x)
    y.sum().backward()
    t = torch.tensor(values, requires_grad=True)
    getattr(torch.nn, name)(*args)(t).sum().backward()
    np.testing.assert_allclose(y.numpy(), getattr(torch.nn, name)(*args)(torch.tensor(values)).numpy(),
                               rtol=1e-12, atol=1e-12)
    # rtol 1e-7: torch's float64 hardsigmoid backward multiplies by 1/6 rounded to float32
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(x.numpy(), values)
    with pytest.raises(TypeError, match="inplace must be a bool"):
        getattr(nn, name)(*args, inplace="yes")
