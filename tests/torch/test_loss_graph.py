"""The loss a loop computes, read from its first loss's autograd graph (``retroprop.torch.loss_graph``):
without ``loss=``, ``watch``, the Lightning callback and ``retroprop watch train.py`` still check the
model's output against the loss before the first step."""

from __future__ import annotations

import math

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")]

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402
from retroprop.torch.loss_graph import GraphLoss, loss_from_graph  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


def scores():
    return nn.Linear(3, 3)(torch.randn(4, 3))  # a layer's output: the graph goes on below the loss


LABELS = torch.tensor([0, 1, 2, 0])
SOFT = torch.rand(4, 3)

CASES = {
    "cross_entropy": (lambda z: F.cross_entropy(z, LABELS), ("cross_entropy", "mean")),
    "CrossEntropyLoss(sum)": (lambda z: nn.CrossEntropyLoss(reduction="sum")(z, LABELS),
                              ("cross_entropy", "sum")),
    "per-sample, then mean": (lambda z: F.cross_entropy(z, LABELS, reduction="none").mean(),
                              ("cross_entropy", "mean")),
    "per-sample, then sum": (lambda z: F.cross_entropy(z, LABELS, reduction="none").sum(),
                             ("cross_entropy", "sum")),
    "nll of log_softmax": (lambda z: F.nll_loss(F.log_softmax(z, 1), LABELS), ("cross_entropy", "mean")),
    "nll of raw scores": (lambda z: F.nll_loss(z, LABELS), ("nll", "mean")),
    "nll of log(softmax)": (lambda z: F.nll_loss(torch.log(F.softmax(z, 1)), LABELS),
                            ("cross_entropy_probs", "mean")),
    "mse": (lambda z: F.mse_loss(z, SOFT), ("mse", "mean")),
    "huber": (lambda z: F.huber_loss(z, SOFT), ("huber", "mean")),
    "smooth_l1": (lambda z: nn.SmoothL1Loss()(z, SOFT), ("huber", "mean")),
    "bce": (lambda z: F.binary_cross_entropy(torch.sigmoid(z), SOFT), ("bce", "mean")),
    "bce with logits": (lambda z: nn.BCEWithLogitsLoss()(z, SOFT), ("bce_with_logits", "mean")),
    "scaled for accumulation": (lambda z: F.cross_entropy(z, LABELS) / 4, ("cross_entropy", "mean")),
    "plus a penalty": (lambda z: F.cross_entropy(z, LABELS) + 0.1 * (z ** 2).sum(),
                       ("cross_entropy", "mean")),
    "label smoothing": (lambda z: F.cross_entropy(z, LABELS, label_smoothing=0.1), ("cross_entropy", "mean")),
    "two losses": (lambda z: F.cross_entropy(z, LABELS) + F.mse_loss(z, SOFT), None),
    "custom": (lambda z: (z ** 4).mean(), None),
}


def kind(found: GraphLoss | None) -> tuple | None:
    return None if found is None else (found.doctor_loss_kind, found.reduction)


@pytest.mark.parametrize("name", list(CASES))
def test_the_loss_function_is_read_from_the_graph(name):
    make, expected = CASES[name]
    assert kind(loss_from_graph(make(scores()))) == expected


def test_nll_over_the_models_own_log_softmax_is_nll():
    model_output = F.log_softmax(scores(), 1)  # nn.LogSoftmax at the end of the model
    found = loss_from_graph(F.nll_loss(model_output, LABELS), "log_softmax")
    assert kind(found) == ("nll", "mean") and found.output == "log_softmax"
    # CrossEntropyLoss on that output applies a second log_softmax of its own
    found = loss_from_graph(F.cross_entropy(model_output, LABELS), "log_softmax")
    assert kind(found) == ("cross_entropy", "mean") and found.output == "log_softmax"
    assert kind(loss_from_graph(F.cross_entropy(scores(), LABELS), "log_softmax")) == ("nll", "mean")


