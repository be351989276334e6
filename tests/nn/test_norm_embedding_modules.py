"""nn.LayerNorm, nn.BatchNorm2d (and BatchNorm1d on (N, C, L)), nn.GroupNorm and nn.Embedding against
torch 2.13.0: initialization, forward and backward in training and evaluation, running statistics
over several steps, state_dict keys, repr, errors, and rp.save / rp.load round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.architecture import describe
from retroprop.containers import FileFormatError
from tests.helpers import keyed_normal

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-7, "atol": 1e-10}


def _same_weights(ours: nn.Module, theirs: Any, key: str) -> None:
    """Give both modules the same random affine parameters (they start at ones and zeros)."""
    with torch.no_grad():
        for name, param in theirs.named_parameters():
            param.copy_(torch.tensor(1 + 0.3 * keyed_normal(tuple(param.shape), key, name)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def _step(ours: nn.Module, theirs: Any, x: np.ndarray, seed: int) -> None:
    """One forward and backward pass through both; outputs and all gradients must agree."""
    rx = rp.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, t_out = ours(rx), theirs(tx)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TOL)
    g = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)
    out.backward(g)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(rx.grad, tx.grad.numpy(), **TOL, err_msg="input gradient")
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad, param.grad.numpy(), **TOL, err_msg=name)


def _same_state(ours: nn.Module, theirs: Any) -> None:
    state, t_state = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(t_state)
    for key, value in t_state.items():
        np.testing.assert_allclose(state[key], value.numpy(), **TOL, err_msg=key)
        assert state[key].shape == tuple(value.shape), key


# ---------------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"eps": 1e-3}, {"bias": False}, {"elementwise_affine": False}])
@pytest.mark.parametrize(("shape", "normalized"), [((4, 6), 6), ((2, 3, 4, 5), (4, 5)), ((3, 2, 4), [2, 4])])
def test_layer_norm_matches_torch(shape: tuple[int, ...], normalized: Any, options: dict[str, Any]) -> None:
    ours = nn.LayerNorm(normalized, dtype=np.float64, **options)
    theirs = torch.nn.LayerNorm(normalized, dtype=torch.float64, **options)
    _same_state(ours, theirs)  # ones and zeros, the same keys
    assert repr(ours) == repr(theirs)
    _same_weights(ours, theirs, "ln")
    for mode in (True, False):  # no running statistics: the same in both modes
        ours.train(mode)
        theirs.train(mode)
        _step(ours, theirs, 2 * keyed_normal(shape, "ln-x", mode) + 1, seed=int(mode))


def test_layer_norm_defaults_and_config() -> None:
    layer = nn.LayerNorm(5)
    assert layer.normalized_shape == (5,) and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, np.ones(5))
    np.testing.assert_array_equal(layer.bias.data, np.zeros(5))
    assert layer.get_config() == {"normalized_shape": [5], "eps": 1e-5, "elementwise_affine": True,
                                  "bias": True}
    assert nn.LayerNorm((2, 3), bias=False).get_config()["normalized_shape"] == [2, 3]


def test_layer_norm_wrong_input_shape_is_refused_as_torch() -> None:
    with pytest.raises(RuntimeError):
        torch.nn.LayerNorm(4)(torch.zeros(3, 5))
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\].*\(3, 5\)"):
        nn.LayerNorm(4)(rp.zeros(3, 5))
    with pytest.raises(RuntimeError, match="at least 1-dimensional"):
        nn.LayerNorm([])


# ---------------------------------------------------------------------------------------------
# BatchNorm2d and BatchNorm1d
# ---------------------------------------------------------------------------------------------
BN_OPTIONS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False},
              {"track_running_stats": False}, {"bias": False}]


@pytest.mark.parametrize("options", BN_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize(("cls", "shape"), [("BatchNorm2d", (4, 3, 5, 2)), ("BatchNorm1d", (4, 3, 6)),
                                            ("BatchNorm1d", (5, 3))])
def test_batch_norm_matches_torch_over_several_steps(cls: str, shape: tuple[int, ...],
                                                     options: dict[str, Any]) -> None:
    ours = getattr(nn, cls)(3, dtype=np.float64, **options)
    theirs = getattr(torch.nn, cls)(3, dtype=torch.float64, **options)
    _same_state(ours, theirs)
    assert repr(ours) == repr(theirs)
    _same_weights(ours, theirs, cls)
    for step in range(3):  # running statistics: momentum (or the cumulative average) and unbiased variance
        _step(ours, theirs, (step + 1) * keyed_normal(shape, cls, step) + step, seed=step)
        _same_state(ours, theirs)
    ours.eval()
    theirs.eval()
    _step(ours, theirs, keyed_normal(shape, cls, "eval") + 2, seed=7)
    _same_state(ours, theirs)


def test_batch_norm2d_statistics_are_per_channel_over_batch_and_positions() -> None:
    scale, shift = np.array([1.0, 5.0])[:, None, None], np.array([0.0, 3.0])[:, None, None]
    x = keyed_normal((6, 2, 3, 4), "stats") * scale + shift
    layer = nn.BatchNorm2d(2, momentum=1.0, dtype=np.float64)
    out = layer(rp.tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps keeps it just under 1
    np.testing.assert_allclose(layer.running_mean.data, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    assert int(layer.num_batches_tracked.data) == 1


@pytest.mark.parametrize(("cls", "shape"), [("BatchNorm2d", (2, 3, 4)), ("BatchNorm2d", (2, 3, 4, 5, 6)),
                                            ("BatchNorm1d", (2, 3, 4, 5))])
def test_batch_norm_wrong_rank_is_refused_as_torch(cls: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        getattr(torch.nn, cls)(3)(torch.zeros(shape))
    with pytest.raises(ValueError, match=f"{cls} 3 expects input"):
        getattr(nn, cls)(3)(rp.zeros(*shape))


@pytest.mark.parametrize("cls", ["BatchNorm2d", "GroupNorm", "LayerNorm"])
def test_reset_parameters_restores_a_new_layer_s_state(cls: str) -> None:
    args = {"BatchNorm2d": (3,), "GroupNorm": (3, 3), "LayerNorm": ((3, 2, 2),)}[cls]
    layer = getattr(nn, cls)(*args)
    fresh = layer.state_dict()
    layer(rp.tensor(keyed_normal((4, 3, 2, 2), cls).astype(np.float32))).sum().backward()
    with rp.no_grad():
        for param in layer.parameters():
            param.data[...] = param.grad
    assert any(not np.array_equal(layer.state_dict()[k], v) for k, v in fresh.items())
    layer.reset_parameters()
    for key, value in fresh.items():
        np.testing.assert_array_equal(layer.state_dict()[key], value, err_msg=key)


def test_batch_norm2d_wrong_channels_and_single_value_batches_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got shape \(2, 4, 2, 2\)"):
        nn.BatchNorm2d(3)(rp.zeros(2, 4, 2, 2))
    with pytest.raises(ValueError):
        torch.nn.BatchNorm2d(3)(torch.zeros(1, 3, 1, 1))
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        nn.BatchNorm2d(3)(rp.zeros(1, 3, 1, 1))
    assert nn.BatchNorm2d(3).eval()(rp.zeros(1, 3, 1, 1)).shape == (1, 3, 1, 1)


def test_batch_norm2d_in_a_convolutional_model_trains() -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 5 * 5, 2))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    x = rp.tensor(keyed_normal((8, 1, 5, 5), "conv").astype(np.float32))
    y = rp.tensor(np.arange(8) % 2)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = rp.F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[-1] < losses[0]
    assert model[1].weight.grad is not None and int(model[1].num_batches_tracked.data) == 5


# ---------------------------------------------------------------------------------------------
# GroupNorm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"bias": False}, {"eps": 1e-2}])
def test_group_norm_matches_torch(options: dict[str, Any]) -> None:
    ours = nn.GroupNorm(2, 6, dtype=np.float64, **options)
    theirs = torch.nn.GroupNorm(2, 6, dtype=torch.float64, **options)
    _same_state(ours, theirs)
    assert repr(ours) == repr(theirs)
    _same_weights(ours, theirs, "gn")
    _step(ours, theirs, keyed_normal((3, 6, 4, 2), "gn") * 2 - 1, seed=0)


def test_group_norm_refuses_what_torch_refuses() -> None:
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"\(N, 6, \*\)"):
        nn.GroupNorm(2, 6)(rp.zeros(2, 4, 3))


# ---------------------------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx: int | None) -> None:
    table = keyed_normal((6, 4), "emb")
    ours = nn.Embedding(6, 4, padding_idx, _weight=table)
    theirs = torch.nn.Embedding(6, 4, padding_idx, _weight=torch.tensor(table))
    assert repr(ours) == repr(theirs) and ours.padding_idx == theirs.padding_idx
    indices = np.array([[0, 5, 2], [2, 2, 1]])
    out, t_out = ours(rp.tensor(indices)), theirs(torch.tensor(indices))
    np.testing.assert_array_equal(out.data, t_out.detach().numpy())
    g = keyed_normal(out.shape, "g")
    out.backward(g)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOL)
    _same_state(ours, theirs)


def test_embedding_initialization_is_standard_normal_with_the_padding_row_zeroed() -> None:
    rp.manual_seed(3)
    layer = nn.Embedding(500, 40, padding_idx=7)
    weight = layer.weight.data
    assert weight.dtype == np.float32 and weight.shape == (500, 40) and layer.weight.requires_grad
    np.testing.assert_array_equal(weight[7], 0)
    rest = np.delete(weight, 7, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    rp.manual_seed(3)
    np.testing.assert_array_equal(nn.Embedding(500, 40, padding_idx=7).weight.data, weight)
    drawn = nn.Embedding(3, 2, generator=np.random.default_rng(5)).weight.data
    np.testing.assert_array_equal(drawn, np.random.default_rng(5).normal(size=(3, 2)).astype(np.float32))


def test_embedding_from_pretrained_freezes_by_default() -> None:
    table = keyed_normal((4, 3), "pre")
    frozen = nn.Embedding.from_pretrained(rp.tensor(table), padding_idx=1)
    assert not frozen.weight.requires_grad and frozen.padding_idx == 1
    np.testing.assert_array_equal(frozen.weight.data, table)  # the padding row is kept as given, as torch
    assert frozen(rp.tensor([1, 3])).requires_grad is False
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    trainable(rp.tensor([3, 3])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad[3], [2, 2, 2])
    t_frozen = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    assert repr(frozen) == repr(t_frozen)
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_embedding_errors() -> None:
    layer = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range.*\[0, 4\]"):
        layer(rp.tensor([[1, 5]]))
    with pytest.raises(RuntimeError, match="integer"):
        layer(rp.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="does not match"):
        nn.Embedding(5, 2, _weight=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="embedding_dim"):
        nn.Embedding(5, 0)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(5, 2, max_norm=1.0)


# ---------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_models_with_the_new_layers_round_trip(tmp_path: Path, fmt: str) -> None:
    rp.manual_seed(0)
    text = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.LayerNorm(4, eps=1e-3), nn.Flatten(),
                         nn.LayerNorm([12], bias=False), nn.Linear(12, 2))
    image = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4, momentum=None, bias=False),
                          nn.GroupNorm(2, 4), nn.LayerNorm((3, 3), elementwise_affine=False), nn.Flatten(),
                          nn.Linear(36, 3))
    tokens = rp.tensor(np.array([[1, 2, 0], [9, 9, 3]]))
    pixels = rp.tensor(keyed_normal((5, 2, 5, 5), "img").astype(np.float32))
    with rp.no_grad():
        for _ in range(2):
            image(pixels)  # running statistics that are not the defaults
    for model, x in ((text, tokens), (image, pixels)):
        model.eval()
        path = tmp_path / f"model.{fmt}"
        rp.save(model, path)
        loaded = rp.load(path)
        assert [layer.get_config() for layer in loaded] == [layer.get_config() for layer in model]
        assert list(loaded.state_dict()) == list(model.state_dict())
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(loaded.state_dict()[key], value, err_msg=key)
        loaded.eval()
        with rp.no_grad():
            np.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_loading_an_embedding_leaves_the_random_stream_alone(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Embedding(50, 8))
    rp.save(model, tmp_path / "e.safetensors")
    rp.manual_seed(1)
    rp.load(tmp_path / "e.safetensors")
    after_load = rp.randn(3).data
    rp.manual_seed(1)
    np.testing.assert_array_equal(rp.randn(3).data, after_load)


@pytest.mark.parametrize(("layer", "message"), [
    ({"class": "LayerNorm", "config": {"normalized_shape": [4, 0.5]}}, "normalized_shape"),
    ({"class": "LayerNorm", "config": {"normalized_shape": []}}, "normalized_shape"),
    ({"class": "LayerNorm", "config": {"normalized_shape": 4, "eps": -1.0}}, "non-negative"),
    ({"class": "LayerNorm", "config": {"normalized_shape": 4, "elementwise_affine": 1}}, "true or false"),
    ({"class": "BatchNorm2d", "config": {"num_features": 0}}, "positive integer"),
    ({"class": "BatchNorm2d", "config": {"num_features": 3, "eps": True}}, "finite number"),
    ({"class": "BatchNorm2d", "config": {"num_features": 3, "bias": "no"}}, "true or false"),
    ({"class": "GroupNorm", "config": {"num_groups": 4, "num_channels": 6}}, "divisible"),
    ({"class": "Embedding", "config": {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5}},
     "padding_idx"),
    ({"class": "Embedding", "config": {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": 1.0}},
     "integer"),
    ({"class": "Embedding", "config": {"num_embeddings": 5}}, "missing argument 'embedding_dim'"),
    ({"class": "Embedding", "config": {"num_embeddings": 2**20, "embedding_dim": 2**20}}, "more than"),
])
def test_describe_refuses_bad_arguments_of_the_new_layers(layer: dict[str, Any], message: str) -> None:
    with pytest.raises(FileFormatError, match=message):
        describe({"class": "Sequential", "layers": [layer]})


def test_describe_lays_out_the_weights_of_the_new_layers() -> None:
    _, layout = describe({"class": "Sequential", "layers": [
        {"class": "Embedding", "config": {"num_embeddings": 7, "embedding_dim": 3, "padding_idx": -1}},
        {"class": "LayerNorm", "config": {"normalized_shape": [2, 3]}},
        {"class": "BatchNorm2d", "config": {"num_features": 3, "affine": True, "bias": False}},
        {"class": "GroupNorm", "config": {"num_groups": 1, "num_channels": 3, "affine": False}},
    ]})
    assert dict(layout) == {
        "0.weight": ((7, 3), "float"), "1.weight": ((2, 3), "float"), "1.bias": ((2, 3), "float"),
        "2.weight": ((3,), "float"), "2.running_mean": ((3,), "float"), "2.running_var": ((3,), "float"),
        "2.num_batches_tracked": ((), "int64"),
    }
