"""The loaders as the doctor's setup data: ``retroprop.torch.data`` reads what a ``DataLoader`` holds in
memory, its batch size and its order; ``watch(data=..., validation_data=...)``, the Lightning callback and
``retroprop watch train.py`` hand it to the checks made before the first step."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")]

torch = pytest.importorskip("torch")

from torch.utils import data as tud  # noqa: E402

from retroprop.torch import watch  # noqa: E402
from retroprop.torch.data import INPUT_ROWS, loader_data, setup_from_loaders  # noqa: E402
from retroprop.torch.watch import class_count  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


def sorted_data(rows: int = 512, classes: int = 4):
    x = torch.rand(rows, 16, generator=torch.Generator().manual_seed(0))
    y = torch.arange(rows) * classes // rows  # each class's rows together, in order
    return x, y


class Indexed(tud.Dataset):
    """A dataset whose samples exist only through ``__getitem__`` (it must never be called)."""

    def __len__(self) -> int:
        return 100

    def __getitem__(self, index: int):
        raise AssertionError("the doctor read a sample through __getitem__")


class WithTargets(Indexed):
    """torchvision's shape: a ``targets`` list beside samples made by ``__getitem__``."""

    def __init__(self) -> None:
        self.targets = [i % 3 for i in range(100)]


# -- reading a loader -----------------------------------------------------------------------------
def test_a_tensor_dataset_gives_its_targets_whole_and_its_inputs_evenly_sampled():
    x = torch.arange(3000 * 2, dtype=torch.float32).reshape(3000, 2)
    y = torch.arange(3000) % 7
    read = loader_data(tud.DataLoader(tud.TensorDataset(x, y), batch_size=50))
    assert read.rows == 3000 and read.batch_size == 50 and read.shuffled is False
    np.testing.assert_array_equal(read.targets, y.numpy())
    assert read.targets.dtype == np.int64
    assert len(read.inputs) <= INPUT_ROWS and read.inputs.shape[1] == 2
    step = read.inputs[1, 0] - read.inputs[0, 0]
    assert step > 2 and np.all(np.diff(read.inputs[:, 0]) == step)  # evenly spaced rows, in order
    np.testing.assert_array_equal(read.inputs[:, 0], x[read.input_rows, 0].numpy())  # the rows they are


def test_inputs_sampled_from_a_large_loader_are_paired_with_their_own_targets():
    # 3000 rows, of which at most INPUT_ROWS inputs are read: the nearest-neighbour yardstick and the
    # doctor's own accuracy pair each with its target, not with the first targets of the set
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(3000) % 3
    x = torch.randn(3000, 2, generator=generator) * 0.3 + torch.stack([y.float(), (y == 1).float()], 1) * 3
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    doctor = watch(model, torch.optim.SGD(model.parameters(), lr=0.1),
                   data=tud.DataLoader(tud.TensorDataset(x, y), batch_size=50))
    assert len(doctor.core._raw_inputs) < 3000
    vote = doctor.core._attainable()
    assert vote is not None and vote["accuracy"] > 0.95  # three blobs far apart: the vote sorts them
    inputs, labels = doctor.core._training_rows()
    assert len(inputs) == len(labels) and np.array_equal(labels, labels.astype(np.int64))
    doctor.finish()


@pytest.mark.parametrize(("make", "shuffled"), [
    (lambda ds: tud.DataLoader(ds, batch_size=8, shuffle=True), True),
    (lambda ds: tud.DataLoader(ds, batch_size=8), False),
    (lambda ds: tud.DataLoader(ds, sampler=tud.SubsetRandomSampler(range(50)), batch_size=8), True),
    (lambda ds: tud.DataLoader(ds, sampler=tud.WeightedRandomSampler([1.0] * 100, 100), batch_size=8), True),
    (lambda ds: tud.DataLoader(ds, batch_sampler=tud.BatchSampler(tud.SequentialSampler(ds), 8, False)),
     False),
    (lambda ds: tud.DataLoader(ds, sampler=list(range(100)), batch_size=8), None),
])
def test_the_order_is_read_from_the_sampler(make, shuffled):
    read = loader_data(make(tud.TensorDataset(torch.rand(100, 3), torch.zeros(100))))
    assert read.shuffled is shuffled and read.batch_size == 8


