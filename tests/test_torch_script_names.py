"""The names PyTorch's beginner scripts reach for beyond the ops: ``x.type(dtype)``, a one-element
integer tensor as an index, ``out=``, ``retroprop.nn.functional``, and ``torch.save(model.state_dict(),
"model.pth")`` / ``torch.load("model.pth", weights_only=True)``."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.containers import FileFormatError

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype, name", [(rp.float, "torch.FloatTensor"), (rp.long, "torch.LongTensor"),
                                         (rp.double, "torch.DoubleTensor"), (rp.bool, "torch.BoolTensor")])
def test_type_names_and_casts_as_torch(dtype: object, name: str) -> None:
    x = rp.tensor([0, 1, 2]).type(dtype)
    t = torch.tensor([0, 1, 2]).type(getattr(torch, name.removeprefix("torch.").replace("Tensor", "").lower()
                                             .replace("float", "float32").replace("double", "float64")
                                             .replace("long", "int64")))
    assert x.type() == name == t.type()
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    assert rp.tensor([1.5]).type("torch.LongTensor").dtype == np.int64


def test_type_keeps_the_gradient_path() -> None:
    x = rp.tensor([1.0, 2.0], requires_grad=True)
    (x.type(rp.double) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.type(rp.float) is x


def test_zero_d_integer_tensors_index_sequences() -> None:
    classes = ["a", "b", "c"]
    assert classes[rp.tensor(2)] == "c" and classes[rp.tensor([0, 1, 2])[1]] == "b"
    for bad in (rp.tensor([0, 1]), rp.tensor(1.0), rp.tensor([1])):
        with pytest.raises(TypeError, match="only 0-d integer tensors can be used as an index"):
            classes[bad]
    rows = np.arange(6).reshape(3, 2)
    assert rows[rp.tensor([1])].shape == (1, 2)  # an index array for NumPy, as retroprop's own indexing


@pytest.mark.parametrize("name, args", [("matmul", ((2, 3), (3, 4))), ("mul", ((2, 3), (2, 3))),
                                        ("add", ((2, 3), (3,))), ("mm", ((2, 3), (3, 2))),
                                        ("div", ((2, 3), (2, 3)))])
def test_out_is_written_as_torch_writes_it(name: str, args: tuple) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=shape) + 2 for shape in args]
    out, t_out = rp.zeros(0, dtype=rp.float64), torch.zeros(0, dtype=torch.float64)  # resized to fit
    returned = getattr(rp, name)(*(rp.tensor(a) for a in arrays), out=out)
    getattr(torch, name)(*(torch.tensor(a) for a in arrays), out=t_out)
    assert returned is out
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        getattr(rp, name)(rp.tensor(arrays[0], requires_grad=True), rp.tensor(arrays[1]), out=rp.zeros(1))


def test_nn_functional_is_the_functional_module() -> None:
    import retroprop.nn.functional as functional

    assert functional is rp.functional is nn.functional
    assert nn.functional.binary_cross_entropy_with_logits is rp.F.binary_cross_entropy_with_logits


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors", ".npz"])
def test_a_state_dict_is_saved_and_loaded_as_torch_scripts_do(tmp_path, suffix: str) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / f"model{suffix}"
    rp.save(model.state_dict(), path)
    state = rp.load(path, weights_only=True)
    assert list(state) == list(model.state_dict())
    assert all(isinstance(value, rp.Tensor) for value in state.values())
    twin = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    twin.load_state_dict(state)
    x = rp.randn(3, 4)
    np.testing.assert_array_equal(twin(x).numpy(), model(x).numpy())
    np.testing.assert_array_equal(rp.load_state_dict(path)["0.weight"], model[0].weight.numpy())


def test_torch_pickles_are_refused_without_unpickling(tmp_path) -> None:
    path = tmp_path / "torch.pth"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(FileFormatError, match="never unpickles"):
        rp.load(path)
    with pytest.raises(TypeError, match="must be a tensor or an array of numbers"):
        rp.save({"weight": "not an array"}, tmp_path / "bad.pth")
