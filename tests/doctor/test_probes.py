"""Probes and the recorder: the numbers the doctor will reason from, checked against NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Probe, Recorder


def model() -> nn.Sequential:
    rp.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 3),
                         nn.Tanh()).double()


def batch(n: int = 32, scale: float = 1.0) -> tuple[rp.Tensor, np.ndarray]:
    rng = np.random.default_rng(0)
    return rp.tensor(rng.normal(scale=scale, size=(n, 5))), np.arange(n) % 3


def step(m: nn.Module, opt, x, y, recorder: Recorder | None = None):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(m(x), y)
    loss.backward()
    record = recorder.observe(loss) if recorder else None
    opt.step()
    return loss, record


def test_layer_statistics_match_numpy():
    m = model()
    x, y = batch()
    probe = Probe(m)
    step(m, rp.optim.SGD(m.parameters(), lr=0.0), x, y)
    record = probe.collect(step=0, epoch=0, loss=1.0)
    assert [layer.label for layer in record.layers] == [
        "layer 1, Linear 5→8", "layer 2, Linear 8→6", "layer 3, Linear 6→3"]
    for stats, linear in zip(record.layers, [m[0], m[2], m[4]], strict=True):
        g, w = linear.weight.grad.numpy(), linear.weight.data
        assert stats.grad_norm == pytest.approx(np.linalg.norm(g))
        assert stats.grad_rms == pytest.approx(np.sqrt(np.mean(g**2)))
        assert stats.grad_mean_abs == pytest.approx(np.abs(g).mean())
        assert stats.weight_norm == pytest.approx(np.linalg.norm(w))
        assert stats.size == w.size and stats.nonfinite_grad == 0 and stats.nonfinite_weight == 0


def test_activation_statistics_come_from_the_armed_pass_only():
    m = model()
    x, _ = batch()
    probe = Probe(m)
    m(x)
    assert probe.collect(0, 0, 0.0).activations == []  # not armed: nothing measured
    probe.arm()
    relu_out = rp.F.relu(m[0](x)).data
    m(x)
    probe.disarm()
    activations = {a.kind: a for a in probe.collect(0, 0, 0.0).activations}
    relu = activations["relu"]
    assert relu.label == "relu after layer 1, Linear 5→8"
    assert relu.mean == pytest.approx(relu_out.mean()) and relu.std == pytest.approx(relu_out.std())
    np.testing.assert_array_equal(relu.fired, (relu_out > 0).any(axis=0))
    assert activations["sigmoid"].saturated_share == 0.0 and activations["tanh"].saturated_share == 0.0
    assert all(not layer._forward_hooks for layer in m), "disarm removes every hook"
    # the batch's sample count (dead-unit windows count samples) and the layer feeding each activation
    assert [(a.samples, a.after) for a in probe.collect(0, 0, 0.0).activations] == []  # spent
    assert [(a.samples, a.after) for a in activations.values()] == [(32, "0"), (32, "2"), (32, "4")]


def test_a_zero_layer_update_is_measured_against_the_typical_norm_of_its_shape():
    from retroprop.doctor.probes import typical_norm

    assert typical_norm((6, 8)) == pytest.approx(np.sqrt(48 / 8))  # entries of std 1 / sqrt(fan_in)
    assert typical_norm((6,)) == pytest.approx(6**0.5)  # a BatchNorm scale of ones
    m = model()
    m[2].weight.data[...] = 0.0
    x, y = batch()
    opt = rp.optim.SGD(m.parameters(), lr=0.5)
    recorder = Recorder(m, every=3)
    _, record = step(m, opt, x, y, recorder)
    moved = np.linalg.norm(m[2].weight.data)
    step(m, opt, x, y, recorder)
    assert record.layers[1].update_ratio == pytest.approx(moved / typical_norm((6, 8)))


def test_saturation_share_counts_flat_regions():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid()).double()
    m[0].weight.data[...] = np.eye(2)
    m[0].bias.data[...] = 0
    probe = Probe(m)
    probe.arm()
    m(rp.tensor(np.array([[10.0, 0.0], [-10.0, 1.0], [7.0, -7.0], [0.5, 2.0]])))
    (sigmoid,) = probe.collect(0, 0, 0.0).activations
    assert sigmoid.saturated_share == pytest.approx(4 / 8)  # |x| >= 7 is flat, |x| <= 2 is not


def test_update_ratio_measures_one_optimizer_step():
    m = model()
    x, y = batch()
    opt = rp.optim.SGD(m.parameters(), lr=0.5)
    recorder = Recorder(m, every=3)
    before = m[0].weight.data.copy()
    _, record = step(m, opt, x, y, recorder)
    after = m[0].weight.data.copy()
    assert record.layers[0].update_ratio is None  # known only once the update happened
    step(m, opt, x, y, recorder)
    expected = np.linalg.norm(after - before) / np.linalg.norm(before)
    assert record.layers[0].update_ratio == pytest.approx(expected)


def test_recorder_probes_on_its_cadence_and_unhooks_in_between():
    m = model()
    x, y = batch()
    opt = rp.optim.SGD(m.parameters(), lr=0.1)
    recorder = Recorder(m, every=4)
    armed = []
    for _ in range(9):
        step(m, opt, x, y, recorder)
        armed.append(bool(m[1]._forward_hooks))
    assert [r.step for r in recorder.records] == [0, 4, 8]
    assert all(r.activations for r in recorder.records), "probed steps saw the activations"
    # hooks are attached only for the pass right before a probe (after steps 3 and 7)
    assert armed == [False, False, False, True, False, False, False, True, False]
    recorder.close()
    assert not m[1]._forward_hooks
    data = json.loads(recorder.to_json())
    assert len(data["losses"]) == 9 and len(data["records"]) == 3
    assert "fired_share" in data["records"][0]["activations"][0]


def test_dead_units_show_as_never_fired():
    m = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    m[0].bias.data[2] = -1e3  # unit 2 can never fire
    recorder = Recorder(m, every=1)
    x, y = batch()
    step(m, rp.optim.SGD(m.parameters(), lr=0.0), x, y, recorder)
    fired = recorder.records[0].activations[0].fired
    assert fired.tolist() == [True, True, False, True]


def test_non_finite_loss_is_noted_at_its_first_step():
    m = model()
    recorder = Recorder(m, every=5)
    recorder.observe(1.0)
    recorder.observe(float("nan"))
    recorder.observe(float("inf"))
    assert recorder.first_nonfinite_step == 1


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_every_must_be_a_positive_integer(every):
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Recorder(model(), every=every)


def watched(steps: int):
    """A recorder at its default cadence and a function that trains ``n`` more steps under it."""
    m = model()
    x, y = batch()
    opt = rp.optim.SGD(m.parameters(), lr=0.01)
    recorder = Recorder(m)

    def train(n: int) -> list[int]:
        for _ in range(n):
            step(m, opt, x, y, recorder)
        return [r.step for r in recorder.records]

    train(steps)
    return recorder, train


def test_default_cadence_probes_three_times_in_the_first_100_steps_then_every_100():
    recorder, train = watched(275)
    assert train(0) == [0, 37, 74, 174, 274]
    recorder.hasten(5)  # a symptom at 274: a quarter of the settled cadence
    assert train(60)[-3:] == [274, 299, 324]
    young, train = watched(75)
    young.hasten(5)  # a symptom at 74: 5 probes 6 steps apart; the longest window (5 probes) ends at 98
    assert train(40) == [0, 37, 74, 80, 86, 92, 98, 104]


def test_a_restarted_recipe_is_watched_as_a_young_run():
    """After a treatment (``restart``) the recipe gets the dense cadence of a run's first 100 steps."""
    recorder, train = watched(150)
    recorder.restart(recorder.probe.model)
    assert train(200) == [0, 37, 74, 150, 187, 224, 324]


def test_firing_is_read_over_every_pass_while_the_probe_stays_armed():
    m = model()
    x, _ = batch(4)
    probe = Probe(m)
    probe.arm()
    m(x[:2])
    m(x[2:])
    probe.disarm()
    relu = next(a for a in probe.collect(0, 0, 0.0).activations if a.kind == "relu")
    hidden = rp.F.relu(m[0](x)).data
    assert relu.samples == 4
    np.testing.assert_array_equal(relu.fired, (hidden > 0).any(axis=0))
    probe.arm()  # armed afresh: a new count
    m(x[:1])
    relu = next(a for a in probe.collect(0, 0, 0.0).activations if a.kind == "relu")
    assert relu.samples == 1