def test_a_distributed_sampler_says_whether_it_shuffles():
    ds = tud.TensorDataset(torch.rand(100, 3))
    for shuffle in (True, False):
        sampler = tud.distributed.DistributedSampler(ds, num_replicas=2, rank=0, shuffle=shuffle)
        assert loader_data(tud.DataLoader(ds, sampler=sampler, batch_size=4)).shuffled is shuffle


def test_subsets_and_concatenations_keep_their_own_order():
    x, y = sorted_data(100)
    ds = tud.TensorDataset(x, y)
    subset = tud.Subset(ds, [99, 0, 50])
    read = loader_data(tud.DataLoader(subset))
    np.testing.assert_array_equal(read.targets, y[[99, 0, 50]].numpy())
    np.testing.assert_array_equal(read.inputs, x[[99, 0, 50]].numpy())
    read = loader_data(tud.DataLoader(tud.ConcatDataset([subset, ds])))
    assert read.rows == 103 and read.targets.tolist() == [3, 0, 2, *y.tolist()]


def test_samples_made_by_getitem_are_never_read():
    read = loader_data(tud.DataLoader(Indexed(), batch_size=10, shuffle=True))
    assert read.inputs is None and read.targets is None and read.rows == 100 and read.shuffled is True
    read = loader_data(tud.DataLoader(WithTargets(), batch_size=10))
    assert read.inputs is None and read.targets.tolist() == [i % 3 for i in range(100)]


def test_what_is_no_data_is_left_out():
    read = loader_data(tud.DataLoader(tud.TensorDataset(torch.rand(10, 2) > 0.5, torch.rand(10, 2, 2))))
    assert read.inputs is None  # boolean masks are no inputs to scale
    assert read.targets.shape == (10, 2, 2)
    read = loader_data(tud.DataLoader(tud.TensorDataset(torch.rand(10, 2), torch.rand(10), torch.rand(10))))
    assert read.targets is None  # three tensors: which one is the target is not known
    assert loader_data([1, 2, 3]) is None


def test_watch_refuses_what_is_not_a_loader():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"data must be a torch DataLoader.*got ndarray"):
        watch(model, optimizer, data=np.zeros((4, 2)))
    with pytest.raises(TypeError, match=r"validation_data must be a torch DataLoader.*got list"):
        setup_from_loaders(validation_data=[1])


def test_class_indices_imply_the_class_count():
    assert class_count(np.array([0, 3, 1])) == 4 and class_count(np.array([0, 0], dtype=np.uint8)) == 1
    for targets in (np.array([0.0, 1.0]), np.array([[0, 1]]), np.array([-1, 2]),
                    np.array([], dtype=np.int64), None):
        assert class_count(targets) is None


# -- watch with loaders ---------------------------------------------------------------------------
def train(loader, validation=None, repair: bool = False, epochs: int = 1, **setup):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, repair=repair, data=loader, validation_data=validation, **setup)
    for epoch in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.end_epoch(epoch, {"loss": loss.item()})
    doctor.finish()
    return doctor


def test_a_loader_over_labels_sorted_by_class_without_shuffle_is_named_first():
    x, y = sorted_data()
    doctor = train(tud.DataLoader(tud.TensorDataset(x, y), batch_size=32))
    assert [d.problem for d in doctor.diagnoses][:1] == ["unshuffled_data"]
    assert doctor.diagnoses[0].evidence["mean_run"] == 128
    doctor = train(tud.DataLoader(tud.TensorDataset(x, y), batch_size=32, shuffle=True))
    assert "unshuffled_data" not in [d.problem for d in doctor.diagnoses]
    # what the user says wins over what the loader shows
    doctor = train(tud.DataLoader(tud.TensorDataset(x, y), batch_size=32), shuffled=True)
    assert "unshuffled_data" not in [d.problem for d in doctor.diagnoses]