@pytest.mark.parametrize(("make", "output", "width"), [
    (lambda z: F.cross_entropy(z, LABELS), "linear", 3),
    (lambda z: F.cross_entropy(F.softmax(z, 1), LABELS), "softmax", 3),
    (lambda z: F.cross_entropy(torch.relu(z), LABELS), "relu", 3),
    (lambda z: F.nll_loss(torch.log(F.softmax(z, 1)), LABELS), "softmax", 3),
    (lambda z: F.binary_cross_entropy(torch.sigmoid(z[:, :1]).squeeze(1), SOFT[:, 0]), "sigmoid", 1),
    (lambda z: F.binary_cross_entropy_with_logits(torch.sigmoid(z).view(-1), SOFT.view(-1)), "sigmoid", 1),
    (lambda z: F.mse_loss(torch.tanh(z), SOFT), "tanh", 3),
    (lambda z: F.mse_loss(z * 2, SOFT), None, 3),
])
def test_the_outputs_last_function_and_width_are_read_before_backward(make, output, width):
    loss = make(scores())
    found = loss_from_graph(loss)
    assert (found.output, found.width) == (output, width)
    loss.backward()  # the saved input is freed: the width is no longer known, the rest is
    found = loss_from_graph(loss)
    assert (found.output, found.width) == (output, None)


def test_a_tensor_without_a_graph_gives_nothing():
    assert loss_from_graph(F.cross_entropy(scores(), LABELS).detach()) is None
    assert loss_from_graph(1.5) is None


# -- in watch ------------------------------------------------------------------------------------
def run(head: list, loss_fn, steps: int = 4, **setup):
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 16, generator=generator), torch.randint(0, 3, (128,), generator=generator)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3), *head)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = watch(model, optimizer, **setup)
    for i in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x[i * 32:(i + 1) * 32]), y[i * 32:(i + 1) * 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    return doctor


def test_a_softmax_before_cross_entropy_is_named_without_the_loss_given():
    doctor = run([nn.Softmax(dim=1)], nn.CrossEntropyLoss())
    first = doctor.diagnoses[0]
    assert (first.problem, first.step) == ("loss_output_mismatch", 0)
    assert first.evidence["case"] == "double_softmax"
    assert not [d for d in run([], nn.CrossEntropyLoss()).diagnoses if d.problem == "loss_output_mismatch"]
    # an output the loss expects: nn.LogSoftmax under NLLLoss
    assert not [d for d in run([nn.LogSoftmax(dim=1)], nn.NLLLoss()).diagnoses
                if d.problem == "loss_output_mismatch"]


class SoftmaxInForward(nn.Module):
    """The classic PyTorch bug: ``F.softmax`` at the end of ``forward``, then ``CrossEntropyLoss``."""

    def __init__(self, softmax: bool = True):
        super().__init__()
        self.fc1, self.fc2, self.softmax = nn.Linear(16, 32), nn.Linear(32, 3), softmax

    def forward(self, x):
        z = self.fc2(F.relu(self.fc1(x)))
        return F.softmax(z, dim=1) if self.softmax else z


class SoftmaxInUntraceableForward(SoftmaxInForward):
    """The same, with control flow on the values, which ``torch.fx`` cannot trace: the model stays one
    opaque layer to the description, and only the loss's graph shows the softmax."""

    def forward(self, x):
        if x.abs().sum() < 0:  # never: a branch on the values
            return x
        return super().forward(x)


@pytest.mark.parametrize("model_class", [SoftmaxInForward, SoftmaxInUntraceableForward])
def test_a_softmax_applied_in_forward_is_seen_by_tracing_or_in_the_graph(model_class):
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 16, generator=generator), torch.randint(0, 3, (64,), generator=generator)
    found = {}
    for softmax in (True, False):
        torch.manual_seed(0)
        model = model_class(softmax)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        doctor = watch(model, optimizer)
        for i in range(0, 64, 32):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.finish()
        found[softmax] = [d for d in doctor.diagnoses if d.problem == "loss_output_mismatch"]
    assert found[True] and found[True][0].evidence["case"] == "double_softmax"
    where = ("seen in the loss's graph" if model_class is SoftmaxInUntraceableForward
             else "softmax (softmax()) after layer 2, Linear 32→3 (fc2)")
    assert found[True][0].step == 0 and where in found[True][0].layer_label
    assert not found[False]


