"""``retroprop.torch.watch`` in unchanged PyTorch loops: diagnosis by dotted module name without
``observe``, repair in place (the loop's objects stay valid), healthy runs left alone, the report."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch import watch  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


class DeepSigmoid(nn.Module):
    """A deep sigmoid MLP as people write it: a Sequential body inside a custom module."""

    def __init__(self, depth: int = 8, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(16 if i == 0 else width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        return self.head(self.body(x))


class FunctionalSigmoid(nn.Module):
    """The same with its sigmoids applied as functions in forward."""

    def __init__(self, depth: int = 8, width: int = 32) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(16 if i == 0 else width, width) for i in range(depth))
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return self.head(x)


def data(seed: int = 0, n: int = 256, features: int = 16):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def train(model, optimizer, doctor, epochs: int, batch: int = 32, observe: bool = True, seed: int = 0,
          validation: bool = False, n: int = 256):
    """An ordinary PyTorch loop; the doctor's only lines are the optional observe and end_epoch."""
    x, y = data(seed, n)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for i in range(0, len(x), batch):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
            loss.backward()
            if observe:
                doctor.observe(loss)
            optimizer.step()
        if validation:
            with torch.no_grad():
                vx, vy = data(seed + 100, n)
                logs = {"loss": loss_fn(model(x), y), "accuracy": (model(x).argmax(1) == y).float().mean(),
                        "val_loss": loss_fn(model(vx), vy),
                        "val_accuracy": (model(vx).argmax(1) == vy).float().mean()}
            doctor.end_epoch(epoch, logs)
    doctor.finish()
    return doctor


def test_a_deep_sigmoid_net_gets_vanishing_gradients_naming_the_first_linear_without_observe():
    torch.manual_seed(0)
    model = DeepSigmoid()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = train(model, optimizer, watch(model, optimizer), epochs=2, observe=False)
    first = doctor.diagnoses[0]
    assert (first.problem, first.layer) == ("vanishing_gradients", "body.0")
    assert first.step < 32 and first.epoch == 0 and "(body.0)" in first.layer_label
    assert first.evidence["ratio"] < 1e-3
    text = doctor.summary()
    assert "vanishing_gradients" in text and "the loss rules did not run" in text
    assert "the epoch rules" in text
    # every hook is gone after finish: the model and optimizer run as if never watched
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    assert not optimizer._optimizer_step_pre_hooks and not optimizer._optimizer_step_post_hooks


def accuracy(model) -> float:
    x, y = data()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def untreated_and_repaired(make: Any) -> tuple[nn.Module, nn.Module, Any, Any]:
    """The same network (``make()`` from seed 0) trained for 12 epochs under SGD at 0.1 as it is and
    under ``watch(repair=True)``: (untreated, repaired model, its optimizer, its doctor)."""
    runs = []
    for repair in (False, True):
        torch.manual_seed(0)
        model = make()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        runs.append((model, optimizer, train(model, optimizer, watch(model, optimizer, repair=repair),
                                             epochs=12)))
    (untreated, _, _), (model, optimizer, doctor) = runs
    return untreated, model, optimizer, doctor


def test_repair_swaps_the_sigmoid_modules_in_place_and_the_run_learns():
    bodies = []  # each network's Sequential body as it was created

    def make() -> nn.Module:
        network = DeepSigmoid()
        bodies.append(network.body)
        return network

    untreated, model, optimizer, doctor = untreated_and_repaired(make)
    body = bodies[-1]
    relu = [t for t in doctor.treatments if t.applied and t.remedy == "relu"]
    assert relu and relu[0].problem == "vanishing_gradients"
    assert model.body is body and all(not isinstance(m, nn.Sigmoid) for m in model.modules())
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 8
    assert {id(p) for p in model.parameters()} == {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert accuracy(model) > accuracy(untreated) + 0.2


class OwnSigmoid(nn.Module):
    """An activation of the user's own class, as tutorials write them (UvA DL tutorial 3)."""

    def forward(self, x):
        return 1 / (1 + torch.exp(-x))


class OwnSigmoidNet(nn.Module):
    """One instance of it shared by every position of a Sequential, a Dropout after one of them."""

    def __init__(self, depth: int = 8, width: int = 32) -> None:
        super().__init__()
        act = OwnSigmoid()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(16 if i == 0 else width, width), act] + ([nn.Dropout(0.0)] if i == 2 else [])
        self.layers = nn.Sequential(*layers, nn.Linear(width, 3))

    def forward(self, x):
        return self.layers(x)


