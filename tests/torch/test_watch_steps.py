"""A loop whose ``optimizer.step()`` never runs inside it (missing, or indented below the loop over
batches): ``watch`` counts the losses back-propagated outside the optimizer's steps, and at the run's
end names ``slow_convergence`` (case ``steps_not_taken``) with the user's fix. Gradient accumulation
and an L-BFGS closure (whose backward passes run inside ``step``) are not alarms."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.doctor import rules  # noqa: E402
from retroprop.torch import watch  # noqa: E402

nn = torch.nn


def data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=generator)
    return x, (x[:, 0] > 0).long()


def model_and_optimizer(kind=torch.optim.SGD, **options):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    return model, kind(model.parameters(), **options)


def test_the_rule_needs_many_backward_passes_and_at_most_one_step():
    (finding,) = rules.steps_not_taken(600, 1)
    assert finding.problem == "slow_convergence" and finding.severity == "critical"
    assert finding.evidence == {"case": "steps_not_taken", "backward_passes": 600, "optimizer_steps": 1}
    assert "back-propagated 600 times but optimizer.step() ran once" in finding.explanation
    assert "never ran" in rules.steps_not_taken(rules.STEPLESS_BACKWARDS, 0)[0].explanation
    assert rules.steps_not_taken(rules.STEPLESS_BACKWARDS - 1, 0) == []
    assert rules.steps_not_taken(600, 2) == []  # steps were taken: accumulation, not a missing step
    assert rules.steps_not_taken(None, 0) == []  # not counted


def test_a_step_below_the_loop_is_named_at_the_end_with_the_users_fix():
    x, y = data()
    model, optimizer = model_and_optimizer(lr=0.1)
    doctor = watch(model, optimizer)
    loss_fn = nn.CrossEntropyLoss()
    for _epoch in range(5):
        for i in range(0, 512, 16):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + 16]), y[i:i + 16])
            loss.backward()
            doctor.observe(loss)
    optimizer.step()  # the bug: one step, after the loop
    doctor.finish()
    (found,) = doctor.diagnoses
    assert (found.problem, found.evidence["case"], found.evidence["backward_passes"]) == (
        "slow_convergence", "steps_not_taken", 160)
    assert found.remedies[0][0] == "step_after_backward"


def test_gradient_accumulation_and_a_closure_are_not_alarms():
    x, y = data()
    loss_fn = nn.CrossEntropyLoss()
    model, optimizer = model_and_optimizer(lr=0.1)
    doctor = watch(model, optimizer)
    for i in range(0, 512, 16):  # 4 micro-batches per step
        loss = loss_fn(model(x[i:i + 16]), y[i:i + 16]) / 4
        loss.backward()
        doctor.observe(loss)
        if i // 16 % 4 == 3:
            optimizer.step()
            optimizer.zero_grad()
    doctor.finish()
    assert not [d for d in doctor.diagnoses if d.evidence.get("case") == "steps_not_taken"]
    model, optimizer = model_and_optimizer(torch.optim.LBFGS, lr=0.5, max_iter=150, history_size=10)
    doctor = watch(model, optimizer)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        doctor.observe(loss)
        return loss

    optimizer.step(closure)  # one step, its backward passes inside it
    doctor.finish()
    assert doctor._backward_passes == 0
    assert not [d for d in doctor.diagnoses if d.evidence.get("case") == "steps_not_taken"]
