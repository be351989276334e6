"""A loop that never clears its gradients (``optimizer.zero_grad()`` missing, or once per epoch): each step
moves along the sum of every gradient so far. The watch reads, on one small tensor, how much of the
previous step's gradient the next step's still holds beyond what its own backward passes added; two such
steps name ``exploding_gradients`` (case ``gradients_accumulate``), and the repair clears the gradients
after each step. Loops that clear them, that accumulate micro-batches on purpose between steps, or whose
steps take a closure raise nothing."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

import retroprop as rp  # noqa: E402
from retroprop.doctor import rules  # noqa: E402
from retroprop.torch import watch  # noqa: E402

nn = torch.nn


def test_two_steps_that_still_hold_the_previous_gradient_are_named():
    (finding,) = rules.gradients_carried([1.0, 1.0], "2.bias")
    assert (finding.problem, finding.evidence["case"], finding.evidence["cause"]) == (
        "exploding_gradients", "gradients_accumulate", "training_loop")
    assert "nothing clears the gradients" in finding.explanation
    assert rules.gradients_carried([0.0, 0.0]) == []  # cleared before each backward
    assert rules.gradients_carried([1.0]) == []  # one step is not yet two
    assert rules.gradients_carried([1.0, 0.1]) == []  # cleared on the second
    assert rules.gradients_carried([float("nan"), 1.0]) == []


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = rp.data.load_digits()
    order = np.random.default_rng(0).permutation(len(data.x))
    return (torch.as_tensor((data.x[order] / 16.0).astype(np.float32)),
            torch.as_tensor(data.y[order].astype(np.int64)))


def train(clear: str, *, repair: bool = False, epochs: int = 3) -> tuple:
    """A 64-64-10 ReLU net on the digits, SGD with momentum, batches of 32; ``clear``: "step" (zero_grad
    before each backward), "epoch" (once per epoch), "never", or "micro" (two half-batches
    accumulated per step, cleared after it)."""
    x, y = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    doctor = watch(model, optimizer, repair=repair)
    for epoch in range(epochs):
        if clear == "epoch":
            optimizer.zero_grad()
        for i in range(0, 1400, 32):
            if clear == "step":
                optimizer.zero_grad()
            if clear == "micro":
                for half in (slice(i, i + 16), slice(i + 16, i + 32)):
                    (nn.functional.cross_entropy(model(x[half]), y[half]) / 2).backward()
                loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).detach()
            else:
                loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
                loss.backward()
            doctor.observe(loss)
            optimizer.step()
            if clear == "micro":
                optimizer.zero_grad()
        with torch.no_grad():
            accuracy = float((model(x[1400:]).argmax(1) == y[1400:]).float().mean())
        doctor.end_epoch(epoch, {"loss": float(loss.detach()), "val_accuracy": accuracy})
    doctor.finish()
    return doctor, accuracy, optimizer


@pytest.mark.parametrize("clear", ["never", "epoch"])
def test_a_loop_that_does_not_clear_the_gradients_is_named_on_its_third_step(clear):
    doctor, accuracy, _ = train(clear)
    assert doctor.adapter.carried == pytest.approx([1.0, 1.0], abs=1e-4)
    first = doctor.diagnoses[0]
    assert (first.problem, first.step, first.evidence["case"]) == ("exploding_gradients", 2,
                                                                   "gradients_accumulate")
    assert [name for name, _ in first.remedies] == ["clear_gradients"]
    assert accuracy < 0.5  # the sum of every gradient so far: the run does not learn


@pytest.mark.parametrize("clear", ["step", "micro"])
def test_loops_that_clear_their_gradients_once_per_step_raise_nothing(clear):
    doctor, accuracy, _ = train(clear)
    assert doctor.adapter.carried == pytest.approx([0.0, 0.0], abs=1e-6)
    assert [d.problem for d in doctor.diagnoses] == [] and accuracy > 0.8


def test_the_repair_clears_the_gradients_after_each_step_until_the_doctor_finishes():
    _, healthy, _ = train("step")
    doctor, repaired, optimizer = train("never", repair=True)
    (treatment,) = [t for t in doctor.treatments if t.applied]
    assert (treatment.remedy, treatment.outcome) == ("clear_gradients", "resolved")
    assert repaired > healthy - 0.05
    assert len(optimizer._optimizer_step_post_hooks) == 0  # the doctor's hooks are gone with it


def test_a_step_with_a_closure_is_not_measured():
    x, y = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 10))
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=3)
    doctor = watch(model, optimizer)

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[:256]), y[:256])
        loss.backward()
        return loss

    for _ in range(4):
        optimizer.step(closure)
    doctor.finish()
    assert doctor.adapter.carried == [] and not doctor.adapter.carrying
    assert all(d.evidence.get("case") != "gradients_accumulate" for d in doctor.diagnoses)


def test_steps_that_find_no_gradient_on_the_model_are_named():
    (finding,) = rules.steps_without_gradients(3, 3)
    assert (finding.problem, finding.evidence["case"]) == ("slow_convergence", "steps_without_gradients")
    assert rules.steps_without_gradients(2, 3) == []  # one step had a gradient
    assert rules.steps_without_gradients(2, 2) == []  # too few steps checked


@pytest.mark.parametrize("fault", ["detached_loss", "cleared_before_step"])
def test_a_loss_that_never_reaches_the_model_is_named_on_its_third_step(fault):
    """torchMoji issue 21's workaround (a loss rebuilt as a new leaf that requires a gradient), and
    zero_grad called between backward and step: the optimizer steps with no gradient at all."""
    x, y = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    doctor = watch(model, optimizer)
    before = [p.detach().clone() for p in model.parameters()]
    for i in range(0, 320, 32):
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        if fault == "detached_loss":
            loss = torch.tensor(loss.item(), requires_grad=True)
        else:
            optimizer.zero_grad()
        loss.backward()
        if fault == "cleared_before_step":
            optimizer.zero_grad()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))  # never moved
    (first, *_) = doctor.diagnoses
    assert (first.problem, first.step, first.evidence["case"]) == ("slow_convergence", 2,
                                                                   "steps_without_gradients")
    assert [name for name, _ in first.remedies] == ["connect_loss"]


def test_a_tensor_the_steps_never_reach_is_given_up_after_a_few_steps():
    x, y = digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 10))
    unused = nn.Parameter(torch.zeros(1))  # the optimizer's smallest tensor, in no forward pass
    optimizer = torch.optim.SGD([*model.parameters(), unused], lr=0.1)
    doctor = watch(model, optimizer)
    for i in range(0, 32 * 12, 32):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
        if i == 32 * 10:
            assert not doctor.adapter.carrying  # stopped looking after ten steps
    doctor.finish()
    assert doctor.adapter.carried == [] and doctor.adapter.steps_checked == 10
    assert all(d.evidence.get("case") not in ("gradients_accumulate", "steps_without_gradients")
               for d in doctor.diagnoses)