def test_activations_of_the_users_own_class_are_swapped_where_they_sit():
    """The probe reads sigmoid outputs on the Linear layers' inputs; the modules that made them are
    found before each Linear in its Sequential (past the Dropout) and replaced, one per position."""
    untreated, model, _, doctor = untreated_and_repaired(OwnSigmoidNet)
    (relu,) = [t for t in doctor.treatments if t.applied and t.remedy == "relu"]
    assert relu.problem == "vanishing_gradients" and "replaced 8 activation module(s)" in relu.description
    assert not any(isinstance(m, OwnSigmoid) for m in model.modules())
    assert [type(m).__name__ for m in model.layers][:5] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert accuracy(model) > accuracy(untreated) + 0.2


@pytest.mark.parametrize("remedy, shared, expected", [
    ("relu", nn.Sigmoid, ["Linear", "ReLU", "Linear", "ReLU", "Linear"]),
    ("dropout", nn.ReLU, ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"])])
def test_one_activation_instance_at_several_places_is_treated_at_each(remedy, shared, expected):
    """``named_modules()`` lists a shared module once; the remedies treat every place it sits, as
    retroprop's do (they walk each Sequential's positions)."""
    from retroprop.torch.remedies import Context, apply_torch_remedy

    act = shared()
    model = nn.Sequential(nn.Linear(16, 32), act, nn.Linear(32, 32), act, nn.Linear(32, 3))
    treatment = apply_torch_remedy(remedy, model, torch.optim.SGD(model.parameters(), lr=0.1), Context())
    assert treatment.applied and [type(m).__name__ for m in model] == expected


def test_a_remedy_for_functional_activations_is_advice_and_changes_nothing():
    torch.manual_seed(0)
    model = FunctionalSigmoid()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    doctor = watch(model, optimizer, repair=True)
    train(model, optimizer, doctor, epochs=1)
    relu = [t for t in doctor.treatments if t.remedy == "relu"]
    assert relu and relu[0].outcome == "skipped" and not relu[0].applied
    assert "torch.relu" in relu[0].description and "layers." in relu[0].description
    # and straight through the adapter: the model and the optimizer are exactly as they were
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = optimizer.state_dict()
    treatment = doctor.adapter.apply("relu")
    assert not treatment.applied
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert optimizer.state_dict()["param_groups"] == state["param_groups"]
    assert all(torch.equal(optimizer.state_dict()["state"][k]["momentum_buffer"], v["momentum_buffer"])
               for k, v in state["state"].items())
    assert not doctor.adapter.apply("adam").applied and isinstance(optimizer, torch.optim.SGD)
    assert "torch.optim.Adam(model.parameters()" in doctor.adapter.apply("adam").description


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def test_a_learning_rate_far_too_large_is_rolled_back_in_place_and_lowered_in_param_groups():
    model = mlp(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=20.0, momentum=0.9)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    params = [id(p) for p in model.parameters()]
    doctor = watch(model, optimizer, repair=True)
    x, y = data()
    loss_fn = nn.CrossEntropyLoss()
    seen = []
    for step in range(60):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
        if doctor.treatments and not seen:
            seen.append(step)
            # the step that treated changed nothing: the state is the snapshot's (the initial one)
            for key, value in model.state_dict().items():
                assert torch.equal(value, initial[key]), key
            assert optimizer.state_dict()["state"] == {}  # no momentum yet, as at step 0
    doctor.finish()
    first = doctor.treatments[0]
    # the first update's large ratio is confirmed by the loss after the next step (10x its start)
    assert seen == [2] and (first.problem, first.remedy, first.rolled_back_to) == (
        "exploding_gradients", "lower_lr", 0)
    assert doctor.skipped_steps >= 1
    assert doctor.model is model and doctor.optimizer is optimizer
    assert [id(p) for p in model.parameters()] == params
    assert optimizer.param_groups[0]["lr"] <= 2.0
    assert float(loss.detach()) < 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_healthy_torch_mlp_gets_no_diagnosis(seed):
    model = mlp(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    doctor = train(model, optimizer, watch(model, optimizer, repair=True), epochs=5, seed=seed,
                   validation=True, n=1024)
    assert doctor.diagnoses == [] and doctor.treatments == []
    assert doctor.summary().startswith("No problems found in 160 steps.")
    assert "Not checked" not in doctor.summary()


class FunctionalReLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(16, 64), nn.Linear(64, 64), nn.Linear(64, 3)

    def forward(self, x):
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


def test_dead_units_behind_a_functional_relu_are_found_as_behind_a_relu_module():
    diagnoses = []
    for functional in (True, False):
        torch.manual_seed(0)
        model = FunctionalReLU()
        with torch.no_grad():
            model.fc1.bias[:48] = -50.0  # three quarters of fc1's units never fire
        if not functional:
            model = nn.Sequential(model.fc1, nn.ReLU(), model.fc2, nn.ReLU(), model.out)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        doctor = train(model, optimizer, watch(model, optimizer), epochs=10)
        diagnoses.append([d for d in doctor.diagnoses if d.problem == "dead_relu"])
    functional, modules = diagnoses
    assert [d.layer for d in functional] == ["fc2[input]"] and [d.layer for d in modules] == ["1"]
    assert functional[0].step == modules[0].step
    assert functional[0].evidence == modules[0].evidence
    assert (functional[0].evidence["dead_share"], functional[0].evidence["dead_units"]) == (0.75, 48)


def test_the_report_is_written(tmp_path):
    torch.manual_seed(0)
    model = DeepSigmoid(depth=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = train(model, optimizer, watch(model, optimizer), epochs=2, validation=True)
    path = doctor.report(tmp_path / "run.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html") or "<html" in text
    for d in doctor.diagnoses:
        assert d.problem in text


def test_the_setup_checks_run_before_the_first_step_and_repair_fits_the_output_in_place():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = data()
    doctor = watch(model, optimizer, repair=True, loss=nn.CrossEntropyLoss(), inputs=x, targets=y,
                   n_classes=3)
    train(model, optimizer, doctor, epochs=2)
    first = doctor.diagnoses[0]
    assert (first.problem, first.layer, first.step) == ("loss_output_mismatch", "3", 0)
    assert doctor.treatments[0].remedy == "fix_output_loss" and doctor.treatments[0].applied
    assert isinstance(model[3], nn.Identity)


class ScoresThroughReLU(nn.Module):
    """The class scores through F.relu before F.log_softmax, in forward: no module to swap."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.scores = nn.Linear(16, 32), nn.Linear(32, 3)

    def forward(self, x):
        return F.log_softmax(F.relu(self.scores(F.relu(self.hidden(x)))), dim=1)


def train_nll(model, optimizer, epochs: int):
    """A loop under NLL on the model's log-probabilities, watched with ``repair=True``; the doctor."""
    doctor = watch(model, optimizer, repair=True)
    x, y = data()
    for _ in range(epochs):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
    doctor.finish()
    return doctor


@pytest.mark.parametrize("functional", [False, True])
def test_a_relu_before_log_softmax_is_named_and_removed_where_it_is_a_module(functional):
    torch.manual_seed(0)
    model = ScoresThroughReLU() if functional else nn.Sequential(
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 3), nn.ReLU(), nn.LogSoftmax(dim=1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = train_nll(model, optimizer, epochs=1)
    first = doctor.diagnoses[0]
    assert (first.problem, first.evidence["case"]) == ("loss_output_mismatch", "activation_before_softmax")
    treatment = doctor.treatments[0]
    if functional:  # advice with the edit to make, nothing applied half-way
        assert not treatment.applied and "without the activation before it" in treatment.description
    else:
        assert treatment.applied and isinstance(model[3], nn.Identity) and isinstance(model[4], nn.LogSoftmax)


def test_the_stall_a_fix_left_to_the_user_causes_is_left_untreated():
    # the ReLU before F.log_softmax is the user's to remove (no module to swap): the plateau it causes is
    # said, and no higher rate is tried on it (71x, sized from the small steps, killed every unit)
    torch.manual_seed(0)
    model = ScoresThroughReLU()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    doctor = train_nll(model, optimizer, epochs=40)
    assert [d.problem for d in doctor.diagnoses] == ["loss_output_mismatch", "slow_convergence"]
    assert doctor.diagnoses[1].caused_by["problem"] == "loss_output_mismatch"
    assert [(t.problem, t.outcome) for t in doctor.treatments] == [
        ("loss_output_mismatch", "skipped"), ("loss_output_mismatch", "exhausted"),
        ("slow_convergence", "left")]
    assert optimizer.param_groups[0]["lr"] == 0.001


def test_frozen_layers_are_not_taken_for_vanishing_gradients():
    """Fine-tuning: a frozen first layer gets no gradient by design."""
    model = mlp(0)
    model[0].requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # frozen ones included
    doctor = train(model, optimizer, watch(model, optimizer), epochs=3, n=1024)
    assert doctor.diagnoses == []
    assert [layer.name for layer in doctor.core.recorder.records[0].layers] == ["2", "4"]


def test_watch_refuses_what_it_cannot_hook():
    model = mlp(0)
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer"):
        watch(model, object())
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        watch(np.zeros(3), torch.optim.SGD(model.parameters(), lr=0.1))


def test_a_small_cnn_is_watched_without_errors():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    doctor = watch(model, optimizer, repair=True, every=4)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 8, 8, generator=generator)
    y = (x[:, 0, :4].mean(dim=(1, 2)) > 0).long()
    for _ in range(3):
        for i in range(0, 64, 16):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
            loss.backward()
            doctor.observe(loss)
            optimizer.step()
    doctor.finish()
    assert doctor.core.errors == [] and len(doctor.core.recorder.records) >= 3
    layers = doctor.core.recorder.records[-1].layers
    assert [layer.name for layer in layers] == ["0", "1", "4", "7"]
    assert all(layer.update_ratio is not None for layer in doctor.core.recorder.records[0].layers)


def test_the_documented_example_prints_what_the_docs_show(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "doctor.md").read_text(encoding="utf-8")
    section = text.split("## Your PyTorch model", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown = section.split("prints (torch 2.13.0, CPU):\n\n```\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/doctor.md", "exec"), {})
    printed = capsys.readouterr().out

    def lines(out: str) -> list[str]:  # a measured ratio's last digit may differ between CPUs
        return [re.sub(r"\d\.\de-\d\d", "<ratio>", line.rstrip()) for line in out.splitlines()]

    assert lines(printed) == lines(shown) and "<ratio>" in "".join(lines(shown))


def test_a_blind_guess_loss_is_known_for_a_cross_entropy_over_known_classes():
    import math

    def core_chance(**setup):
        model = torch.nn.Sequential(torch.nn.Linear(4, 3))
        doctor = watch(model, torch.optim.SGD(model.parameters(), lr=0.1), **setup)
        try:
            return doctor.core.chance_loss
        finally:
            doctor.finish()

    assert core_chance(loss=torch.nn.CrossEntropyLoss(), n_classes=3) == pytest.approx(math.log(3))
    assert core_chance(n_classes=3) is None  # the loss unknown: no guess of what a guess costs
    assert core_chance(loss=torch.nn.MSELoss(), n_classes=3) is None
    assert core_chance(loss=torch.nn.CrossEntropyLoss(), n_classes=3, chance_loss=2.0) == 2.0
