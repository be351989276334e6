"""Findings of a hostile review of the file layer, one test each: checkpoint fields that pass a
type check but break training later (scheduler settings, negative step counts, long or ragged
Histories), zip archives that escape the per-member compression check, metadata members inflated
before their size is checked, and the memory and copies of the normal save and load path."""

from __future__ import annotations

import io
import json
import math
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import containers, nn, serialization
from retroprop.checkpoints import _history
from retroprop.serialization import read_arrays, write_arrays
from tests.test_serialization_hardening import bounded, npy_bytes, refused, rewritten


def adam_run() -> tuple[nn.Sequential, Any, Any]:
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = rp.optim.Adam(model.parameters(), lr=0.01)
    scheduler = rp.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.arange(16) % 2
    rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=8, verbose=0,
           scheduler=scheduler)
    return model, optimizer, scheduler


def state_of(model: nn.Module, optimizer: Any, scheduler: Any) -> str:
    return repr((model.state_dict(), optimizer.state_dict(), scheduler.state_dict(),
                 rp.default_generator().bit_generator.state))


def set_scheduler_entry(key: str, value: Any) -> Any:
    def edit(metadata: dict[str, Any]) -> None:
        metadata["scheduler"]["__dict__"] = [[k, value if k == key else v]
                                             for k, v in metadata["scheduler"]["__dict__"]]
    return edit


# ---------------------------------------------------------------------------------------------
# Checkpoint fields
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "value", "words"), [
    ("step_size", 0, "step_size must be >= 1"),  # training would divide by it
    ("gamma", float("nan"), "gamma must be > 0"),
    ("gamma", -0.5, "gamma must be > 0"),
])
def test_scheduler_settings_its_constructor_refuses_are_refused_and_change_nothing(
        tmp_path: Path, key: str, value: Any, words: str) -> None:
    model, optimizer, scheduler = adam_run()
    source = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(source, model, optimizer, scheduler=scheduler, epoch=1)
    path = rewritten(tmp_path, source, "edited.safetensors", set_scheduler_entry(key, value))
    other, other_optimizer, other_scheduler = adam_run()
    before = state_of(other, other_optimizer, other_scheduler)
    refused(lambda p: rp.load_checkpoint(p, other, other_optimizer, scheduler=other_scheduler), path,
            "field 'scheduler'", words)
    assert state_of(other, other_optimizer, other_scheduler) == before
    refused(rp.load_checkpoint, path, "field 'scheduler'", words)


def test_a_negative_step_count_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    model, optimizer, _ = adam_run()
    source = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(source, model, optimizer, epoch=1)

    def negative_step(metadata: dict[str, Any]) -> None:  # Adam's bias correction would give NaN
        for _, entries in metadata["optimizer"]["__dict__"][0][1]["__dict__"]:
            entries["__dict__"] = [[k, -5 if k == "step" else v] for k, v in entries["__dict__"]]

    path = rewritten(tmp_path, source, "edited.safetensors", negative_step)
    other, other_optimizer, other_scheduler = adam_run()
    before = state_of(other, other_optimizer, other_scheduler)
    refused(lambda p: rp.load_checkpoint(p, other, other_optimizer), path, "step count", "-5")
    assert state_of(other, other_optimizer, other_scheduler) == before
    refused(rp.load_checkpoint, path, "step count")


def test_a_long_history_is_checked_in_about_the_time_json_takes_to_parse_it() -> None:
    count = 100_000  # a long run's per-step losses
    text = json.dumps({"history": {"loss": [0.5] * count}, "epoch": list(range(count)),
                       "step_loss": [0.25] * count, "wall_time": 1.0})
    parsing = checking = math.inf
    for _ in range(3):  # the best of three: the machine may be busy
        start = time.perf_counter()
        saved = json.loads(text)
        parsing = min(parsing, time.perf_counter() - start)
        start = time.perf_counter()
        history = _history(Path("ckpt.safetensors"), {"history": saved}, None)
        checking = min(checking, time.perf_counter() - start)
    assert checking < parsing, (checking, parsing)  # about half; an isinstance call per value took twice
    assert len(history.epoch) == len(history.step_loss) == count


# ---------------------------------------------------------------------------------------------
# npz archives
# ---------------------------------------------------------------------------------------------
def test_small_members_cannot_escape_the_compression_ratio_together(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.npz"
    member = npy_bytes(np.zeros(2**16))  # 512 KiB each: under the size where one member's ratio counts
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(8):
            archive.writestr(f"w{i}.npy", member)
    monkeypatch.setattr(containers, "MAX_COMPRESSION_RATIO", 5)  # 4 MiB from a few KiB is far above 5:1
    refused(containers.open_arrays, path, "a ratio above 5:1")
    monkeypatch.setattr(containers, "MAX_COMPRESSION_RATIO", 1000)
    with containers.open_arrays(path) as opened:
        assert len(opened.entries) == 8


def test_a_metadata_member_above_the_json_limit_is_refused_before_it_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.npz"
    meta = np.frombuffer(b" " * 8 * 2**20, dtype=np.uint8)  # 8 MiB of JSON whitespace, stored
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, meta)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__retroprop_metadata__.npy", buffer.getvalue())
    monkeypatch.setattr(containers, "MAX_HEADER_BYTES", 2**20)
    with bounded(seconds=1.0, megabytes=2):
        refused(rp.load, path, "retroprop metadata", "above the limit")


