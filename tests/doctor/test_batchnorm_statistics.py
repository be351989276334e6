"""batchnorm_statistics: batch normalization whose running statistics, which evaluation uses, do not
describe the batches the model trains on (TheDeepChecker's deepCNN whose moving statistics never update).

The rule on plain numbers; the adapter's measure (same rows, same weights, batch against running
statistics, nothing of the model's state changed), measured only when the validation loss is more than
twice the training loss; and fit end to end: a momentum of 0 is named before the first step (and its
harm within three epochs) and repaired by letting the statistics update, the same network at the
default momentum raises nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import rules
from retroprop.doctor.adapter import RetropropAdapter
from retroprop.nn import CrossEntropyLoss


def measure(batch: float, running: float, momenta: list) -> dict:
    return {"batch": batch, "running": running, "momenta": momenta}


def test_frozen_statistics_are_named_on_the_second_epoch_that_shows_the_gap():
    gap = measure(0.08, 0.79, [0.0])
    assert rules.batchnorm_statistics([gap], steps=44, reference=2.3) == []  # one epoch is no pattern
    (finding,) = rules.batchnorm_statistics([gap, gap], steps=88, reference=2.3)
    assert finding.problem == "batchnorm_statistics" and finding.severity == "critical"
    assert finding.evidence["loss_running_statistics"] == 0.79 and finding.evidence["momenta"] == [0.0]
    assert "never updates them" in finding.explanation
    # a gap on only one of the last two epochs is not named
    assert rules.batchnorm_statistics([measure(0.08, 0.1, [0.0]), gap], steps=88, reference=2.3) == []


def test_statistics_still_forgetting_their_start_are_not_judged():
    gap = measure(0.1, 1.5, [0.01])  # TensorFlow's default: 0.99 of the old value kept per step
    assert rules.batchnorm_statistics([gap, gap], steps=100, reference=2.3) == []  # 0.99^100 = 0.37
    (finding,) = rules.batchnorm_statistics([gap, gap], steps=400, reference=2.3)  # 0.99^400 = 0.018
    assert "batches unlike one another" in finding.explanation
    cumulative = measure(0.1, 1.5, [None])  # a cumulative average forgets its start at once
    assert rules.batchnorm_statistics([cumulative, cumulative], steps=2, reference=2.3)


def test_statistics_that_never_forgot_their_start_by_the_runs_end_are_named_then():
    """Five steps at TensorFlow's default momentum leave 95 % of the statistics at mean 0 and variance 1:
    the model the run leaves predicts with them (StackOverflow 47157526's ResNet after five updates)."""
    gap = measure(0.01, 3.0, [0.01])
    assert rules.batchnorm_statistics([gap, gap], steps=5, reference=1.1, steps_left=20) == []  # time left
    (finding,) = rules.batchnorm_statistics([gap, gap], steps=5, reference=1.1, steps_left=0)
    assert finding.evidence["case"] == "unsettled"
    assert finding.evidence["initial_share"] == pytest.approx(0.99 ** 5)
    assert "too few for a momentum of 0.01: 95% of the statistics" in finding.explanation
    close = measure(0.01, 0.015, [0.01])  # statistics unsettled, but evaluation as good: nothing to name
    assert rules.batchnorm_statistics([close, close], steps=5, reference=1.1, steps_left=0) == []


def test_a_gap_in_accuracy_is_named_where_the_losses_are_not_twice_apart():
    """A network that classifies its training rows with the batches' statistics but not yet confidently:
    the losses 0.59 and 0.91 are not twice apart, the accuracies 100 % and 37 % are."""
    gap = dict(measure(0.59, 0.91, [0.01]), batch_accuracy=1.0, running_accuracy=0.37, rows=30)
    (finding,) = rules.batchnorm_statistics([gap, gap], steps=10, reference=1.1, steps_left=0)
    assert finding.evidence["accuracy_running_statistics"] == 0.37
    assert "the accuracy 37% against 100%" in finding.explanation
    assert rules.batchnorm_statistics([measure(0.59, 0.91, [0.01])] * 2, steps=10, reference=1.1,
                                      steps_left=0) == []  # the losses alone: not named
    # on a handful of rows, a gap of one row is noise
    few = dict(gap, batch_accuracy=1.0, running_accuracy=0.8, rows=5)
    assert rules.batchnorm_statistics([few, few], steps=10, reference=1.1, steps_left=0) == []


def test_class_accuracy_reads_class_indices_and_one_hot_rows_only():
    out = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 1.0]])
    assert rules.class_accuracy(out, np.array([0, 1, 2, 1])) == 0.75
    assert rules.class_accuracy(out, np.eye(3)[[0, 1, 2, 1]]) == 0.75
    assert rules.class_accuracy(out[:, :1], np.array([0, 1, 0, 1])) is None  # one unit: the loss decides
    assert rules.class_accuracy(out, np.array([0.5, 1.0, 2.0, 1.0])) is None  # not classes
    assert rules.class_accuracy(out, np.array([0, 1, 2])) is None  # rows that do not pair


