"""The setup checks (``doctor.checks``) inside ``fit``: said at the first step, repaired where fit can."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor


@pytest.fixture(scope="module")
def digits():
    x, y = rp.data.load_digits()
    return x, rp.data.standardize(x), y


def _fit(model, x, y, loss="cross_entropy", lr=0.05, repair=False, epochs=4):
    return rp.fit(model, x[:1200], y[:1200], loss=loss, optimizer=rp.optim.SGD(model.parameters(), lr=lr),
                  epochs=epochs, validation_data=(x[1200:], y[1200:]), verbose=0, seed=0,
                  doctor=Doctor(repair=repair))


def _mlp(*tail):
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10), *tail)


def test_a_softmax_before_cross_entropy_is_named_at_the_first_step_and_removed(digits):
    _, x, y = digits
    watched = _fit(_mlp(nn.Softmax()), x, y)
    first = watched.diagnoses[0]
    assert (first.problem, first.step) == ("loss_output_mismatch", 0)
    assert first.evidence["case"] == "double_softmax"
    assert first.remedies[0][0] == "fix_output_loss"
    repaired = _fit(model := _mlp(nn.Softmax()), x, y, repair=True)
    treatment = repaired.treatments[0]
    assert (treatment.remedy, treatment.applied, treatment.outcome) == ("fix_output_loss", True, "resolved")
    assert not any(isinstance(m, nn.Softmax) for m in model.modules())
    assert repaired.history["val_accuracy"][-1] > watched.history["val_accuracy"][-1] + 0.2


def test_a_relu_on_the_scores_before_log_softmax_is_named_and_removed_with_the_softmax_kept(digits):
    _, x, y = digits
    watched = _fit(_mlp(nn.ReLU(), nn.LogSoftmax(dim=1)), x, y, loss="nll")
    first = watched.diagnoses[0]
    assert (first.problem, first.step, first.layer) == ("loss_output_mismatch", 0, "3")
    assert first.evidence["case"] == "activation_before_softmax"
    repaired = _fit(model := _mlp(nn.ReLU(), nn.LogSoftmax(dim=1)), x, y, loss="nll", repair=True)
    treatment = repaired.treatments[0]
    assert (treatment.remedy, treatment.applied) == ("fix_output_loss", True)
    assert "removed the ReLU before the output's LogSoftmax" in treatment.description
    assert isinstance(model[3], nn.Identity) and isinstance(model[4], nn.LogSoftmax)
    assert not [d for d in repaired.diagnoses if d.problem == "loss_output_mismatch" and d.step > 0]


def test_raw_pixels_are_standardized_before_they_do_harm(digits):
    raw, _, y = digits
    x = raw * 16.0  # 0-255, as a camera gives them
    watched = _fit(_mlp(), x, y, lr=0.01)
    root = watched.diagnoses[0]
    assert root.problem == "unscaled_inputs" and root.step == 0
    later = [d for d in watched.diagnoses[1:] if d.escalated_from is None and d.problem != "unscaled_inputs"]
    assert later and all(d.caused_by["problem"] == "unscaled_inputs" for d in later)
    model = _mlp()
    repaired = _fit(model, x, y, lr=0.01, repair=True)
    assert repaired.treatments[0].remedy == "standardize_inputs" and isinstance(model[0], nn.Standardize)
    assert repaired.history["val_accuracy"][-1] > watched.history["val_accuracy"][-1] + 0.4


def test_a_model_of_stacked_linear_layers_gets_its_activations(digits):
    _, x, y = digits
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10))
    repaired = _fit(model, x, y, repair=True)
    assert repaired.diagnoses[0].problem == "missing_nonlinearity"
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    # one redundant Linear inside a network that has activations is not a failure
    rp.manual_seed(0)
    redundant = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.Linear(64, 10))
    assert not any(d.problem == "missing_nonlinearity" for d in _fit(redundant, x, y).diagnoses)


def test_a_fix_that_is_the_users_to_make_says_so_and_changes_nothing(digits):
    _, x, y = digits
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
    before = [type(m).__name__ for m in model]
    history = _fit(model, x, y.astype(np.float64)[:, None], loss="mse", lr=0.01, repair=True)
    assert history.diagnoses[0].problem == "loss_output_mismatch"
    assert history.diagnoses[0].evidence["case"] == "regression_on_labels"
    skipped = history.treatments[0]
    assert skipped.remedy == "classification_loss" and not skipped.applied
    assert "yours to make" in skipped.description
    assert [type(m).__name__ for m in model] == before


def test_sigmoid_outputs_under_least_squares_are_named_only_with_the_slowdown_they_cause(digits):
    _, x, y = digits
    onehot = np.eye(10)[y]

    def fit(lr):
        rp.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
        return rp.fit(model, x[:1200], onehot[:1200], loss="mse", optimizer=rp.optim.SGD(model.parameters(),
                      lr=lr), epochs=10, batch_size=10, validation_data=(x[1200:], onehot[1200:]),
                      metrics=["accuracy"], verbose=0, seed=0, doctor=True)

    quadratic = fit(3.0)  # Nielsen's chapter 1 network and rate: it learns, nothing to say
    assert quadratic.diagnoses == [] and quadratic.history["val_accuracy"][-1] > 0.85
    slow = fit(0.05)
    first = slow.diagnoses[0]
    assert (first.problem, first.evidence["case"]) == ("loss_output_mismatch", "regression_on_labels")
    assert first.step > 0  # held until the run showed what it costs
    consequences = [d for d in slow.diagnoses if d.problem in ("slow_convergence", "underfitting")]
    assert consequences and all(d.caused_by["problem"] == "loss_output_mismatch" for d in consequences)
    assert slow.history["val_accuracy"][-1] < 0.7


def test_a_healthy_setup_has_nothing_to_say(digits):
    _, x, y = digits
    history = _fit(_mlp(), x, y)
    assert history.diagnoses == []
    rng = np.random.default_rng(0)
    features = rng.normal(size=(600, 5))
    target = features @ rng.normal(size=5) + 0.1 * rng.normal(size=600)
    rp.manual_seed(0)
    regression = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
    fitted = rp.fit(regression, features, target[:, None], loss="mse",
                    optimizer=rp.optim.SGD(regression.parameters(), lr=0.05), epochs=3, verbose=0, seed=0,
                    doctor=True)
    assert fitted.diagnoses == []


def test_every_problem_of_the_setup_is_treated_at_once(digits):
    raw, _, y = digits
    x = raw * 16.0
    model = _mlp(nn.Softmax())  # a softmax before cross-entropy, on raw pixels
    history = _fit(model, x, y, lr=0.01, repair=True)
    applied = [(t.problem, t.remedy) for t in history.treatments if t.applied]
    assert applied[:2] == [("loss_output_mismatch", "fix_output_loss"),
                           ("unscaled_inputs", "standardize_inputs")]
    assert isinstance(model[0], nn.Standardize)
    assert not any(isinstance(m, nn.Softmax) for m in model.modules())
    assert all(t.step == 0 for t in history.treatments[:2])


def test_a_softmax_over_one_output_is_removed_for_a_binary_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.float32)[:, None]
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1), nn.Softmax())
    history = rp.fit(model, x, y, loss="bce_with_logits", epochs=10, verbose=0, seed=0, repair=True,
                     optimizer=rp.optim.Adam(model.parameters(), lr=0.01))
    first = history.diagnoses[0]
    assert (first.evidence["case"], first.severity) == ("softmax_one_unit", "critical")
    assert history.treatments[0].remedy == "fix_output_loss" and history.treatments[0].applied
    assert history.history["accuracy"][-1] > 0.9  # the constant output of a softmax over one unit: 0.5


def test_unscaled_regression_targets_are_standardized_through_a_fixed_output_layer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    y = (5000.0 + 800.0 * (x @ np.array([1.0, -0.5, 0.3, 0.0]))).astype(np.float32)[:, None]  # prices
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
    history = rp.fit(model, x, y, loss="mse", optimizer=rp.optim.SGD(model.parameters(), lr=0.01),
                     epochs=20, verbose=0, seed=0, repair=True)
    assert history.diagnoses[0].problem == "unscaled_targets"
    treatment = history.treatments[0]
    assert (treatment.remedy, treatment.applied) == ("standardize_targets", True)
    assert treatment.outcome == "resolved"
    assert isinstance(model[-1], nn.Standardize)
    # the step is the one standardized targets would take: the rate divided by the targets' variance
    assert history.params["optimizer"].param_groups[0]["lr"] == pytest.approx(0.01 / float(y.std()) ** 2,
                                                                              rel=1e-4)
    predicted = rp.predict(model, x)
    assert float(np.mean((predicted - y) ** 2)) < 0.05 * float(y.var())  # predictions in the targets' units


def test_raw_pixel_images_are_named_and_standardized_per_channel(digits):
    raw, _, y = digits
    images = np.minimum(raw * 16.0, 255.0).reshape(-1, 1, 8, 8)  # 0-255 images into a CNN

    def cnn():
        rp.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(72, 10))

    watched = _fit(cnn(), images, y, lr=0.01)
    root = watched.diagnoses[0]
    assert (root.problem, root.step, root.evidence["features"]) == ("unscaled_inputs", 0, 1)
    assert root.evidence["raw_pixels"]
    repaired = _fit(model := cnn(), images, y, lr=0.01, repair=True)
    assert repaired.treatments[0].remedy == "standardize_inputs" and isinstance(model[0], nn.Standardize)
    assert model[0].num_features == 1
    np.testing.assert_allclose(model[0].mean.data, [images[:1200].mean()], rtol=1e-6)
    assert repaired.history["val_accuracy"][-1] > watched.history["val_accuracy"][-1] + 0.2
    # the images scaled to [0, 1]: nothing to say
    assert not [d for d in _fit(cnn(), images / 255.0, y).diagnoses if d.problem == "unscaled_inputs"]


def _hand_loop(model, optimizer, x, y, steps=5):
    doctor = Doctor(model, optimizer)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(rp.tensor(x[step * 32:(step + 1) * 32])), y[step * 32:(step + 1) * 32])
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    return doctor


def test_an_optimizer_of_another_model_is_named_before_the_first_step(digits):
    # fit refuses such an optimizer outright; a hand-written loop is told at its first step
    _, x, y = digits
    stale, model = _mlp(), _mlp()
    with pytest.raises(ValueError, match="updates none of this model's parameters"):
        rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(stale.parameters(), lr=0.05),
               verbose=0)
    first = _hand_loop(model, rp.optim.SGD(stale.parameters(), lr=0.05), x, y).diagnoses[0]
    assert (first.problem, first.step, first.evidence["case"]) == ("unregistered_parameters", 0,
                                                                   "optimizer_holds_none")
    assert first.evidence["reached"] == 4 and first.remedies[0][0] == "build_optimizer"
    # an optimizer of the head alone (the rest frozen on purpose): nothing
    doctor = _hand_loop(model, rp.optim.SGD(model[2].parameters(), lr=0.05), x, y)
    assert "unregistered_parameters" not in {d.problem for d in doctor.diagnoses}


# -- a hand-written squared error that broadcasts (B, 1) outputs against (B,) targets -------------------
class PairwiseSquaredError(nn.MSELoss):
    """``mean((outputs - labels) ** 2)`` written by hand with the labels fed as a row, as a TensorFlow
    placeholder of shape [None] does: (B, 1) outputs and (B,) labels broadcast to B x B pairs."""

    doctor_loss_kind = "mse"  # what it says it computes

    def forward(self, input, target):
        diff = input - np.asarray(target, dtype=input.dtype).reshape(1, -1)
        return (diff * diff).mean()


class RowwiseSquaredError(nn.MSELoss):
    """The same by hand, with the labels shaped as the outputs first: each row against its own."""

    doctor_loss_kind = "mse"

    def forward(self, input, target):
        y = np.asarray(target, dtype=input.dtype).reshape(input.shape)
        diff = input - y
        return (diff * diff).mean()


def regression(seed: int = 0) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, 5)).astype(np.float32)
    y = (x @ rng.standard_normal(5)).astype(np.float32)  # (N,): one target per row
    rp.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1)), x, y


def test_a_loss_that_scores_every_output_against_every_target_is_named_before_the_first_step():
    from retroprop.doctor.adapter import RetropropAdapter

    model, x, y = regression()
    adapter = RetropropAdapter(model)
    assert adapter.loss_broadcast(PairwiseSquaredError(), "mse", x, y) == ((8, 1), (8, 8))
    assert adapter.loss_broadcast(RowwiseSquaredError(), "mse", x, y) is None  # pair by pair
    assert adapter.loss_broadcast(PairwiseSquaredError(), "mse", x, y.reshape(-1, 1)) is None  # same shapes
    assert adapter.loss_broadcast(nn.MSELoss(), "mse", x, y) is None  # refuses the shapes: broadcasts nothing
    history = rp.fit(model, x, y, loss=PairwiseSquaredError(), optimizer=rp.optim.Adam(model.parameters()),
                     epochs=1, batch_size=32, verbose=0, doctor=True)
    (named,) = [d for d in history.diagnoses if d.problem == "loss_output_mismatch"]
    assert (named.step, named.evidence["case"], named.evidence["compared_shape"]) == (
        0, "broadcast_targets", [8, 8])
    model, x, y = regression()
    history = rp.fit(model, x, y, loss=RowwiseSquaredError(), optimizer=rp.optim.Adam(model.parameters()),
                     epochs=1, batch_size=32, verbose=0, doctor=True)
    assert [d.problem for d in history.diagnoses if d.problem == "loss_output_mismatch"] == []


# -- a hand-written softmax cross-entropy normalized over the batch axis -----------------------------
class BatchSoftmaxCrossEntropy(nn.Module):
    """A custom cross-entropy whose softmax sums over axis 0 (the batch) instead of the classes."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, input, target):
        e = (input - input.data.max(axis=self.axis, keepdims=True)).exp()
        p = e / e.sum(axis=self.axis, keepdims=True)
        onehot = np.eye(input.shape[-1], dtype=p.dtype)[np.asarray(target).astype(np.int64)]
        return -(p.log() * onehot).sum(axis=1).mean()


