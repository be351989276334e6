"""Probe parity on CNNs: the same weights and batch in a retroprop CNN and a torch CNN give the same
per-layer numbers (float64, to 1e-6: Conv layers' gradients, fan-in and update ratios, per-channel
firing, saturation over every value), the same labels and the same description for the setup checks;
the torch remedies treat convolutions as retroprop's do."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop import nn as rnn  # noqa: E402
from retroprop.doctor import checks  # noqa: E402
from retroprop.doctor.structure import describe_model as describe_retroprop  # noqa: E402
from retroprop.torch.describe import describe_model as describe_torch  # noqa: E402
from retroprop.torch.remedies import Context, apply_torch_remedy  # noqa: E402
from tests.torch.test_probe_parity import probe_step  # noqa: E402

tnn = torch.nn
torch.set_num_threads(1)

ACTS = {"relu": (rnn.ReLU, tnn.ReLU), "tanh": (rnn.Tanh, tnn.Tanh), "sigmoid": (rnn.Sigmoid, tnn.Sigmoid)}
LENGTH = 20


def twin_cnns(acts: tuple[str, str], seed: int = 0, bias: float = 0.0, scale: float = 1.5):
    """A retroprop and a torch CNN with identical float64 weights: Conv1d(2→6, k5 s2 p1), act,
    MaxPool1d(2), Conv1d(6→4, k3 p1), act, Flatten, Linear(4 x 4 → 3). ``bias`` shifts the convs'
    biases down, so that some channels never fire."""
    rng = np.random.default_rng(seed)
    r_convs = [rnn.Conv1d(2, 6, 5, stride=2, padding=1, dtype=np.float64),
               rnn.Conv1d(6, 4, 3, padding=1, dtype=np.float64)]
    t_convs = [tnn.Conv1d(2, 6, 5, stride=2, padding=1, dtype=torch.float64),
               tnn.Conv1d(6, 4, 3, padding=1, dtype=torch.float64)]
    r_out, t_out = rnn.Linear(16, 3, dtype=np.float64), tnn.Linear(16, 3, dtype=torch.float64)
    for index, (r, t) in enumerate(zip([*r_convs, r_out], [*t_convs, t_out], strict=True)):
        fan_in = int(np.prod(r.weight.shape[1:]))
        w = rng.normal(0, scale / np.sqrt(fan_in), r.weight.shape)
        b = rng.normal(0, 0.3, r.bias.shape) - (bias if index < 2 else 0.0)
        r.weight.data[...], r.bias.data[...] = w, b
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(w))
            t.bias.copy_(torch.from_numpy(b))
    (r1, t1), (r2, t2) = (ACTS[a] for a in acts)
    r_model = rnn.Sequential(r_convs[0], r1(), rnn.MaxPool1d(2), r_convs[1], r2(), rnn.Flatten(), r_out)
    t_model = tnn.Sequential(t_convs[0], t1(), tnn.MaxPool1d(2), t_convs[1], t2(), tnn.Flatten(), t_out)
    return r_model, t_model


def probe_both(acts, lr=0.5, **kw):
    """One probed SGD step in each engine: (retroprop record, torch record, their update ratios)."""
    rng = np.random.default_rng(1)
    return probe_step(*twin_cnns(acts, **kw), rng.normal(0, 1.0, (12, 2, LENGTH)), rng.integers(0, 3, 12),
                      lr=lr)


LAYER_FIELDS = ("grad_norm", "grad_rms", "grad_mean_abs", "weight_norm")


@pytest.mark.parametrize(("acts", "bias", "scale"), [
    (("relu", "relu"), 0.0, 1.5), (("relu", "relu"), 2.5, 1.5), (("tanh", "sigmoid"), 0.0, 6.0),
    (("sigmoid", "relu"), 0.8, 1.5)])
def test_every_cnn_probe_statistic_equals_retroprops(acts, bias, scale):
    r_record, t_record, r_ratios, t_ratios = probe_both(acts, bias=bias, scale=scale)
    assert len(r_record.layers) == len(t_record.layers) == 3
    for r, t in zip(r_record.layers, t_record.layers, strict=True):
        for name in LAYER_FIELDS:
            assert getattr(t, name) == pytest.approx(getattr(r, name), rel=1e-6, abs=1e-12), name
        assert (t.name, t.size, t.fan_in, t.nonfinite_grad, t.nonfinite_weight) == (
            r.name, r.size, r.fan_in, r.nonfinite_grad, r.nonfinite_weight)
        assert t.label == f"{r.label} ({r.name})"  # torch's labels add the module's name
    assert [layer.fan_in for layer in r_record.layers] == [2 * 5, 6 * 3, 16]
    assert r_record.layers[0].label == "layer 1, Conv1d 2→6 k5 s2"
    assert t_record.grad_norm_total == pytest.approx(r_record.grad_norm_total, rel=1e-6)
    assert t_record.output_bias_grad == pytest.approx(r_record.output_bias_grad, rel=1e-6)
    assert list(t_ratios) == list(r_ratios) == ["0", "3", "6"]
    assert list(t_ratios.values()) == pytest.approx(list(r_ratios.values()), rel=1e-6)
    assert len(r_record.activations) == len(t_record.activations) == 2
    for r, t in zip(r_record.activations, t_record.activations, strict=True):
        assert (t.kind, t.samples, t.nonfinite, t.after, t.channels) == (
            r.kind, r.samples, r.nonfinite, r.after, r.channels)
        assert r.channels == (r.kind == "relu")  # ReLU firing is per channel
        assert r.samples == 12  # samples, not positions
        assert t.mean == pytest.approx(r.mean, rel=1e-6, abs=1e-12)
        assert t.std == pytest.approx(r.std, rel=1e-6, abs=1e-12)
        if r.fired is None:
            assert t.fired is None
        else:
            assert r.fired.shape == (6,) if r.after == "0" else (4,)  # one entry per channel
            np.testing.assert_array_equal(t.fired, r.fired)
        if r.saturated_share is None:
            assert t.saturated_share is None
        else:
            assert t.saturated_share == pytest.approx(r.saturated_share, abs=1e-12)


def test_the_cnn_parity_covers_dead_channels_and_saturation():
    r_record, *_ = probe_both(("relu", "relu"), bias=2.5)
    fired = r_record.activations[0].fired
    assert 0 < np.count_nonzero(~fired) < fired.size
    r_record, *_ = probe_both(("tanh", "sigmoid"), scale=6.0)
    assert all(0 < a.saturated_share < 1 for a in r_record.activations)


def test_both_engines_describe_a_cnn_alike():
    r_model, t_model = twin_cnns(("relu", "relu"))
    r_layers, t_layers = describe_retroprop(r_model), describe_torch(t_model)
    keys = ("name", "kind", "in_features", "out_features", "conv", "in_channels", "out_channels",
            "activation_after")
    assert [{k: d.get(k) for k in keys} for d in t_layers] == [{k: d.get(k) for k in keys} for d in r_layers]
    assert [d["kind"] for d in t_layers] == ["linear", "relu", "other_activation", "linear", "relu",
                                             "flatten", "linear"]
    assert checks.check_setup(t_layers, "cross_entropy") == []
    linear = tnn.Sequential(tnn.Conv1d(1, 4, 3), tnn.AvgPool1d(2), tnn.Conv1d(4, 4, 3), tnn.Flatten(),
                            tnn.Linear(4 * 3, 2))
    assert [f.problem for f in checks.check_setup(describe_torch(linear), "cross_entropy")] == [
        "missing_nonlinearity"]


def test_torch_remedies_treat_convs():
    torch.manual_seed(0)
    model = tnn.Sequential(tnn.Conv1d(1, 32, 5), tnn.Sigmoid(), tnn.Conv1d(32, 1, 3), tnn.Sigmoid())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    treatment = apply_torch_remedy("relu", model, optimizer, Context())
    assert treatment.applied
    assert [type(m).__name__ for m in model] == ["Conv1d", "ReLU", "Conv1d", "Sigmoid"]  # the output's kept
    he_std = np.sqrt(2 / (32 * 3))  # He, with the conv's fan_in
    assert float(model[2].weight.detach().std()) == pytest.approx(he_std, rel=0.2)
    stacked = tnn.Sequential(tnn.Conv1d(1, 4, 3), tnn.AvgPool1d(2), tnn.Conv1d(4, 4, 3), tnn.Flatten(),
                             tnn.Linear(4 * 3, 2))
    treatment = apply_torch_remedy("insert_activation", stacked, None, Context())
    assert treatment.applied
    assert [type(m).__name__ for m in stacked] == ["Conv1d", "ReLU", "AvgPool1d", "Conv1d", "ReLU", "Flatten",
                                                   "Linear"]
    assert stacked(torch.ones(2, 1, 12)).shape == (2, 2)
    _, cnn = twin_cnns(("relu", "relu"))
    treatment = apply_torch_remedy("batchnorm", cnn, torch.optim.SGD(cnn.parameters(), lr=0.1), Context())
    assert not treatment.applied and "Conv" in treatment.description