def test_a_small_gap_is_a_fitted_models_not_a_fault():
    tiny = measure(1e-4, 5e-4, [0.1])  # 5x apart, but both far below a blind guess's loss
    assert rules.batchnorm_statistics([tiny, tiny], steps=500, reference=2.3) == []
    close = measure(0.3, 0.5, [0.1])  # evaluation a little worse: not twice
    assert rules.batchnorm_statistics([close, close], steps=500, reference=2.3) == []


def batchnorm_model(momentum: float) -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64, momentum=momentum), nn.ReLU(),
                         nn.Dropout(0.3), nn.Linear(64, 10))


def test_the_adapter_measures_both_statistics_and_changes_nothing():
    model = batchnorm_model(0.1)
    rng = np.random.default_rng(0)
    x = (3.0 + rng.standard_normal((128, 64))).astype(np.float32)  # far from the initial mean 0
    y = rng.integers(0, 10, 128)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    model.train()
    found = RetropropAdapter(model).batchnorm_losses(x, y, CrossEntropyLoss())
    assert found["momenta"] == [0.1] and found["running"] > found["batch"] > 0
    assert model.training and all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    no_norm = nn.Sequential(nn.Linear(64, 10))
    assert RetropropAdapter(no_norm).batchnorm_losses(x, y, CrossEntropyLoss()) is None
    assert RetropropAdapter(model).batchnorm_losses(x, y, "not a loss") is None


def digits():
    data = rp.data.load_digits()
    x, y = (data.x / 16.0).astype(np.float32), data.y
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], y[order]


@pytest.mark.parametrize("repair", [False, True])
def test_fit_names_statistics_that_never_update_and_repairs_them(repair):
    x, y = digits()
    model = batchnorm_model(0.0)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = rp.fit(model, x[:1400], y[:1400], loss="cross_entropy", optimizer=optimizer, epochs=6,
                     batch_size=32, validation_data=(x[1400:], y[1400:]), verbose=0,
                     doctor=rp.Doctor(repair=repair))
    named = [d for d in history.diagnoses if d.problem == "batchnorm_statistics"]
    # the momentum itself, before the first step
    assert (named[0].step, named[0].evidence["case"], named[0].evidence["frozen_layers"]) == (
        0, "momentum_zero", ["1"])
    if repair:
        (treatment,) = [t for t in history.treatments if t.problem == "batchnorm_statistics"]
        assert treatment.remedy == "update_batchnorm_statistics" and treatment.outcome == "resolved"
        assert treatment.step == 0 and len(named) == 1
        assert model[1].momentum == 0.1 and history.history["val_accuracy"][-1] > 0.95
    else:  # and its harm, once validation shows the gap twice
        (measured,) = named[1:]
        assert measured.epoch <= 2 and measured.evidence["momenta"] == [0.0]


def test_the_recomputed_statistics_are_the_average_of_the_batches_and_nothing_else_changes():
    from retroprop.doctor.remedies import recompute_batchnorm_statistics

    model = batchnorm_model(0.01)
    rng = np.random.default_rng(0)
    x = (3.0 + rng.standard_normal((100, 64))).astype(np.float32)
    weights = {k: v.copy() for k, v in model.state_dict().items()
               if "running" not in k and "tracked" not in k}
    model.eval()
    treatment = recompute_batchnorm_statistics(model, None, inputs=x, batch_size=32)
    assert treatment.applied and "4 batches" in treatment.description
    assert not any(m.training for m in model.modules()) and model[1].momentum == 0.01
    for key, value in weights.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)
    # what the first batch normalization sees: the first layer's outputs, batch by batch
    hidden = x @ model[0].weight.data.T + model[0].bias.data
    batches = [hidden[i:i + 32] for i in range(0, 100, 32)]  # the last holds 4 rows
    np.testing.assert_allclose(model[1].running_mean.data, np.mean([b.mean(0) for b in batches], axis=0),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model[1].running_var.data,
                               np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-4)
    assert not recompute_batchnorm_statistics(model, None).applied  # no inputs known
    assert not recompute_batchnorm_statistics(nn.Sequential(nn.Linear(64, 10)), None, inputs=x).applied