def test_a_loader_whose_labels_are_one_class_is_named_first():
    x, _ = sorted_data(256)
    doctor = train(tud.DataLoader(tud.TensorDataset(x, torch.zeros(256, dtype=torch.long)), batch_size=32,
                                  shuffle=True))
    assert [d.problem for d in doctor.diagnoses][:1] == ["constant_targets"]
    assert doctor.diagnoses[0].evidence["classification"] is True  # class indices: a classification


def test_a_validation_loader_of_classes_never_trained_on_is_named():
    x, y = sorted_data(640, 5)
    train_set, validation_set = tud.TensorDataset(x[:512], y[:512]), tud.TensorDataset(x[512:], y[512:])
    doctor = train(tud.DataLoader(train_set, batch_size=32, shuffle=True),
                   tud.DataLoader(validation_set, batch_size=64))
    first = doctor.diagnoses[0]
    assert first.problem == "validation_mismatch" and first.evidence["unseen_classes"] == [4]
    assert doctor.core.samples == (512, 128)


def test_the_training_loader_as_validation_is_no_evidence_of_overfitting():
    x, y = sorted_data()
    loader = tud.DataLoader(tud.TensorDataset(x, y), batch_size=32, shuffle=True)
    doctor = train(loader, loader)
    assert doctor.core._validation_is_training


