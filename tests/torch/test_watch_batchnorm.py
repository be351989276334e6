"""``batchnorm_statistics`` on torch: the adapter measures the loss with batch normalization's batch and
running statistics as retroprop's does (nothing of the model's state changed), frozen statistics
(momentum 0) are named before the first step and, in a hand-written loop that reports its validation
loss to ``end_epoch``, their harm too; the repair lets them update."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

import retroprop as rp  # noqa: E402
from retroprop.doctor.diagnosis import REMEDIES  # noqa: E402
from retroprop.torch import watch  # noqa: E402
from retroprop.torch.adapter import TorchAdapter  # noqa: E402
from retroprop.torch.loss_graph import GraphLoss  # noqa: E402
from retroprop.torch.remedies import REMEDY_FUNCTIONS  # noqa: E402

nn = torch.nn


def test_every_remedy_the_doctor_names_has_a_torch_form():
    assert set(REMEDY_FUNCTIONS) == set(REMEDIES)


def batchnorm_model(momentum: float | None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64, momentum=momentum), nn.ReLU(),
                         nn.Dropout(0.3), nn.Linear(64, 10))


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), GraphLoss("cross_entropy")])
def test_the_adapter_measures_both_statistics_and_changes_nothing(loss):
    model = batchnorm_model(0.1)
    rng = np.random.default_rng(0)
    x = (3.0 + rng.standard_normal((128, 64))).astype(np.float32)  # far from the initial mean 0
    y = rng.integers(0, 10, 128)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = TorchAdapter(model).batchnorm_losses(x, y, loss)
    assert found["momenta"] == [0.1] and found["running"] > found["batch"] > 0
    assert all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    # the batch statistics' loss is the loss of the model in training mode without dropout
    model[3].p = 0.0
    with torch.no_grad():
        expected = float(nn.CrossEntropyLoss()(model(torch.as_tensor(x)), torch.as_tensor(y)))
    model.load_state_dict(before)
    assert found["batch"] == pytest.approx(expected, rel=1e-5)
    assert TorchAdapter(nn.Sequential(nn.Linear(64, 10))).batchnorm_losses(x, y, loss) is None
    assert TorchAdapter(model).batchnorm_losses(x, y, "cross_entropy") is None


def test_the_measure_agrees_with_retroprops_on_the_same_weights():
    model = batchnorm_model(0.1)
    twin = rp.nn.Sequential(rp.nn.Linear(64, 64), rp.nn.BatchNorm1d(64), rp.nn.ReLU(), rp.nn.Dropout(0.3),
                            rp.nn.Linear(64, 10))
    # the same keys and layouts as torch's
    twin.load_state_dict({key: value.detach().numpy() for key, value in model.state_dict().items()})
    rng = np.random.default_rng(1)
    x = (2.0 + rng.standard_normal((96, 64))).astype(np.float32)
    y = rng.integers(0, 10, 96)
    from retroprop.doctor.adapter import RetropropAdapter

    found = RetropropAdapter(twin).batchnorm_losses(x, y, rp.nn.CrossEntropyLoss())
    theirs = TorchAdapter(model).batchnorm_losses(x, y, nn.CrossEntropyLoss())
    assert theirs["batch"] == pytest.approx(found["batch"], rel=1e-4)
    assert theirs["running"] == pytest.approx(found["running"], rel=1e-4)
    # and the accuracies with each, on the same rows
    assert theirs["rows"] == found["rows"] == 96
    for key in ("batch_accuracy", "running_accuracy"):
        assert found[key] is not None and theirs[key] == pytest.approx(found[key], abs=1 / 96)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = rp.data.load_digits()
    order = np.random.default_rng(0).permutation(len(data.x))
    x = torch.as_tensor((data.x[order] / 16.0).astype(np.float32))
    return x, torch.as_tensor(data.y[order].astype(np.int64))


@pytest.mark.parametrize("repair", [False, True])
def test_a_loop_that_reports_its_validation_loss_gets_frozen_statistics_named(repair):
    x, y = digits()
    (x_train, y_train), (x_val, y_val) = (x[:1400], y[:1400]), (x[1400:], y[1400:])
    model = batchnorm_model(0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    doctor = watch(model, optimizer, repair=repair, loss=loss_fn, inputs=x_train, targets=y_train,
                   batch_size=32)
    generator = torch.Generator().manual_seed(0)
    for epoch in range(6):
        model.train()
        losses = []
        for rows in torch.randperm(1400, generator=generator).split(32):
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[rows]), y_train[rows])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(x_val), y_val).item()
            val_accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
        doctor.end_epoch(epoch, {"loss": float(np.mean(losses)), "val_loss": val_loss})
    doctor.finish()
    named = [d for d in doctor.diagnoses if d.problem == "batchnorm_statistics"]
    assert (named[0].step, named[0].evidence["case"], named[0].evidence["frozen_layers"]) == (
        0, "momentum_zero", ["1"])
    if repair:
        (treatment,) = [t for t in doctor.treatments if t.problem == "batchnorm_statistics"]
        assert treatment.remedy == "update_batchnorm_statistics" and treatment.outcome == "resolved"
        assert model[1].momentum == 0.1 and val_accuracy > 0.95 and len(named) == 1
    else:
        (measured,) = named[1:]
        assert measured.epoch <= 2 and measured.evidence["momenta"] == [0.0]
        assert model[1].momentum == 0.0
