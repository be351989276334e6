"""Precision of the detectors: healthy runs that look odd raise no alarm.

Saturated units in a network that learns, dead-looking units on batches of one sample, a layer
sitting at the dead-unit threshold, a converged loss that wobbles, the noise of single-sample
losses, two-pattern data, and a loss that rose (which no plateau explains)."""

from __future__ import annotations

import math

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Recorder, rules


def layer(name: str, grad_rms: float) -> dict:
    return {"name": name, "label": f"layer {name}", "grad_rms": grad_rms, "grad_norm": 10 * grad_rms,
            "update_ratio": None, "nonfinite_grad": 0, "nonfinite_weight": 0}


def act(name: str, kind: str = "relu", fired=None, saturated=None, samples=None, after=None) -> dict:
    return {"name": name, "label": f"{kind} {name}", "kind": kind, "fired": fired,
            "saturated_share": saturated, "nonfinite": 0, "samples": samples, "after": after}


def probe(step: int, activations: list[dict], layers: list[dict] | None = None) -> dict:
    return {"step": step, "epoch": 0, "loss": 1.0, "layers": layers or [], "activations": activations}


def per_sample_losses(means: np.ndarray, seed: int = 0) -> np.ndarray:
    """One-sample cross-entropies around ``means``: spread as widely as their mean (exponential)."""
    return np.random.default_rng(seed).exponential(means)


# -- saturation is an alarm only when it hurts -----------------------------------------------------
def saturated_probes(gradient_share: float = 0.3) -> list[dict]:
    layers = [layer("0", gradient_share), layer("2", 1.0)]
    return [probe(i, [act("1", "tanh", saturated=0.8, after="0")], layers) for i in range(2)]


def test_saturation_in_a_network_that_learns_well_is_not_an_alarm():
    rng = np.random.default_rng(0)
    fitted = np.linspace(2.3, 0.05, 400) + rng.normal(0, 0.01, 400)
    falling = np.linspace(2.3, 0.5, 400) + rng.normal(0, 0.02, 400)
    stalled = 2.0 + rng.normal(0, 0.02, 400)
    probes = saturated_probes()
    # the layer below the units still gets 0.3 of the output layer's gradient: no harm seen without a loss
    assert rules.saturated_activations(probes) == []
    assert rules.saturated_activations(saturated_probes(0.5 * rules.SATURATED_PASSES))  # cut off: named
    assert rules.saturated_activations(saturated_probes(2 * rules.SATURATED_PASSES)) == []
    assert rules.saturated_activations(probes, losses=fitted) == []
    assert rules.saturated_activations(probes, losses=stalled, accuracy=1.0) == []  # fits its data
    (finding,) = rules.saturated_activations(probes, losses=stalled, start=2.3)
    assert finding.evidence["loss_trend"] == "stalled" and "stalled" in finding.explanation
    # a loss that falls with the gradient flowing shows no harm yet; with the gradient cut off it is no
    # proof of health: saturated units let the output layer fit slowly
    assert rules.saturated_activations(probes, losses=falling) == []
    assert rules.saturated_activations(saturated_probes(1e-4), losses=falling)
    # units saturated from the run's first probe were put there by the initial weights (or the inputs'
    # scale), not by the learning: harm whatever the gradient does; units that saturated while learning
    # (unsaturated at first) are not
    layers = [layer("0", 0.3), layer("2", 1.0)]
    born = [probe(0, [act("1", "tanh", saturated=0.8, after="0")], layers)]
    grown = [probe(0, [act("1", "tanh", saturated=0.1, after="0")], layers)]
    (finding,) = rules.saturated_activations(probes, opening=born, losses=falling)
    assert finding.evidence["from_start"] and "first steps" in finding.explanation
    assert rules.saturated_activations(probes, opening=grown, losses=falling) == []
    # nor does a fit that does not generalize: saturated features are memorized
    gap = [{"loss": 0.05, "accuracy": 1.0, "val_loss": 0.9, "val_accuracy": 0.8}]
    assert rules.saturated_activations(probes, losses=fitted, epoch_logs=gap, samples=(1000, 400))
    no_gap = [dict(gap[0], val_accuracy=0.97)]
    assert rules.saturated_activations(probes, losses=fitted, epoch_logs=no_gap, samples=(1000, 400)) == []


