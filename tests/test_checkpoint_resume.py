"""Nothing lost: atomic writes under a full disk and kill -9, checkpoints refused when they do not
fit (naming the first difference) without touching anything, rebuilding from the file alone, and
the info a model records about its training."""

from __future__ import annotations

import copy
import csv
import errno
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import CSVLogger, ModelCheckpoint
from retroprop.files import OutputPathError
from retroprop.serialization import FileFormatError, read_info

FORMATS = ["safetensors", "npz"]


def mlp(seed: int = 0, act: type[nn.Module] = nn.ReLU, hidden: int = 8) -> nn.Sequential:
    rp.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, 3))


def data() -> tuple[np.ndarray, np.ndarray]:
    return rp.data.spiral(60, n_classes=3, noise=0.2, seed=0)


def fit(model: nn.Module, optimizer: Any, scheduler: Any = None, epochs: int = 2,
        **kwargs: Any) -> rp.History:
    x, y = data()
    return rp.fit(model, x[:48], y[:48], loss="cross_entropy", optimizer=optimizer, scheduler=scheduler,
                  epochs=epochs, batch_size=16, validation_data=(x[48:], y[48:]), verbose=0, **kwargs)


def state_bytes(model: nn.Module) -> dict[str, bytes]:
    return {key: value.tobytes() for key, value in model.state_dict().items()}


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------------------------------------
# Atomic writes: a full disk
# ---------------------------------------------------------------------------------------------
def full_disk_on_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", replace)


def full_disk_on_write(monkeypatch: pytest.MonkeyPatch, after: int = 100) -> None:
    """Every file opened by atomic_write fails once ``after`` bytes were written to it."""
    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, handle: Any) -> None:
            self._handle, self._written = handle, 0

        def write(self, data: Any) -> int:
            self._written += len(data)
            if self._written > after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._handle.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: Failing(real_fdopen(*args, **kwargs)))


