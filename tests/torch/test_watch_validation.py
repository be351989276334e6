"""``watch(..., validation_inputs=...)``: validation inputs scaled apart from the training inputs are
named before the first step, as under ``fit``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


@pytest.mark.parametrize(("scale", "named"), [(255.0, True), (1.0, False)])
def test_validation_inputs_255_times_the_training_inputs_are_named_first(scale, named):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(256, 16, generator=generator)
    x_val = torch.rand(64, 16, generator=generator) * scale
    y = (x[:, 0] > 0.5).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, loss=nn.CrossEntropyLoss(), inputs=x, targets=y, n_classes=2,
                   validation_inputs=x_val)
    for i in range(0, 256, 32):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    problems = [d.problem for d in doctor.diagnoses]
    assert (problems[:1] == ["validation_mismatch"]) is named
    assert ("validation_mismatch" in problems) is named


def _train(x, y, repair=False, **setup):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, repair=repair, loss=nn.CrossEntropyLoss(), inputs=x, targets=y,
                   n_classes=4, batch_size=32, **setup)
    for i in range(0, len(x), 32):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    return [d.problem for d in doctor.diagnoses], doctor.diagnoses


def test_validation_targets_in_classes_the_training_targets_lack_are_named():
    x = torch.rand(320, 16, generator=torch.Generator().manual_seed(0))
    y = torch.cat([torch.arange(256) * 3 // 256, torch.full((64,), 3)])  # sorted: class 3 is the last 64 rows
    problems, diagnoses = _train(x[:256], y[:256], validation_inputs=x[256:], validation_targets=y[256:])
    assert problems[:1] == ["validation_mismatch"] and diagnoses[0].evidence["unseen_classes"] == [3]
    shuffled = torch.randperm(320, generator=torch.Generator().manual_seed(1))
    x, y = x[shuffled], y[shuffled]
    problems, _ = _train(x[:256], y[:256], validation_inputs=x[256:], validation_targets=y[256:])
    assert "validation_mismatch" not in problems


def test_training_targets_of_one_class_are_named_first():
    x = torch.rand(256, 16, generator=torch.Generator().manual_seed(0))
    problems, diagnoses = _train(x, torch.zeros(256, dtype=torch.long))
    assert problems[:1] == ["constant_targets"] and diagnoses[0].evidence["value"] == 0


def test_a_loop_over_labels_sorted_by_class_is_named_when_it_says_it_does_not_shuffle():
    x = torch.rand(256, 16, generator=torch.Generator().manual_seed(0))
    y = torch.arange(256) * 4 // 256  # four classes, 64 rows each, in order
    problems, _ = _train(x, y)  # shuffled or not: not known
    assert "unshuffled_data" not in problems
    problems, diagnoses = _train(x, y, shuffled=False, repair=True)
    assert problems[:1] == ["unshuffled_data"] and diagnoses[0].evidence["mean_run"] == 64
    assert [r for r, _ in diagnoses[0].remedies] == ["shuffle"]
