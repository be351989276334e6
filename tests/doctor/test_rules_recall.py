"""Recall of the detectors: problems the rules used to miss, and the two new dynamic rules.

Overfitting on a tiny training set, oscillating or collapsing validation accuracy, an astronomically
large finite loss, a zero-initialized layer's first update, ``underfitting`` and ``batch_too_small``,
and the overfitting rule's constant cost per epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Recorder, rules, table
from retroprop.doctor.probes import typical_norm


# -- overfitting ----------------------------------------------------------------------------------
def tiny_training_set_logs() -> list[dict[str, float]]:
    """30 training samples memorized by epoch 4 (the training loss then sits at its floor, wobbling),
    a validation loss rising from epoch 4 on, measured on 3000 samples."""
    train = [0.70, 0.30, 0.05, 0.010, 0.0040, 0.0050, 0.0045, 0.0060, 0.0050]
    val = [0.70, 0.60, 0.55, 0.52, 0.50, 0.58, 0.63, 0.70, 0.76]
    accuracy = [0.6, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    return [{"loss": t, "val_loss": v, "accuracy": a, "val_accuracy": 0.65}
            for t, v, a in zip(train, val, accuracy, strict=True)]


def test_a_model_far_smaller_than_its_training_set_is_not_said_to_memorize_it():
    logs = tiny_training_set_logs()
    assert rules.overfitting(logs, samples=(30, 3000), parameters=1000)  # 1,000 weights, 30 samples
    # two weights (stacked linear units) on 30 samples: a climbing validation loss is the steps' doing
    assert rules.overfitting(logs, samples=(30, 3000), parameters=2) == []
    assert rules.overfitting(logs, samples=(30, 3000), parameters=None)  # unknown: judged as before
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    from retroprop.doctor.adapter import RetropropAdapter

    assert RetropropAdapter(m).parameter_count() == 4 * 8 + 8 + 8 * 3 + 3


def test_overfitting_on_a_tiny_training_set_is_found():
    logs = tiny_training_set_logs()
    (finding,) = rules.overfitting(logs, samples=(30, 3000))
    assert finding.evidence["best_epoch"] == 4
    assert finding.evidence["generalization_gap"] == pytest.approx(0.35)
    assert "stays at its floor" in finding.explanation
    # a training loss that climbs as far as the validation loss is not memorizing
    climbing = [dict(log, loss=log["loss"] + (log["val_loss"] - 0.5) * (i >= 4))
                for i, log in enumerate(logs)]
    assert rules.overfitting(climbing, samples=(30, 3000)) == []


def memorized_logs(val: float = 211.0, train: float = 0.0008) -> list[dict[str, float]]:
    """A training loss near 0 (a blind guess scores 0.0168) and a validation loss that fell a little
    from its start and never rose: 200 weights fit to 20 rows, the other directions left as noise."""
    losses = [(222.0, 240.0), (124.0, 230.0), (3.0, 212.0), (train, val), (train, val), (train, val)]
    return [{"loss": t, "val_loss": v} for t, v in losses]


def test_a_fitted_training_set_and_a_validation_loss_no_better_than_a_guess_is_memorized():
    logs = memorized_logs()
    assert rules.overfitting(logs, samples=(20, 100), parameters=201, reference=0.0168) == []  # never rose
    (finding,) = rules.memorized(logs, samples=(20, 100), parameters=201, chance_loss=0.0168)
    assert finding.problem == "overfitting" and finding.evidence["case"] == "memorized"
    assert finding.evidence["val_loss_now"] == 211.0 and "no better than that guess" in finding.explanation
    # a validation loss below a blind guess's: something carries over, however far above the training
    assert rules.memorized(memorized_logs(val=0.015), (20, 100), parameters=201, chance_loss=0.0168) == []
    # a training loss above a tenth of a guess's: not fitted
    assert rules.memorized(memorized_logs(train=0.003), (20, 100), parameters=201, chance_loss=0.0168) == []
    # too small a model to memorize, no guess to compare with, too few epochs, a broken log
    assert rules.memorized(logs, (20_000, 100), parameters=201, chance_loss=0.0168) == []
    assert rules.memorized(logs, (20, 100), parameters=201, chance_loss=None) == []
    assert rules.memorized(logs[-2:], (20, 100), parameters=201, chance_loss=0.0168) == []
    broken = [*logs[:-1], {"loss": 0.0008, "val_loss": math.nan}]
    assert rules.memorized(broken, (20, 100), parameters=201, chance_loss=0.0168) == []


def test_a_classifier_whose_confident_mistakes_outweigh_its_right_answers_has_not_memorized():
    # huge logits: a validation loss of 26 (a guess's is ln 10) at 95 % validation accuracy
    logs = [{"loss": 0.0, "val_loss": 26.0, "accuracy": 1.0, "val_accuracy": 0.95} for _ in range(4)]
    assert rules.memorized(logs, (1200, 600), parameters=50_000, chance_loss=math.log(10),
                           majority=lambda: 0.11) == []
    at_chance = [dict(log, val_accuracy=0.12) for log in logs]  # no better than the commonest class
    (finding,) = rules.memorized(at_chance, (1200, 600), parameters=50_000, chance_loss=math.log(10),
                                 majority=lambda: 0.11)
    assert finding.evidence["majority_share"] == 0.11 and finding.evidence["val_accuracy"] == 0.12
    # an accuracy logged without the training classes' shares to compare it with: nothing is said
    assert rules.memorized(at_chance, (1200, 600), parameters=50_000, chance_loss=math.log(10),
                           majority=lambda: None) == []


def _fit_wide_linear(rows: int, related: bool, seed: int, validate_on_training: bool = False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows + 200, 100)).astype(np.float32)
    signal = x @ (rng.standard_normal((100, 1)) / 10) + 0.1 * rng.standard_normal((rows + 200, 1))
    y = (signal if related else rng.standard_normal((rows + 200, 1))).astype(np.float32)
    rp.manual_seed(seed)
    model, doctor = nn.Sequential(nn.Linear(100, 1)), rp.Doctor()
    validation = (x[:rows], y[:rows]) if validate_on_training else (x[rows:], y[rows:])
    with np.errstate(all="ignore"):
        rp.fit(model, x[:rows], y[:rows], loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=0.01),
               epochs=300, batch_size=min(rows, 32), validation_data=validation, verbose=0, doctor=doctor,
               seed=seed)
    return [d.problem for d in doctor.diagnoses]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_100_weights_fit_to_10_rows_of_noise_are_overfitting(seed):
    assert _fit_wide_linear(10, related=False, seed=seed) == ["overfitting"]
    assert _fit_wide_linear(400, related=True, seed=seed) == []  # enough rows: it generalizes
    assert _fit_wide_linear(10, related=False, seed=seed, validate_on_training=True) == []


def test_overfitting_reads_a_bounded_window_with_the_running_best():
    logs = tiny_training_set_logs()
    best = rules.EpochBest()
    for log in logs:
        best.update(log)
    assert (best.epoch, best.val_loss, best.train_loss, best.epochs) == (4, 0.50, 0.0040, 9)
    full = rules.overfitting(logs, (30, 3000), first_epoch=10)
    window = rules.overfitting(logs[-rules.OVERFIT_EPOCHS:], (30, 3000), first_epoch=10, best=best)
    assert [f.evidence for f in window] == [f.evidence for f in full] and full[0].evidence["best_epoch"] == 14
    # a validation loss that was not finite once keeps the rule waiting, as the whole history did
    broken = rules.EpochBest.of([{"loss": 1.0, "val_loss": math.nan}, *logs])
    assert broken.invalid and rules.overfitting(logs[-3:], (30, 3000), best=broken) == []


def test_overfitting_cost_does_not_grow_with_the_epochs():
    """With the running best, each epoch's check reads a fixed number of logs: the same answer from
    the last three logs of a 20,000-epoch run as from a 9-epoch one."""
    calm = [{"loss": 0.7, "val_loss": 0.7 + 1e-3 * (i % 2), "accuracy": 0.6, "val_accuracy": 0.6}
            for i in range(20_000)]
    best = rules.EpochBest.of(calm)
    logs = tiny_training_set_logs()
    for log in logs:
        best.update(log)  # the memorizing epochs come last; the best is the tiny set's epoch 4 (0.50)
    (finding,) = rules.overfitting(logs[-rules.OVERFIT_EPOCHS:], (30, 3000), best=best)
    assert finding.evidence["best_epoch"] == 20_004


def test_validation_accuracy_collapsing_while_the_training_loss_falls_is_overfitting():
    """The validation loss creeps up (less than 10 % above its best) while the validation accuracy
    collapses and the training loss keeps falling: memorizing, found through the accuracy."""
    val_loss = [1.00, 0.80, 0.70, 0.72, 0.74, 0.75, 0.76]
    val_accuracy = [0.60, 0.80, 0.90, 0.75, 0.62, 0.55, 0.50]
    train = [1.00, 0.70, 0.50, 0.30, 0.20, 0.15, 0.10]
    logs = [{"loss": t, "val_loss": v, "accuracy": min(1.0, 0.7 + 0.05 * i), "val_accuracy": a}
            for i, (t, v, a) in enumerate(zip(train, val_loss, val_accuracy, strict=True))]
    (finding,) = rules.overfitting(logs, samples=(200, 1000))
    assert not finding.evidence["val_loss_risen"] and "fell from its best, 90%, to 50%" in finding.explanation
    assert rules.collapsing_validation(logs, samples=(200, 1000)) == []  # the training loss falls
    creeping = [dict(log, loss=0.3 + 0.01 * i) for i, log in enumerate(logs)]  # undoing, not memorizing
    assert rules.overfitting(creeping, samples=(200, 1000)) == []
    assert rules.collapsing_validation(creeping, samples=(200, 1000))


# -- validation accuracy that swings or collapses ------------------------------------------------
def test_oscillating_validation_accuracy_is_unstable():
    swinging = [{"val_accuracy": a} for a in (0.3, 0.5, 0.8, 0.45, 0.82, 0.4)]
    (finding,) = rules.oscillating_validation(swinging, samples=(1000, 500))
    assert finding.problem == "unstable_loss" and finding.evidence["smallest_swing"] == pytest.approx(0.35)
    rising = [{"val_accuracy": a} for a in (0.3, 0.5, 0.7, 0.8, 0.85, 0.86)]
    assert rules.oscillating_validation(rising, samples=(1000, 500)) == []
    # on 10 validation samples a swing of 30 points is 3 samples: within three times its noise
    assert rules.oscillating_validation(swinging, samples=(1000, 10)) == []
    small = [{"val_accuracy": a} for a in (0.80, 0.85, 0.79, 0.86, 0.78)]  # a few points either way
    assert rules.oscillating_validation(small) == []
    # a young run's first climb is learning: one drop between two rises is not yet oscillating
    young = [{"val_accuracy": a} for a in (0.29, 0.75, 0.45, 0.73)]
    assert rules.oscillating_validation(young, samples=(1300, 450)) == []


def test_validation_accuracy_collapsing_while_the_training_loss_creeps_up_is_unstable():
    logs = [{"loss": t, "val_accuracy": a} for t, a in
            zip([0.40, 0.35, 0.33, 0.34, 0.36, 0.40], [0.70, 0.85, 0.90, 0.80, 0.65, 0.50], strict=True)]
    assert rules.unstable_loss([log["loss"] for log in logs]) == []  # too slow a rise for the step rule
    (finding,) = rules.collapsing_validation(logs, samples=(1000, 500))
    assert finding.problem == "unstable_loss" and finding.evidence["val_accuracy_best"] == 0.90
    assert rules.collapsing_validation(logs[-4:], samples=(1000, 500), best=rules.EpochBest.of(logs))
    steady = [dict(log, val_accuracy=0.88) for log in logs]
    assert rules.collapsing_validation(steady, samples=(1000, 500)) == []
    falling = [dict(log, loss=1.0 - 0.1 * i) for i, log in enumerate(logs)]  # memorizing, not undoing
    assert rules.collapsing_validation(falling, samples=(1000, 500)) == []


# -- an astronomical loss ---------------------------------------------------------------------------
def test_a_finite_astronomical_loss_is_exploding_gradients():
    losses = [2.3, 2.0, 5.0, 1e5, 1e12, 1e27]
    (finding,) = rules.astronomical_loss(losses, chance_loss=math.log(10), recent=3)
    assert finding.problem == "exploding_gradients" and finding.severity == "critical"
    assert finding.evidence["loss_peak"] == 1e27
    assert rules.diverged(losses + [1e27] * 10, math.log(10))  # and the diverged unstable_loss alongside
    assert rules.astronomical_loss([2.3, 2.0, 50.0, 1e5], chance_loss=math.log(10)) == []  # 4e4x: diverged
    assert rules.astronomical_loss([2.3, math.inf]) == []  # non_finite's to name


def test_a_loss_that_blows_up_in_its_first_steps_diverged_whatever_the_batch_size():
    losses = [0.7, 400.0, 1e10, 2e19, 8e17] + [30.0] * 60
    for batch_size in (None, 1, 32):
        assert rules.diverged(losses, math.log(2), batch_size=batch_size), batch_size


# -- a zero-initialized layer's first update -----------------------------------------------------------
def test_a_zero_initialized_layer_update_is_measured_against_its_typical_size():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    model[2].weight.data[...] = 0.0
    optimizer = rp.optim.SGD(model.parameters(), lr=100.0)
    recorder = Recorder(model, every=1)
    x, y = rp.tensor(np.random.default_rng(0).normal(size=(32, 5))), np.arange(32) % 3
    loss_fn = nn.CrossEntropyLoss()
    before = None
    for _ in range(2):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        recorder.observe(loss)
        if before is None:
            before = model[2].weight.data.copy()
        optimizer.step()
        if before is not None and recorder.records[0].layers[1].update_ratio is None:
            moved = np.linalg.norm(model[2].weight.data - before)
    ratio = recorder.records[0].layers[1].update_ratio
    assert ratio == pytest.approx(moved / typical_norm((3, 8))) and typical_norm((3, 8)) == pytest.approx(
        math.sqrt(3))
    (finding,) = rules.exploding_updates([recorder.records[0].as_plain()])
    assert finding.layer == "2" and finding.severity == "critical"


# -- underfitting -------------------------------------------------------------------------------------
def stuck_halfway(steps: int = 1500, level: float = 1.9, seed: int = 0) -> np.ndarray:
    """A loss that fell from ln 10 to ``level`` in 300 steps and stays there (batch noise of 5 %)."""
    rng = np.random.default_rng(seed)
    curve = np.concatenate([np.linspace(math.log(10), level, 300), np.full(steps - 300, level)])
    return curve * rng.normal(1.0, 0.05, steps)


def test_a_loss_stuck_far_above_a_fit_with_healthy_updates_is_underfitting():
    losses = stuck_halfway()
    (finding,) = rules.underfitting(losses, [3e-3, 4e-3], chance_loss=math.log(10))
    assert finding.problem == "underfitting"
    assert finding.evidence["reference_loss"] == pytest.approx(math.log(10))
    assert rules.slow_convergence(losses) == []  # it learned something: no plateau from the start


def test_steps_that_shrank_to_nothing_at_a_minimum_are_no_rate_too_small():
    losses = stuck_halfway()
    chance = math.log(10)
    # a linear model at the minimum of its loss (and weight decay): its steps fell to nothing
    (finding,) = rules.underfitting(losses, [0.0, 0.0], chance_loss=chance, step_fall=0.0)
    assert finding.problem == "underfitting"
    assert rules.underfitting(losses, [3e-7, 4e-7], chance_loss=chance,
                              step_fall=rules.CONVERGED_STEP / 2)
    # a rate too small keeps its steps near their first size: not a minimum
    assert rules.underfitting(losses, [3e-7, 4e-7], chance_loss=chance, step_fall=0.5) == []
    assert rules.underfitting(losses, [3e-7, 4e-7], chance_loss=chance, step_fall=None) == []
    # units that died (or a loss that diverged) stop the steps without a minimum
    for stop in rules.DEGENERATE_STOPS:
        assert rules.underfitting(losses, [0.0, 0.0], chance_loss=chance, step_fall=0.0,
                                  diagnosed={stop}) == []


def test_underfitting_needs_many_steps_healthy_updates_a_high_loss_and_no_gap():
    losses = stuck_halfway()
    chance = math.log(10)
    assert rules.underfitting(losses[:900], [3e-3, 4e-3], chance_loss=chance) == []  # too few steps
    assert rules.underfitting(losses, [3e-7, 4e-7], chance_loss=chance) == []  # steps too small
    assert rules.underfitting(losses, [3e-3, 0.9], chance_loss=chance) == []  # steps too large
    assert rules.underfitting(stuck_halfway(level=0.5), [3e-3, 4e-3], chance_loss=chance) == []  # fits
    falling = np.linspace(chance, 0.9, 1500)
    assert rules.underfitting(falling, [3e-3, 4e-3], chance_loss=chance) == []  # still learning
    gap = [{"loss": 1.6, "accuracy": 0.95, "val_loss": 2.0, "val_accuracy": 0.6}]
    assert rules.underfitting(losses, [3e-3, 4e-3], chance_loss=chance, epoch_logs=gap,
                              samples=(1000, 300)) == []  # it fits its own data: not capacity
    no_gap = [dict(gap[0], accuracy=0.62)]
    assert rules.underfitting(losses, [3e-3, 4e-3], chance_loss=chance, epoch_logs=no_gap,
                              samples=(1000, 300))


# -- batch too small ------------------------------------------------------------------------------------
def test_single_sample_steps_whose_noise_hides_any_progress_are_batch_too_small():
    rng = np.random.default_rng(0)
    stalled = rng.exponential(1.5, 3000)  # one sample per step, around a loss of 1.5 that does not fall
    (finding,) = rules.batch_too_small(stalled, 1, chance_loss=math.log(10))
    assert finding.problem == "batch_too_small" and finding.evidence["noise_share"] > rules.NOISE_LEVEL
    assert rules.batch_too_small(stalled, None) == []  # the batch size must be known
    batches = rng.gamma(32, 1.5 / 32, 3000)  # the same loss averaged over batches of 32
    assert rules.batch_too_small(batches, 32, chance_loss=math.log(10)) == []
    learning = rng.exponential(np.linspace(2.3, 0.6, 3000))
    assert rules.batch_too_small(learning, 1, chance_loss=math.log(10)) == []  # it learns through the noise
    fitted = rng.exponential(0.05, 3000)
    assert rules.batch_too_small(fitted, 1, chance_loss=math.log(10)) == []


def test_a_start_far_above_a_blind_guess_does_not_make_a_noisy_stall_fitted():
    # one sample per step on three classes from unscaled inputs: confident random outputs start the loss
    # at 12.8, and it falls to 0.53 (half a blind guess's ln 3) in the first epoch, then stalls in noise
    rng = np.random.default_rng(2)
    losses = np.concatenate([np.linspace(12.8, 0.6, 200), rng.exponential(0.53, 9800)])
    (finding,) = rules.batch_too_small(losses, 1, chance_loss=math.log(3))
    assert finding.evidence["loss_level"] > rules.FITTED_LEVEL * math.log(3)
    assert rules.batch_too_small(losses, 1) == []  # without the blind guess, the start is the mark


def test_a_plateau_shorter_than_the_noise_windows_is_not_batch_too_small():
    # single samples of a two-class problem (most near 0, the misclassified ones near 2): down from
    # ln 2 in 150 steps, then 1,250 steps on a plateau of the loss surface at 0.25 (a healthy tanh
    # net on moons sits there before it bends its boundary)
    rng = np.random.default_rng(1)

    def samples(level: np.ndarray) -> np.ndarray:
        wrong = rng.random(level.size) < (level - 0.03) / 1.97  # mean: the level
        return np.where(wrong, rng.exponential(2.0, level.size), rng.exponential(0.03, level.size))

    losses = samples(np.concatenate([np.linspace(math.log(2), 0.3, 150), np.full(1250, 0.25)]))
    assert rules.batch_too_small(losses, 1, chance_loss=math.log(2)) == []
    # the same level held over all the windows is noise-bound
    (finding,) = rules.batch_too_small(np.concatenate([losses, samples(np.full(2000, 0.25))]), 1,
                                       chance_loss=math.log(2))
    assert finding.evidence["steps"] == rules.BATCH_WINDOWS * rules.smoothing_span(1)


# -- a loss that passes no gradient ---------------------------------------------------------------
def _cut_probe(step: int, loss: float, grads: tuple[float, ...] = (0.0, 0.0, 0.0),
               fired: np.ndarray | None = None) -> dict:
    layers = [{"name": str(2 * i), "label": f"Linear {i}", "grad_rms": g, "grad_norm": g} for i, g in
              enumerate(grads)]
    activations = [] if fired is None else [{"name": "1", "label": "relu 1", "fired": fired}]
    return {"step": step, "epoch": 0, "loss": loss, "layers": layers, "activations": activations,
            "grad_norm_total": math.sqrt(sum(g * g for g in grads)), "output_bias_grad": grads[-1]}


def test_a_loss_flat_in_the_outputs_is_a_loss_output_mismatch():
    # a hand-written -sum(y * log(clip(scores))) on raw scores: after the first step every score
    # sits outside the clip, and no layer, not even the output one, gets a gradient
    probes = [_cut_probe(37, 7.6), _cut_probe(74, 7.4)]
    (finding,) = rules.no_gradient(probes)
    assert (finding.problem, finding.layer, finding.evidence["case"]) == ("loss_output_mismatch", "4",
                                                                          "no_gradient")
    assert finding.severity == "critical" and finding.evidence["fix_by"] == "user"
    assert "loss_output_mismatch" in rules.symptoms(probes[-1])
    assert rules.no_gradient(probes[-1:]) == []  # one probe is not persistence
    assert rules.no_gradient([probes[0], _cut_probe(74, 7.4, (0.0, 0.0, 1e-3))]) == []  # the output learns
    assert rules.no_gradient([_cut_probe(37, 0.0), _cut_probe(74, 0.0)]) == []  # a loss at its minimum
    # a clipped log loss is flat for samples classified with confidence: a batch of one such sample
    # (a loss of 1e-7 against a start of 0.69) is no cut
    confident = [_cut_probe(37, 1e-7), _cut_probe(74, 1.2e-7)]
    assert rules.no_gradient(confident, start=0.69) == []
    assert rules.no_gradient(probes, start=8.8)  # the hand-written loss far from fitted
    silent = np.zeros(16, dtype=bool)  # every ReLU before the output is off: dead_relu's to name
    assert rules.no_gradient([_cut_probe(37, 2.3, fired=silent), _cut_probe(74, 2.3, fired=silent)]) == []
    assert rules.no_gradient([_cut_probe(37, math.nan), _cut_probe(74, math.nan)]) == []
    uncomputed = [{**probe, "grad_norm_total": math.nan} for probe in probes]  # no backward pass at all
    assert rules.no_gradient(uncomputed) == []
    # the misclassified samples' units before the output all silent: the weights get nothing, the
    # output bias still does (exploded ReLU nets); and an output layer without a bias is not judged
    assert rules.no_gradient([{**probe, "output_bias_grad": 0.3} for probe in probes]) == []
    assert rules.no_gradient([{**probe, "output_bias_grad": math.nan} for probe in probes]) == []
    assert rules.no_gradient(probes, dropout_rates=[1.0]) == []  # every unit dropped: dropout_too_high's


class ClippedLogLoss(nn.Module):
    """-sum(y * log(clip(scores))) on raw scores: the softmax forgotten, the clip hides the NaN."""

    classification = True

    def forward(self, input, target):
        onehot = np.eye(input.shape[-1], dtype=input.dtype)[np.asarray(target, dtype=np.int64)]
        return -(input.clip(1e-7, 1.0 - 1e-7).log() * onehot).sum(axis=-1).mean()


def test_fit_names_a_hand_written_loss_that_passes_no_gradient(digits):
    x_train, y_train, x_test, y_test = digits
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    history = rp.fit(m, x_train, y_train, loss=ClippedLogLoss(), epochs=3, validation_data=(x_test, y_test),
                     optimizer=rp.optim.SGD(m.parameters(), lr=0.5), verbose=0, seed=0, doctor=True)
    (diagnosis,) = [d for d in history.diagnoses if d.problem == "loss_output_mismatch"]
    assert diagnosis.evidence["case"] == "no_gradient" and diagnosis.remedies[0][0] == "differentiable_loss"


class LogLossOnScores(nn.Module):
    """A hand-written binary cross-entropy, -y log(p) - (1 - y) log(1 - p), on raw linear outputs."""

    classification = True

    def forward(self, input, target):
        onehot = np.eye(input.shape[-1], dtype=input.dtype)[np.asarray(target, dtype=np.int64)]
        return (-(input.log() * onehot) - (1.0 - input).log() * (1.0 - onehot)).sum(axis=-1).mean()


def test_a_nan_loss_on_finite_outputs_is_named_a_loss_output_mismatch(digits):
    x_train, y_train, x_test, y_test = digits
    rp.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    with np.errstate(all="ignore"):
        history = rp.fit(m, x_train, y_train, loss=LogLossOnScores(), epochs=1, verbose=0, seed=0,
                         validation_data=(x_test, y_test), optimizer=rp.optim.SGD(m.parameters(), lr=0.05),
                         doctor=True)
    problems = [d.problem for d in history.diagnoses]
    assert problems[:2] == ["loss_output_mismatch", "non_finite"]
    mismatch, nan = history.diagnoses[:2]
    assert mismatch.evidence["case"] == "loss_undefined" and mismatch.step == 0
    assert nan.evidence["where"] == "loss"  # not the output layer's gradients, which the NaN loss made


def test_an_overflowed_forward_pass_or_an_unknown_loss_is_no_undefined_loss():
    layers = [{"name": "0", "label": "Linear", "nonfinite_weight": 0}]
    probe = {"step": 3, "loss": math.nan, "layers": layers, "activations": [{"mean": 0.5, "nonfinite": 0}]}
    (finding,) = rules.undefined_loss([probe])
    assert finding.evidence["case"] == "loss_undefined"
    assert rules.undefined_loss([probe], possible=False) == []  # unknown, or a library loss on scores
    overflowed = {**probe, "activations": [{"mean": math.inf, "nonfinite": 0}]}
    assert rules.undefined_loss([overflowed]) == []  # non_finite's, where the forward pass overflowed
    assert rules.undefined_loss([{**probe, "loss": math.inf}]) == []  # an overflow, not undefined


# -- vanishing gradients judged on enough samples -----------------------------------------------------
def _grads_probe(step: int, first: float, last: float = 1.0) -> dict:
    layers = [{"name": str(2 * i), "label": f"Linear {i}", "grad_rms": g} for i, g in
              enumerate((first, 0.5, last))]
    return {"step": step, "loss": 0.1, "layers": layers, "activations": []}


def test_one_samples_gradient_path_is_not_vanishing_gradients():
    # batches of one sample: the first layer gets exactly nothing on the samples whose first-layer
    # ReLUs are all off, and an ordinary share of the gradient on the others
    rng = np.random.default_rng(0)
    probes = [_grads_probe(6 * i, 0.0 if rng.random() < 0.3 else 0.4) for i in range(70)]
    probes[-2:] = [_grads_probe(414, 0.0), _grads_probe(420, 0.0)]  # two in a row with no gradient
    assert rules.vanishing_gradients(probes[-2:]) != []  # judged on two samples alone: named
    assert rules.vanishing_gradients(probes, batch_size=1) == []  # pooled over 59 samples: 0.3x
    assert rules.vanishing_gradients(probes[-10:], batch_size=1) == []  # too few samples yet
    # a deep sigmoid net's first layer gets little on every sample: named when pooled too
    deep = [_grads_probe(6 * i, 1e-5 * (1 + rng.random())) for i in range(70)]
    (finding,) = rules.vanishing_gradients(deep, batch_size=1)
    assert finding.evidence["probes"] == rules.DEAD_SAMPLES and finding.evidence["ratio"] < 1e-4
    (finding,) = rules.vanishing_gradients(deep[-2:], batch_size=32)  # two batches of 32: as before
    assert finding.evidence["probes"] == 2


def test_an_unknown_loss_is_no_non_finite_symptom():
    # a loop that never passes its loss records NaN for it: no closer look, no lost snapshot
    probe = {"loss": math.nan, "layers": [{"grad_rms": 1.0}] * 3, "activations": []}
    assert rules.symptoms(probe) == ["non_finite"]
    assert rules.symptoms(probe, loss_known=False) == []


def test_several_moderate_dropouts_drop_as_much_as_one_near_total_rate():
    """Seven dropouts of 0.5 one after another (TheDeepChecker's over-regularized deepCNN) keep 1/128 of
    the signal, as one rate of 0.992 would: with the loss still at a blind guess's, that is named as
    dropout_too_high (critical, the near-total window); a single 0.5, or two, or VGG's moderate rates
    after each block, are not."""
    assert rules.compound_dropout([0.5] * 7) == pytest.approx(1 - 0.5**7)
    assert rules.compound_dropout([]) == 0.0
    losses = np.full(200, 2.5)
    (finding,) = rules.dropout_too_high(losses[:60], [0.5] * 7, chance_loss=math.log(10))
    assert finding.severity == "critical" and finding.evidence["dropout_rates"] == [0.5] * 7
    assert "7 dropouts" in finding.explanation and "99.2%" in finding.explanation
    assert rules.dropout_too_high(losses, [0.5], chance_loss=math.log(10)) == []
    assert rules.dropout_too_high(losses, [0.5, 0.5], chance_loss=math.log(10)) == []
    # VGG's 0.2 to 0.5 after each block compound to 0.83: networks train well with them, and a loss
    # held up by something else (no batch normalization, a small rate) is not the dropouts' doing
    assert rules.dropout_level([0.2, 0.3, 0.4, 0.5]) == 0.5
    assert rules.dropout_too_high(losses, [0.2, 0.3, 0.4, 0.5], chance_loss=math.log(10)) == []


def test_a_run_under_near_total_dropout_that_ends_still_learning_far_short_of_a_fit_is_dropout_too_high():
    # DeepLearningZeroToAll's CNN with rate 0.7 written as a keep probability after three conv blocks
    # (and 0.5 before the output): the loss falls well below a blind guess's, yet at the run's end the
    # model sorts 86 % of its rows where a nearest-neighbour vote sorts 97.5 %
    losses = np.linspace(2.4, 0.85, 120)
    vote = {"accuracy": 0.975, "neighbours": 5, "rows": 1000}
    log = [{"loss": 0.85, "accuracy": 0.70, "val_loss": 1.05, "val_accuracy": 0.863}]
    kwargs = {"chance_loss": math.log(10), "epoch_logs": log, "samples": (1197, 600),
              "attainable": lambda: vote}
    rates = [0.7, 0.7, 0.7, 0.5]
    (finding,) = rules.dropout_ended_short(losses, rates, 0, **kwargs)
    assert (finding.problem, finding.evidence["case"]) == ("dropout_too_high", "ended_short")
    assert finding.evidence["dropout_rate"] == pytest.approx(1 - 0.3**3 * 0.5)
    assert rules.dropout_ended_short(losses, rates, 40, **kwargs) == []  # not yet at the run's end
    assert rules.dropout_ended_short(losses, [0.3, 0.3, 0.3, 0.5], 0, **kwargs) == []  # moderate rates
    near = dict(log[0], val_accuracy=0.95)
    assert rules.dropout_ended_short(losses, rates, 0, **dict(kwargs, epoch_logs=[near])) == []


def test_the_runs_end_is_read_by_the_loss_rules_whatever_its_length():
    # 120 steps: the loss rules ran at steps 51 and 101; the end, 19 steps later, is read all the same
    # (the rules that judge a run at its end need to see it)
    from retroprop.doctor.doctor import Doctor

    data = rp.data.load_digits()
    x, y = (data.x / 16.0).astype(np.float32), data.y
    ends = []
    original = rules.ended_short

    def spy(losses, steps_left, *args, **kwargs):
        ends.append(steps_left)
        return original(losses, steps_left, *args, **kwargs)

    rules.ended_short = spy
    try:
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        rp.fit(model, x[:1200], y[:1200], loss="cross_entropy",
               optimizer=rp.optim.SGD(model.parameters(), lr=0.01), epochs=12, batch_size=120,
               validation_data=(x[1200:], y[1200:]), doctor=Doctor(), verbose=0, seed=0)
    finally:
        rules.ended_short = original
    assert ends and ends[-1] == 0


# -- oversized initial weights --------------------------------------------------------------------------
def _layer(name: str, fan_in: int, fan_out: int, std: float) -> dict:
    size = fan_in * fan_out
    return {"name": name, "label": name, "fan_in": fan_in, "size": size, "weight_norm": std * math.sqrt(size),
            "grad_rms": 1.0, "grad_norm": 1.0, "update_ratio": None}


def test_oversized_initial_weights_with_a_loss_far_above_a_blind_guess_are_exploding():
    # deeplearning.ai's "large random" initialization: [2, 10, 5, 1] ReLU weights drawn as randn * 10
    layers = [_layer("0", 2, 10, 10.0), _layer("2", 10, 5, 10.0), _layer("4", 5, 1, 10.0)]
    first = {"step": 0, "loss": 4088.0, "layers": layers, "activations": []}
    (finding,) = rules.oversized_init([first], 0, chance_loss=math.log(2))
    assert finding.problem == "exploding_gradients" and finding.evidence["case"] == "oversized_init"
    assert finding.evidence["cause"] == "initialization" and finding.layer == "2"  # 22x He's scale there
    assert finding.evidence["weight_gain"] > rules.OVERSIZED_GAIN
    assert rules.oversized_init([first], 0, chance_loss=None) == []  # no blind guess to compare with
    assert rules.oversized_init([dict(first, step=3)], 0, chance_loss=math.log(2)) == []  # not the start
    calm = dict(first, loss=0.7)  # the same weights, a loss at a blind guess's: outputs not exploded
    assert rules.oversized_init([calm], 0, chance_loss=math.log(2)) == []
    squashed = dict(first, activations=[{"name": "1", "label": "1", "kind": "tanh", "saturated_share": 0.86}])
    assert rules.oversized_init([squashed], 0, chance_loss=math.log(2)) == []  # saturation's to name
    he = [_layer("0", 2, 10, 1.0), _layer("2", 10, 5, math.sqrt(0.2)), _layer("4", 5, 1, math.sqrt(0.4))]
    unscaled = dict(first, layers=he, loss=12.8)  # He weights on raw inputs: a loud start, not the weights
    assert rules.oversized_init([unscaled], 0, chance_loss=math.log(3)) == []
    # a 200-input linear regression from weights of standard deviation 1.2 (d2l's N(0, 1), a little
    # larger): 12x He's scale and a loss 200x the targets' variance, but one layer multiplies nothing,
    # and its convex loss forgets the start when the rows fix every weight; with 20 rows they fix 20
    # of its 200 directions, and the other 180 keep their initial scale
    linear = {"step": 0, "loss": 200.0, "layers": [_layer("0", 200, 1, 1.2)], "activations": []}
    assert rules.weight_gain(linear["layers"])[0] > rules.OVERSIZED_GAIN, "not vacuous"
    assert rules.oversized_init([linear], 0, chance_loss=1.0, samples=(1000, 200)) == []
    assert rules.oversized_init([linear], 0, chance_loss=1.0) == []  # rows unknown
    (kept,) = rules.oversized_init([linear], 0, chance_loss=1.0, samples=(20, 100))
    assert kept.evidence["training_rows"] == 20 and "fix only 20 directions" in kept.explanation


def test_underfitting_against_what_the_data_allows():
    # the same stalled loss, judged against a nearest-neighbour vote on the training rows instead of a
    # blind guess: short of it by 10 points and twice the noise, at any loss level
    chance = math.log(10)
    low = stuck_halfway(level=0.5)  # a fifth of a blind guess's loss: the level alone says "fits"
    log = [{"loss": 0.5, "accuracy": 0.62, "val_loss": 0.55, "val_accuracy": 0.6}]
    asked = []

    def vote(accuracy):
        def measure():
            asked.append(accuracy)
            return {"accuracy": accuracy, "neighbours": 5, "rows": 1000}
        return measure

    (finding,) = rules.underfitting(low, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log,
                                    samples=(1000, 300), attainable=vote(0.97))
    assert finding.evidence["attainable_accuracy"] == 0.97 and "nearest-neighbour" in finding.explanation
    # as much as the data allows (noisy labels): no alarm, though the loss is two thirds of a guess's
    high = stuck_halfway(level=1.5)
    assert rules.underfitting(high, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log, samples=(1000, 300),
                              attainable=vote(0.66)) == []
    # a training accuracy above 0.9 is short of nothing: the vote is not even measured
    asked.clear()
    fitted = [dict(log[0], accuracy=0.93, val_accuracy=0.92)]
    assert rules.underfitting(high, [3e-3, 4e-3], chance_loss=chance, epoch_logs=fitted,
                              samples=(1000, 300), attainable=vote(1.0)) == [] and asked == []
    # no yardstick (a regression, or no data): the level against a blind guess's, as before
    for losses, named in ((stuck_halfway(level=1.9), True), (high, False)):  # 83 % and 65 % of ln 10
        found = rules.underfitting(losses, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log,
                                   samples=(1000, 300), attainable=lambda: None)
        assert bool(found) is named


def test_a_regression_stalled_far_above_a_neighbour_average_is_underfitting():
    """A line fitted to cubic data: its loss stalls at 40 % of the targets' variance, where the data let a
    nearest-neighbour average miss by 1 %; the level alone (below 75 % of a blind guess) says nothing."""
    chance = 20.0  # the targets' variance: a mean guess's squared error
    # fell from 20 to 8 and stays there
    noise = np.random.default_rng(0).normal(1.0, 0.01, 1500)
    stalled = np.concatenate([np.linspace(20.0, 8.0, 300), np.full(1200, 8.0)]) * noise
    assert rules.underfitting(stalled, [3e-3, 4e-3], chance_loss=chance) == []  # 40 %: below the level
    average = {"error": 0.01, "noise": 0.004, "neighbours": 1, "rows": 100}
    (finding,) = rules.underfitting(stalled, [3e-3, 4e-3], chance_loss=chance,
                                    attainable_error=lambda: average)
    assert finding.evidence["case"] == "regression"
    assert finding.evidence["error"] == pytest.approx(0.4, abs=0.01)
    assert "nearest neighbours" in finding.explanation
    # a loss still falling 5 % per 500 steps under noise that hides it from one window (heavy-tailed
    # targets) shows no plateau: the halves of its last 1000 steps are 5 % apart
    rng = np.random.default_rng(1)
    slow = np.linspace(8.8, 7.2, 1500) * rng.lognormal(0.0, 0.5, 1500)
    assert rules.loss_trend(slow, chance_loss=chance) == "stalled", "not vacuous: one window says stalled"
    assert rules.underfitting(slow, [3e-3, 4e-3], chance_loss=chance, attainable_error=lambda: average) == []
    # a yardstick not twice as good, or one too noisy to tell, is no shortfall
    for loose in ({"error": 0.25, "noise": 0.01}, {"error": 0.1, "noise": 0.2}):
        found = rules.underfitting(stalled, [3e-3, 4e-3], chance_loss=chance,
                                   attainable_error=lambda y=loose: y)
        assert found == []


def test_labels_the_inputs_do_not_predict_are_named_as_such():
    # a vote no better than the commonest class, and a model no better either: labels shuffled apart from
    # their inputs (or noise), the user's to fix, not a capacity to widen
    losses = np.full(300, math.log(10)) * np.random.default_rng(0).normal(1.0, 0.05, 300)  # never fell
    log = [{"loss": 2.3, "accuracy": 0.11, "val_loss": 2.3, "val_accuracy": 0.1}]
    blind = {"accuracy": 0.111, "neighbours": 1, "rows": 1000, "majority": 0.109}
    (finding,) = rules.underfitting(losses, [3e-3, 4e-3], chance_loss=math.log(10), epoch_logs=log,
                                    samples=(1000, 300), attainable=lambda: blind)
    assert finding.evidence["case"] == "unpredictable_labels"
    assert "do not predict these labels" in finding.explanation
    explained = table.Evidence(recipe_problems=set(), dropout_rates=())
    assert table.plateau_explained(explained, [finding]) == "underfitting"  # no "raise the rate" beside it
    # a model above the blind guess (it found a signal the vote missed) is judged as before: not short
    learned = [dict(log[0], accuracy=0.4, val_accuracy=0.38)]
    assert rules.underfitting(losses, [3e-3, 4e-3], chance_loss=math.log(10), epoch_logs=learned,
                              samples=(1000, 300), attainable=lambda: blind) == []


def test_unpredictable_labels_are_named_while_the_loss_falls_toward_a_guess_from_above():
    # a start thrown above ln 10 by the initial weights: the loss falls, but only toward a blind guess's,
    # and the vote and the model sort no better than the commonest class; a loss falling below that
    # level (learning) is left for later, and so is one above it while the vote finds a signal
    rng = np.random.default_rng(1)
    chance = math.log(10)
    descending = np.linspace(3.8, 3.0, 300) * rng.normal(1.0, 0.01, 300)
    log = [{"loss": 3.0, "accuracy": 0.10, "val_loss": 3.0, "val_accuracy": 0.1}]
    blind = {"accuracy": 0.111, "neighbours": 1, "rows": 1000, "majority": 0.109}
    (finding,) = rules.underfitting(descending, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log,
                                    samples=(1000, 300), attainable=lambda: blind)
    assert finding.evidence["case"] == "unpredictable_labels"
    assert "falls only toward a blind guess's" in finding.explanation
    below = np.linspace(2.2, 1.5, 300) * rng.normal(1.0, 0.01, 300)
    assert rules.underfitting(below, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log,
                              samples=(1000, 300), attainable=lambda: blind) == []
    signal = {**blind, "accuracy": 0.9}
    assert rules.underfitting(descending, [3e-3, 4e-3], chance_loss=chance, epoch_logs=log,
                              samples=(1000, 300), attainable=lambda: signal) == []
    assert rules.underfitting(descending, [3e-3, 4e-3], chance_loss=None, epoch_logs=log,
                              samples=(1000, 300), attainable=lambda: blind) == []  # no guess to fall to


def test_fit_names_labels_shuffled_apart_from_their_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 8)).astype(np.float32)
    y = rng.permutation((x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0))  # 4 classes, then shuffled
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
    history = rp.fit(model, x[:1000], y[:1000], loss="cross_entropy",
                     optimizer=rp.optim.SGD(model.parameters(), lr=0.01), epochs=40, batch_size=32,
                     validation_data=(x[1000:], y[1000:]), doctor=True, seed=0, verbose=0)
    found = [d for d in history.diagnoses if d.problem == "underfitting"]
    assert found and found[0].evidence["case"] == "unpredictable_labels", history.diagnoses
    assert found[0].remedies[0][0] == "align_labels"


def test_a_learning_rate_decayed_before_the_fit_is_slow_convergence():
    # Keras's time decay: the rate cut 320-fold, steps now too small, the loss stalled short of a vote
    losses = stuck_halfway(level=0.7)
    log = [{"loss": 0.7, "accuracy": 0.65, "val_loss": 0.66, "val_accuracy": 0.69}]
    vote = {"accuracy": 0.82, "neighbours": 15, "rows": 500}
    rates = ((0.01,), (3.1e-5,))
    (finding,) = rules.rate_decayed(losses, rates, [4e-5, 3.8e-5], chance_loss=math.log(3), epoch_logs=log,
                                    samples=(500, 500), attainable=lambda: vote)
    assert finding.problem == "slow_convergence" and finding.evidence["case"] == "rate_decayed"
    assert finding.evidence["rate_fall"] == pytest.approx(0.01 / 3.1e-5)
    # a schedule that ends at a rate of 0: no fall ratio to state (evidence stays finite JSON)
    (annealed,) = rules.rate_decayed(losses, ((0.01,), (0.0,)), [0.0, 0.0], chance_loss=math.log(3),
                                     epoch_logs=log, samples=(500, 500), attainable=lambda: vote)
    assert annealed.evidence["rate_fall"] is None
    assert "fallen from 0.01 to 3.1e-05" in finding.explanation
    kwargs = {"chance_loss": math.log(3), "epoch_logs": log, "samples": (500, 500)}
    # a rate cut less than tenfold, steps still of a healthy size, or a model as good as the vote: none
    assert rules.rate_decayed(losses, ((0.01,), (0.002,)), [4e-5, 3.8e-5], attainable=lambda: vote,
                              **kwargs) == []
    assert rules.rate_decayed(losses, rates, [4e-4, 3.8e-4], attainable=lambda: vote, **kwargs) == []
    assert rules.rate_decayed(losses, rates, [4e-5, 3.8e-5], attainable=lambda: dict(vote, accuracy=0.7),
                              **kwargs) == []
    # a loss still falling is not stalled; without a yardstick, the level against a blind guess's
    falling = np.linspace(1.1, 0.7, 400)
    assert rules.rate_decayed(falling, rates, [4e-5, 3.8e-5], attainable=lambda: vote, **kwargs) == []
    assert rules.rate_decayed(losses, rates, [4e-5, 3.8e-5], attainable=lambda: None, **kwargs) == []
    high = stuck_halfway(level=1.0)  # 91 % of ln 3
    assert rules.rate_decayed(high, rates, [4e-5, 3.8e-5], attainable=lambda: None, **kwargs)


class TimeDecaySGD(rp.optim.SGD):
    """Keras 2's SGD(lr, decay): step t runs at lr / (1 + decay * t)."""

    def __init__(self, params, lr, decay):
        super().__init__(params, lr=lr)
        self.initial_lr, self.decay, self.iterations = lr, decay, 0

    def step(self, closure=None):
        for group in self.param_groups:
            group["lr"] = self.initial_lr / (1.0 + self.decay * self.iterations)
        self.iterations += 1
        return super().step(closure)


@pytest.mark.parametrize("decay, named", [(1.0, True), (1e-4, False)])
def test_fit_names_a_time_decay_too_fast_for_the_data(decay, named):
    from sklearn.datasets import make_blobs

    # a decay of 1 cuts the rate 1000-fold in 1000 steps: 81 % against 95 % at 1e-4 (validation)
    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=3)
    x = x.astype(np.float32)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3))
    history = rp.fit(model, x[:500], y[:500], loss="cross_entropy",
                     optimizer=TimeDecaySGD(model.parameters(), lr=0.01, decay=decay), epochs=120,
                     batch_size=32, validation_data=(x[500:], y[500:]), doctor=True, seed=0, verbose=0)
    found = [d for d in history.diagnoses if d.evidence.get("case") == "rate_decayed"]
    assert bool(found) is named, history.diagnoses
    if named:
        assert found[0].remedies[0][0] == "slower_decay"