def test_before_the_loss_can_tell_saturation_is_named():
    few = [2.3] * 30  # too few steps for a trend: no evidence that the network learns well
    assert rules.loss_trend(few) is None and not rules.learns_well(few)
    (finding,) = rules.saturated_activations(saturated_probes(1e-4), losses=few)
    assert finding.evidence["gradient_share"] == 1e-4 and finding.evidence["loss_trend"] is None


def test_a_saturated_tanh_network_that_learns_raises_no_saturation_alarm():
    """Weights 10x too large saturate the hidden tanh units, yet the output layer separates the
    classes from their signs: the loss falls to a few percent of its start."""
    rp.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2)).double()
    model[0].weight.data[...] *= 10
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1)
    recorder, loss_fn, inputs = Recorder(model, every=10), nn.CrossEntropyLoss(), rp.tensor(x)
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), y)
        loss.backward()
        recorder.observe(loss)
        optimizer.step()
    probes = [record.as_plain() for record in recorder.records]
    assert probes[-1]["activations"][0]["after"] == "0" and probes[-1]["activations"][0]["samples"] == 256
    assert probes[-1]["activations"][0]["saturated_share"] > rules.SATURATED_SHARE  # not vacuous
    assert rules.saturated_activations(probes, losses=[0.7] * 300), "named if the loss had stalled"
    assert rules.saturated_activations(probes, losses=recorder.losses) == []


# -- dead units: samples, not batches; hysteresis; harm ----------------------------------------------
def test_dead_units_are_counted_over_samples_not_batches():
    rng = np.random.default_rng(0)
    units = 32
    rarely = [probe(i, [act("1", fired=rng.random(units) < 0.05, samples=1)]) for i in range(200)]
    unsized = [probe(p["step"], [act("1", fired=p["activations"][0]["fired"])]) for p in rarely[-5:]]
    assert rules.dead_relu(unsized), "not vacuous: five single samples leave most units silent"
    assert rules.dead_window_probes(1) == rules.DEAD_SAMPLES == 59 and rules.dead_window_probes(32) == 5
    assert rules.dead_relu(rarely[-5:]) == []  # 5 samples are no evidence
    assert rules.dead_relu(rarely[-rules.dead_window_probes(1):]) == []  # units firing on 5 % are alive
    dead = np.arange(units) < 20
    killed = [probe(i, [act("1", fired=(rng.random(units) < 0.5) & ~dead, samples=1)]) for i in range(60)]
    (finding,) = rules.dead_relu(killed)
    assert finding.evidence["window_samples"] == 59 and finding.evidence["dead_units"] == 20


def test_a_layer_sitting_at_the_threshold_does_not_flip():
    """64 units: 30 never fire, 20 always do, 14 fire on a batch with chance 0.32 (silent over a
    5-batch window one time in 7): the dead share hovers at 0.5. Judged at 0.5 it flips in and out
    of an episode; with the hysteresis band it never enters."""
    rng = np.random.default_rng(1)
    dead, always = np.arange(64) < 30, np.arange(64) >= 50
    batches = [always | (~dead & (rng.random(64) < 0.322)) for _ in range(300)]
    probes = [probe(i, [act("1", fired=fired, samples=32)]) for i, fired in enumerate(batches)]

    def entries(ongoing_tracked: bool) -> int:
        ongoing: set[str] = set()
        count = 0
        for end in range(rules.DEAD_WINDOW, len(probes) + 1):
            found = rules.dead_relu(probes[:end][-rules.DEAD_WINDOW:],
                                    ongoing=ongoing if ongoing_tracked else None)
            count += bool(found) and not ongoing
            ongoing = {f.layer for f in found}
        return count

    assert entries(False) >= 10  # today's single threshold: a new episode again and again
    assert entries(True) == 0


def test_an_ongoing_episode_ends_only_below_the_band():
    rng = np.random.default_rng(2)
    dead = np.arange(64) < 33
    window = [probe(i, [act("1", fired=~dead & (rng.random(64) < 0.5), samples=32)]) for i in range(5)]
    share = 1 - np.count_nonzero(rules.fired_in_window(window, "1")) / 64
    assert 0.5 <= share < 0.5 + rules.dead_margin(64, 31)
    assert rules.dead_relu(window, ongoing=set()) == []  # not enough to enter
    assert rules.dead_relu(window, ongoing={"1"})  # enough to stay


