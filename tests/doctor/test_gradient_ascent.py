"""``gradient_ascent``: steps that climb the loss (``maximize=True``, a gradient with its sign flipped),
told apart from steps that overshoot by the cosine between each step and the gradient it was taken
from; the ``descend`` remedy."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import rules
from retroprop.doctor.probes import Probe


def probe(step: int, loss: float, cosines: list[float | None]) -> dict:
    return {"step": step, "loss": loss, "activations": [],
            "layers": [{"name": f"{i}", "label": f"layer {i + 1}", "update_cosine": c}
                       for i, c in enumerate(cosines)]}


def climbing(first: int = 0) -> list[dict]:
    return [probe(first, 1.0, [0.6, 0.7]), probe(first + 6, 2.0, [0.5, 0.8]),
            probe(first + 12, 4.0, [0.7, 0.9]), probe(first + 18, 9.0, [None, None])]


def test_three_first_updates_up_every_layers_gradient_while_the_loss_climbs_are_ascent():
    (finding,) = rules.gradient_ascent(climbing())
    assert (finding.problem, finding.layer, finding.severity) == ("gradient_ascent", None, "critical")
    assert finding.evidence["steps"] == [0, 6, 12]
    assert finding.evidence["losses"] == [1.0, 2.0, 4.0]
    assert finding.evidence["update_cosines"] == pytest.approx([0.65, 0.65, 0.8])
    assert "maximize" in finding.explanation


def test_ascent_needs_every_layer_on_every_probe_of_the_opening():
    opening = climbing()
    assert rules.gradient_ascent(opening[:2] + opening[3:]) == []  # two updates known: not yet
    one_layer_down = climbing()
    one_layer_down[1]["layers"][0]["update_cosine"] = -0.1
    assert rules.gradient_ascent(one_layer_down) == []
    weak = climbing()
    for layer in weak[2]["layers"]:
        layer["update_cosine"] = rules.ASCENT_COSINE / 2
    assert rules.gradient_ascent(weak) == []
    # one batch's loss below another's says nothing against steps that climb: the cosines decide
    noisy = climbing()
    noisy[2]["loss"] = 0.5
    (finding,) = rules.gradient_ascent(noisy)
    assert "the loss went" not in finding.explanation
    # momentum carried across a valley may point steps uphill later in a run: only the opening counts
    assert rules.gradient_ascent(climbing(first=200)) == []
    assert rules.gradient_ascent(climbing(first=200), first_step=200)  # a fresh restart's opening


def test_the_probe_measures_the_cosine_of_each_step_with_its_own_gradient():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = rp.randn(32, 4), rp.randn(32, 2)
    cosines = {}
    for maximize, momentum in ((False, 0.0), (True, 0.0), (False, 0.9)):
        optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=momentum, maximize=maximize)
        p = Probe(model)
        for step in range(2):
            optimizer.zero_grad()
            rp.nn.functional.mse_loss(model(x), y).backward()
            record = p.collect(step, 0, 0.0)
            p.snapshot_weights(record)
            optimizer.step()
            p.update_ratios()
            # the next backward overwrites the gradients: the cosine is the snapshot's gradient's
            optimizer.zero_grad()
            rp.nn.functional.mse_loss(model(x), y).backward()
            cosines[maximize, momentum, step] = p.update_cosines()
    for step in range(2):
        assert list(cosines[False, 0.0, step].values()) == pytest.approx([-1.0, -1.0])  # SGD: -lr g
        assert list(cosines[True, 0.0, step].values()) == pytest.approx([1.0, 1.0])
    assert all(c < 0 for c in cosines[False, 0.9, 1].values())


def regression(seed: int = 0, n: int = 256):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x @ rng.standard_normal((8, 1)) + 0.1 * rng.standard_normal((n, 1))).astype(np.float32)
    return x, y


def model_and(seed: int, maximize: bool, cls=rp.optim.Adam, **options):
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    return model, cls(model.parameters(), maximize=maximize, **options)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cls,options", [(rp.optim.Adam, {"lr": 1e-2}),
                                         (rp.optim.SGD, {"lr": 1e-2, "momentum": 0.9})])
def test_a_maximizing_optimizer_is_named_first_and_repaired_by_descending(seed, cls, options):
    x, y = regression(seed)
    model, optimizer = model_and(seed, True, cls, **options)
    history = rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=6, batch_size=32, verbose=0,
                     doctor=rp.Doctor(repair=False), seed=seed)
    assert history.diagnoses[0].problem == "gradient_ascent"
    assert history.diagnoses[0].remedies[0][0] == "descend"
    model, optimizer = model_and(seed, True, cls, **options)
    start = float(rp.evaluate(model, x, y, loss="mse")["loss"])
    history = rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=6, batch_size=32, verbose=0,
                     doctor=rp.Doctor(repair=True), seed=seed)
    (treatment,) = [t for t in history.treatments if t.applied]
    assert (treatment.problem, treatment.remedy, treatment.rolled_back_to) == (
        "gradient_ascent", "descend", 0)
    assert all(group["maximize"] is False for group in optimizer.param_groups)
    repaired = float(rp.evaluate(model, x, y, loss="mse")["loss"])
    model, optimizer = model_and(seed, False, cls, **options)  # the fixed program
    rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=6, batch_size=32, verbose=0, seed=seed)
    fixed = float(rp.evaluate(model, x, y, loss="mse")["loss"])
    # rolled back to the start and made up for the steps lost, the run is the fixed one's, its batches
    # in another order from the step it restarted at
    assert repaired < 0.1 * start and repaired <= 1.5 * fixed


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cls,options", [(rp.optim.Adam, {"lr": 1e-3}), (rp.optim.RMSprop, {"lr": 1e-3}),
                                         (rp.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True})])
def test_minimizing_optimizers_are_never_taken_for_ascent(seed, cls, options):
    x, y = regression(seed)
    model, optimizer = model_and(seed, False, cls, **options)
    history = rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=6, batch_size=32, verbose=0,
                     doctor=rp.Doctor(repair=False), seed=seed)
    assert "gradient_ascent" not in [d.problem for d in history.diagnoses]


def test_a_hand_written_update_that_adds_the_gradient_is_named_and_left_to_the_user():
    x, y = regression(0)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = rp.optim.SGD(model.parameters(), lr=1e-3)  # given to the doctor, not used to step
    doctor = rp.Doctor(model, optimizer, repair=True)
    xs, ys = rp.tensor(x), rp.tensor(y)
    for _ in range(40):
        optimizer.zero_grad()
        loss = rp.nn.functional.mse_loss(model(xs), ys)
        loss.backward()
        doctor.observe(loss)
        doctor.treat(doctor.diagnoses)
        for p in model.parameters():
            p.data += 1e-3 * p.grad.data  # the bug: w += lr * grad
    doctor.finish()
    assert doctor.diagnoses[0].problem == "gradient_ascent"
    said = [t for t in doctor.treatments if t.problem == "gradient_ascent"]
    assert said and not any(t.applied for t in said)
    assert "w += lr * grad" in said[0].description


def test_an_optimizer_set_to_maximize_is_named_before_the_first_step():
    # at a rate of 1000 the run explodes at once: no opening of climbing probes to read, the setting says it
    x, y = regression(0)
    model, optimizer = model_and(0, True, rp.optim.Adam, lr=1e3)
    history = rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=2, batch_size=32, verbose=0,
                     doctor=rp.Doctor(repair=False), seed=0)
    first = history.diagnoses[0]
    assert (first.problem, first.step, first.evidence["maximize"]) == ("gradient_ascent", 0, True)
    assert first.remedies[0][0] == "descend"
    model, optimizer = model_and(0, False, rp.optim.Adam, lr=1e3)
    history = rp.fit(model, x, y, loss="mse", optimizer=optimizer, epochs=2, batch_size=32, verbose=0,
                     doctor=rp.Doctor(repair=False), seed=0)
    assert "gradient_ascent" not in [d.problem for d in history.diagnoses]


def test_a_torch_optimizer_set_to_maximize_is_named_before_the_first_step():
    torch = pytest.importorskip("torch")
    from retroprop.torch import watch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, maximize=True)
    doctor = watch(model, optimizer)
    x, y = (torch.from_numpy(a) for a in regression(0))
    for i in range(0, 64, 32):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    assert (doctor.diagnoses[0].problem, doctor.diagnoses[0].step) == ("gradient_ascent", 0)