# -- Lightning and the script runner ------------------------------------------------------------
def test_the_lightning_callback_reads_the_trainers_loaders():
    pl = pytest.importorskip("lightning.pytorch")
    from retroprop.torch.lightning import DoctorCallback

    class Classifier(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", F.cross_entropy(self.net(batch[0]), batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x, y = sorted_data()
    found = {}
    for shuffle in (False, True):
        torch.manual_seed(0)
        doctor = DoctorCallback(verbose=False)
        trainer = pl.Trainer(max_epochs=1, callbacks=[doctor], logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
        trainer.fit(Classifier(), tud.DataLoader(tud.TensorDataset(x, y), batch_size=32, shuffle=shuffle),
                    tud.DataLoader(tud.TensorDataset(x[:64], y[:64]), batch_size=64))
        found[shuffle] = [d.problem for d in doctor.diagnoses]
        assert doctor.watch.core.samples == (512, 64)
    assert found[False][:1] == ["unshuffled_data"] and "unshuffled_data" not in found[True]


SCRIPT = """\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.rand(512, 16)
y = torch.arange(512) * 4 // 512
loader = DataLoader(TensorDataset(x, y), batch_size=32)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
EVALUATE
for xb, yb in loader:
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
"""

EVALUATE = """\
model.eval()
with torch.no_grad():
    for xb, yb in loader:
        model(xb)
model.train()
"""


@pytest.mark.parametrize(("evaluate", "named"), [("", True), (EVALUATE, False)])
def test_the_script_runner_reads_the_loader_its_training_loop_iterates(tmp_path, capsys, evaluate, named):
    from retroprop.cli import main

    path = tmp_path / "train.py"
    path.write_text(SCRIPT.replace("EVALUATE", evaluate))
    main(["watch", "--report", str(tmp_path / "run.html"), str(path)])
    out = capsys.readouterr().out
    # an evaluation pass first attaches the doctor there: that loader is not taken for training data
    assert ("unshuffled_data" in out) is named
    assert torch.utils.data.DataLoader.__iter__.__qualname__ == "DataLoader.__iter__"


class Stream(tud.IterableDataset):
    def __iter__(self):
        yield from range(3)


def test_unusual_datasets_leave_what_they_hold_unknown_and_never_raise():
    ds = tud.TensorDataset(torch.rand(10, 3), torch.arange(10))
    assert loader_data(tud.DataLoader(tud.Subset(ds, torch.tensor([3, 1])))).targets.tolist() == [3, 1]
    read = loader_data(tud.DataLoader(tud.TensorDataset(torch.rand(10, 3).to_sparse(), torch.arange(10))))
    assert read.inputs is None and read.targets.tolist() == list(range(10))
    read = loader_data(tud.DataLoader(Stream()))
    assert (read.inputs, read.targets, read.rows, read.shuffled) == (None, None, None, None)
    read = loader_data(tud.DataLoader(tud.TensorDataset(torch.rand(10, 3, dtype=torch.complex64),
                                                        torch.rand(10, dtype=torch.bfloat16))))
    assert read.inputs is None and read.targets.dtype == np.float32


EPOCHS_SCRIPT = """\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
x = torch.randn(128, 16)
y = (x[:, 0] > 0).long()
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
    with torch.no_grad():  # an evaluation pass over the training data: no new epoch
        correct = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
"""


def test_the_script_runner_counts_passes_over_the_training_loader_as_epochs(tmp_path, capsys):
    import json

    from retroprop.cli import main

    path = tmp_path / "train.py"
    path.write_text(EPOCHS_SCRIPT)
    assert main(["watch", "--report", str(tmp_path / "run.html"), "--record", str(tmp_path / "run.json"),
                 str(path)]) == 0
    record = json.loads((tmp_path / "run.json").read_text())
    steps = np.array(record["step_loss"])
    assert len(steps) == 12 and len(record["logs"]["loss"]) == 3
    np.testing.assert_allclose(record["logs"]["loss"], steps.reshape(3, 4).mean(axis=1))
    out = capsys.readouterr().out
    assert "cannot see a script's validation scores" in out


# -- no data given, no loader: the first batch, read for its scale ------------------------------------
def test_a_loop_without_data_gets_its_first_batch_checked_for_its_scale():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 4, generator=generator) * torch.tensor([4000.0, 2.0, 1.0, 30.0])  # raw features
    y = (x[:, :1] / 4000.0) ** 3
    found = {}
    for scale in (True, False):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        doctor = watch(model, optimizer)
        inputs = x / x.std(0) if scale else x
        for i in range(0, 256, 64):
            optimizer.zero_grad()
            loss = F.mse_loss(model(inputs[i:i + 64]), y[i:i + 64])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.finish()
        found[scale] = [d for d in doctor.diagnoses if d.problem == "unscaled_inputs"]
        assert not model._forward_hooks  # the first call's hook is gone
    assert not found[True]
    (first,) = found[False]
    assert first.step == 0 and first.evidence["sampled_rows"] == 64
    assert "range_ratio" not in first.evidence  # one batch: its scale only, not its features' ranges



class HeartRate(nn.Module):
    """The StackOverflow heart-rate classifier: F-style sigmoids inside ``forward``."""

    def __init__(self):
        super().__init__()
        self.linear, self.linear2 = nn.Linear(1, 4), nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear2(torch.sigmoid(self.linear(x))))