def test_dead_units_in_a_network_that_learns_well_are_not_an_alarm():
    window = [probe(i, [act("1", fired=np.arange(16) < 4, samples=32)]) for i in range(5)]
    fitted = list(np.linspace(2.3, 0.1, 300))
    assert rules.dead_relu(window)  # not vacuous
    assert rules.dead_relu(window, losses=fitted) == []
    gap = [{"loss": 0.1, "accuracy": 1.0, "val_loss": 1.0, "val_accuracy": 0.7}]
    stalled = [2.0] * 300
    assert rules.dead_relu(window, losses=stalled, epoch_logs=gap, samples=(500, 500))
    assert rules.dead_relu(window, losses=stalled, accuracy=1.0) == []
    (finding,) = rules.dead_relu(window, losses=stalled, start=2.3)
    assert finding.evidence["loss_trend"] == "stalled"


def test_a_partly_dead_layer_is_named_only_once_the_loss_shows_harm():
    # 12 of 16 units dead: the other 4 still carry the signal, so the layer costs the network something
    # only when its loss stops falling (or, too early for a trend, has not fallen yet); a layer with
    # almost nothing alive is named at once
    partly = [probe(i, [act("1", fired=np.arange(16) < 4, samples=32)]) for i in range(5)]
    wholly = [probe(i, [act("1", fired=np.zeros(16, dtype=bool), samples=32)]) for i in range(5)]
    falling = list(np.linspace(2.3, 1.5, 300))
    assert rules.dead_relu(partly, losses=falling) == []
    early = list(np.linspace(2.3, 1.5, 30))  # too short for a trend, but down to 70 % of its start
    assert rules.dead_relu(partly, losses=early) == []
    assert rules.dead_relu(partly, losses=[2.3] * 30)  # too short for a trend, and not down at all
    assert rules.dead_relu(partly, losses=[2.3] * 300)
    assert rules.dead_relu(partly, losses=list(np.linspace(1.5, 2.3, 300)))  # rising
    assert rules.dead_relu(partly)  # no losses known: the share alone
    # units born dead (silent on the run's first probes too) made the layer narrower before any step: a
    # loss that has not fallen yet is no stall, so a share that chance gives a layer of few units waits
    # for a trend, and one that fell before it slowed learned through the units left (a width for
    # underfitting to judge); units the steps killed are named at once
    flat = [2.3] * 30
    wide = [probe(i, [act("1", fired=np.arange(64) < 16, samples=32)]) for i in range(5)]
    assert rules.dead_relu(wide, losses=flat, opening=wide)  # 48 of 64: beyond chance
    assert rules.dead_relu(partly, losses=flat, opening=partly) == []  # 12 of 16: within 3 errors
    pair = [probe(i, [act("1", fired=np.arange(2) < 1, samples=32)]) for i in range(5)]
    assert rules.dead_relu(pair, losses=flat, opening=pair) == []  # 1 of 2: what chance leaves
    assert rules.dead_relu(pair, losses=flat, opening=pair, first_step=0) == []  # the run's own start
    # silent since a treatment that kept trained weights (a ReLU in a sigmoid's place, say): those
    # weights silenced them, not an initialization's draw, and the loss has not fallen since
    assert rules.dead_relu(pair, losses=flat, opening=pair, first_step=-100)
    assert rules.dead_relu(pair, losses=[2.3] * 300, opening=pair)  # ... until the loss shows a stall
    assert rules.dead_relu(partly, losses=[2.3] * 300, opening=partly)
    slowed = list(np.linspace(2.3, 1.5, 150)) + [1.5] * 150
    assert rules.loss_trend(slowed) == "stalled"
    assert rules.dead_relu(partly, losses=slowed)  # born dead or not, unknown: the stall
    assert rules.dead_relu(partly, losses=slowed, opening=partly) == []
    alive = [probe(i, [act("1", fired=np.ones(16, dtype=bool), samples=32)]) for i in range(5)]
    (killed,) = rules.dead_relu(partly, losses=early, opening=alive)
    assert killed.evidence["born_dead"] == 0
    for losses in (falling, early):
        (finding,) = rules.dead_relu(wholly, losses=losses)
        assert finding.severity == "critical"