@pytest.mark.parametrize("where", ["write", "replace"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_disk_leaves_the_previous_model_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            fmt: str, where: str) -> None:
    path = tmp_path / f"model.{fmt}"
    old = mlp(0)
    rp.save(old, path)
    before = path.read_bytes()
    (full_disk_on_write if where == "write" else full_disk_on_replace)(monkeypatch)
    for save in (lambda: rp.save(mlp(1), path),
                 lambda: rp.save_checkpoint(path, mlp(1), epoch=3)):
        with pytest.raises(OSError) as info:
            save()
        message = str(info.value)
        assert str(path) in message and "No space left on device" in message and "unchanged" in message
        assert info.value.errno == errno.ENOSPC
        assert path.read_bytes() == before
    monkeypatch.undo()
    assert state_bytes(rp.load(path)) == state_bytes(old)
    assert no_temporary_files(tmp_path)


def test_model_checkpoint_keeps_the_last_good_file_when_the_disk_fills(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.safetensors"
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    checkpoint = ModelCheckpoint(path, full=True)
    fit(model, optimizer, epochs=1, callbacks=[checkpoint])
    good = path.read_bytes()

    class FillDisk(rp.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            full_disk_on_replace(monkeypatch)

    with pytest.raises(OSError, match="No space left"):
        fit(model, optimizer, epochs=1, callbacks=[FillDisk(), checkpoint])
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert rp.load_checkpoint(path)["epoch"] == 1


def full_disk_on_append(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Appends to ``path`` write a few bytes, then fail with ENOSPC."""
    real_write, inode = os.write, path.stat().st_ino

    def write(fd: int, data: Any) -> int:
        if os.fstat(fd).st_ino == inode:
            real_write(fd, bytes(data[:5]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


@pytest.mark.parametrize("where", ["first-row", "later-row"])
def test_csv_logger_keeps_every_completed_row_when_the_disk_fills(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text("an earlier log\n")
    logger = CSVLogger(path)

    class FillDiskAtEpoch3(rp.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if where == "first-row" and epoch == 0:
                full_disk_on_replace(monkeypatch)  # the first row replaces the file atomically
            if where == "later-row" and epoch == 2:
                full_disk_on_append(monkeypatch, path)  # later rows are appended

    model = mlp()
    with pytest.raises(OSError, match="No space left"):
        fit(model, rp.optim.SGD(model.parameters(), lr=0.1), epochs=4, callbacks=[FillDiskAtEpoch3(), logger])
    logger.on_train_end()
    monkeypatch.undo()
    if where == "first-row":
        assert path.read_text() == "an earlier log\n"
    else:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][0] == "epoch" and [row[0] for row in rows[1:]] == ["0", "1"]  # no part of row 2
        assert path.read_bytes().endswith(b"\r\n")
    assert no_temporary_files(tmp_path)


def test_csv_logger_appends_each_row_instead_of_rewriting_the_log(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    inodes, fsyncs = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])

    class Inode(rp.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            inodes.append(path.stat().st_ino)

    model = mlp()
    fit(model, rp.optim.SGD(model.parameters(), lr=0.1), epochs=20, callbacks=[CSVLogger(path), Inode()])
    # one file from the first row on, and a constant number of fsyncs: rewriting the whole log at
    # every epoch made a run with a CSVLogger over ten times slower (two fsyncs per epoch)
    assert len(set(inodes)) == 1
    assert len(fsyncs) <= 3
    with path.open(newline="") as handle:
        assert [row[0] for row in list(csv.reader(handle))[1:]] == [str(i) for i in range(20)]


def test_csv_logger_append_keeps_earlier_rows_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    model = mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    fit(model, optimizer, epochs=2, callbacks=[CSVLogger(path)])
    first = path.read_bytes()
    fit(model, optimizer, epochs=1, callbacks=[CSVLogger(path, append=True)])
    assert path.read_bytes().startswith(first)
    assert path.read_bytes().count(b"epoch") == 1


def test_output_paths_of_callbacks_are_checked_before_the_first_step(tmp_path: Path) -> None:
    model = mlp()
    before = state_bytes(model)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    for callback in (CSVLogger(tmp_path / "missing" / "log.csv"),
                     ModelCheckpoint(blocker / "ckpt.safetensors"),
                     ModelCheckpoint(folder)):
        with pytest.raises(OutputPathError):
            fit(model, rp.optim.SGD(model.parameters(), lr=0.1), callbacks=[callback])
        assert state_bytes(model) == before


# ---------------------------------------------------------------------------------------------
# Atomic writes: kill -9 in the middle
# ---------------------------------------------------------------------------------------------
def save_forever(path: Path, ready: int) -> None:
    """In a forked child: save a model of about 4 MB again and again, alternating its weights."""
    model = nn.Sequential(nn.Linear(700, 700), nn.Linear(700, 700))
    for i in range(10**6):
        for p in model.parameters():
            p.data[...] = i % 2
        rp.save(model, path)
        if i == 0:
            os.write(ready, b"x")


@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"),
                    reason="needs fork and SIGKILL")
@pytest.mark.parametrize("fmt", FORMATS)
def test_kill_9_while_saving_leaves_a_whole_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"model.{fmt}"
    draw = random.Random(fmt)
    for _ in range(3):
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                os.close(ready_read)
                save_forever(path, ready_write)
            finally:
                os._exit(0)
        os.close(ready_write)
        try:
            assert os.read(ready_read, 1) == b"x"  # the first save is complete
            # a moment inside the save loop: the kill lands anywhere in a write, an fsync or a rename
            time.sleep(draw.uniform(0.02, 0.3))
            os.kill(pid, signal.SIGKILL)
        finally:
            os.close(ready_read)
            _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        model = rp.load(path)
        values = [np.unique(p.data) for p in model.parameters()]
        assert all(len(v) == 1 for v in values)
        assert {float(v[0]) for v in values} in ({0.0}, {1.0})  # the old file or the new, never a mix


# ---------------------------------------------------------------------------------------------
# Architecture mismatch: refused, naming the first difference
# ---------------------------------------------------------------------------------------------
def saved_checkpoint(tmp_path: Path, model: nn.Module, optimizer: Any = None, **kwargs: Any) -> Path:
    path = tmp_path / "ckpt.safetensors"
    rp.save_checkpoint(path, model, optimizer, epoch=1, **kwargs)
    return path


@pytest.mark.parametrize(("saved", "given", "difference"), [
    (lambda: mlp(act=nn.Sigmoid), lambda: mlp(act=nn.ReLU),
     "layer 1: the checkpoint has Sigmoid, the model has ReLU"),
    (lambda: mlp(hidden=64), lambda: mlp(hidden=32),
     "layer 0 (Linear): out_features 64 in the checkpoint, 32 in the model"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.1)),
     lambda: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2)),
     "layer 1 (LeakyReLU): negative_slope 0.1 in the checkpoint, 0.2 in the model"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.ReLU()),
     lambda: nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout()),
     "the model: the checkpoint has 2 layers, the model has 3"),
    (lambda: mlp(), lambda: mlp().double(), "0.weight: float32 in the checkpoint, float64 in the model"),
])
def test_a_checkpoint_of_another_architecture_names_the_first_difference(
        tmp_path: Path, saved: Any, given: Any, difference: str) -> None:
    path = saved_checkpoint(tmp_path, saved())
    model = given()
    before = state_bytes(model)
    with pytest.raises(FileFormatError) as info:
        rp.load_checkpoint(path, model)
    assert str(info.value).startswith(f"{path}: the checkpoint does not fit this model: {difference}")
    assert state_bytes(model) == before


class Custom(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Linear(2, width)

    def forward(self, x: rp.Tensor) -> rp.Tensor:
        return self.body(x)


def test_a_custom_module_is_compared_by_its_weights(tmp_path: Path) -> None:
    path = saved_checkpoint(tmp_path, Custom(4))
    rp.load_checkpoint(path, Custom(4))
    with pytest.raises(FileFormatError, match=r"body\.weight: shape \(4, 2\) in the checkpoint, \(5, 2\)"):
        rp.load_checkpoint(path, Custom(5))
    with pytest.raises(FileFormatError, match="custom Module"):
        rp.load_checkpoint(path)


# ---------------------------------------------------------------------------------------------
# Transactional load
# ---------------------------------------------------------------------------------------------
def trained(kind: str, seed: int = 0) -> tuple[nn.Sequential, Any, Any]:
    model = mlp(seed)
    if kind == "sgd":
        optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        optimizer = rp.optim.Adam(model.parameters(), lr=0.01)
    scheduler = rp.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    fit(model, optimizer, scheduler, epochs=1, seed=seed)
    return model, optimizer, scheduler


def everything(model: nn.Module, optimizer: Any, scheduler: Any) -> tuple[Any, ...]:
    opt = optimizer.state_dict()
    arrays = {(i, k): v.tobytes() for i, entry in opt["state"].items() for k, v in entry.items()
              if isinstance(v, np.ndarray)}
    return (state_bytes(model), arrays, copy.deepcopy(opt["param_groups"]), scheduler.state_dict(),
            rp.default_generator().bit_generator.state)


@pytest.mark.parametrize(("saved_kind", "given_kind"), [("sgd", "adam"), ("adam", "sgd")])
def test_an_optimizer_of_another_kind_is_refused_and_nothing_changes(tmp_path: Path, saved_kind: str,
                                                                     given_kind: str) -> None:
    path = saved_checkpoint(tmp_path, *trained(saved_kind, seed=1)[:2])
    model, optimizer, scheduler = trained(given_kind, seed=2)
    before = everything(model, optimizer, scheduler)
    names = {"sgd": "SGD", "adam": "Adam"}
    expected = f"{names[saved_kind]} optimizer state, not {names[given_kind]} state"
    with pytest.raises(FileFormatError, match=expected):
        rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    assert everything(model, optimizer, scheduler) == before


def test_an_optimizer_state_that_does_not_fit_changes_nothing(tmp_path: Path) -> None:
    source_model, source_optimizer, _ = trained("adam", seed=1)
    path = saved_checkpoint(tmp_path, source_model, source_optimizer)
    model, _, scheduler = trained("adam", seed=2)
    optimizer = rp.optim.Adam([{"params": [model[0].weight, model[0].bias]},
                               {"params": [model[2].weight, model[2].bias]}], lr=0.01)
    before = everything(model, optimizer, scheduler)
    with pytest.raises(FileFormatError, match="field 'optimizer' does not fit this Adam"):
        rp.load_checkpoint(path, model, optimizer)
    assert everything(model, optimizer, scheduler) == before


def test_a_scheduler_of_another_kind_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    model, optimizer, scheduler = trained("sgd", seed=1)
    path = saved_checkpoint(tmp_path, model, optimizer, scheduler=scheduler)
    model, optimizer, _ = trained("sgd", seed=2)
    scheduler = rp.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    before = everything(model, optimizer, scheduler)
    with pytest.raises(FileFormatError, match="StepLR scheduler state, not ExponentialLR state"):
        rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    assert everything(model, optimizer, scheduler) == before


def test_a_good_load_changes_everything_it_should(tmp_path: Path) -> None:
    saved = trained("adam", seed=1)
    rng = rp.default_generator().bit_generator.state
    path = saved_checkpoint(tmp_path, *saved[:2], scheduler=saved[2])
    expected = everything(*saved)
    model, optimizer, scheduler = trained("adam", seed=2)
    rp.manual_seed(99)
    result = rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    assert result["model"] is model and result["optimizer"] is optimizer and result["scheduler"] is scheduler
    assert everything(model, optimizer, scheduler)[:4] == expected[:4]
    assert rp.default_generator().bit_generator.state == rng


# ---------------------------------------------------------------------------------------------
# Rebuilding from the file alone
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_load_checkpoint_from_the_path_alone_resumes_bit_exactly(tmp_path: Path, kind: str, fmt: str) -> None:
    total, stop = 4, 2

    def build(seed: int = 0) -> tuple[nn.Sequential, Any, Any]:
        model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(16, 3))
        rp.manual_seed(seed)
        for layer in (model[0], model[4]):
            layer.reset_parameters()
        optimizer = (rp.optim.SGD(model.parameters(), lr=0.2, momentum=0.9) if kind == "sgd"
                     else rp.optim.Adam(model.parameters(), lr=1e-2))
        return model, optimizer, rp.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    model, optimizer, scheduler = build()
    reference = fit(model, optimizer, scheduler, epochs=total, seed=11)
    reference_state = state_bytes(model)

    model, optimizer, scheduler = build()
    first = fit(model, optimizer, scheduler, epochs=stop, seed=11)
    path = tmp_path / f"ckpt.{fmt}"
    rp.save_checkpoint(path, model, optimizer, scheduler=scheduler, epoch=stop, history=first)

    rp.manual_seed(1234)
    state = rp.load_checkpoint(path)
    model, optimizer, scheduler = state["model"], state["optimizer"], state["scheduler"]
    assert type(optimizer) is type(build()[1]) and type(scheduler).__name__ == "StepLR"
    assert scheduler.optimizer is optimizer
    assert {id(p) for g in optimizer.param_groups for p in g["params"]} == {id(p) for p in model.parameters()}
    model, optimizer, scheduler = build(5)  # the same file also loads into models built in code
    rp.load_checkpoint(path, model, optimizer, scheduler=scheduler)
    state = rp.load_checkpoint(path)
    resumed = fit(state["model"], state["optimizer"], state["scheduler"], epochs=total,
                  initial_epoch=state["epoch"], history=state["history"], seed=None)
    np.testing.assert_array_equal(resumed.step_loss, reference.step_loss)
    assert resumed.history == reference.history
    assert state_bytes(state["model"]) == reference_state


def test_load_checkpoint_from_the_path_without_an_optimizer(tmp_path: Path) -> None:
    path = saved_checkpoint(tmp_path, mlp())
    state = rp.load_checkpoint(path)
    assert state["optimizer"] is None and state["scheduler"] is None
    assert state_bytes(state["model"]) == state_bytes(mlp())
    with pytest.raises(TypeError, match="pass the model"):
        rp.load_checkpoint(path, None, rp.optim.SGD(mlp().parameters(), lr=0.1))


# ---------------------------------------------------------------------------------------------
# What a model was trained for
# ---------------------------------------------------------------------------------------------
INFO = {"loss": "bce_with_logits", "classes": ["benign", "malignant"],
        "data": {"name": "breast_cancer", "split": {"validation": 0.2, "seed": 0}, "standardize": True},
        "score": 0.97, "epochs": 30, "notes": None}


@pytest.mark.parametrize("fmt", FORMATS)
def test_info_round_trips(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"model.{fmt}"
    rp.save(mlp(), path, info=INFO)
    assert read_info(path) == INFO
    assert state_bytes(rp.load(path)) == state_bytes(mlp())
    rp.save(mlp(), path)
    assert read_info(path) == {}
    rp.save_checkpoint(path, mlp(), info={"loss": "mse"})
    assert read_info(path) == {"loss": "mse"}
    rp.save(mlp(), path, info={"shape": (2, 3)})
    assert read_info(path) == {"shape": [2, 3]}  # as JSON does


def test_metadata_too_large_to_read_back_is_refused_before_writing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from retroprop import containers

    monkeypatch.setattr(containers, "MAX_HEADER_BYTES", 10_000)
    path = tmp_path / "model.safetensors"
    rp.save(mlp(), path, info={"notes": "x" * 1000})
    with pytest.raises(ValueError, match="more than a file can hold and be read back"):
        rp.save(mlp(), path, info={"notes": "x" * 6000})
    assert read_info(path) == {"notes": "x" * 1000}


@pytest.mark.parametrize(("info", "words"), [
    ({"x": np.zeros(2)}, "info['x'] is a ndarray"),
    ({"data": {1: "a"}}, "info['data'] has the key 1"),
    ({"f": {1, 2}}, "info['f'] is a set"),
    (["loss"], "info must be a dict"),
    ({"deep": [[[[[[]]]]]] * 1}, None),
    ({"seed": 2**70, "loss": float("nan")}, None),
    ({"n": [1, 10**5000]}, "info['n'][1] is an integer too long"),
])
def test_info_that_json_cannot_hold_is_refused_before_writing(tmp_path: Path, info: Any,
                                                              words: str | None) -> None:
    path = tmp_path / "model.safetensors"
    if words is None:
        rp.save(mlp(), path, info=info)
        assert repr(read_info(path)) == repr(info)  # repr: NaN equals itself there
        return
    with pytest.raises((TypeError, ValueError)) as raised:
        rp.save(mlp(), path, info=info)
    assert words in str(raised.value)
    assert not path.exists()


def test_a_checkpoint_with_float32_standardize_statistics_loads_into_todays_model(tmp_path: Path) -> None:
    """Standardize keeps its statistics in float64 now; a checkpoint written when they followed the
    model's dtype (float32) still loads, by a cast."""
    from retroprop.serialization import read_arrays, write_arrays

    x = np.random.default_rng(0).normal(1.7e9, 100.0, size=(20, 3))
    model = nn.Sequential(nn.Standardize.from_data(x, dtype=np.float32), nn.Linear(3, 2))
    path = tmp_path / "old.safetensors"
    rp.save_checkpoint(path, model)
    arrays, metadata = read_arrays(path)
    old = {k: (v.astype(np.float32) if k.endswith(("mean", "scale")) else v) for k, v in arrays.items()}
    assert old["model/0.mean"].dtype == np.float32
    write_arrays(path, old, metadata)
    fresh = nn.Sequential(nn.Standardize(3), nn.Linear(3, 2))
    rp.load_checkpoint(path, fresh)
    assert fresh[0].mean.dtype == np.float64
    np.testing.assert_allclose(fresh[0].mean.data, x.mean(axis=0), rtol=1e-7)
