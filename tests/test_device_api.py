"""The no-op device API (issue 14): torch scripts that pick a device and move tensors to it run on
retroprop's CPU unchanged; naming an accelerator raises ``DeviceError`` saying retroprop runs on
the CPU only. ``Tensor.to``'s argument forms, results and identity are checked against torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.devices import DeviceError


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


# ---------------------------------------------------------------------------------------------
# rp.device
# ---------------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("args", [("cpu",), ("cpu:0",), ("cpu", 0), ("cpu:3",)], ids=str)
def test_device_reads_like_torch(torch: Any, args: tuple[Any, ...]) -> None:
    ours, theirs = rp.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert rp.device(ours) == ours and hash(rp.device(ours)) == hash(ours)


def test_device_equality_as_torch() -> None:
    assert rp.device("cpu") == rp.device("cpu")
    assert rp.device("cpu") != rp.device("cpu:0")  # torch: the index counts
    assert rp.device("cpu") != "cpu"
    assert rp.device(type="cpu").type == "cpu"


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps", "xpu", "meta"])
def test_accelerators_raise_naming_the_cpu_only(name: str) -> None:
    with pytest.raises(DeviceError, match="runs on the CPU only"):
        rp.device(name)
    with pytest.raises(RuntimeError):  # torch's class for device errors
        rp.device(name)


@pytest.mark.torch
@pytest.mark.parametrize(("args", "error"), [
    (("foo",), DeviceError), (("CPU",), DeviceError), ((" cpu",), DeviceError), (("cpu:-1",), DeviceError),
    (("cpu", -1), DeviceError), ((None,), TypeError), ((3.0,), TypeError),
], ids=str)
def test_bad_device_strings_raise_as_torch(torch: Any, args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(Exception) as theirs:  # torch's class is the oracle
        torch.device(*args)
    with pytest.raises(error) as ours:
        rp.device(*args)
    assert isinstance(ours.value, theirs.type)


def test_availability_queries_answer_false() -> None:
    assert rp.cuda.is_available() is False and rp.cuda.device_count() == 0
    assert rp.cuda.is_initialized() is False
    assert rp.backends.mps.is_available() is False and rp.backends.mps.is_built() is False
    assert rp.backends.cudnn.is_available() is False
    rp.cuda.manual_seed(0)  # ignored, as torch ignores CUDA seeds without CUDA
    rp.cuda.manual_seed_all(0)
    with pytest.raises(DeviceError):
        rp.cuda.current_device()
    cudnn = importlib.import_module("retroprop.backends.cudnn")  # torch scripts import it so
    assert cudnn is rp.backends.cudnn


def test_accelerator_and_default_device_queries() -> None:
    assert rp.accelerator.is_available() is False and rp.accelerator.device_count() == 0
    assert rp.accelerator.current_accelerator() is None
    assert rp.accelerator.current_accelerator(check_available=True) is None
    assert rp.get_default_device() == rp.device("cpu")
    rp.set_default_device("cpu")
    rp.set_default_device(None)
    with pytest.raises(DeviceError, match="CPU only"):
        rp.set_default_device("cuda")


def test_pytorch_beginner_script_device_lines_run() -> None:
    # the device lines of PyTorch's quickstart and polynomial tutorials, with `torch` as retroprop
    torch = rp
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    dtype = torch.float
    x = torch.linspace(-np.pi, np.pi, 200, device=device, dtype=dtype)
    a = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    loss = ((a * x - x) ** 2).sum()
    loss.backward()
    assert x.dtype == torch.float32 and a.grad is not None and a.device == torch.device(device)


def test_a_torch_style_device_pick_runs_on_the_cpu() -> None:
    device = rp.device("cuda" if rp.cuda.is_available() else "cpu")
    mps = rp.device("mps") if rp.backends.mps.is_available() else device
    x = rp.randn(4, 3, device=device).to(mps)
    y = (x * 2).sum().to("cpu").item()
    assert isinstance(y, float) and x.device == rp.device("cpu") and x.device.type == "cpu"


# ---------------------------------------------------------------------------------------------
# Tensor.to, .cpu(), .cuda(), .device and the dtype converters
# ---------------------------------------------------------------------------------------------
TO_FORMS = {
    "device-str": lambda m, x, o: x.to("cpu"),
    "device": lambda m, x, o: x.to(m.device("cpu")),
    "same-dtype": lambda m, x, o: x.to(m.float32),
    "dtype": lambda m, x, o: x.to(m.float64),
    "python-type": lambda m, x, o: x.to(float),
    "device-dtype": lambda m, x, o: x.to("cpu", m.float64),
    "device-obj-dtype": lambda m, x, o: x.to(m.device("cpu"), m.float64),
    "keywords": lambda m, x, o: x.to(device="cpu", dtype=m.float64),
    "dtype-kw": lambda m, x, o: x.to(dtype=m.float64),
    "other-tensor": lambda m, x, o: x.to(o),
    "copy": lambda m, x, o: x.to("cpu", copy=True),
    "dtype-flags": lambda m, x, o: x.to(m.float64, False, True),
    "device-dtype-flags": lambda m, x, o: x.to("cpu", m.float64, True, True),
    "non-blocking": lambda m, x, o: x.to(m.float64, non_blocking=True),
    "nothing": lambda m, x, o: x.to(),
    "to-int": lambda m, x, o: x.to(m.int64),
    "to-bool": lambda m, x, o: x.to(m.bool),
    "long": lambda m, x, o: x.long(),
    "int": lambda m, x, o: x.int(),
    "bool": lambda m, x, o: x.bool(),
    "half": lambda m, x, o: x.half(),
    "float": lambda m, x, o: x.float(),
    "double": lambda m, x, o: x.double(),
    "cpu": lambda m, x, o: x.cpu(),
}


@pytest.mark.torch
@pytest.mark.parametrize("convert", TO_FORMS.values(), ids=TO_FORMS.keys())
def test_to_forms_match_torch(torch: Any, convert: Callable[..., Any]) -> None:
    x, t = rp.tensor([1.5, -2.0, 0.0], requires_grad=True), torch.tensor([1.5, -2.0, 0.0], requires_grad=True)
    ours = convert(rp, x, rp.tensor([1], dtype=rp.int32))
    theirs = convert(torch, t, torch.tensor([1], dtype=torch.int32))
    assert (ours is x) == (theirs is t)  # the tensor itself when nothing changes, as torch
    assert ours.dtype == theirs.detach().numpy().dtype
    assert ours.requires_grad == theirs.requires_grad  # integer and bool results leave the graph
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    if ours.requires_grad and ours is not x:  # a cast copy stays differentiable
        (ours * ours).sum().backward()
        (theirs * theirs).sum().backward()
        np.testing.assert_allclose(x.grad, t.grad.numpy())
        assert x.grad.dtype == np.float32


@pytest.mark.torch
@pytest.mark.parametrize(("convert", "error"), [
    (lambda m, x: x.to("cuda"), DeviceError),
    (lambda m, x: x.to("cuda", m.float64), DeviceError),
    (lambda m, x: x.to(device="mps"), DeviceError),
    (lambda m, x: x.to(0), DeviceError),
    (lambda m, x: x.to("foo"), DeviceError),
    (lambda m, x: x.cuda(), DeviceError),
    (lambda m, x: x.to("cpu", "cpu"), TypeError),
    (lambda m, x: x.to(m.float64, m.float32), TypeError),
    (lambda m, x: x.to(m.float64, dtype=m.float32), TypeError),
    (lambda m, x: x.to(m.float64, wrong=True), TypeError),
], ids=["cuda", "cuda-dtype", "mps-kw", "index", "foo", "cuda()", "two-devices", "two-dtypes",
        "dtype-twice", "bad-keyword"])
def test_to_refuses_what_torch_refuses(torch: Any, convert: Callable[..., Any], error: type) -> None:
    with pytest.raises(Exception) as theirs:  # torch's class is the oracle
        convert(torch, torch.tensor([1.0]))
    with pytest.raises(error) as ours:
        convert(rp, rp.tensor([1.0]))
    if theirs.type is not AssertionError:  # torch: "Torch not compiled with CUDA enabled"
        assert isinstance(ours.value, theirs.type)
    if error is DeviceError and "foo" not in str(ours.value):
        assert "CPU only" in str(ours.value)


def test_tensor_device_properties() -> None:
    x = rp.ones(2)
    assert x.device == rp.device("cpu") and str(x.device) == "cpu"
    assert x.is_cuda is False and x.is_cpu is True
    assert x.cpu() is x


@pytest.mark.torch
def test_to_with_a_torch_device_object(torch: Any) -> None:
    x = rp.ones(2)
    assert x.to(torch.device("cpu")) is x
    assert rp.zeros(2, device=torch.device("cpu")).device == rp.device("cpu")
    with pytest.raises(DeviceError, match="CPU only"):
        rp.zeros(2, device=torch.device("meta"))


# ---------------------------------------------------------------------------------------------
# device= on every factory
# ---------------------------------------------------------------------------------------------
FACTORIES = {
    "tensor": lambda d: rp.tensor([1.0], device=d),
    "as_tensor": lambda d: rp.as_tensor([1.0], device=d),
    "zeros": lambda d: rp.zeros(2, device=d),
    "ones": lambda d: rp.ones(2, device=d),
    "empty": lambda d: rp.empty(2, device=d),
    "full": lambda d: rp.full((2,), 1.0, device=d),
    "eye": lambda d: rp.eye(2, device=d),
    "arange": lambda d: rp.arange(3, device=d),
    "linspace": lambda d: rp.linspace(0, 1, 3, device=d),
    "logspace": lambda d: rp.logspace(0, 1, 3, device=d),
    "zeros_like": lambda d: rp.zeros_like(rp.ones(2), device=d),
    "ones_like": lambda d: rp.ones_like(rp.ones(2), device=d),
    "empty_like": lambda d: rp.empty_like(rp.ones(2), device=d),
    "full_like": lambda d: rp.full_like(rp.ones(2), 3.0, device=d),
    "rand": lambda d: rp.rand(2, device=d),
    "randn": lambda d: rp.randn(2, device=d),
    "randint": lambda d: rp.randint(0, 3, (2,), device=d),
    "normal": lambda d: rp.normal(0.0, 1.0, (2,), device=d),
    "normal-tensor": lambda d: rp.normal(rp.zeros(2), 1.0, device=d),
    "rand_like": lambda d: rp.rand_like(rp.ones(2), device=d),
    "randn_like": lambda d: rp.randn_like(rp.ones(2), device=d),
    "randint_like": lambda d: rp.randint_like(rp.ones(2), 3, device=d),
    "Generator": lambda d: rp.Generator(device=d),
}


@pytest.mark.parametrize("make", FACTORIES.values(), ids=FACTORIES.keys())
def test_every_factory_takes_the_cpu_and_refuses_accelerators(make: Callable[[Any], Any]) -> None:
    for cpu in (None, "cpu", "cpu:0", rp.device("cpu")):
        made = make(cpu)
        assert made.device == rp.device("cpu")
    for accelerator in ("cuda", "cuda:1", "mps", 0):
        with pytest.raises(DeviceError, match="CPU only"):
            make(accelerator)
    with pytest.raises(TypeError, match="device"):
        make(3.5)


def test_a_refused_device_draws_nothing() -> None:
    rp.manual_seed(4)
    expected = rp.rand(3).numpy()
    rp.manual_seed(4)
    for draw in (lambda: rp.rand(3, device="cuda"), lambda: rp.randn(3, device="cuda"),
                 lambda: rp.randint(0, 5, (3,), device="cuda"),
                 lambda: rp.normal(0.0, 1.0, (3,), device="cuda")):
        with pytest.raises(DeviceError):
            draw()
    np.testing.assert_array_equal(rp.rand(3).numpy(), expected)


# ---------------------------------------------------------------------------------------------
# Module.to(device) reads torch's to() arguments
# ---------------------------------------------------------------------------------------------
def test_module_to_device() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    assert model.to(rp.device("cpu")) is model
    assert model.to("cpu", rp.float64) is model and model[0].weight.dtype == np.float64
    assert model.cpu() is model
    with pytest.raises(DeviceError, match="CPU only"):
        model.to("cuda")
    with pytest.raises(DeviceError, match="CPU only"):
        model.cuda()
