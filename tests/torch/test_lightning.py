"""``DoctorCallback`` in a Lightning ``Trainer``: a deep sigmoid MLP gets ``vanishing_gradients`` on its
first Linear, a healthy one gets nothing, the epoch logs come from ``callback_metrics``, and
``repair=True`` rolls back in place and lowers the rate in the optimizer's ``param_groups``."""

from __future__ import annotations

import pytest

# Lightning 2.6 calls a torch API that torch 2.13 deprecates (its own code, not retroprop's)
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")]

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from retroprop.torch.lightning import DoctorCallback  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


class Classifier(pl.LightningModule):
    """A LightningModule whose training_step runs ``self.net`` (not ``self(x)``), as many do."""

    def __init__(self, net: nn.Module, lr: float = 0.1, momentum: float = 0.0, schedule: str | None = None):
        super().__init__()
        self.net, self.lr, self.momentum, self.schedule = net, lr, momentum, schedule

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)
        if self.schedule is None:
            return optimizer
        # a schedule that sets the rate from its base rates at every step (a constant one here)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def sigmoid_net(depth: int = 8, width: int = 32) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(16 if i == 0 else width, width), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(width, 3))


def relu_net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def loaders(seed: int = 0, n: int = 256, batch: int = 32):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 16, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    data = torch.utils.data.TensorDataset
    return (torch.utils.data.DataLoader(data(x[:n], y[:n]), batch_size=batch),
            torch.utils.data.DataLoader(data(x[n:], y[n:]), batch_size=batch))


def fit(module: pl.LightningModule, callback: DoctorCallback, epochs: int = 2, **trainer_options):
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
                         **trainer_options)
    train, val = loaders()
    trainer.fit(module, train, val)
    return trainer


def test_a_deep_sigmoid_lightning_module_gets_vanishing_gradients_on_its_first_linear(capsys):
    torch.manual_seed(0)
    module = Classifier(sigmoid_net())
    callback = DoctorCallback()
    fit(module, callback)
    first = callback.diagnoses[0]
    assert (first.problem, first.layer, first.epoch) == ("vanishing_gradients", "net.0", 0)
    assert first.step < 16 and first.evidence["ratio"] < 1e-3
    printed = capsys.readouterr().out
    assert "vanishing_gradients" in printed and "net.0" in printed
    assert "did not run" not in printed  # the loss came from on_before_backward, the logs every epoch
    # the losses the doctor recorded are the training steps' own, and its epoch logs Lightning's metrics
    logs = callback.watch.core.epoch_logs
    assert len(logs) == 2 and set(logs[0]) == {"loss", "val_loss", "val_accuracy"}
    assert callback.watch.core.recorder.step == 16
    # every hook is gone after fit
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


def test_activations_are_measured_when_training_step_does_not_call_the_module():
    torch.manual_seed(0)
    callback = DoctorCallback(verbose=False, every=2)
    fit(Classifier(sigmoid_net(depth=3)), callback, epochs=1)
    records = callback.watch.core.recorder.records
    assert [r.step for r in records] == [0, 2, 4, 6]
    for record in records:  # each batch is a pass of its own (no "net.1#2": a second call in one pass)
        assert [a.name for a in record.activations] == ["net.1", "net.3", "net.5"]
        assert all(a.samples == 32 for a in record.activations)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_healthy_lightning_module_gets_no_diagnosis(seed):
    torch.manual_seed(seed)
    callback = DoctorCallback(repair=True, verbose=False)
    fit(Classifier(relu_net(), lr=0.1, momentum=0.9), callback, epochs=4)
    assert callback.diagnoses == [] and callback.treatments == []
    assert callback.summary().startswith("No problems found in 32 steps.")


def test_the_epoch_logs_follow_the_metrics_mapping_and_the_loss_is_the_mean_step_loss():
    torch.manual_seed(0)
    callback = DoctorCallback(verbose=False, metrics={"loss": "train_loss_epoch", "accuracy": "val_acc"})
    fit(Classifier(relu_net()), callback, epochs=1)
    (logs,) = callback.watch.core.epoch_logs
    assert logs["accuracy"] == logs["val_accuracy"]
    losses = callback.watch.core.recorder.losses
    assert logs["loss"] == pytest.approx(float(losses.mean()), rel=1e-6)  # Lightning's epoch mean
    with pytest.raises(ValueError, match="'val_acc'"):
        DoctorCallback(metrics={"val_acc": "val_acc"})


def test_repair_rolls_back_in_place_and_lowers_the_rate_in_param_groups(tmp_path):
    torch.manual_seed(0)
    module = Classifier(relu_net(), lr=20.0, momentum=0.9)
    net = module.net
    params = [id(p) for p in module.parameters()]
    callback = DoctorCallback(repair=True, verbose=False, report=tmp_path / "run.html")
    trainer = fit(module, callback, epochs=3)
    first = callback.treatments[0]
    assert (first.problem, first.remedy, first.applied, first.rolled_back_to) == (
        "exploding_gradients", "lower_lr", True, 0)
    assert callback.watch.skipped_steps >= 1
    optimizer = trainer.optimizers[0]
    assert optimizer is callback.watch.optimizer and optimizer.param_groups[0]["lr"] <= 2.0
    assert module.net is net and [id(p) for p in module.parameters()] == params
    assert trainer.callback_metrics["val_acc"] > 0.5  # it learned after the treatment (majority class: 0.5)
    assert "exploding_gradients" in (tmp_path / "run.html").read_text()


def test_a_lowered_rate_is_kept_by_a_scheduler_that_sets_the_rate_from_its_base_rates():
    torch.manual_seed(0)
    module = Classifier(relu_net(), lr=20.0, momentum=0.9, schedule="lambda")
    callback = DoctorCallback(repair=True, verbose=False)
    trainer = fit(module, callback, epochs=3)
    lowered = [t for t in callback.treatments if t.remedy == "lower_lr" and t.applied]
    # the first update's large ratio is confirmed by the losses after it (they overshoot by orders of
    # magnitude within a few steps), and the rate is lowered at the probe brought forward for it
    assert lowered and lowered[0].step <= 7 and lowered[0].rolled_back_to == 0
    (config,) = trainer.lr_scheduler_configs
    rate = trainer.optimizers[0].param_groups[0]["lr"]
    assert rate <= 2.0 and config.scheduler.base_lrs == [pytest.approx(rate)]
    assert config.scheduler.get_last_lr() == [pytest.approx(rate)]
    assert trainer.callback_metrics["val_acc"] > 0.5  # above the majority class's share


def test_repair_swaps_the_sigmoids_of_a_lightning_module_in_place():
    torch.manual_seed(0)
    module = Classifier(sigmoid_net())
    callback = DoctorCallback(repair=True, verbose=False)
    fit(module, callback, epochs=2)
    relu = [t for t in callback.treatments if t.remedy == "relu" and t.applied]
    assert relu and relu[0].problem == "vanishing_gradients"
    assert not any(isinstance(m, nn.Sigmoid) for m in module.modules())
