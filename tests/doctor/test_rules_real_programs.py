"""The classes of false alarm and missed label that the clinic's real programs showed, on synthetic numbers.

- A first update many times a layer's tiny (zero-initialized) weights: a single large move toward a
  solution of ordinary size when the loss falls after it, an explosion when the loss jumps.
- A loss thrown to many times its start by the first steps, then falling back: unstable, though no
  smoothed window ever climbs (the jump sits in the first one).
- A validation loss that rises together with the training loss at a converged floor: the steps'
  oscillation, not memorizing.
- A generalization gap measured on one validation sample: an accuracy of 0 % or 100 % on a handful of
  samples is luck, not certainty.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from retroprop.doctor import rules


def linear(ratio: float | None, weight_norm: float, *, name: str = "0", size: int = 2,
           fan_in: int = 2) -> dict:
    return {"name": name, "label": f"layer {name}", "grad_rms": 1.0, "grad_norm": 260.0,
            "update_ratio": ratio, "nonfinite_grad": 0, "nonfinite_weight": 0, "weight_norm": weight_norm,
            "size": size, "fan_in": fan_in}


def probe(step: int, layers: list[dict], loss: float) -> dict:
    return {"step": step, "epoch": 0, "loss": loss, "layers": layers, "activations": []}


# -- exploding_updates: a large first move of tiny weights needs confirming ---------------------------
def test_tiny_weights_are_zero_or_an_order_of_magnitude_below_their_init_scale():
    assert rules.tiny_weights(linear(None, 0.0))
    lecun = math.sqrt(64 * 32 / 32)  # 64 units of 32 inputs, entries of std 1/sqrt(32)
    assert rules.tiny_weights(linear(None, 0.05 * lecun, size=64 * 32, fan_in=32))
    assert not rules.tiny_weights(linear(None, 0.58 * lecun, size=64 * 32, fan_in=32))  # PyTorch's default
    assert not rules.tiny_weights({"name": "0", "weight_norm": 1e-3})  # shape unknown: not judged tiny


def test_a_large_first_step_from_zero_weights_that_lowers_the_loss_is_no_explosion():
    first = probe(0, [linear(65.0, 0.0)], loss=15172.0)  # the healthy linear regression's first update
    assert rules.exploding_updates([first], loss_after=3629.0) == []
    # the same ratio with the loss thrown up by orders of magnitude over the step: the step overshot
    (finding,) = rules.exploding_updates([first], loss_after=4.1e10)
    assert finding.severity == "critical" and finding.evidence["weights_tiny"]
    assert finding.evidence["loss_after"] == 4.1e10 and "overshot" in finding.explanation
    (finding,) = rules.exploding_updates([first], loss_after=math.inf)  # overflowed at once
    assert finding.evidence["update_ratio"] == 65.0


def test_the_second_probe_decides_a_large_move_of_tiny_weights():
    first = probe(0, [linear(65.0, 0.0)], loss=15172.0)
    good = probe(37, [linear(0.01, 160.0)], loss=168.0)  # the next update is 1 % of the grown weights
    assert rules.exploding_updates([first, good]) == []
    bad = probe(37, [linear(40.0, 1e-3)], loss=1e9)  # still many times the weights: it diverges
    (finding,) = rules.exploding_updates([first, bad], loss_after=1e8)  # whatever the loss did
    assert finding.evidence["update_ratio"] == 40.0
    # weights of a working size, past the first step, are judged by their ratio alone, as before
    (finding,) = rules.exploding_updates([probe(37, [linear(3.0, 1.0)], loss=1.0)], loss_after=0.5)
    assert finding.evidence["update_ratio"] == 3.0 and "weights_tiny" not in finding.evidence


def test_the_runs_first_update_needs_confirming_as_tiny_weights_do():
    # random initial weights hold nothing learned: a first step as large as them that lowers the loss
    # (a small output layer under plain SGD at a high, healthy rate) is no explosion
    first = probe(0, [linear(1.0, 0.8)], loss=0.77)
    assert rules.exploding_updates([first], loss_after=0.6) == []
    # nor one that throws the next batch's loss up 5x: a healthy run at a high rate recovers at once
    assert rules.exploding_updates([first], loss_after=5.0) == []
    (finding,) = rules.exploding_updates([first], loss_after=math.inf)  # overflowed at once
    assert finding.evidence["loss_after"] == math.inf and "weights_tiny" not in finding.evidence
    (finding,) = rules.exploding_updates([first], loss_after=0.77 * 97)  # an order of magnitude up
    assert "overshot" in finding.explanation
    # the next probe's large update confirms it, whatever the loss did
    (finding,) = rules.exploding_updates([first, probe(6, [linear(0.9, 2.0)], loss=0.7)], loss_after=0.6)
    assert finding.evidence["update_ratio"] == 0.9


def sigmoid_after(layer: str, share: float) -> dict:
    return {"name": f"sigmoid{layer}", "label": f"sigmoid after layer {layer}", "kind": "sigmoid",
            "mean": 0.5, "std": 0.4, "saturated_share": share, "samples": 100, "after": layer}


def test_a_sigmoid_net_at_four_times_glorot_is_at_a_working_scale():
    # DeepLearnToolbox's init, 4 x Glorot's uniform bound for sigmoid units (Glorot and Bengio's advice):
    # 2.8x the He scale per layer, but a sigmoid's slope at 0 is a quarter: the signal holds steady
    std = math.sqrt(16 * 2 / (784 + 800))
    layers = [linear(None, std * math.sqrt(784 * 800), name=str(i), size=784 * 800, fan_in=784)
              for i in range(3)]
    alone, factors = rules.weight_gain(layers)
    assert alone > rules.OVERSIZED_GAIN and min(factors) > 2.5  # read as ReLU layers: oversized
    gain, factors = rules.weight_gain(layers, [sigmoid_after(str(i), 0.0) for i in range(3)])
    assert gain < 2 and all(0.9 < f < 1.1 for f in factors)


def test_a_first_step_that_pins_the_units_it_feeds_is_an_explosion():
    # the run's first update, 0.73x the output layer at a working scale, lowered the loss (all outputs
    # pinned at 0 score better than 0.5 on one-hot rows): the next probe shows the units saturated
    first = probe(0, [linear(0.73, 1.0, name="2")], loss=1.25)
    first["activations"] = [sigmoid_after("2", 0.02)]
    assert rules.exploding_updates([first], loss_after=0.5) == []  # unconfirmed by the loss
    pinned = probe(9, [linear(0.01, 1.6, name="2")], loss=0.5)
    pinned["activations"] = [sigmoid_after("2", 1.0)]
    (finding,) = rules.exploding_updates([first, pinned])
    assert finding.evidence["confirmed_by"] == "saturation" and finding.evidence["update_ratio"] == 0.73
    assert finding.layer == "2" and "first optimizer step" in finding.explanation
    # units that stay out of their flat regions, or that were saturated before the step, confirm nothing
    calm = probe(9, [linear(0.01, 1.6, name="2")], loss=0.5)
    calm["activations"] = [sigmoid_after("2", 0.1)]
    assert rules.exploding_updates([first, calm]) == []
    born = dict(first, activations=[sigmoid_after("2", 0.9)])
    assert rules.exploding_updates([born, pinned]) == []
    # nor does a later step's probe: only the run's first update is let pass unconfirmed
    assert rules.exploding_updates([dict(first, step=40), pinned], first_step=0) == []


def test_without_the_loss_after_the_step_a_large_ratio_is_named_as_before():
    (finding,) = rules.exploding_updates([probe(0, [linear(65.0, 0.0)], loss=1.0)])
    assert finding.layer == "0"
    # another layer with a large update and weights of a working size, past the first step, is named
    layers = [linear(65.0, 0.0), linear(0.9, 8.0, name="1", size=64, fan_in=1)]
    (finding,) = rules.exploding_updates([probe(37, layers, loss=10.0)], loss_after=2.0)
    assert finding.layer == "1"



def test_the_first_step_from_zero_weights_beside_a_large_layer_needs_an_order_of_magnitude():
    """A zero-initialized layer under an output layer of large random weights: the run's first step
    throws the next batch's loss up 2x (the large layer turns the moved features into large logits),
    and the loss falls from there. That is the first step's overshoot, not an explosion; an order of
    magnitude, or the next probe's large update, confirms one. Past the first step, a tiny layer's 2x
    overshoot is still named."""
    layers = [linear(1.04, 0.0, size=784 * 100, fan_in=784),
              linear(0.07, 31.0, name="2", size=1000, fan_in=100)]
    first = probe(0, layers, loss=5.95)
    assert rules.exploding_updates([first], loss_after=12.0) == []
    (finding,) = rules.exploding_updates([first], loss_after=5.95 * 11)
    assert finding.evidence["weights_tiny"] and finding.layer == "0"
    later = probe(7, layers, loss=5.95)
    (finding,) = rules.exploding_updates([later], loss_after=12.0)
    assert finding.evidence["weights_tiny"] and finding.evidence["loss_after"] == 12.0

# -- unstable_loss: a jump above the start in the first steps --------------------------------------
def adam_jump(seed: int = 0, steps: int = 160) -> np.ndarray:
    """A regression's per-step losses at an Adam rate 100x too large: 2.6 before the first update, 190x
    that after it, back down within a few steps, then jumping around a falling level."""
    rng = np.random.default_rng(seed)
    level = 0.5 + 1.5 * np.exp(-np.arange(steps) / 20)
    losses = level * rng.lognormal(0.0, 0.4, steps)
    losses[:6] = [2.6, 493.0, 13.4, 7.0, 11.3, 7.3]
    return losses


def test_a_first_step_jump_far_above_the_start_is_unstable():
    losses = adam_jump()
    (finding,) = rules.unstable_loss(losses[:50], recent=50, batch_size=32)
    assert finding.evidence["above_start"] and finding.evidence["untrained_loss"] == pytest.approx(2.6)
    assert "untrained model's" in finding.explanation
    # the same run without the jump: a falling loss, no alarm
    calm = losses.copy()
    calm[1:6] = calm[6]
    assert rules.unstable_loss(calm[:50], recent=50, batch_size=32) == []


def test_progress_counts_from_the_untrained_loss_when_the_first_window_already_fell():
    """A loss that falls from 0.69 to 0.1 inside the first smoothing window, then sits at 0.12 and
    later wobbles back to 0.27 (2.25x its lowest, dropout noise on small batches), undid a quarter of
    the run's progress, not most of it: the first window's mean (0.4) is no start. A climb back above
    half-way to the untrained loss is still named."""
    span = rules.smoothing_span(16)
    level = np.full(20 * span, 0.12)
    level[:span] = np.linspace(0.69, 0.1, span)
    level[8 * span:10 * span] = 0.27
    assert rules.unstable_loss(level, recent=level.size, batch_size=16) == []
    level[8 * span:10 * span] = 0.5
    (finding,) = rules.unstable_loss(level, recent=level.size, batch_size=16)
    assert finding.evidence["loss_smoothed"] == pytest.approx(0.5)


def test_a_lucky_first_batch_is_not_the_start():
    """A first batch far below its level (one small batch is a few samples) is outvoted by the
    median of the first steps; a loss that falls from there stays quiet."""
    rng = np.random.default_rng(1)
    losses = 1.0 * rng.lognormal(0.0, 0.3, 200) * np.linspace(1.0, 0.8, 200)
    losses[0] = 0.2
    assert rules.untrained_loss(losses) == pytest.approx(float(np.median(losses[:rules.LOSS_EMA_STEPS])))
    assert rules.unstable_loss(losses, recent=200, batch_size=32) == []
    assert math.isnan(rules.untrained_loss([math.nan, 1.0]))


# -- overfitting: both losses rising together is not memorizing -------------------------------------
def test_losses_oscillating_together_at_a_floor_are_not_overfitting():
    """Full-batch Adam at a fit of 1e-5: the validation loss (measured after the epoch's step) and the
    training loss (before it) swing together around the floor; the lowest validation value of
    thousands of epochs is a lucky trough."""
    # the training loss of an epoch is read before its step, the validation loss after it: one step behind
    val = [9.0e-6, 1.2e-5, 1.7e-5, 9.0e-6, 7.85e-6, 8.5e-6, 8.7e-6, 1.0e-5, 1.15e-5, 1.30e-5]
    train = [9.1e-6, 9.0e-6, 1.2e-5, 1.7e-5, 1.1e-5, 7.85e-6, 8.5e-6, 8.7e-6, 1.0e-5, 1.13e-5]
    logs = [{"loss": t, "val_loss": v} for t, v in zip(train, val, strict=True)]
    assert rules.overfitting(logs) == []
    # the same validation losses over a training loss that keeps falling: memorizing
    falling = [{"loss": 1e-5 * 0.8 ** i, "val_loss": v} for i, v in enumerate(val)]
    (finding,) = rules.overfitting(falling)
    assert finding.evidence["val_loss_risen"]


# -- accuracies on a handful of samples -------------------------------------------------------------
def test_an_accuracy_of_zero_on_one_sample_is_not_certain():
    assert rules._accuracy_noise(0.0, 1) > 0.4 and rules._accuracy_noise(1.0, 3) > 0.2
    # on many samples the estimate is the plain one
    assert rules._accuracy_noise(0.9, 10_000) == pytest.approx(math.sqrt(0.9 * 0.1 / 10_000), rel=1e-3)


def test_no_overfitting_from_one_validation_sample():
    """XOR trained on three of its points and judged on the fourth: 2/3 right on training, 0/1 on
    validation, the validation loss rising. One sample cannot show a generalization gap."""
    logs = [{"loss": 0.48 - 0.01 * i, "val_loss": 0.58 + 0.02 * i * (i > 2), "accuracy": 2 / 3,
             "val_accuracy": 0.0} for i in range(8)]
    assert rules.overfitting(logs, samples=(3, 1)) == []
    # the same gap on 300 training and 100 validation samples is one
    (finding,) = rules.overfitting(logs, samples=(300, 100))
    assert finding.evidence["generalization_gap"] == pytest.approx(2 / 3)


# -- saturation sitting at its threshold -------------------------------------------------------------
def sigmoid_probe(step: int, share: float, samples: int = 10, units: int = 30) -> dict:
    # the layer feeding the units gets 1/200 of the output layer's gradient: the flat regions cut it off
    feeding = {"name": "0", "label": "layer 0", "grad_rms": 0.005, "grad_norm": 0.05, "update_ratio": None,
               "nonfinite_grad": 0, "nonfinite_weight": 0, "size": units * 64, "fan_in": 64}
    output = dict(feeding, name="2", label="layer 2", grad_rms=1.0, grad_norm=10.0, size=10 * units,
                  fan_in=units)
    activation = {"name": "1", "label": "sigmoid 1", "kind": "sigmoid", "fired": None,
                  "saturated_share": share, "nonfinite": 0, "samples": samples, "after": "0"}
    return {"step": step, "epoch": 0, "loss": 1.0, "layers": [feeding, output], "activations": [activation]}


def test_a_saturated_share_at_its_threshold_is_within_one_batchs_noise():
    """30 sigmoid units on batches of 10: 300 outputs, whose saturated share wobbles by 3 % from batch
    to batch. 53 % and 55 % on two probes are that wobble around 50 %; 70 % is not."""
    margin = rules.saturation_margin(sigmoid_probe(0, 0.5)["activations"][0], sigmoid_probe(0, 0.5))
    assert margin == pytest.approx(3 * math.sqrt(0.25 / 300))
    assert rules.saturated_activations([sigmoid_probe(37, 0.53), sigmoid_probe(43, 0.55)]) == []
    (finding,) = rules.saturated_activations([sigmoid_probe(37, 0.70), sigmoid_probe(43, 0.72)])
    assert finding.layer == "1"
    # on a wide layer and a large batch the same 55 % is far beyond the noise
    wide = [sigmoid_probe(step, 0.55, samples=128, units=256) for step in (37, 43)]
    assert len(rules.saturated_activations(wide)) == 1
    # a layer whose size is unknown is judged at the threshold, as before
    bare = [sigmoid_probe(step, 0.55) for step in (37, 43)]
    for p in bare:
        p["layers"] = []
    assert len(rules.saturated_activations(bare)) == 1


def test_one_epochs_generalization_gap_does_not_undo_a_fit():
    """A fitted network whose validation accuracy dipped for one epoch (a large step's wobble) still
    learns well; a gap held over the last epochs does not."""
    losses = np.concatenate([np.full(5, 7.0), np.linspace(7.0, 0.05, 300), np.full(200, 0.05)])
    steady = {"loss": 0.05, "accuracy": 0.98, "val_accuracy": 0.95}
    dip = {"loss": 0.05, "accuracy": 0.915, "val_accuracy": 0.80}
    assert rules.learns_well(losses, batch_size=10, epoch_logs=[steady, steady, dip], samples=(1347, 450))
    assert not rules.learns_well(losses, batch_size=10, epoch_logs=[dip, dip, dip], samples=(1347, 450))
    # a caller that gives one log is judged by it
    assert not rules.learns_well(losses, batch_size=10, epoch_logs=[dip], samples=(1347, 450))


def test_with_batches_of_one_sample_a_large_update_needs_the_next_probe():
    # one misclassified sample with large activations moves a small output layer by 0.7x its size;
    # the next sample's loss says nothing about the step
    lone = probe(4392, [linear(0.7, 3.0)], loss=1e-4)
    assert rules.exploding_updates([lone], loss_after=0.9, batch_size=1) == []
    assert len(rules.exploding_updates([lone], loss_after=0.9, batch_size=32)) == 1  # a batch: as before
    two = [probe(4386, [linear(0.8, 2.0)], loss=0.3), lone]  # two in a row: the steps are too large
    assert len(rules.exploding_updates(two, loss_after=0.9, batch_size=1)) == 1
    assert len(rules.exploding_updates([lone], loss_after=math.nan, batch_size=1)) == 1
    # a gradient norm that "grew" from a confidently right sample to a wrong one is no growth
    totals = [2e-5, 1e-3, 4e-3, 3.4e-2]
    rising = [{**probe(6 * i, [linear(None, 1.0)], loss=0.1), "grad_norm_total": t}
              for i, t in enumerate(totals)]
    assert rules.exploding_growth(rising)  # batches: named
    assert rules.exploding_growth(rising, batch_size=1) == []
