"""Probe parity: the same weights and batch in a retroprop MLP and a torch MLP give the same per-layer
numbers (float64, to 1e-6), so the rules cannot tell the engines apart; functional activations give
the numbers module activations give; a Conv2d channel that never fires is dead."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

import retroprop as rp  # noqa: E402
from retroprop import nn as rnn  # noqa: E402
from retroprop.doctor.probes import Probe  # noqa: E402
from retroprop.torch import TorchProbe  # noqa: E402
from retroprop.torch.probe import infer_kind  # noqa: E402

tnn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)

ACTS = {"relu": (rnn.ReLU, tnn.ReLU), "tanh": (rnn.Tanh, tnn.Tanh), "sigmoid": (rnn.Sigmoid, tnn.Sigmoid)}


def twin_mlps(acts: tuple[str, ...], widths=(6, 16, 12, 3), seed: int = 0, bias: float = 0.0,
              scale: float = 1.5):
    """A retroprop and a torch MLP with identical float64 weights (``bias`` shifts the hidden biases
    down, so that some ReLU units never fire)."""
    rng = np.random.default_rng(seed)
    r_layers, t_layers = [], []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        w = rng.normal(0, scale / np.sqrt(n_in), (n_out, n_in))
        b = rng.normal(0, 0.3, n_out) - (bias if i < len(widths) - 2 else 0.0)
        r, t = rnn.Linear(n_in, n_out, dtype=np.float64), tnn.Linear(n_in, n_out, dtype=torch.float64)
        r.weight.data[...] = w
        r.bias.data[...] = b
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(w))
            t.bias.copy_(torch.from_numpy(b))
        r_layers.append(r)
        t_layers.append(t)
        if i < len(acts):
            r_act, t_act = ACTS[acts[i]]
            r_layers.append(r_act())
            t_layers.append(t_act())
    return rnn.Sequential(*r_layers), tnn.Sequential(*t_layers)


def batch(seed: int = 1, n: int = 32, features: int = 6):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.0, (n, features)), rng.integers(0, 3, n)


def probe_both(acts, lr=0.5, **kw):
    """One probed SGD step in each engine: (retroprop record, torch record, their update ratios)."""
    return probe_step(*twin_mlps(acts, **kw), *batch(), lr=lr)


def probe_step(r_model, t_model, x, y, lr=0.5):
    """One probed SGD step of two twin models on one batch: (retroprop record, torch record, their
    update ratios)."""
    r_opt = rp.optim.SGD(r_model.parameters(), lr=lr)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=lr)
    r_probe, t_probe = Probe(r_model), TorchProbe(t_model, t_opt)
    r_probe.arm()
    t_probe.arm()
    r_opt.zero_grad()
    rnn.CrossEntropyLoss()(r_model(rp.tensor(x)), y).backward()
    t_opt.zero_grad()
    tnn.CrossEntropyLoss()(t_model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    r_record, t_record = r_probe.collect(0, 0, 1.0), t_probe.collect(0, 0, 1.0)
    r_probe.snapshot_weights(r_record)
    t_probe.snapshot_weights(t_record)
    r_opt.step()
    t_opt.step()
    return r_record, t_record, r_probe.update_ratios(), t_probe.update_ratios()


LAYER_FIELDS = ("grad_norm", "grad_rms", "grad_mean_abs", "weight_norm")


@pytest.mark.parametrize(("acts", "bias", "scale"), [
    (("relu", "relu"), 0.8, 1.5), (("tanh", "sigmoid"), 0.0, 1.5), (("sigmoid", "relu"), 0.8, 1.5),
    (("relu", "relu"), 2.5, 1.5), (("tanh", "sigmoid"), 0.0, 8.0)])
def test_every_probe_statistic_equals_retroprops_on_the_same_weights_and_batch(acts, bias, scale):
    r_record, t_record, r_ratios, t_ratios = probe_both(acts, bias=bias, scale=scale)
    assert len(r_record.layers) == len(t_record.layers) == 3
    for r, t in zip(r_record.layers, t_record.layers, strict=True):
        for name in LAYER_FIELDS:
            assert getattr(t, name) == pytest.approx(getattr(r, name), rel=1e-6, abs=1e-12), name
        assert (t.size, t.fan_in, t.nonfinite_grad, t.nonfinite_weight) == (
            r.size, r.fan_in, r.nonfinite_grad, r.nonfinite_weight)
    assert t_record.grad_norm_total == pytest.approx(r_record.grad_norm_total, rel=1e-6)
    # the update-to-weight ratios of one SGD step (torch: taken in the optimizer's step post-hook)
    assert list(t_ratios) == [name for name, _, _ in TorchProbe(twin_mlps(acts)[1]).weighted]
    assert list(t_ratios.values()) == pytest.approx(list(r_ratios.values()), rel=1e-6)
    assert len(r_record.activations) == len(t_record.activations) == 2
    for r, t in zip(r_record.activations, t_record.activations, strict=True):
        assert (t.kind, t.samples, t.nonfinite) == (r.kind, r.samples, r.nonfinite)
        assert t.mean == pytest.approx(r.mean, rel=1e-6, abs=1e-12)
        assert t.std == pytest.approx(r.std, rel=1e-6, abs=1e-12)
        if r.fired is None:
            assert t.fired is None
        else:
            np.testing.assert_array_equal(t.fired, r.fired)
        if r.saturated_share is None:
            assert t.saturated_share is None
        else:
            assert t.saturated_share == pytest.approx(r.saturated_share, abs=1e-12)
    assert t_record.activations[0].after == "0" and r_record.activations[0].after == "0"


def test_the_parity_covers_dead_units_and_saturation():
    """The case is not vacuous: some units are dead, some outputs saturated, in both engines."""
    _, t_record, *_ = probe_both(("relu", "relu"), bias=2.5)
    fired = t_record.activations[0].fired
    assert 0 < np.count_nonzero(~fired) < fired.size
    _, t_record, *_ = probe_both(("tanh", "sigmoid"), scale=8.0)
    assert all(0 < a.saturated_share < 1 for a in t_record.activations)


class Functional(tnn.Module):
    """The same MLP with its activations applied as functions in forward."""

    def __init__(self, seq: tnn.Sequential, kinds: tuple[str, ...]) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = seq[0], seq[2], seq[4]
        self.kinds = kinds

    def forward(self, x):
        act = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
        h = act[self.kinds[0]](self.fc1(x))
        return self.fc3(act[self.kinds[1]](self.fc2(h)))


@pytest.mark.parametrize("kinds", [("relu", "relu"), ("tanh", "sigmoid")])
def test_functional_activations_give_the_numbers_of_module_activations(kinds):
    _, t_model = twin_mlps(kinds, bias=0.8 if kinds[0] == "relu" else 0.0)
    functional = Functional(t_model, kinds)
    x = torch.from_numpy(batch()[0])
    records = []
    for model in (t_model, functional):
        probe = TorchProbe(model)
        probe.arm()
        model(x).sum().backward()
        records.append(probe.collect(0, 0, 0.0))
    modules, functions = records
    # the output's activation feeds no weighted layer: only the hidden one's is read through fc3's input
    assert [a.name for a in functions.activations] == ["fc2[input]", "fc3[input]"]
    assert [a.kind for a in functions.activations] == list(kinds)
    assert [f.after for f in functions.activations] == ["fc1", "fc2"]
    for m, f in zip(modules.activations, functions.activations, strict=True):
        assert (f.mean, f.std, f.samples) == pytest.approx((m.mean, m.std, m.samples), rel=1e-9)
        if m.fired is not None:
            np.testing.assert_array_equal(f.fired, m.fired)
        assert f.saturated_share == m.saturated_share
    expected = f"{kinds[0]} in forward (input of fc2) after layer 1, Linear 6→16 (fc1)"
    assert functions.activations[0].label == expected


def test_the_models_input_is_never_taken_for_an_activation():
    model = tnn.Sequential(tnn.Linear(5, 4), tnn.Linear(4, 2))
    probe = TorchProbe(model)
    probe.arm()
    x = torch.rand(16, 5)
    x[:, 0] = 0.0  # pixels: >= 0, many exact zeros, as a ReLU's output would look
    model(x).sum().backward()
    record = probe.collect(0, 0, 0.0)
    assert all(a.name != "0[input]" for a in record.activations)


def test_data_fed_straight_into_a_second_branch_is_not_taken_for_an_activation():
    class TwoInputs(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.head = tnn.Linear(3, 4), tnn.Linear(5, 4), tnn.Linear(8, 2)

        def forward(self, xa, xb):
            return self.head(torch.cat([F.relu(self.a(xa)), F.relu(self.b(xb))], dim=1))

    model = TwoInputs()
    probe = TorchProbe(model)
    probe.arm()
    pixels = torch.rand(16, 5)
    pixels[:, :2] = 0.0  # >= 0 with many exact zeros, as a ReLU's output would look
    model(torch.randn(16, 3), pixels).sum().backward()
    names = [a.name for a in probe.collect(0, 0, 0.0).activations]
    assert "b[input]" not in names and names == ["head[input]"]


class Heads(tnn.Module):
    """A ReLU feature map, flattened, read by two heads (a VAE's mean and log-variance)."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.functional = functional
        self.conv, self.relu = tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU()
        self.mean, self.log_variance = tnn.Linear(4 * 6 * 6, 3), tnn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        h = F.relu(self.conv(x)) if self.functional else self.relu(self.conv(x))
        h = h.view(h.size(0), -1)
        return self.mean(h) + self.log_variance(h)


@pytest.mark.parametrize("functional", [False, True])
def test_a_flattened_feature_map_read_by_two_heads_is_one_activation_of_channels(functional):
    torch.manual_seed(0)
    model = Heads(functional)
    with torch.no_grad():
        model.conv.bias.copy_(torch.tensor([-5.0, 0.1, 0.1, 0.1]))  # channel 0 never fires
    x = torch.zeros(16, 1, 6, 6)
    x[:, :, 1:5, 1:5] = torch.rand(16, 1, 4, 4)  # a constant border, as a digit's
    probe = TorchProbe(model)
    probe.arm()
    model(x).sum().backward()
    (activation,) = probe.collect(0, 0, 0.0).activations  # not again as the second head's input
    assert activation.name == ("mean[input]" if functional else "relu")
    assert activation.after == "conv" and activation.fired.shape == (4,)  # a unit per channel
    assert activation.fired.tolist() == [False, True, True, True]


def test_the_inference_of_a_functional_activations_kind():
    assert infer_kind(0.0, 3.0, 0.4) == "relu"
    assert infer_kind(0.0, 3.0, 0.0) is None  # non-negative with no silent unit: nothing to tell
    assert infer_kind(0.01, 0.99, 0.0) == "sigmoid"
    assert infer_kind(-0.9, 0.8, 0.0) == "tanh"
    assert infer_kind(-3.0, 5.0, 0.1) is None
    assert infer_kind(float("nan"), 1.0, 0.0) is None


def test_a_conv_channel_is_dead_when_it_never_fires_at_any_position():
    torch.manual_seed(0)
    model = tnn.Sequential(tnn.Conv2d(2, 4, 3), tnn.ReLU(), tnn.Flatten(), tnn.Linear(4 * 6 * 6, 3))
    with torch.no_grad():
        model[0].bias[1] = -100.0  # channel 1 never fires
        model[0].bias[2] = 100.0  # channel 2 always does
    probe = TorchProbe(model)
    probe.arm()
    model(torch.randn(8, 2, 8, 8)).sum().backward()
    record = probe.collect(0, 0, 0.0)
    relu = record.activations[0]
    assert relu.fired.shape == (4,) and relu.samples == 8
    assert relu.fired.tolist() == [True, False, True, True]
    conv = record.layers[0]
    assert conv.fan_in == 2 * 3 * 3 and conv.size == 4 * 2 * 3 * 3
    assert [layer.name for layer in record.layers] == ["0", "3"]


def test_float32_and_several_armed_passes():
    _, t_model = twin_mlps(("relu", "relu"), bias=0.8)
    model = t_model.float()
    probe = TorchProbe(model)
    probe.arm()
    x = torch.from_numpy(batch()[0]).float()
    for half in (x[:16], x[16:]):  # gradient accumulation: two passes, one record
        model(half).sum().backward()
    record = probe.collect(0, 0, 0.0)
    relu = record.activations[0]
    assert relu.samples == 32
    with torch.no_grad():
        whole = (model[1](model[0](x)) > 0).any(dim=0).numpy()
    np.testing.assert_array_equal(relu.fired, whole)
    assert all(isinstance(layer.grad_norm, float) for layer in record.layers)


def test_validation_passes_under_no_grad_are_not_measured():
    _, model = twin_mlps(("relu", "relu"))
    probe = TorchProbe(model)
    probe.arm()
    with torch.no_grad():
        model(torch.randn(4, 6, dtype=torch.float64))
    assert probe.collect(0, 0, 0.0).activations == []


def test_normalization_and_conv1d_layers_are_measured():
    torch.manual_seed(0)
    model = tnn.Sequential(tnn.Conv1d(2, 4, 3), tnn.BatchNorm1d(4), tnn.ReLU(), tnn.Flatten(),
                           tnn.Linear(4 * 6, 8), tnn.LayerNorm(8), tnn.GELU(), tnn.Linear(8, 2))
    probe = TorchProbe(model)
    probe.arm()
    model(torch.randn(5, 2, 8)).sum().backward()
    record = probe.collect(0, 0, 0.0)
    assert [(layer.name, layer.fan_in) for layer in record.layers] == [
        ("0", 6), ("1", None), ("4", 4 * 6), ("5", None), ("7", 8)]
    assert [layer.label for layer in record.layers][:2] == ["layer 1, Conv1d 2→4 k3 (0)",
                                                            "layer 2, BatchNorm1d 4 (1)"]
    assert all(layer.grad_norm > 0 for layer in record.layers)
    relu, gelu = record.activations
    assert (relu.kind, relu.after, relu.fired.shape) == ("relu", "1", (4,))  # BatchNorm1d's channels
    assert (gelu.kind, gelu.after, gelu.fired) == ("gelu", "5", None)


def test_activations_holding_nan_or_inf_are_counted_and_left_out_of_the_mean():
    """The probe sums activations without masking them first; when the sums are not finite it counts
    the NaN/Inf and takes the mean and std of the finite entries, as retroprop's probe does."""
    model = tnn.Sequential(tnn.Linear(4, 6, dtype=torch.float64), tnn.Tanh(),
                           tnn.Linear(6, 2, dtype=torch.float64))
    x = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model[0].weight[2, 0] = float("nan")  # unit 2's output is NaN for every sample
        model[0].weight[3, 1] = float("inf")  # unit 3's saturates at +-1: finite
    probe = TorchProbe(model)
    probe.arm()
    out = model(x)
    out.sum().backward()
    probe.disarm()
    record = probe.collect(0, 0, 1.0)
    (tanh,) = record.activations
    values = torch.tanh(model[0](x)).detach().numpy()
    finite = values[np.isfinite(values)]
    assert tanh.nonfinite == values.size - finite.size > 0
    assert tanh.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert tanh.std == pytest.approx(finite.std(), rel=1e-9)