# -- the loss rules on single-sample noise and converged runs ------------------------------------
def test_single_sample_noise_is_no_unstable_loss_when_the_batch_size_is_known():
    means = np.linspace(2.3, 1.5, 3000)  # a slow but steady learner, one sample per step
    losses = per_sample_losses(means)
    assert rules.unstable_loss(losses, recent=len(losses)), "not vacuous: 20-step means of single samples"
    assert rules.unstable_loss(losses, recent=len(losses), batch_size=1) == []
    assert rules.loss_symptoms(losses, batch_size=1) == []
    assert rules.diverged(losses, batch_size=1) == []
    assert rules.smoothing_span(1) == rules.LOSS_SMOOTH_SAMPLES and rules.smoothing_span(32) == 20


def test_a_converged_loss_that_wobbles_is_not_unstable():
    rng = np.random.default_rng(0)
    # a converged loss that drifts from 1e-6 to 3e-6: doublings of a loss of 1e-6 are noise
    converged = 1e-6 * rng.uniform(0.5, 1.5, 400) * np.where(np.arange(400) < 200, 1.0, 3.0)
    run = np.concatenate([np.linspace(2.3, 1e-6, 200), converged])
    assert rules.unstable_loss(run, recent=len(run)) == []
    # a segment that starts converged (after a treatment): measured from a blind guess's loss
    assert rules.unstable_loss(converged, recent=len(converged)), "not vacuous: its own start is tiny"
    assert rules.unstable_loss(converged, recent=len(converged), chance_loss=math.log(2)) == []
    rising = 1e-6 * np.linspace(1, 8, 100)
    assert rules.diverged(rising), "not vacuous: 8x a start of 1e-6"
    assert rules.diverged(rising, start=0.7) == []  # the run's own start
    assert rules.diverged(rising, chance_loss=math.log(2)) == []
    assert rules.oscillating_validation([{"val_accuracy": 1.0}] * 6) == []


def test_a_loss_that_rose_from_its_start_is_no_plateau():
    """A learning rate far too large throws the loss up at once, where it stays: no small step
    explains that, so no advice to raise the rate."""
    rng = np.random.default_rng(0)
    risen = np.concatenate([[2.3] * 3, 150 + rng.normal(0, 1.0, 300)])
    assert rules.slow_convergence(risen) == []
    assert rules.slow_steps(risen, [5e-5, 5e-5]) == []
    flat = 2.3 + rng.normal(0, 0.02, 300)
    assert rules.slow_convergence(flat)  # a flat, noisy loss still is one


def test_a_loss_leaving_its_plateau_at_a_pace_the_run_has_time_for_is_not_slow():
    """A network escaping the flat start of a symmetric or saturated initialization falls slowly at
    first: under 1 % per 100 steps is slow for a run about to end, not for one with thousands of
    steps left; each check reads the pace again, so the plateau is named once the fall fades."""
    rng = np.random.default_rng(0)
    escaping = 2.3 - 0.00008 * np.arange(300) + rng.normal(0, 0.005, 300)  # 0.35 % per 100 steps
    assert rules.slow_convergence(escaping)  # the run's length unknown: a plateau, as before
    assert rules.slow_convergence(escaping, steps_left=200)  # 200 more such steps leave it near 2.26
    assert rules.slow_convergence(escaping, steps_left=5000) == []  # 5000 take it below 90 % of 2.3
    faded = np.concatenate([escaping, escaping[-1] + rng.normal(0, 0.005, 200)])
    assert rules.slow_convergence(faded, steps_left=5000)  # the pace did not hold: named now
    flat = 2.3 + rng.normal(0, 0.02, 300)  # no fall beyond its noise: no pace to project
    assert rules.slow_convergence(flat, steps_left=100_000)


def test_a_stall_at_a_training_accuracy_of_one_is_no_plateau():
    """A model that sorts every training row has fitted its data, whatever its loss stands at."""
    from retroprop.doctor.table import Evidence, plateau_explained

    assert plateau_explained(Evidence(epoch_logs=[{"accuracy": 1.0, "loss": 4.8}]), []) == "fitted"
    assert plateau_explained(Evidence(epoch_logs=[{"accuracy": 0.6, "loss": 4.8}]), []) is None
    # as well as a nearest-neighbour vote on the training rows sorts them: as well as the data allows
    vote = {"accuracy": 0.97, "neighbours": 5, "rows": 1000}
    logs = [{"accuracy": 0.98, "loss": 4.8}]
    assert plateau_explained(Evidence(epoch_logs=logs, attainable=lambda: vote), []) == "fitted"
    logs = [{"accuracy": 0.90, "loss": 4.8}]
    assert plateau_explained(Evidence(epoch_logs=logs, attainable=lambda: vote), []) is None