def test_a_run_that_ends_still_learning_far_from_what_the_data_allows_is_slow_convergence():
    losses = np.linspace(2.5, 1.7, 380) * np.random.default_rng(0).normal(1.0, 0.02, 380)  # still falling
    log = [{"loss": 1.7, "accuracy": 0.62, "val_loss": 1.7, "val_accuracy": 0.63}]
    vote = {"accuracy": 0.975, "neighbours": 1, "rows": 1000}
    kwargs = {"chance_loss": math.log(10), "epoch_logs": log, "samples": (1000, 300)}
    (finding,) = rules.ended_short(losses, 0, attainable=lambda: vote, **kwargs)
    assert finding.problem == "slow_convergence" and finding.evidence["case"] == "ended_short"
    assert "still falling" in finding.explanation
    # only at the run's end; not near what the vote sorts; not on a stalled loss; not without a vote
    assert rules.ended_short(losses, 100, attainable=lambda: vote, **kwargs) == []
    assert rules.ended_short(losses, 0, attainable=lambda: dict(vote, accuracy=0.7), **kwargs) == []
    assert rules.ended_short(stuck_halfway(level=1.7), 0, attainable=lambda: vote, **kwargs) == []
    assert rules.ended_short(losses, 0, attainable=lambda: None, **kwargs) == []
    fitted = [dict(log[0], accuracy=0.93)]  # above 1 - OVERFIT_GAP: short of nothing, the vote not asked
    assert rules.ended_short(losses, 0, attainable=lambda: 1 / 0, **dict(kwargs, epoch_logs=fitted)) == []


