"""``weight_decay_too_high``: a decay that outweighs the data's gradient, probe after probe, drives the
weights to 0 and the loss back up; ``lower_weight_decay`` repairs it. Decoupled decay (AdamW) is not
added to the gradient and is not counted."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import rules
from retroprop.doctor.adapter import RetropropAdapter, coupled_weight_decays


def probe(step: int, loss: float, weights: list[float], grads: list[float]) -> dict:
    return {"step": step, "loss": loss, "activations": [],
            "layers": [{"name": f"{i}", "label": f"layer {i + 1}", "weight_norm": w, "grad_norm": g}
                       for i, (w, g) in enumerate(zip(weights, grads, strict=True))]}


DECAYS = {"0": 0.2, "1": 0.2, "2": 0.2}


def shrinking() -> list[dict]:
    # the median layer's pull wd ||W|| / ||g||: 0.2 * 30 / 2 = 3, then 0.2 * 10 / 0.4 = 5, then 0.2 * 5 / 0.3
    return [probe(0, 2.6, [20, 30, 4], [0.8, 2.0, 3.0]), probe(37, 1.6, [10, 15, 2.5], [0.4, 0.5, 0.5]),
            probe(74, 1.9, [5, 7, 1.8], [0.3, 0.3, 0.3])]


def climbing_back() -> np.ndarray:
    """Per-step losses that fall from 2.6 to 1.5 over 100 steps and climb back to 1.9 over the next 100."""
    return np.concatenate([np.linspace(2.6, 1.5, 100), np.linspace(1.5, 1.9, 100)])


def test_a_decay_that_outweighs_the_gradient_while_the_weights_shrink_and_the_loss_climbs_is_named():
    (finding,) = rules.weight_decay_too_high(shrinking(), DECAYS, climbing_back())
    assert (finding.problem, finding.layer) == ("weight_decay_too_high", None)
    assert finding.evidence["decay_pull"] == pytest.approx([3.0, 5.0, 1 / 0.3])
    assert finding.evidence["weight_decay"] == [0.2]
    assert finding.evidence["lowest_loss"] == pytest.approx(1.55, abs=0.05)
    assert "0.2" in finding.explanation and "toward 0" in finding.explanation


def test_each_condition_is_needed():
    losses = climbing_back()
    assert rules.weight_decay_too_high(shrinking()[:2], DECAYS, losses) == []  # three probes
    assert rules.weight_decay_too_high(shrinking(), {k: 0.02 for k in DECAYS}, losses) == []  # balanced
    assert rules.weight_decay_too_high(shrinking(), {}, losses) == []  # no decay known
    assert rules.weight_decay_too_high(shrinking(), DECAYS, None) == []  # the losses not known
    steady = shrinking()
    steady[2]["layers"] = [dict(layer, weight_norm=layer["weight_norm"] * 2.5)
                           for layer in steady[2]["layers"]]
    assert rules.weight_decay_too_high(steady, DECAYS, losses) == []  # the weights grew back
    assert rules.weight_decay_too_high(shrinking(), DECAYS, losses, learns_well=True) == []
    # a loss still falling, or one that never fell: a deep net on its first plateau settles its weights
    # toward the decay's balance while its data gradient is small, and then learns
    assert rules.weight_decay_too_high(shrinking(), DECAYS, np.linspace(2.6, 1.5, 200)) == []
    assert rules.weight_decay_too_high(shrinking(), DECAYS, np.full(200, 2.6)) == []
    barely = np.concatenate([np.linspace(2.6, 1.5, 100), np.linspace(1.5, 1.6, 100)])
    assert rules.weight_decay_too_high(shrinking(), DECAYS, barely) == []  # back 9 % of the way


def test_a_decay_that_wipes_out_the_weights_before_anything_is_learned_is_named():
    flat = np.full(200, 2.6)  # the loss never fell
    wiped = probe(0, 2.6, [400, 600, 80], [1.0, 1.0, 1.0])  # the first probe: weights 20x today's
    (finding,) = rules.weight_decay_too_high(shrinking(), DECAYS, flat, first=wiped)
    assert "never fell" in finding.explanation
    settling = probe(0, 2.6, [30, 40, 5], [1.0, 1.0, 1.0])  # 1.6x today's: settling toward a balance
    assert rules.weight_decay_too_high(shrinking(), DECAYS, flat, first=settling) == []
    assert rules.weight_decay_too_high(shrinking(), DECAYS, flat) == []  # no first probe to compare


def test_coupled_weight_decays_read_each_layers_group_and_leave_decoupled_decay_out():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    first, last = model[0], model[2]
    sgd = rp.optim.SGD([{"params": [first.weight, first.bias], "weight_decay": 0.1},
                        {"params": [last.weight, last.bias]}], lr=0.1)
    assert coupled_weight_decays(model.named_modules(), sgd) == {"0": 0.1, "2": 0.0}
    assert RetropropAdapter(model, sgd).weight_decays() == {"0": 0.1, "2": 0.0}
    adamw = rp.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.5)
    assert set(coupled_weight_decays(model.named_modules(), adamw).values()) == {0.0}
    adam_l2 = rp.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.5)
    assert set(coupled_weight_decays(model.named_modules(), adam_l2).values()) == {0.5}


def digits():
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    x_train, x_test = rp.data.standardize(x_train, x_test)
    return x_train, y_train, x_test, y_test


def run(seed: int, decay: float, repair: bool):
    x_train, y_train, x_test, y_test = digits()
    rp.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=decay)
    history = rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=12,
                     batch_size=64, validation_data=(x_test, y_test), verbose=0, seed=seed,
                     doctor=rp.Doctor(repair=repair))
    return history, optimizer, history.history["val_accuracy"][-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_decay_of_0_2_is_named_first_and_lowered_and_a_usual_decay_is_left_alone(seed):
    history, _, collapsed = run(seed, 0.2, repair=False)
    assert history.diagnoses[0].problem == "weight_decay_too_high"
    assert collapsed < 0.3
    history, optimizer, repaired = run(seed, 0.2, repair=True)
    treatment = next(t for t in history.treatments if t.applied)
    assert (treatment.problem, treatment.remedy) == ("weight_decay_too_high", "lower_weight_decay")
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(0.002)
    healthy, _, fixed = run(seed, 5e-4, repair=False)
    assert healthy.diagnoses == []
    assert repaired > 0.9 and repaired >= fixed - 0.03


def test_lower_weight_decay_is_not_applied_without_a_decay():
    model = nn.Sequential(nn.Linear(4, 2))
    treatment = RetropropAdapter(model, rp.optim.SGD(model.parameters(), lr=0.1)).apply("lower_weight_decay")
    assert not treatment.applied and "no weight decay" in treatment.description
