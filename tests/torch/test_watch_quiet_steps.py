"""``watch`` records the steps that need only their loss itself (``Doctor.quiet_steps``, as fit's callback
does): the doctor ends in the same state as when every step goes through ``Doctor.observe``: the same
losses, probes, diagnoses (steps and epochs too), treatments and weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.torch.watch import Watch, watch  # noqa: E402

nn = torch.nn
torch.set_num_threads(1)


def _every_step_observed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The doctor as before the quiet steps: every step goes through ``Doctor.observe``."""
    def settle(self: Watch) -> None:
        self._quiet = 0
    monkeypatch.setattr(Watch, "_settle", settle)


def _model(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "sigmoid":  # vanishing gradients
        layers: list[nn.Module] = []
        for i in range(6):
            layers += [nn.Linear(16 if i == 0 else 24, 24), nn.Sigmoid()]
        return nn.Sequential(*layers, nn.Linear(24, 3))
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def _run(kind: str, *, lr: float = 0.05, observe: bool = True, repair: bool = False, epochs: int = 4,
         injected: dict[int, float] | None = None, clip: float | None = None, seed: int = 0) -> Watch:
    """A plain loop of 8 steps per epoch with epoch logs (but the last); ``injected``: step -> the loss
    to observe instead of the real one (a NaN, a spike)."""
    model = _model(kind, seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    doctor = watch(model, optimizer, repair=repair)
    if clip is not None:
        doctor.core.clip_grad_norm = clip
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 16, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    loss_fn = nn.CrossEntropyLoss()
    step = 0
    for epoch in range(epochs):
        for i in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            if observe:
                doctor.observe((injected or {}).get(step, loss))
            optimizer.step()
            step += 1
        if epoch < epochs - 1:  # the last epoch without logs: its steps come after the last end_epoch
            with torch.no_grad():
                logs = {"loss": loss_fn(model(x), y), "val_loss": loss_fn(model(x[:64]), y[:64])}
            doctor.end_epoch(epoch, logs)
    doctor.finish()
    return doctor


def _state(doctor: Watch) -> dict:
    core = doctor.core
    return {"losses": core.recorder.losses.tolist(),
            "probed": [(r.step, r.replayed) for r in core.recorder.records],
            "diagnoses": [(d.problem, d.layer, d.step, d.epoch, d.severity) for d in core.diagnoses],
            "treatments": [(t.problem, t.remedy, t.step) for t in core.treatments],
            "errors": core.errors, "losses_known": core.losses_known, "epoch": core._epoch,
            "weights": [p.detach().clone() for p in doctor.model.parameters()]}


def _same(first: dict, second: dict) -> None:
    assert len(first["losses"]) == len(second["losses"])
    assert np.array_equal(first["losses"], second["losses"], equal_nan=True)
    for key in ("probed", "diagnoses", "treatments", "errors", "losses_known", "epoch"):
        assert first[key] == second[key], key
    assert all(torch.equal(a, b) for a, b in zip(first["weights"], second["weights"], strict=True))


CASES = {
    "vanishing, with losses": dict(kind="sigmoid"),
    "vanishing, no losses": dict(kind="sigmoid", observe=False),
    "healthy, a NaN and a spike on quiet steps": dict(kind="relu", epochs=8,
                                                      injected={20: math.nan, 43: 1e6}),
    "healthy, clipped on every step": dict(kind="relu", clip=0.05),
    "too large a rate, repaired": dict(kind="relu", lr=8.0, repair=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_quiet_steps_recorded_by_watch_leave_the_doctor_as_observing_every_step(case, monkeypatch):
    fast = _run(**CASES[case])
    assert fast.core.recorder.step == 8 * CASES[case].get("epochs", 4)
    with monkeypatch.context() as patch:
        _every_step_observed(patch)
        slow = _run(**CASES[case])
    _same(_state(fast), _state(slow))


def test_most_steps_bypass_the_doctor_and_the_cases_find_what_they_are_for(monkeypatch):
    from retroprop.doctor import Doctor

    calls = []
    observe = Doctor.observe

    def counted(self, *args, **kwargs):
        calls.append(self.recorder.step)
        return observe(self, *args, **kwargs)

    monkeypatch.setattr(Doctor, "observe", counted)
    doctor = _run("relu", epochs=8)
    assert not doctor.diagnoses
    # the probes (at 0 and 37, each with the next step) and the loss check at 50 are the doctor's, and
    # the first step of each epoch; the steps between them are recorded by watch
    assert calls == [0, 1, 8, 16, 24, 32, 36, 37, 38, 40, 48, 50, 56]
    assert "vanishing_gradients" in {d.problem for d in _run("sigmoid").diagnoses}
    assert _run("relu", lr=8.0, repair=True).treatments
    nan_run = _run("relu", injected={20: math.nan})
    assert 20 in [r.step for r in nan_run.core.recorder.records if r.replayed]
