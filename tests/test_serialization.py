"""rp.save / rp.load / rp.load_state_dict and checkpoints: round trips, interop with the safetensors
package, refusal of damaged files, and exact resumption of training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import ModelCheckpoint
from retroprop.serialization import FileFormatError

FORMATS = ["safetensors", "npz"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def every_layer(batch_norm: bool = True) -> nn.Sequential:
    """A Sequential holding every built-in layer type, with non-default options."""
    rp.manual_seed(0)
    layers: list[nn.Module] = [
        nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(alpha=0.5), nn.SELU(),
        nn.GELU(approximate="tanh"), nn.Identity(),
    ]
    if batch_norm:
        layers.append(nn.BatchNorm1d(8, eps=1e-3, momentum=0.2))
    layers += [
        nn.Dropout(0.3), nn.Linear(8, 8, bias=False), nn.Sigmoid(), nn.Linear(8, 8), nn.Tanh(),
        nn.Linear(8, 4), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1),
    ]
    return nn.Sequential(*layers)


def inputs(n: int = 12) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 2, 3)).astype(np.float32)


def warm_up(model: nn.Module) -> None:
    """A few training-mode forward passes, so BatchNorm's running statistics are not the defaults."""
    model.train()
    with rp.no_grad():
        for i in range(3):
            model(rp.tensor(inputs() * (i + 1) + i))


def assert_same_state(a: nn.Module | dict, b: nn.Module | dict) -> None:
    sa = a if isinstance(a, dict) else a.state_dict()
    sb = b if isinstance(b, dict) else b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert sa[key].shape == sb[key].shape, key
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


def assert_same_layers(a: nn.Sequential, b: nn.Sequential) -> None:
    assert [type(m) for m in a] == [type(m) for m in b]
    for la, lb in zip(a, b, strict=True):
        assert la.get_config() == lb.get_config()


