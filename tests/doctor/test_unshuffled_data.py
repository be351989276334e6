"""``unshuffled_data``: a classification trained in its stored order while the labels come in long runs
of one class; fit's remedy draws the samples in a new random order each epoch."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import Callback
from retroprop.doctor import checks
from retroprop.training import _shuffle_rest


def test_labels_sorted_by_class_and_drawn_in_order_are_named():
    labels = np.repeat(np.arange(10), 100)
    (finding,) = checks.unshuffled_data(labels, 32, False, "cross_entropy", 10)
    assert (finding.problem, finding.severity) == ("unshuffled_data", "critical")
    assert finding.evidence["mean_run"] == 100 and finding.evidence["shuffled_run"] == pytest.approx(10 / 9)
    assert finding.evidence["fix_by"] == "fit" and "(shuffle:" in finding.evidence["fix_note"]
    (finding,) = checks.unshuffled_data(labels, 1, False, "cross_entropy", 10)  # one sample per step too
    assert finding.evidence["batches_per_run"] == 100
    one_hot = np.eye(10)[labels]
    assert checks.unshuffled_data(one_hot, 32, False, "cross_entropy_probs", 10)


def test_runs_shorter_than_a_batch_that_leave_each_batch_a_few_classes_are_named():
    # the digits' 1400 training rows sorted by class (runs of 140) under batches of 128 or 256: a step
    # sees one to three classes of ten; trained in that order (20 epochs, SGD 0.1, momentum 0.9) batches
    # of 128 end at 9-43 % validation accuracy against 98 % shuffled (256: 91-97 %)
    labels = np.repeat(np.arange(10), 140)
    for batch_size in (64, 128, 256):
        (finding,) = checks.unshuffled_data(labels, batch_size, False, "cross_entropy", 10)
        assert finding.evidence["batch_skew"] > checks.SORTED_RUN_FACTOR
    assert "a few classes only" in finding.explanation
    assert checks.batch_skew(np.random.default_rng(0).permutation(labels), 128) < 2  # shuffled: about 1
    assert checks.batch_skew(labels, 1) == pytest.approx(1.0)  # one sample is one class either way


def test_the_batch_skew_is_each_batchs_chi_square_read_on_a_bounded_sample_of_batches():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), [30, 50, 10, 40, 20, 25, 35])[rng.permutation(210) % 210]
    labels = np.sort(labels[:200])  # a few classes per batch of 20
    shares = np.bincount(labels) / len(labels)
    counts = np.array([np.bincount(labels[i:i + 20], minlength=7) for i in range(0, 200, 20)])
    dense = np.mean(np.sum((counts - 20 * shares) ** 2 / (20 * shares), axis=1)) / 6
    assert checks.batch_skew(labels, 20) == pytest.approx(dense)
    # two million shuffled labels of a thousand classes, one per step: about 1, read on 1,024 batches
    assert checks.batch_skew(rng.integers(0, 1000, 2_000_000), 1) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(("labels", "batch_size", "shuffled"), [
    (np.repeat(np.arange(10), 100), 32, True),  # fit shuffles them
    (np.repeat(np.arange(10), 100), 32, None),  # not known how they are drawn
    (np.random.default_rng(0).permutation(np.repeat(np.arange(10), 100)), 32, False),  # stored shuffled
    (np.random.default_rng(0).permutation(np.repeat([0, 1], [950, 50])), 32, False),  # imbalanced, shuffled
    (np.repeat(np.tile(np.arange(10), 25), 4), 64, False),  # runs of 4: every batch holds every class
    (np.tile(np.repeat([0, 1], 98), 10), 196, False),  # runs of half a batch: each batch half and half
    (np.repeat([0, 1], [100, 20]), 32, False),  # under four batches in all
    (np.zeros(1000, dtype=np.int64), 32, False),  # one class: constant_targets
])
def test_orders_a_shuffled_draw_would_give_are_not(labels, batch_size, shuffled):
    assert checks.unshuffled_data(labels, batch_size, shuffled, "cross_entropy", 10) == []


def test_a_regression_in_its_stored_order_is_not_judged():
    assert checks.unshuffled_data(np.repeat(np.arange(10.0), 100), 32, False, "mse") == []


def test_shuffling_the_rest_of_an_epoch_keeps_the_batch_sizes():
    batches = [np.arange(i, min(i + 4, 18)) for i in range(0, 18, 4)]
    _shuffle_rest(batches, 2, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 2]
    assert list(batches[0]) == [0, 1, 2, 3] and list(batches[1]) == [4, 5, 6, 7]
    assert sorted(np.concatenate(batches[2:])) == list(range(8, 18))
    assert list(np.concatenate(batches[2:])) != list(range(8, 18))


def _sorted_digits():
    x, y = rp.data.load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order] / 16, y[order]
    train = np.argsort(y[:1400], kind="stable")
    return x[:1400][train], y[:1400][train], x[1400:], y[1400:]


def _fit(x, y, x_val, y_val, **options):
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    return rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.05),
                  epochs=5, batch_size=32, validation_data=(x_val, y_val), verbose=0, seed=0, **options)


def test_fit_names_it_before_the_first_step_and_repair_shuffles():
    x, y, x_val, y_val = _sorted_digits()
    plain = _fit(x, y, x_val, y_val, shuffle=False, doctor=True)
    first, *rest = plain.diagnoses
    assert (first.problem, first.step) == ("unshuffled_data", 0)
    # what the order costs, read at the run's end, is filed as its consequence
    assert all(d.caused_by and d.caused_by["problem"] == "unshuffled_data" for d in rest)
    shuffled = _fit(x, y, x_val, y_val, doctor=True)
    # shuffled, the order is no fault (its five epochs end short of a fit: slow_convergence at the end)
    assert not any(d.problem == "unshuffled_data" for d in shuffled.diagnoses)
    repaired = _fit(x, y, x_val, y_val, shuffle=False, repair=True)
    (treatment,) = [t for t in repaired.treatments if t.applied]
    assert (treatment.problem, treatment.remedy, treatment.step) == ("unshuffled_data", "shuffle", 0)
    # the order was the only fault: the repaired run learns as the shuffled one does
    assert plain.history["val_accuracy"][-1] < 0.3
    assert repaired.history["val_accuracy"][-1] > shuffled.history["val_accuracy"][-1] - 0.1


def test_a_callback_can_switch_shuffling_on_in_the_middle_of_an_epoch():
    class Seen(nn.Module):
        def __init__(self):
            super().__init__()
            self.rows: list[np.ndarray] = []

        def forward(self, x):
            if self.training:
                self.rows.append(x.data[:, 0].copy())
            return x

    class SwitchOn(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.state.shuffle = True

    x = np.arange(320, dtype=np.float64)[:, None] * np.ones((1, 4))
    y = np.repeat([0, 1], 160)
    seen = Seen()
    model = nn.Sequential(seen, nn.Linear(4, 2)).double()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.0),
           epochs=1, batch_size=32, shuffle=False, verbose=0, seed=0, callbacks=[SwitchOn()])
    rows = np.concatenate(seen.rows)
    assert [len(r) for r in seen.rows] == [32] * 10 and sorted(rows) == list(range(320))
    assert list(rows[:64]) == list(range(64))  # the two batches before the switch, in order
    assert list(rows[64:]) != list(range(64, 320))  # the rest of the epoch shuffled