@pytest.mark.parametrize("call_forward", [True, False])
def test_a_loop_that_calls_model_forward_gets_its_first_batch_read_where_it_enters_the_first_layer(
        call_forward):
    """``model.forward(x)`` runs none of the model's own hooks: the raw heart rates (near 92) are read
    where they enter the first Linear layer, whose own call runs its hooks, and named before the first
    step as when the loop calls ``model(x)``. Both hooks are gone after the first loss."""
    generator = torch.Generator().manual_seed(0)
    x = torch.round(92.0 + 6.0 * torch.randn(400, 1, generator=generator))
    y = (x > 91).float()
    torch.manual_seed(0)
    model = HeartRate()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    doctor = watch(model, optimizer)
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.BCELoss()(model.forward(x) if call_forward else model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    (first,) = [d for d in doctor.diagnoses if d.problem == "unscaled_inputs"]
    assert first.step == 0 and first.evidence["input_rms"] > 50
    assert not model._forward_hooks and not model.linear._forward_pre_hooks


SORTED_SCRIPT = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(512, 16) * SCALE
y = torch.arange(512) * 4 // 512  # sorted by class: the first batch is all class 0
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(0, 512, 32):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
    loss.backward()
    optimizer.step()
"""

REGRESSION_SCRIPT = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.rand(400, 3)
y = 1e5 * (1.0 + x.sum(1, keepdim=True))  # prices
model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(20):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""


def test_the_script_runner_reads_a_hand_batched_loops_first_batch(tmp_path, capsys):
    from retroprop.cli import main

    def run(text: str) -> str:
        path = tmp_path / "train.py"
        path.write_text(text)
        main(["watch", "--report", str(tmp_path / "run.html"), str(path)])
        return capsys.readouterr().out

    out = run(REGRESSION_SCRIPT)  # the targets from the loss's graph, before backward frees them
    assert "unscaled_targets" in out and "unscaled_inputs" not in out
    out = run(SORTED_SCRIPT.replace("SCALE", "1.0"))
    # one batch of one class says nothing about the set: no constant_targets, no unshuffled_data
    assert "constant_targets" not in out and "unshuffled_data" not in out
    assert "unscaled_inputs" in run(SORTED_SCRIPT.replace("SCALE", "300.0"))


VALIDATION_SCRIPT = """\
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Images(Dataset):  # samples made in __getitem__: nothing for the doctor to read in memory
    def __init__(self, x, y, scale):
        self.x, self.y, self.scale = x, y, scale

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] * self.scale, self.y[i]


torch.manual_seed(0)
x = torch.randint(0, 256, (320, 16)).float()
y = (x[:, 0] > 128).long()
train = DataLoader(Images(x[:256], y[:256], 1 / 255), batch_size=32, shuffle=True)
val = DataLoader(Images(x[256:], y[256:], VALIDATION_SCALE), batch_size=32)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    model.train()
    for xb, yb in train:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val)
"""


@pytest.mark.parametrize(("scale", "named"), [("1.0", True), ("1 / 255", False)])
def test_the_script_runner_checks_the_first_validation_batch_against_training(tmp_path, capsys, scale,
                                                                              named):
    from retroprop.cli import main

    path = tmp_path / "train.py"
    path.write_text(VALIDATION_SCRIPT.replace("VALIDATION_SCALE", scale))
    main(["watch", "--report", str(tmp_path / "run.html"), str(path)])
    out = capsys.readouterr().out
    assert ("validation_mismatch" in out) is named
    if named:
        assert re.search(r"the validation inputs' RMS is 2\d\d times the training inputs'", out)


def test_a_validation_batch_is_checked_once_and_never_against_given_validation_inputs():
    x = torch.rand(64, 16)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 4))
    doctor = watch(model, torch.optim.SGD(model.parameters(), lr=0.1), inputs=x)
    assert doctor.check_validation(x * 255)[0].problem == "validation_mismatch"
    assert doctor.check_validation(x * 255) == []  # once
    doctor = watch(model, torch.optim.SGD(model.parameters(), lr=0.1), inputs=x, validation_inputs=x)
    assert doctor.check_validation(x * 255) == []  # the given validation inputs were checked already
    assert watch(model, torch.optim.SGD(model.parameters(), lr=0.1)).check_validation(x) == []  # no inputs


# -- what the model sees, not what the loader stores ----------------------------------------------------
def test_integer_inputs_and_a_collate_of_the_loops_own_are_not_read():
    tokens = tud.TensorDataset(torch.randint(0, 1000, (64, 8)), torch.randint(0, 2, (64,)))
    assert loader_data(tud.DataLoader(tokens, batch_size=8)).inputs is None  # token ids, uint8 pixels
    floats = tud.TensorDataset(torch.rand(64, 8) * 255, torch.randint(0, 2, (64,)))
    read = loader_data(tud.DataLoader(floats, batch_size=8, collate_fn=lambda batch: batch))
    assert read.inputs is None and read.targets is not None


class Buckets(tud.Sampler):
    """A batch sampler of its own over a sequential sampler: it reorders the batches it draws."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __iter__(self):
        batches = [list(range(i, i + 8)) for i in range(0, 64, 8)]
        return iter(batches[::-1])

    def __len__(self):
        return 8