# ---------------------------------------------------------------------------------------------
# The normal path: as few copies of the weights as the work needs
# ---------------------------------------------------------------------------------------------
def wide_model() -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(200, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10))


def peak_of(work: Any) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
def test_save_and_load_copy_the_weights_no_more_than_needed(tmp_path: Path, fmt: str) -> None:
    model = wide_model()
    path = tmp_path / f"model.{fmt}"
    rp.save(model, path)
    sizes = [array.nbytes for array in model.state_dict().values()]
    total, largest, slack = sum(sizes), max(sizes), 128 * 2**10 + 2 * containers._READ_CHUNK
    # saving writes the weights as they are (np.save's own buffer holds at most one array)
    assert peak_of(lambda: rp.save(model, path)) < largest + slack
    # loading reads the weights straight into the rebuilt model, which is built without copying its
    # fresh weights; a zip member is read through up to two buffers of _READ_CHUNK bytes
    assert peak_of(lambda: rp.load(path)) < total + slack
    loaded = rp.load(path)
    for key, value in model.state_dict().items():
        assert loaded.state_dict()[key].tobytes() == value.tobytes()


def test_weights_of_another_dtype_than_the_model_are_cast_into_place(tmp_path: Path) -> None:
    model = wide_model()
    source = tmp_path / "model.safetensors"
    rp.save(model, source)
    arrays, metadata = read_arrays(source)
    path = tmp_path / "f64.safetensors"
    write_arrays(path, {name: array.astype(">f8") for name, array in arrays.items()}, metadata)
    loaded = rp.load(path)
    assert loaded.dtype == np.float32
    for key, value in model.state_dict().items():
        assert np.array_equal(loaded.state_dict()[key], value)
    assert serialization.load_state_dict(path)["0.weight"].dtype == np.float64


def test_a_long_string_in_a_saved_architecture_is_cut_when_the_difference_is_named(tmp_path: Path) -> None:
    def gelu_model() -> nn.Sequential:
        rp.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 2))

    source = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(source, gelu_model(), epoch=1)

    def long_value(metadata: dict[str, Any]) -> None:
        metadata["architecture"]["layers"][1]["config"]["approximate"] = "x" * 10**5

    path = rewritten(tmp_path, source, "edited.safetensors", long_value)
    message = refused(lambda p: rp.load_checkpoint(p, gelu_model()), path, "approximate 'xxx", "...")
    assert len(message) < len(str(path)) + 300


# ---------------------------------------------------------------------------------------------
# Regression guards: layouts NumPy writes, and files that change while they are read
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("array", "version"), [
    (np.arange(6, dtype=">f4").reshape(2, 3), None),  # big-endian
    (np.asfortranarray(np.arange(12.0).reshape(3, 4)), None),
    (np.arange(5, dtype=np.int16), (3, 0)),  # a UTF-8 header
    (np.float64(2.5), None),  # 0-d
    (np.zeros((0, 3), dtype=np.float32), None),  # empty
])
def test_read_npy_reads_what_numpy_writes(tmp_path: Path, array: np.ndarray, version: Any) -> None:
    path = tmp_path / "a.npy"
    with path.open("wb") as handle:
        np.lib.format.write_array(handle, np.asanyarray(array), version=version)
    read = containers.read_npy(path)
    expected = np.load(path, allow_pickle=False)
    assert read.dtype == expected.dtype and read.shape == expected.shape
    assert np.array_equal(read, expected)


@pytest.mark.parametrize("fmt", ["safetensors", "npz"])
@pytest.mark.parametrize("change", ["grows", "shrinks"])
def test_a_file_that_changes_size_while_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   fmt: str, change: str) -> None:
    path = tmp_path / f"model.{fmt}"
    model = wide_model()
    rp.save(model, path)
    opened = containers.open_regular

    def open_then_change(target: Any, limit: int | None = None) -> Any:
        result = opened(target, limit)
        with path.open("r+b") as handle:  # another writer, after the size was taken
            if change == "grows":
                handle.seek(0, 2)
                handle.write(b"\0" * 4096)
            else:
                handle.truncate(path.stat().st_size // 2)
        return result

    monkeypatch.setattr(containers, "open_regular", open_then_change)
    if change == "grows":  # reads stop at the size seen when the file was opened
        loaded = rp.load(path)
        assert loaded.state_dict()["0.weight"].tobytes() == model.state_dict()["0.weight"].tobytes()
    else:
        refused(rp.load, path, "truncated")