def test_a_loss_still_learning_under_the_noise_of_small_batches_is_not_yet_underfitting():
    """Over one plateau window the noise of small batches hides a fall of 1-2 % per 100 steps; over
    the two halves of the last 1000 steps it shows: mid-run, with the steps to fall 10 % further, such a
    loss is still learning. At the run's end it is judged on where it stands, and a fall toward a blind
    guess's loss learns nothing."""
    rng = np.random.default_rng(0)
    quick, slow = np.linspace(2.3, 1.6, 200), np.linspace(1.6, 1.35, 1100)
    losses = list(np.concatenate([quick, slow]) + rng.normal(0, 0.3, 1300))
    vote = {"accuracy": 0.95, "neighbours": 5, "rows": 1000}
    kwargs = {"chance_loss": 2.3, "epoch_logs": [{"accuracy": 0.5}], "samples": (1000, 200),
              "attainable": lambda: vote}
    assert rules.loss_trend(losses, chance_loss=2.3) == "stalled"  # one window cannot tell
    assert rules.underfitting(losses, [1e-3, 1e-3], steps_left=5000, **kwargs) == []
    assert rules.underfitting(losses, [1e-3, 1e-3], steps_left=0, **kwargs)  # the run ended there
    assert rules.underfitting(losses, [1e-3, 1e-3], steps_left=300, **kwargs)  # too few steps to go on
    assert rules.underfitting(losses, [1e-3, 1e-3], steps_left=None, **kwargs)  # its length unknown
    flat = list(np.concatenate([quick, np.full(1100, 1.5)]) + rng.normal(0, 0.3, 1300))
    assert rules.underfitting(flat, [1e-3, 1e-3], steps_left=5000, **kwargs)  # no fall: stuck
    kwargs["chance_loss"] = 1.0  # the same fall, above a blind guess's loss: toward it, not a fit
    assert rules.underfitting(losses, [1e-3, 1e-3], steps_left=5000, **kwargs)


# -- two patterns, 100 % accuracy ------------------------------------------------------------------
def test_two_pattern_data_learned_perfectly_raises_no_alarm():
    for seed in range(3):
        rp.manual_seed(seed)
        x, y = np.array([[-1.0, -1.0], [1.0, 1.0]]), np.array([0, 1])
        model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(),
                              nn.Linear(4, 2)).double()
        optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        recorder, loss_fn, inputs = Recorder(model, every=5), nn.CrossEntropyLoss(), rp.tensor(x)
        logs = []
        for step in range(600):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), y)
            loss.backward()
            recorder.observe(loss)
            optimizer.step()
            if step % 20 == 19:
                logs.append({"loss": float(loss.item()), "val_loss": float(loss.item()), "accuracy": 1.0,
                             "val_accuracy": 1.0})
        losses, probes = recorder.losses, [r.as_plain() for r in recorder.records]
        window = probes[-rules.dead_window_probes(2):]
        found = (rules.dead_relu(window, ongoing=set(), losses=losses, batch_size=2, accuracy=1.0)
                 + rules.saturated_activations(window, losses=losses, batch_size=2, accuracy=1.0)
                 + rules.unstable_loss(losses, recent=len(losses), batch_size=2, chance_loss=math.log(2))
                 + rules.diverged(losses, math.log(2), batch_size=2)
                 + rules.astronomical_loss(losses, chance_loss=math.log(2), recent=len(losses))
                 + rules.slow_convergence(losses, batch_size=2)
                 + rules.underfitting(losses, [1e-3, 1e-3], chance_loss=math.log(2), batch_size=2)
                 + rules.batch_too_small(losses, 2, chance_loss=math.log(2))
                 + rules.overfitting(logs, (2, 2)) + rules.oscillating_validation(logs, (2, 2))
                 + rules.collapsing_validation(logs, (2, 2)))
        assert found == [], [f.explanation for f in found]