class Custom(nn.Module):
    """A user-defined Module: no config, so rp.load cannot rebuild it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 5), nn.Tanh())
        self.head = nn.Linear(5, 2)

    def forward(self, x: rp.Tensor) -> rp.Tensor:
        return self.head(self.body(x))


# ---------------------------------------------------------------------------------------------
# Model round trips
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [
    pytest.param(True, id="with-batchnorm"), pytest.param(False, id="no-batchnorm"),
])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_layer_round_trips_with_identical_predictions(tmp_path: Path, fmt: str,
                                                             batch_norm: bool, request) -> None:
    model = every_layer(batch_norm)
    warm_up(model)
    model.eval()
    path = tmp_path / f"model.{fmt}"
    rp.save(model, path)
    loaded = rp.load(path)
    assert isinstance(loaded, nn.Sequential)
    assert_same_layers(model, loaded)
    assert_same_state(model, loaded)
    x = inputs()
    np.testing.assert_array_equal(rp.predict(loaded, x), rp.predict(model, x))
    assert loaded.training  # a freshly built model, in training mode as any new Module


@pytest.mark.parametrize("fmt", FORMATS)
def test_batchnorm_running_stats_round_trip_via_state_dict(tmp_path: Path, fmt: str) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8))
    with rp.no_grad():
        for _ in range(3):
            model(rp.randn(10, 6) * 3 + 1)
    assert not np.allclose(model[1].running_mean.data, 0)
    path = tmp_path / f"bn.{fmt}"
    rp.save(model, path)
    state = rp.load_state_dict(path)
    for key in ("1.running_mean", "1.running_var"):
        np.testing.assert_array_equal(state[key], model.state_dict()[key])
    assert int(np.asarray(state["1.num_batches_tracked"]).reshape(-1)[0]) == 3


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_batchnorm_model_loads_with_running_stats(tmp_path: Path, fmt: str) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    rp.fit(model, np.random.default_rng(0).normal(size=(40, 6)), np.arange(40) % 2,
           loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.1), epochs=2,
           batch_size=8, verbose=0)
    path = tmp_path / f"bn.{fmt}"
    rp.save(model, path)
    loaded = rp.load(path)
    assert_same_state(model, loaded)
    assert loaded[1].num_batches_tracked.data.shape == ()
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(rp.predict(loaded, x), rp.predict(model, x))


@pytest.mark.parametrize("fmt", FORMATS)
def test_float64_models_stay_float64(tmp_path: Path, fmt: str) -> None:
    model = every_layer(batch_norm=False).double()
    path = tmp_path / f"double.{fmt}"
    rp.save(model, path)
    loaded = rp.load(path)
    assert loaded.dtype == np.float64
    assert all(p.dtype == np.float64 for p in loaded.parameters())
    assert_same_state(model, loaded)
    x = inputs().astype(np.float64)
    out = rp.predict(loaded, x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, rp.predict(model, x))


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_sequential_with_named_layers_round_trips(tmp_path: Path, fmt: str) -> None:
    from collections import OrderedDict

    rp.manual_seed(3)
    model = nn.Sequential(OrderedDict(
        encoder=nn.Sequential(nn.Linear(4, 6), nn.ReLU()),
        head=nn.Linear(6, 3),
    ))
    path = tmp_path / f"nested.{fmt}"
    rp.save(model, path)
    loaded = rp.load(path)
    assert list(loaded.state_dict()) == ["encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias"]
    assert_same_state(model, loaded)


@pytest.mark.parametrize("fmt", FORMATS)
def test_save_accepts_str_paths_and_creates_folders(tmp_path: Path, fmt: str) -> None:
    model = every_layer(batch_norm=False)
    path = str(tmp_path / "a" / "b" / f"model.{fmt}")
    rp.save(model, path)
    assert_same_state(model, rp.load(path))


# ---------------------------------------------------------------------------------------------
# Interop: the safetensors package and np.load without pickle
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_norm", [
    pytest.param(True, id="with-batchnorm"),
    pytest.param(False, id="no-batchnorm"),
])
def test_safetensors_file_is_readable_by_the_safetensors_package(tmp_path: Path, batch_norm: bool) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model = every_layer(batch_norm)
    warm_up(model)
    path = tmp_path / "model.safetensors"
    rp.save(model, path)
    arrays = safetensors_numpy.load_file(str(path))
    state = model.state_dict()
    assert set(arrays) == set(state)
    for key, value in state.items():
        assert arrays[key].dtype == value.dtype, key
        assert arrays[key].shape == value.shape, key
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def test_safetensors_metadata_is_readable_by_the_safetensors_package(tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors")
    model = every_layer(batch_norm=False)
    path = tmp_path / "model.safetensors"
    rp.save(model, path)
    with safetensors.safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
        keys = list(handle.keys())
    assert metadata["format"] == "retroprop"
    assert json.loads(metadata["architecture"])["class"] == "Sequential"
    assert sorted(keys) == sorted(model.state_dict())


def test_a_plain_safetensors_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "plain.safetensors"
    safetensors_numpy.save_file({"w": np.ones((2, 2), dtype=np.float32)}, str(path))
    with pytest.raises(FileFormatError, match="not a retroprop file") as info:
        rp.load(path)
    assert str(path) in str(info.value)


def test_npz_file_loads_with_allow_pickle_false(tmp_path: Path) -> None:
    model = every_layer(batch_norm=True)
    warm_up(model)
    path = tmp_path / "model.npz"
    rp.save(model, path)
    state = model.state_dict()
    with np.load(path, allow_pickle=False) as archive:
        files = set(archive.files)
        assert set(state) <= files
        for key, value in state.items():
            np.testing.assert_array_equal(archive[key], value, err_msg=key)
            assert archive[key].dtype == value.dtype
        for extra in files - set(state):
            assert archive[extra].dtype != object


def test_checkpoint_npz_loads_with_allow_pickle_false(tmp_path: Path) -> None:
    model = every_layer(batch_norm=False)
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3)
    path = tmp_path / "ckpt.npz"
    rp.save_checkpoint(path, model, optimizer, epoch=1)
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


# ---------------------------------------------------------------------------------------------
# Custom Modules
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_custom_module_saves_and_restores_through_load_state_dict(tmp_path: Path, fmt: str) -> None:
    rp.manual_seed(0)
    model = Custom()
    path = tmp_path / f"custom.{fmt}"
    rp.save(model, path)
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "load_state_dict" in message
    rp.manual_seed(1)
    other = Custom()
    assert not np.array_equal(other.head.weight.data, model.head.weight.data)
    other.load_state_dict(rp.load_state_dict(path))
    assert_same_state(model, other)
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(rp.predict(other, x), rp.predict(model, x))


def test_sequential_holding_a_custom_module_is_saved_without_architecture(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 3), Custom())
    path = tmp_path / "mixed.safetensors"
    rp.save(model, path)
    with pytest.raises(FileFormatError, match="load_state_dict"):
        rp.load(path)
    other = nn.Sequential(nn.Linear(3, 3), Custom())
    other.load_state_dict(rp.load_state_dict(path))
    assert_same_state(model, other)


# ---------------------------------------------------------------------------------------------
# Damaged, foreign and missing files
# ---------------------------------------------------------------------------------------------
def _saved(tmp_path: Path, fmt: str) -> Path:
    model = every_layer(batch_norm=False)
    path = tmp_path / f"good.{fmt}"
    rp.save(model, path)
    return path


def _write_like(tmp_path: Path, fmt: str, name: str, data: bytes) -> Path:
    path = tmp_path / f"{name}.{fmt}"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("cut", [1, 7, 100])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_truncated_file_is_refused(tmp_path: Path, fmt: str, cut: int) -> None:
    raw = _saved(tmp_path, fmt).read_bytes()
    path = _write_like(tmp_path, fmt, "truncated", raw[:-cut])
    for load in (rp.load, rp.load_state_dict):
        with pytest.raises(FileFormatError) as info:
            load(path)
        message = str(info.value)
        assert str(path) in message
        assert "truncated" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_cut_inside_the_header_is_refused(tmp_path: Path, fmt: str) -> None:
    raw = _saved(tmp_path, fmt).read_bytes()
    path = _write_like(tmp_path, fmt, "stub", raw[:20])
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("offset", [-1, -5, -100])
def test_a_flipped_data_byte_fails_the_checksum_safetensors(tmp_path: Path, offset: int) -> None:
    raw = bytearray(_saved(tmp_path, "safetensors").read_bytes())
    raw[offset] ^= 0x01  # the data section is at the end of the file
    path = _write_like(tmp_path, "safetensors", "flipped", bytes(raw))
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "checksum" in message


def test_a_flipped_data_byte_is_detected_npz(tmp_path: Path) -> None:
    good = _saved(tmp_path, "npz")
    raw = bytearray(good.read_bytes())
    with np.load(good, allow_pickle=False) as archive:
        weight = archive["1.weight"].tobytes()
    offset = bytes(raw).index(weight)  # np.savez stores uncompressed: the array bytes are in the file
    raw[offset + 3] ^= 0x01
    path = _write_like(tmp_path, "npz", "flipped", bytes(raw))
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    message = str(info.value)
    assert str(path) in message
    assert any(word in message for word in ("checksum", "CRC", "altered"))


def test_arrays_swapped_inside_a_valid_npz_fail_the_checksum(tmp_path: Path) -> None:
    """A structurally valid archive whose arrays were edited: only the checksum can tell."""
    good = _saved(tmp_path, "npz")
    with np.load(good, allow_pickle=False) as archive:
        payload = {name: archive[name] for name in archive.files}
    payload["1.weight"] = payload["1.weight"] + np.float32(1.0)
    path = tmp_path / "edited.npz"
    with path.open("wb") as handle:
        np.savez(handle, **payload)
    with pytest.raises(FileFormatError, match="checksum") as info:
        rp.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("content", [b"", b"hello, world", np.random.default_rng(0).bytes(512), b"\x00" * 64],
                         ids=["empty", "text", "random", "zeros"])
def test_a_garbage_file_is_refused(tmp_path: Path, fmt: str, content: bytes) -> None:
    path = _write_like(tmp_path, fmt, "garbage", content)
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    assert str(path) in str(info.value)


def test_a_npy_file_named_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "array.npz"
    with path.open("wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(FileFormatError) as info:
        rp.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["model.pkl", "model", "model.json", "model.ckpt"])
def test_a_wrong_extension_is_refused_on_load_and_save(tmp_path: Path, name: str) -> None:
    good = _saved(tmp_path, "safetensors")
    path = tmp_path / name
    path.write_bytes(good.read_bytes())
    with pytest.raises(ValueError) as info:
        rp.load(path)
    message = str(info.value)
    assert str(path) in message
    assert ".safetensors" in message and ".npz" in message
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz"):
        rp.save(every_layer(batch_norm=False), tmp_path / f"new-{name}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_file_is_refused(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"nowhere.{fmt}"
    for load in (rp.load, rp.load_state_dict):
        with pytest.raises(FileNotFoundError) as info:
            load(path)
        assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        rp.load_checkpoint(path, every_layer(batch_norm=False))


# ---------------------------------------------------------------------------------------------
# Weights into another architecture
# ---------------------------------------------------------------------------------------------
def test_loading_weights_into_a_different_architecture_names_keys_and_shapes(tmp_path: Path) -> None:
    path = tmp_path / "small.safetensors"
    rp.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), path)
    wider = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    before = dict(wider.state_dict())
    with pytest.raises(ValueError) as info:
        wider.load_state_dict(rp.load_state_dict(path))
    message = str(info.value)
    assert "0.weight" in message and "(4, 3)" in message and "(5, 3)" in message
    assert_same_state(before, dict(wider.state_dict()))  # nothing half-loaded
    deeper = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 2))
    with pytest.raises(KeyError) as key_info:
        deeper.load_state_dict(rp.load_state_dict(path))
    assert "3.weight" in str(key_info.value) and "missing" in str(key_info.value)
    shallower = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(KeyError) as key_info:
        shallower.load_state_dict(rp.load_state_dict(path))
    assert "2.weight" in str(key_info.value) and "unexpected" in str(key_info.value)


def test_a_checkpoint_for_another_architecture_is_refused(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4))
    path = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(path, model, epoch=1)
    other = nn.Sequential(nn.Linear(3, 6))
    with pytest.raises(FileFormatError) as info:
        rp.load_checkpoint(path, other)
    message = str(info.value)
    assert str(path) in message and "0.weight" in message


# ---------------------------------------------------------------------------------------------
# Checkpoints and exact resumption
# ---------------------------------------------------------------------------------------------
def _data() -> tuple[np.ndarray, np.ndarray]:
    return rp.data.spiral(90, n_classes=3, noise=0.2, seed=0)


def _build(kind: str, seed: int = 0, batch_norm: bool = False,
           plateau: bool = False) -> tuple[nn.Sequential, rp.optim.Optimizer, object]:
    rp.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(2, 16)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 3)]
    model = nn.Sequential(*layers)
    if kind == "sgd":
        optimizer = rp.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    else:
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-2)
    if plateau:
        scheduler = rp.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5,
                                                            threshold=0.5)
    else:
        scheduler = rp.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    return model, optimizer, scheduler


def _fit(model: nn.Module, optimizer: object, scheduler: object, epochs: int, **kwargs: object) -> rp.History:
    x, y = _data()
    return rp.fit(model, x[:72], y[:72], loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  batch_size=16, shuffle=True, scheduler=scheduler, validation_data=(x[72:], y[72:]),
                  verbose=0, **kwargs)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path: Path, kind: str, fmt: str) -> None:
    total, stop = 5, 2
    model, optimizer, scheduler = _build(kind)
    reference = _fit(model, optimizer, scheduler, total, seed=11)
    reference_state = dict(model.state_dict())

    model, optimizer, scheduler = _build(kind)
    first = _fit(model, optimizer, scheduler, stop, seed=11)
    path = tmp_path / f"ckpt.{fmt}"
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=stop, history=first)

    rp.manual_seed(999)  # a different process state: fresh weights, another random stream
    rp.default_generator().random(17)
    model, optimizer, scheduler = _build(kind, seed=123)
    state = rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    assert state["epoch"] == stop
    assert isinstance(state["history"], rp.History)
    assert state["history"].model is model
    resumed = _fit(model, optimizer, scheduler, total, initial_epoch=state["epoch"],
                   history=state["history"], seed=None)

    assert resumed is state["history"]
    np.testing.assert_array_equal(resumed.step_loss, reference.step_loss)
    assert resumed.epoch == reference.epoch == list(range(total))
    assert resumed.history == reference.history
    assert_same_state(reference_state, dict(model.state_dict()))


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_resuming_a_batchnorm_model_with_a_plateau_scheduler(tmp_path: Path, fmt: str) -> None:
    total, stop = 5, 3
    options = {"kind": "adam", "batch_norm": True, "plateau": True}
    model, optimizer, scheduler = _build(**options)
    reference = _fit(model, optimizer, scheduler, total, seed=2)
    reference_state = dict(model.state_dict())
    assert len(set(reference.history["lr"])) > 1  # the plateau scheduler did act

    model, optimizer, scheduler = _build(**options)
    first = _fit(model, optimizer, scheduler, stop, seed=2)
    path = tmp_path / f"ckpt.{fmt}"
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=stop, history=first)

    model, optimizer, scheduler = _build(**options, seed=8)
    state = rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    resumed = _fit(model, optimizer, scheduler, total, initial_epoch=state["epoch"],
                   history=state["history"])
    np.testing.assert_array_equal(resumed.step_loss, reference.step_loss)
    assert resumed.history == reference.history
    assert_same_state(reference_state, dict(model.state_dict()))


def test_checkpoint_restores_optimizer_scheduler_and_random_state(tmp_path: Path) -> None:
    model, optimizer, scheduler = _build("adam")
    _fit(model, optimizer, scheduler, 2, seed=0)
    path = tmp_path / "ckpt.safetensors"
    rng_state = rp.default_generator().bit_generator.state
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=2)
    saved_opt = optimizer.state_dict()
    saved_sched = scheduler.state_dict()
    expected_draw = rp.default_generator().random(4)

    other, other_optimizer, other_scheduler = _build("adam", seed=5)
    rp.manual_seed(77)
    rp.load_checkpoint(path, other, other_optimizer, scheduler=other_scheduler)
    assert rp.default_generator().bit_generator.state == rng_state
    np.testing.assert_array_equal(rp.default_generator().random(4), expected_draw)
    assert other_scheduler.state_dict() == saved_sched
    assert other_optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])
    loaded_opt = other_optimizer.state_dict()
    assert loaded_opt["param_groups"] == saved_opt["param_groups"]
    for index, entries in saved_opt["state"].items():
        assert loaded_opt["state"][index]["step"] == entries["step"]
        for name in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(loaded_opt["state"][index][name], entries[name])


def test_checkpoint_with_reduce_lr_on_plateau_scheduler(tmp_path: Path) -> None:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    scheduler = rp.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1)
    path = tmp_path / "plateau.npz"
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=0)  # best is still inf
    _fit(model, optimizer, scheduler, 2, seed=0)
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=2)
    other_optimizer = rp.optim.SGD(model.parameters(), lr=0.5)
    other = rp.optim.lr_scheduler.ReduceLROnPlateau(other_optimizer, patience=5)
    rp.load_checkpoint(path, model, other_optimizer, scheduler=other)
    assert other.state_dict() == scheduler.state_dict()
    assert other_optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_model_only_file_is_not_a_checkpoint_and_checkpoints_load_as_models(tmp_path: Path) -> None:
    model = every_layer(batch_norm=False)
    model_path = tmp_path / "model.npz"
    rp.save(model, model_path)
    with pytest.raises(FileFormatError, match="not a checkpoint") as info:
        rp.load_checkpoint(model_path, every_layer(batch_norm=False))
    assert str(model_path) in str(info.value)
    checkpoint_path = tmp_path / "ckpt.npz"
    rp.save_checkpoint(checkpoint_path, model, epoch=3)
    assert_same_state(model, rp.load(checkpoint_path))
    assert_same_state(dict(model.state_dict()), dict(rp.load_state_dict(checkpoint_path)))


def test_checkpoint_without_optimizer_state_is_refused_when_one_is_asked_for(tmp_path: Path) -> None:
    model, optimizer, _ = _build("sgd")
    path = tmp_path / "bare.safetensors"
    rp.save_checkpoint(path, model, epoch=1)
    state = rp.load_checkpoint(path, model)
    assert state["epoch"] == 1
    assert state["history"].epoch == []
    with pytest.raises(FileFormatError, match="optimizer"):
        rp.load_checkpoint(path, model, optimizer)


def _resume_via_model_checkpoint(tmp_path: Path, with_scheduler: bool) -> None:
    total, stop = 4, 2
    model, optimizer, scheduler = _build("sgd")
    scheduler = scheduler if with_scheduler else None
    reference = _fit(model, optimizer, scheduler, total, seed=5)
    reference_state = dict(model.state_dict())

    model, optimizer, scheduler = _build("sgd")
    scheduler = scheduler if with_scheduler else None
    callback = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.safetensors", full=True)
    _fit(model, optimizer, scheduler, total, seed=5, callbacks=[callback])
    assert len(callback.saved) == total

    model, optimizer, scheduler = _build("sgd", seed=9)
    scheduler = scheduler if with_scheduler else None
    state = rp.load_checkpoint(tmp_path / f"ckpt-{stop:02d}.safetensors", model, optimizer,
                               scheduler=scheduler)
    assert state["epoch"] == stop
    resumed = _fit(model, optimizer, scheduler, total, initial_epoch=state["epoch"],
                   history=state["history"], seed=None)
    np.testing.assert_array_equal(resumed.step_loss, reference.step_loss)
    assert resumed.history == reference.history
    assert_same_state(reference_state, dict(model.state_dict()))


def test_resuming_from_model_checkpoint_full_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    _resume_via_model_checkpoint(tmp_path, with_scheduler=False)


def test_resuming_from_model_checkpoint_full_with_a_scheduler_matches(tmp_path: Path) -> None:
    _resume_via_model_checkpoint(tmp_path, with_scheduler=True)


def test_an_edited_architecture_is_refused_too(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.125), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    rp.save(model, path)
    raw = path.read_bytes()
    assert raw.count(b"0.125") == 1, "the slope should appear once, in the header"
    path.write_bytes(raw.replace(b"0.125", b"0.375"))  # same length: only the meaning changes
    with pytest.raises(FileFormatError, match=r"model\.safetensors: checksum mismatch.*architecture"):
        rp.load(path)