def test_a_dozen_full_batch_steps_that_end_still_falling_fast_are_read_too():
    # too few steps for loss_trend (None): the pace of the last quarter against the earlier ones decides
    losses = [2.31, 2.30, 2.29, 2.27, 2.25, 2.22, 2.19, 2.16, 2.12, 2.08, 2.04, 1.97]
    log = [{"loss": 1.97, "accuracy": 0.43, "val_loss": 1.86, "val_accuracy": 0.61}]
    vote = {"accuracy": 0.975, "neighbours": 5, "rows": 1000}
    kwargs = {"chance_loss": math.log(10), "epoch_logs": log, "samples": (1197, 600)}
    assert rules.loss_trend(losses, chance_loss=math.log(10)) is None
    (finding,) = rules.ended_short(losses, 0, attainable=lambda: vote, **kwargs)
    assert finding.evidence["case"] == "ended_short" and finding.evidence["steps"] == 12
    fading = [2.31, 2.10, 1.95, 1.85, 1.78, 1.74, 1.72, 1.71, 1.705, 1.70, 1.70, 1.70]  # levelled off
    assert rules.ended_short(fading, 0, attainable=lambda: vote, **kwargs) == []
    assert rules.ended_short(losses[:3], 0, attainable=lambda: vote, **kwargs) == []  # too few to read
    assert rules.ended_short([*losses[:-1], math.nan], 0, attainable=lambda: vote, **kwargs) == []


