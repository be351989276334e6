"""The doctor on convolutional networks: Conv layers are weighted layers, a ReLU after a convolution
fires per channel (dead when it never fires at any position), CNN structure reads by its mechanism
in the setup checks, and the remedies treat convolutions where their mechanism carries over."""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import checks
from retroprop.doctor.probes import Probe, typical_norm
from retroprop.doctor.remedies import apply_remedy
from retroprop.doctor.structure import describe_model

LENGTH, CLASSES = 32, 3


def waves(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sines of 1, 2 or 4 periods over ``LENGTH`` positions at a random phase, class = frequency:
    (n, 1, LENGTH) float32 signals, which a small CNN learns in a few epochs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    freq = np.array([1.0, 2.0, 4.0])[y] * 2 * np.pi / LENGTH
    phase = rng.uniform(0, 2 * np.pi, n)
    x = np.sin(freq[:, None] * np.arange(LENGTH) + phase[:, None]) + 0.3 * rng.normal(size=(n, LENGTH))
    return x[:, None, :].astype(np.float32), y


def cnn(seed: int = 0, act: type = nn.ReLU, depth: int = 2, channels: int = 8) -> nn.Sequential:
    """Conv1d(1→channels, k5 s2) then ``depth - 1`` Conv1d(channels→channels, k3), each followed by
    ``act``, then Flatten and Linear(channels x 16 → 3)."""
    rp.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv1d(1, channels, 5, stride=2, padding=2), act()]
    for _ in range(depth - 1):
        layers += [nn.Conv1d(channels, channels, 3, padding=1), act()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * LENGTH // 2, CLASSES))


@pytest.fixture(scope="module")
def data():
    return waves()


def train(model: nn.Module, data, **kw):
    x, y = data
    return rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.Adam(model.parameters(), lr=1e-2),
                  epochs=kw.pop("epochs", 8), batch_size=32, verbose=0, seed=0, **kw)


# -- probes ------------------------------------------------------------------------------------
def test_conv_layers_are_weighted_layers_with_their_fan_in_and_label():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 6, 5, stride=2, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Conv1d(6, 4, 3, groups=2), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 2, 3)).double()
    probe = Probe(model)
    probe.arm()
    x = rp.tensor(np.random.default_rng(0).normal(size=(5, 2, 17)))
    nn.CrossEntropyLoss()(model(x), np.arange(5) % 3).backward()
    record = probe.collect(0, 0, 1.0)
    assert [layer.label for layer in record.layers] == [
        "layer 1, Conv1d 2→6 k5 s2", "layer 2, Conv1d 6→4 k3 g2", "layer 3, Linear 8→3"]
    assert [layer.fan_in for layer in record.layers] == [2 * 5, 6 // 2 * 3, 8]  # in_channels / groups x k
    for stats, conv in zip(record.layers[:2], (model[0], model[3]), strict=True):
        g, w = conv.weight.grad.numpy(), conv.weight.data
        assert stats.size == w.size and stats.grad_norm == pytest.approx(np.linalg.norm(g))
        assert stats.grad_rms == pytest.approx(np.sqrt(np.mean(g ** 2)))
        assert stats.weight_norm == pytest.approx(np.linalg.norm(w)) and stats.grad_norm > 0
    relu, tanh = record.activations
    assert relu.label == "relu after layer 1, Conv1d 2→6 k5 s2" and relu.after == "0"
    assert tanh.label == "tanh after layer 2, Conv1d 6→4 k3 g2" and tanh.after == "3"
    assert relu.fired.shape == (6,) and relu.samples == 5  # per channel; samples, not positions
    assert relu.channels and not tanh.channels  # firing is read of ReLUs only
    # the saturated share stays over every value (all positions)
    out = np.tanh(model[3](model[2](model[1](model[0](x)))).data)
    assert tanh.saturated_share == pytest.approx(np.mean(1 - out * out < 0.01))


def test_a_channel_is_dead_when_it_never_fires_at_any_position():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    model[0].bias.data[1] = -100.0  # channel 1 never fires
    model[0].bias.data[2] = 100.0  # channel 2 always does
    x = rp.tensor(np.random.default_rng(0).normal(size=(8, 2, 8, 8)).astype(np.float32))
    out = model[1](model[0](x)).data
    probe = Probe(model)
    probe.arm()
    model(x).sum().backward()
    relu = probe.collect(0, 0, 0.0).activations[0]
    assert relu.fired.shape == (4,) and relu.samples == 8
    np.testing.assert_array_equal(relu.fired, (out > 0).any(axis=(0, 2, 3)))
    assert relu.fired.tolist() == [True, False, True, True]
    # a channel that fires at one position of one sample only is alive
    x.data[...] = 0.0
    x.data[3, :, 2:5, 4:7] = 1.0
    model[0].bias.data[...] = 0.0
    model[0].weight.data[...] = -1.0
    model[0].weight.data[0] = 1.0
    probe.arm()
    model(x)
    relu = probe.collect(1, 0, 0.0).activations[0]
    assert relu.fired.tolist() == [True, False, False, False]


def test_a_zero_initialized_conv_is_measured_against_its_typical_norm():
    conv = nn.Conv1d(3, 4, 5)
    assert typical_norm(conv.weight.shape) == pytest.approx(math.sqrt(4 * 3 * 5 / 15))
    conv.weight.data[...] = 0.0
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 2))
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    probe = Probe(model)
    model(rp.tensor(np.ones((2, 3, 10), dtype=np.float32))).sum().backward()
    probe.snapshot_weights(probe.collect(0, 0, 0.0))
    opt.step()
    step = np.linalg.norm(conv.weight.data)
    assert probe.update_ratios()["0"] == pytest.approx(step / typical_norm(conv.weight.shape), rel=1e-5)