def unsettled_resnet_stem(seed: int) -> nn.Sequential:
    """Two convolutions with batch normalization at Keras's momentum 0.99 (0.01 in PyTorch's convention)."""
    rp.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8, momentum=0.01), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.01), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3))


@pytest.mark.parametrize("seed", [0, 2])
def test_statistics_left_unsettled_at_the_end_are_recomputed_on_the_training_data(seed):
    """30 images of 0-255 pixels, one batch per epoch, 10 steps at momentum 0.01: 90 % of the statistics
    are still their initial values when the run ends, and the model that classifies its training images
    in training mode does not in evaluation mode, until they are recomputed."""
    data = rp.data.load_digits()
    rows = [int(i) for c in range(3) for i in np.flatnonzero(data.y == c)[:10]]
    x, y = (data.x[rows] * 16).reshape(-1, 1, 8, 8).astype(np.float32), data.y[rows]
    scores = {}
    for repair in (False, True):
        model = unsettled_resnet_stem(seed)
        optimizer = rp.optim.Adam(model.parameters(), lr=1e-2)
        history = rp.fit(model, x, y, loss="cross_entropy", optimizer=optimizer, epochs=10, batch_size=32,
                         validation_data=(x, y), verbose=0, doctor=rp.Doctor(repair=repair))
        (named,) = [d for d in history.diagnoses if d.problem == "batchnorm_statistics"]
        assert named.evidence["case"] == "unsettled" and named.step == 9
        scores[repair] = rp.evaluate(model, x, y, loss="cross_entropy", metrics=["accuracy"])["accuracy"]
        if repair:
            (treated,) = [t for t in history.treatments if t.applied]
            assert treated.remedy == "recompute_batchnorm_statistics" and treated.rolled_back_to is None
            assert model[1].momentum == 0.01  # the statistics recomputed, the model's settings kept
    assert history.history["accuracy"][-1] == 1.0  # in training mode, on the batches' statistics
    assert scores[False] < 0.5 and scores[True] == 1.0


def test_fit_raises_nothing_at_the_default_momentum():
    x, y = digits()
    model = batchnorm_model(0.1)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = rp.fit(model, x[:1400], y[:1400], loss="cross_entropy", optimizer=optimizer, epochs=6,
                     batch_size=32, validation_data=(x[1400:], y[1400:]), verbose=0, doctor=True)
    assert [d.problem for d in history.diagnoses] == []


def test_targets_that_do_not_match_the_inputs_skip_the_measure_not_the_doctor():
    """A hand-written loop's setup whose targets do not line up with its inputs: the measure raises, is
    recorded once and skipped; the doctor goes on watching."""
    x, y = digits()
    model = batchnorm_model(0.0)
    optimizer = rp.optim.SGD(model.parameters(), lr=0.05)
    doctor = rp.Doctor()
    doctor.attach(model, optimizer, inputs=x[:200], targets=list(y[:150]), loss=CrossEntropyLoss(),
                  n_classes=10)
    for epoch in range(2):
        loss = CrossEntropyLoss()(model(rp.Tensor(x[:32])), y[:32])
        optimizer.zero_grad()
        loss.backward()
        doctor.observe(loss, epoch)
        optimizer.step()
        doctor.end_epoch(epoch, {"loss": 0.1, "val_loss": 1.0})
    assert doctor.watching and [e["where"] for e in doctor.errors] == ["rule batchnorm_losses"]


def test_the_momentum_check_on_plain_numbers():
    from retroprop.doctor import checks

    assert checks.frozen_batchnorm(None) == [] and checks.frozen_batchnorm([]) == []
    # torch's default, a cumulative average (None) and Keras's 0.99 read the torch way all update
    assert checks.frozen_batchnorm([{"name": "1", "momentum": 0.1}, {"name": "3", "momentum": None},
                                    {"name": "5", "momentum": 0.99}]) == []
    (finding,) = checks.frozen_batchnorm([{"name": f"b{i}", "momentum": 0.0} for i in range(6)])
    assert finding.evidence["frozen_layers"] == [f"b{i}" for i in range(6)] and finding.severity == "critical"
    assert "b0, b1, b2, b3 and 2 more" in finding.explanation