@pytest.mark.parametrize("lr, named", [(0.01, True), (0.1, False)])
def test_fit_names_a_run_that_ends_while_still_learning(digits, lr, named):
    # four epochs at lr 0.01 reach 44 % training accuracy, where a neighbour vote sorts 98 %; at 0.1, 94 %
    x_train, y_train, x_test, y_test = digits
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    history = rp.fit(model, x_train, y_train, loss="cross_entropy",
                     optimizer=rp.optim.SGD(model.parameters(), lr=lr), epochs=4, batch_size=32,
                     validation_data=(x_test, y_test), verbose=0, seed=0, doctor=True)
    found = [d for d in history.diagnoses if d.evidence.get("case") == "ended_short"]
    assert bool(found) is named, history.diagnoses


def test_a_run_shorter_than_the_underfitting_window_is_judged_at_its_end():
    # 600 steps, stalled since step 300, far short of a neighbour vote: a plateau mid-run may still
    # break, but a run that ends on it has no later steps to leave it
    losses = stuck_halfway(steps=600, level=1.0)
    log = [{"loss": 1.0, "accuracy": 0.6, "val_loss": 1.05, "val_accuracy": 0.58}]
    kwargs = {"chance_loss": math.log(10), "epoch_logs": log, "samples": (1000, 300),
              "attainable": lambda: {"accuracy": 0.97, "neighbours": 5, "rows": 1000}}
    assert rules.underfitting(losses, [3e-3, 4e-3], **kwargs) == []
    assert rules.underfitting(losses, [3e-3, 4e-3], steps_left=200, **kwargs) == []
    (finding,) = rules.underfitting(losses, [3e-3, 4e-3], steps_left=0, **kwargs)
    assert finding.problem == "underfitting" and finding.evidence["steps"] == 600