def test_single_sample_losses_over_weights_that_settled_are_the_samples_spread_not_batch_too_small():
    # a fitted regression trained one sample at a time: squared Gaussian residuals spread by 141 % of
    # their mean from step to step, while the validation loss no longer moves from epoch to epoch
    rng = np.random.default_rng(0)
    residuals = 0.41 * rng.standard_normal(3000) ** 2
    settled = [{"loss": 0.41, "val_loss": v} for v in (0.34257, 0.34257, 0.34258)]
    assert rules.batch_too_small(residuals, 1, chance_loss=1.0, epoch_logs=settled) == []
    wandering = [{"loss": 0.41, "val_loss": v} for v in (0.34, 0.39, 0.31)]  # noisy steps move the weights
    (finding,) = rules.batch_too_small(residuals, 1, chance_loss=1.0, epoch_logs=wandering)
    assert finding.problem == "batch_too_small"
    assert rules.batch_too_small(residuals, 1, chance_loss=1.0)  # no validation data: as before


def test_single_sample_noise_over_a_model_that_fits_as_the_data_allows_is_not_batch_too_small():
    # overlapping classes (a nearest-neighbour vote sorts 81 %) trained one sample at a time: a model
    # that sorts 79 % of its rows has fitted what the data allows, and its flat, noisy loss is the
    # spread of the overlap, which no batch size narrows; one that sorts 56 % is held short by the noise
    rng = np.random.default_rng(0)
    losses = 0.5 * rng.standard_normal(3000) ** 2
    vote = {"accuracy": 0.81, "neighbours": 15, "rows": 700}
    kwargs = {"chance_loss": math.log(3), "samples": (700, 300), "attainable": lambda: vote}
    fitted = [{"loss": 0.48, "accuracy": 0.79, "val_loss": 0.48, "val_accuracy": 0.79}]
    assert rules.batch_too_small(losses, 1, epoch_logs=fitted, **kwargs) == []
    short = [{"loss": 0.9, "accuracy": 0.52, "val_loss": 0.91, "val_accuracy": 0.56}]
    (finding,) = rules.batch_too_small(losses, 1, epoch_logs=short, **kwargs)
    assert finding.problem == "batch_too_small"
    assert rules.batch_too_small(losses, 1, epoch_logs=fitted, chance_loss=math.log(3))  # no yardstick
    # a regression: the loss at 45 % of the targets' variance, where the nearest neighbours' average
    # misses by 40 %, fits as the data allows; at 45 % against their 5 % it does not
    near = {"error": 0.40, "noise": 0.02, "neighbours": 5, "rows": 700}
    far = {"error": 0.05, "noise": 0.01, "neighbours": 5, "rows": 700}
    residuals = 0.45 * rng.standard_normal(3000) ** 2
    assert rules.batch_too_small(residuals, 1, chance_loss=1.0, attainable_error=lambda: near) == []
    assert rules.batch_too_small(residuals, 1, chance_loss=1.0, attainable_error=lambda: far)


def test_a_start_below_a_blind_guess_is_no_mark_for_a_stalled_loss():
    from retroprop.doctor import table

    # batch 1: the first five samples happened to sit at the fitted floor (0.42), far below a guess's 1.0
    flat = list(0.42 * np.random.default_rng(0).standard_normal(300) ** 2)
    lucky = table.Evidence(losses=flat, start=0.42, chance_loss=1.0)
    assert not table._loss_still_high(lucky, [])  # learned: well below a guess's loss
    assert table._loss_still_high(table.Evidence(losses=flat, start=0.42), [])  # no guess known: the start
    stalled = table.Evidence(losses=list(np.full(300, 2.2)), start=2.4, chance_loss=2.3)
    assert table._loss_still_high(stalled, [])


def test_a_validation_loss_that_rose_from_a_near_perfect_fit_is_no_overfitting():
    # a regression of y = 10x fitted to 1e-5 of its targets' variance (about 825): the validation loss
    # wanders from 4e-5 to 8e-3 over the training loss's 1.5e-3
    logs = [{"loss": 3e-3, "val_loss": 4e-5}] + [{"loss": 1.5e-3, "val_loss": v} for v in (6e-3, 7e-3, 8e-3)]
    best = rules.EpochBest.of(logs)
    assert rules.overfitting(logs, (10, 3), best=best)  # judged on the losses alone: a rise and a gap
    assert rules.overfitting(logs, (10, 3), best=best, reference=825.0) == []