def test_a_custom_loss_that_mixes_the_rows_of_a_batch_is_named_before_the_first_step(digits):
    from retroprop.doctor.adapter import RetropropAdapter

    _, x, y = digits
    adapter = RetropropAdapter(_mlp())
    coupled = adapter.loss_rows_coupled(BatchSoftmaxCrossEntropy(axis=0), x, y)
    assert coupled is not None and coupled["rows"] == 8
    assert adapter.loss_rows_coupled(BatchSoftmaxCrossEntropy(axis=1), x, y) is None  # each row alone
    assert adapter.loss_rows_coupled(nn.CrossEntropyLoss(reduction="sum"), x, y) is None  # a sum of rows
    assert adapter.loss_rows_coupled(BatchSoftmaxCrossEntropy(axis=0), x[:3], y[:3]) is None  # too few rows
    history = _fit(_mlp(), x, y, loss=BatchSoftmaxCrossEntropy(axis=0), epochs=1)
    (named,) = [d for d in history.diagnoses if d.problem == "loss_output_mismatch"]
    assert (named.step, named.evidence["case"]) == (0, "rows_coupled")
    assert named.remedies[0][0] == "per_sample_loss"
    assert "neither their mean nor their sum" in named.explanation
    history = _fit(_mlp(), x, y, loss=BatchSoftmaxCrossEntropy(axis=1), epochs=1)
    assert [d.problem for d in history.diagnoses if d.problem == "loss_output_mismatch"] == []