# -- the rules on CNNs trained by fit -------------------------------------------------------------
def test_a_healthy_cnn_gets_no_diagnosis(data):
    history = train(cnn(), data, doctor=True, validation_split=0.2)
    assert history.history["val_accuracy"][-1] > 0.9
    assert history.diagnoses == []


def test_a_conv_whose_bias_keeps_it_below_zero_is_dead_relu_per_channel(data):
    model = cnn()
    model[0].bias.data[...] = -50.0  # every channel of the first conv silent at every position
    history = train(model, data, doctor=True)
    dead = [d for d in history.diagnoses if d.problem == "dead_relu"]
    assert dead, [str(d) for d in history.diagnoses]
    assert dead[0].layer == "1" and dead[0].layer_label == "relu after layer 1, Conv1d 1→8 k5 s2"
    evidence = dead[0].evidence
    assert (evidence["units"], evidence["dead_units"], evidence["dead_share"]) == (8, 8, 1.0)  # channels
    assert evidence["window_samples"] >= 59  # samples, not channel positions
    assert "channels" in dead[0].explanation and "at every position" in dead[0].explanation
    # the conv gets no gradient because its ReLUs are all off: no product of small slopes to name
    assert history.diagnoses[0].problem == "dead_relu"
    assert not any(d.problem == "vanishing_gradients" for d in history.diagnoses)


def test_a_deep_sigmoid_cnn_has_vanishing_gradients_at_its_first_conv(data):
    model = cnn(act=nn.Sigmoid, depth=5)
    x, y = data
    history = rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.05),
                     epochs=3, batch_size=32, verbose=0, seed=0, doctor=True)
    vanishing = [d for d in history.diagnoses if d.problem == "vanishing_gradients"]
    assert vanishing, [str(d) for d in history.diagnoses]
    assert vanishing[0].layer == "0" and vanishing[0].layer_label.startswith("layer 1, Conv1d 1→8")


def test_repair_treats_the_dead_conv(data):
    model = cnn()
    model[0].bias.data[...] = -50.0
    history = train(model, data, repair=True)
    applied = [t for t in history.treatments if t.applied]
    log = [str(t) for t in history.treatments]
    assert applied and applied[-1].outcome in ("resolved", "unconfirmed"), log
    assert history.history["accuracy"][-1] > 0.9
    assert float(history.model[0].bias.data.max()) > -1.0  # the conv itself was treated


# -- describe and the setup checks -------------------------------------------------------------------
def test_describe_lists_convs_with_their_width_and_the_activation_after_them():
    model = nn.Sequential(nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                          nn.Conv1d(25, 16, 3), nn.AvgPool1d(2), nn.Conv1d(16, 4, 1), nn.Flatten())
    layers = describe_model(model)
    assert [(d["kind"], d["out_features"], d.get("activation_after")) for d in layers] == [
        ("linear", 25, "relu"), ("relu", None, None), ("other_activation", None, None),
        ("linear", 16, None), ("identity", None, None), ("linear", 4, None),
        ("other", None, None)]  # the output's width is channels x positions: unknown
    assert layers[0]["label"] == "layer 1, Conv1d 1→25 k5 s2"
    assert layers[1]["label"] == "relu after layer 1, Conv1d 1→25 k5 s2"
    assert (layers[0]["in_channels"], layers[0]["out_channels"], layers[0]["conv"]) == (1, 25, 1)
    checks.validate_layers(layers)