def test_a_batch_sampler_of_its_own_leaves_the_order_unknown():
    ds = tud.TensorDataset(torch.rand(64, 3), torch.zeros(64))
    assert loader_data(tud.DataLoader(ds, batch_sampler=Buckets(tud.SequentialSampler(ds)))).shuffled is None


def loop(model, optimizer, loader, transform=lambda x: x, loss_fn=F.cross_entropy, target=lambda y: y,
         epochs: int = 1, **setup):
    doctor = watch(model, optimizer, data=loader, **setup)
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(transform(xb)), target(yb))
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
    doctor.finish()
    return doctor


def test_inputs_the_loop_transforms_are_judged_as_the_model_sees_them():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 8, generator=generator) * 1000.0 + 500.0  # stored raw, standardized in the loop
    y = (x[:, 0] > 1000.0).long()
    mean, std = x.mean(0), x.std(0)
    train = tud.DataLoader(tud.TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    validation = tud.DataLoader(tud.TensorDataset(x[192:], y[192:]), batch_size=64)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    doctor = loop(model, torch.optim.SGD(model.parameters(), lr=0.1), train,
                  transform=lambda b: (b - mean) / std, validation_data=validation)
    problems = [d.problem for d in doctor.diagnoses]
    assert "unscaled_inputs" not in problems and "validation_mismatch" not in problems
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    doctor = loop(model, torch.optim.SGD(model.parameters(), lr=1e-4), train)  # the loop forgot to
    assert [d.problem for d in doctor.diagnoses][:1] == ["unscaled_inputs"]


def test_integer_targets_under_a_regression_loss_are_no_classes():
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 4, generator=generator)
    prices = (2e5 + 1e5 * x.sum(1, keepdim=True)).long()  # stored as integers, cast in the loop
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    doctor = loop(model, torch.optim.Adam(model.parameters(), lr=1e-3),
                  tud.DataLoader(tud.TensorDataset(x, prices), batch_size=32, shuffle=True),
                  loss_fn=F.mse_loss, target=lambda y: y.float())
    problems = [d.problem for d in doctor.diagnoses]
    assert problems[:1] == ["unscaled_targets"] and "loss_output_mismatch" not in problems


def test_a_sequence_models_output_width_is_no_class_count_and_an_evaluation_first_is_passed_over():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 16), nn.Linear(16, 50))  # (N, T, 50) logits
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    doctor = watch(model, optimizer)
    tokens = torch.randint(0, 50, (32, 4))
    with torch.no_grad():
        model.eval()
        model(tokens)  # an evaluation first: not the training batch
        model.train()
    for _ in range(3):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tokens).reshape(-1, 50), ((tokens + 1) % 50).reshape(-1))
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    assert doctor._output_width is None and doctor.core.chance_loss is None  # not ln 4 (the sequence)


def test_the_script_runner_leaves_an_optimizer_the_script_watches_itself(tmp_path, capsys):
    from retroprop.cli import main

    path = tmp_path / "train.py"
    own = "from retroprop.torch import watch\nown = watch(model, optimizer)"
    path.write_text(SCRIPT.replace("EVALUATE", own))
    main(["watch", "--report", str(tmp_path / "run.html"), str(path)])
    out = capsys.readouterr()
    assert "the script watches it itself" in out.out and "Traceback" not in out.err