def test_a_loss_that_fell_tenfold_within_its_first_hundred_steps_is_fitted_already():
    # batches of 64 (smoothed over 20 steps): 60 steps, from 2.3 to 0.1 (a ConvNet on digits, whose
    # unused channels die while it fits); a trend needs 120 steps, a fitted loss only a start and a window
    losses = np.r_[np.linspace(2.3, 0.12, 40), np.full(20, 0.1)]
    assert rules.loss_trend(losses, batch_size=64) == "fitted"
    assert rules.loss_trend(np.linspace(2.3, 1.9, 60), batch_size=64) is None  # falling: too early to tell
    assert rules.loss_trend(losses[:30], batch_size=64) is None  # no window after the start
    thrown = losses.copy()
    thrown[1] = 30.0  # the second step thrown far above the first: a start inflated tenfold
    assert rules.loss_trend(np.r_[thrown[:40], np.full(20, 0.25)], batch_size=64) == "fitted"
    # against a blind guess's loss (ln 2 here) 0.25 is no fit: the inflated start is no mark
    assert rules.loss_trend(np.r_[thrown[:40], np.full(20, 0.25)], batch_size=64, chance_loss=0.69) is None


# -- a target scale is an alarm only when the run pays for it -----------------------------------
def test_scale_cost_reads_the_loss_against_the_targets_mean_and_the_steps_left():
    chance = 100.0
    falling = list(np.linspace(400.0, 300.0, 200))  # 0.5 per step: 200 more steps reach the mean's loss
    assert rules.scale_cost(falling, chance, steps_left=1000) is None  # it will get there: wait
    assert rules.scale_cost(falling, chance, steps_left=100) == "harm"  # the run ends first
    assert rules.scale_cost(falling, chance, steps_left=None) == "harm"  # the end is not known
    assert rules.scale_cost([400.0] * 200, chance, steps_left=10_000) == "harm"  # no pace at all
    assert rules.scale_cost([*falling, *[50.0] * 40], chance, steps_left=1000) == "none"  # past the mean
    assert rules.scale_cost(falling, None, steps_left=1000) == "harm"  # no blind guess to measure from
    assert rules.scale_cost(falling[:10], chance, steps_left=1000) is None  # too early to read
    assert rules.scale_cost(falling[:10], chance, steps_left=0) == "harm"  # a short run's end
    assert rules.scale_cost([*falling, math.nan], chance, steps_left=1000) == "harm"


def unscaled_regression(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 4))
    return x, 2000.0 + 300.0 * (x @ rng.normal(size=(4, 1)))  # offset 2000, spread about 600


def test_unscaled_targets_that_the_run_absorbs_are_no_alarm_and_those_it_cannot_are_named():
    x, y = unscaled_regression()
    names = {}
    for epochs, lr in ((200, 0.5), (3, 0.001)):  # Adam: steps large enough to reach them; too few, too small
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
        history = rp.fit(model, x, y, loss="mse", optimizer=rp.optim.Adam(model.parameters(), lr=lr),
                         epochs=epochs, batch_size=32, verbose=0, doctor=True)
        names[lr] = ([d.problem for d in history.diagnoses], history.history["loss"][-1])
    assert names[0.5][1] < 0.1 * np.var(y)  # it fitted: the targets' scale cost it nothing
    assert "unscaled_targets" not in names[0.5][0]
    assert names[0.001][1] > np.var(y)
    assert "unscaled_targets" in names[0.001][0]


def test_units_the_steps_killed_are_named_at_once_and_units_born_dead_wait_for_harm():
    # the same 12 of 16 silent units, the loss still falling: killed by the steps (they fired on the
    # run's first probes: a rate too high, the course page's failure) they are named at once; silent
    # since the first probe (a narrow layer's birth) they wait until the loss shows a cost
    window = [probe(i, [act("1", fired=np.arange(16) < 4, samples=32)]) for i in range(5)]
    killed = [probe(i, [act("1", fired=np.ones(16, dtype=bool), samples=32)]) for i in range(3)]
    born = [probe(i, [act("1", fired=np.arange(16) < 4, samples=32)]) for i in range(3)]
    falling = list(np.linspace(2.3, 1.5, 300))
    (finding,) = rules.dead_relu(window, losses=falling, opening=killed)
    assert finding.evidence["born_dead"] == 0
    assert rules.dead_relu(window, losses=falling, opening=born) == []
    (finding,) = rules.dead_relu(window, losses=[2.3] * 300, opening=born)
    assert finding.evidence["born_dead"] == 12