def test_a_loss_given_to_watch_is_not_second_guessed():
    doctor = run([nn.Softmax(dim=1)], nn.CrossEntropyLoss(), loss=nn.MSELoss())
    assert doctor.core._loss_kind == "mse"
    assert not doctor.core.complete_setup(GraphLoss("cross_entropy"))


def test_a_loss_found_after_the_first_step_changes_nothing():
    doctor = run([], nn.CrossEntropyLoss())
    assert doctor.core._loss_kind == "cross_entropy"
    assert not doctor.core.complete_setup(GraphLoss("mse")) and doctor.core._loss_kind == "cross_entropy"


def test_the_blind_guess_of_an_inferred_cross_entropy_is_ln_c():
    doctor = run([], nn.CrossEntropyLoss(), n_classes=3)
    assert doctor.core.chance_loss == pytest.approx(math.log(3))
    # without n_classes: the output's width, read at the model's first call (the graph is freed by then)
    doctor = run([], nn.CrossEntropyLoss())
    assert doctor._output_width == 3 and doctor.core.chance_loss == pytest.approx(math.log(3))
    assert not doctor.model._forward_hooks  # the one-call hook is gone
    doctor = run([], nn.CrossEntropyLoss(reduction="sum"), n_classes=3)
    assert doctor.core.chance_loss is None  # a sum over the batch is no per-sample guess


SCRIPT = """\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(256, 16)
y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for i in range(0, 256, 32):
    optimizer.zero_grad()
    loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
    loss.backward()
    optimizer.step()
"""


def test_the_script_runner_names_a_double_softmax(tmp_path, capsys):
    from retroprop.cli import main

    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    assert main(["watch", "--report", str(tmp_path / "run.html"), str(path)]) == 3
    out = capsys.readouterr().out
    assert "loss_output_mismatch" in out and "softmax" in out


def test_the_lightning_callback_names_a_double_softmax():
    pl = pytest.importorskip("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    from retroprop.torch.lightning import DoctorCallback

    class Classifier(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 16, generator=generator), torch.randint(0, 3, (128,), generator=generator)
    doctor = DoctorCallback(verbose=False)
    trainer = pl.Trainer(max_epochs=1, callbacks=[doctor], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(Classifier(), DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True))
    assert doctor.diagnoses[0].problem == "loss_output_mismatch"


# -- an output broadcast against targets of another shape ------------------------------------------
@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("make", [lambda z, y: F.mse_loss(z, y), lambda z, y: nn.SmoothL1Loss()(z, y),
                                  lambda z, y: F.mse_loss(z.squeeze(1), y.unsqueeze(1))])
def test_an_output_broadcast_against_its_targets_is_read_from_the_graph(make):
    z = nn.Linear(2, 1)(torch.randn(8, 2))
    found = loss_from_graph(make(z, torch.randn(8)))
    assert found.broadcast is not None and found.broadcast[1] == (8, 8)  # read before backward
    assert found.width == 1 and found.output in ("linear", None)
    assert loss_from_graph(F.mse_loss(z, torch.randn(8, 1))).broadcast is None  # shapes that match


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_a_regression_on_targets_of_another_shape_is_named_before_the_first_step():
    """PyTorch issue 16045's program: (N, 1) predictions against (N,) targets under MSELoss compare every
    prediction with every target (torch only warns); the weights go to 0 and the bias to the mean."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=generator)
    y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + torch.randn(100, generator=generator)
    found = {}
    for reshape, given in ((False, None), (True, None), (False, nn.MSELoss()), (True, nn.MSELoss())):
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        # a loss given to watch is not second-guessed, but the graph still shows what it broadcast
        doctor = watch(model, optimizer, loss=given)
        targets = y.view(-1, 1) if reshape else y
        for _ in range(5):
            optimizer.zero_grad()
            loss = nn.MSELoss()(model(x), targets)
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
        doctor.finish()
        found[reshape, given is not None] = [
            d for d in doctor.diagnoses if d.problem == "loss_output_mismatch"]
    for given in (False, True):
        (first,) = found[False, given]
        assert first.step == 0 and first.severity == "critical"
        assert first.evidence["case"] == "broadcast_targets" and first.evidence["output_shape"] == [100, 1]
        assert first.remedies[0][0] == "match_target_shape"
        assert not found[True, given]