def test_a_loss_that_fell_only_to_a_blind_guesss_is_a_plateau():
    # a start thrown far above a blind guess's (a large initialization, or a class prior not yet learned)
    # falls to the guess's level and stays: nothing of the inputs was learned
    rng = np.random.default_rng(0)
    guess = 0.325  # the entropy of a 90/10 label split
    losses = np.concatenate([np.linspace(0.69, guess, 50), np.full(350, guess)]) * rng.normal(1.0, 0.02, 400)
    assert rules.slow_convergence(losses) == []  # against its start alone, it fell by half
    (finding,) = rules.slow_convergence(losses, chance_loss=guess)
    assert finding.evidence["reference_loss"] == guess and "what guessing scores" in finding.explanation
    # a loss well below the guess's has learned: no plateau
    assert rules.slow_convergence(losses * 0.5, chance_loss=guess) == []


def test_a_model_that_sorts_its_validation_rows_near_the_vote_has_not_ended_short():
    # dropout holds the training accuracy measured on the fly far below what the model sorts
    losses = np.linspace(2.5, 0.8, 380) * np.random.default_rng(0).normal(1.0, 0.02, 380)
    vote = {"accuracy": 0.975, "neighbours": 5, "rows": 1000}
    log = [{"loss": 0.8, "accuracy": 0.80, "val_loss": 0.3, "val_accuracy": 0.935}]
    kwargs = {"chance_loss": math.log(10), "samples": (1000, 300), "attainable": lambda: vote}
    assert rules.ended_short(losses, 0, epoch_logs=log, **kwargs) == []
    (finding,) = rules.ended_short(losses, 0, epoch_logs=[dict(log[0], val_accuracy=0.79)], **kwargs)
    assert finding.evidence["accuracy"] == 0.80


def test_a_least_squares_loss_on_class_indicators_causes_no_saturation():
    from retroprop.doctor.episodes import Episodes
    from retroprop.doctor.rules import Finding

    def story(case):
        episodes = Episodes()
        episodes.report([Finding("loss_output_mismatch", "2", "sigmoid 2", "warning", {"case": case}, "")],
                        0, 0, "setup")
        (saturated,) = episodes.report([Finding("saturated_activations", "1", "sigmoid 1", "warning",
                                                {"from_start": True}, "")], 7, 0, "probe")
        (slow,) = episodes.report([Finding("slow_convergence", None, None, "warning", {}, "")], 50, 0, "loss")
        return saturated.caused_by, slow.caused_by

    # MSE on one-hot rows slows learning, but saturated hidden units are their own root cause (treated)
    saturated, slow = story("regression_on_labels")
    assert saturated is None and slow["problem"] == "loss_output_mismatch"
    # targets out of a sigmoid's reach push the output into its flat region: the mismatch is the cause
    saturated, slow = story("output_range")
    assert saturated["problem"] == slow["problem"] == "loss_output_mismatch"