def test_missing_nonlinearity_reads_convs_by_their_mechanism():
    relu_between = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.Conv1d(8, 8, 3), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(8 * 28, 3))
    assert checks.missing_nonlinearity(describe_model(relu_between)) == []
    max_pooled = nn.Sequential(nn.Conv1d(1, 8, 3), nn.MaxPool1d(2), nn.Conv1d(8, 8, 3))
    assert checks.missing_nonlinearity(describe_model(max_pooled)) == []  # a max is a nonlinearity
    # two convolutions with only affine layers between them compose into one convolution
    stacked = nn.Sequential(nn.Conv1d(1, 8, 3), nn.AvgPool1d(2), nn.Conv1d(8, 8, 3), nn.ReLU(), nn.Flatten(),
                            nn.Linear(8 * 13, 3))
    (finding,) = checks.missing_nonlinearity(describe_model(stacked))
    assert finding.evidence["layers"] == ["0", "2"] and finding.evidence["rank_limit"] is None
    assert not finding.evidence["model_is_linear"]
    # with no activation anywhere the whole CNN is one linear map: the setup check names it
    linear_cnn = nn.Sequential(nn.Conv1d(1, 8, 3), nn.Conv1d(8, 8, 3), nn.Flatten(), nn.Linear(8 * 28, 3))
    found = checks.check_setup(describe_model(linear_cnn), "cross_entropy")
    assert [f.problem for f in found] == ["missing_nonlinearity"]
    assert found[0].evidence["layers"] == ["0", "1", "3"] and found[0].evidence["model_is_linear"]
    assert checks.check_setup(describe_model(relu_between), "cross_entropy") == []


def test_the_output_of_a_fully_convolutional_model_is_read_by_its_channels():
    pooled = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.Conv1d(8, 2, 3), nn.AdaptiveAvgPool1d(1),
                           nn.Flatten())
    y = np.arange(30) % 5
    found = checks.loss_output_mismatch(describe_model(pooled), "cross_entropy", y)
    assert [f.evidence["case"] for f in found] == ["too_few_outputs"]  # 2 channels for 5 classes
    flat = nn.Sequential(nn.Conv1d(1, 8, 3), nn.ReLU(), nn.Conv1d(8, 2, 3), nn.Flatten())  # 2 x L outputs
    assert checks.loss_output_mismatch(describe_model(flat), "cross_entropy", y) == []


# -- remedies ----------------------------------------------------------------------------------------
def test_he_init_reinitializes_convs_with_their_fan_in():
    model = cnn(channels=64)
    for conv in (model[0], model[2]):
        conv.weight.data[...] = 0.0
        conv.bias.data[...] = -5.0
    treatment = apply_remedy("he_init", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert treatment.applied and "Conv1d" in treatment.description
    for conv, fan_in in ((model[0], 5), (model[2], 64 * 3)):
        assert np.std(conv.weight.data) == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
        assert not conv.bias.data.any()


def test_activation_swaps_reach_activations_after_convs_but_not_the_output():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Sigmoid(), nn.Conv1d(4, 1, 3), nn.Sigmoid())
    treatment = apply_remedy("relu", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert treatment.applied
    assert [type(m).__name__ for m in model] == ["Conv1d", "ReLU", "Conv1d", "Sigmoid"]  # the output's kept
    treatment = apply_remedy("leaky_relu", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert treatment.applied and type(model[1]).__name__ == "LeakyReLU"


def test_insert_activation_separates_stacked_convs_and_batchnorm_follows_each_hidden_conv():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.AvgPool1d(2), nn.Conv1d(4, 4, 3), nn.Flatten(),
                          nn.Linear(4 * 3, 3))
    treatment = apply_remedy("insert_activation", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert treatment.applied
    assert [type(m).__name__ for m in model] == ["Conv1d", "AvgPool1d", "ReLU", "Conv1d", "Flatten", "ReLU",
                                                 "Linear"]
    assert model(rp.tensor(np.ones((2, 1, 12), dtype=np.float32))).shape == (2, 3)
    cnn_model = cnn()
    treatment = apply_remedy("batchnorm", cnn_model, rp.optim.SGD(cnn_model.parameters(), lr=0.1))
    assert treatment.applied and "2 BatchNorm1d" in treatment.description
    assert [type(m).__name__ for m in cnn_model] == ["Conv1d", "BatchNorm1d", "ReLU", "Conv1d", "BatchNorm1d",
                                                     "ReLU", "Flatten", "Linear"]  # none after the output
    assert [m.num_features for m in cnn_model if isinstance(m, nn.BatchNorm1d)] == [8, 8]
    assert cnn_model(rp.tensor(waves(4)[0])).shape == (4, CLASSES)
    assert len(treatment.optimizer.param_groups[0]["params"]) == len(list(cnn_model.parameters()))
    again = apply_remedy("batchnorm", cnn_model, treatment.optimizer)
    assert not again.applied  # each hidden layer has its batch norm already
    images = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Conv2d(4, 2, 3))
    treatment = apply_remedy("batchnorm", images, rp.optim.SGD(images.parameters(), lr=0.1))
    assert treatment.applied and [type(m).__name__ for m in images] == ["Conv2d", "BatchNorm2d", "Tanh",
                                                                       "Conv2d"]
    assert images(rp.randn(2, 1, 7, 7)).shape == (2, 2, 3, 3)
