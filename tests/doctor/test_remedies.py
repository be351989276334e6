"""Remedies change the model or optimizer as they say, and keep what survives."""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import REMEDIES
from retroprop.doctor.remedies import REMEDY_FUNCTIONS, apply_remedy, dropout_room, rebuild_optimizer


def sigmoid_net() -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


def trained_optimizer(model: nn.Module) -> rp.optim.SGD:
    return trained_optimizer_for(model, 4)


def trained_optimizer_for(model: nn.Module, features: int) -> rp.optim.SGD:
    opt = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = rp.randn(16, features), np.arange(16) % 3
    for _ in range(3):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    return opt


def test_every_remedy_id_has_a_function():
    assert set(REMEDY_FUNCTIONS) == set(REMEDIES)
    with pytest.raises(ValueError, match="unknown remedy"):
        apply_remedy("prayer", sigmoid_net(), None)


def test_relu_replaces_saturating_activations_and_gives_the_linears_he_init():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(400, 300), nn.Sigmoid(), nn.Linear(300, 300), nn.Tanh(),
                          nn.Linear(300, 3))
    opt = trained_optimizer_for(model, 400)
    t = apply_remedy("relu", model, opt)
    assert t.applied and "replaced 2 activation" in t.description and "3 Linear" in t.description
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    for linear, fan_in in ((model[0], 400), (model[2], 300)):  # He: std sqrt(2 / fan_in), zero bias
        assert linear.weight.data.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
        assert not linear.bias.data.any()
    assert not t.optimizer.state  # momentum of the old weights is meaningless for the new ones


def test_batchnorm_goes_after_hidden_linears_and_the_optimizer_keeps_momentum():
    model = sigmoid_net()
    opt = trained_optimizer(model)
    first = model[0].weight
    buffer = opt.state[first]["momentum_buffer"]
    t = apply_remedy("batchnorm", model, opt)
    assert [type(m).__name__ for m in model] == [
        "Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d", "Tanh", "Linear"]
    assert t.optimizer is not opt and t.optimizer.param_groups[0]["momentum"] == 0.9
    assert t.optimizer.state[first]["momentum_buffer"] is buffer  # surviving parameters keep their state
    assert len(t.optimizer.param_groups[0]["params"]) == len(list(model.parameters()))
    model(rp.randn(5, 4))  # still a working network


def test_learning_rate_remedies_scale_every_group():
    model = sigmoid_net()
    opt = trained_optimizer(model)
    apply_remedy("lower_lr", model, opt)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    apply_remedy("higher_lr", model, opt)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_leaky_relu_dropout_and_lower_dropout():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    assert apply_remedy("leaky_relu", model, opt).applied
    assert isinstance(model[1], nn.LeakyReLU)
    t = apply_remedy("dropout", model, opt)
    assert t.applied and isinstance(model[2], nn.Dropout) and model[2].p == 0.3
    model[2].p = 0.95
    t = apply_remedy("lower_dropout", model, opt)
    assert t.applied and model[2].p == 0.2


def test_dropout_is_added_only_where_the_rates_together_stay_below_too_high():
    """A VGG-like net's four dropouts (0.2-0.5) already drop 83 % of the signal taken together, as much
    as one rate the doctor names too high: more dropout, the overfitting remedy, would starve it and is
    not added; five bare hidden layers get 0.25 each (0.3 each would compound to 0.83)."""
    assert dropout_room([], 2, 0.3) == 0.3 and dropout_room([], 5, 0.3) == 0.25
    assert dropout_room([0.2, 0.3, 0.4, 0.5], 3, 0.3) == 0.0
    rp.manual_seed(0)
    layers = [m for i in range(3) for m in (nn.Linear(4 if i == 0 else 8, 8), nn.ReLU(), nn.Dropout(0.5))]
    model = nn.Sequential(*layers, nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))  # 87.5 % dropped together
    t = apply_remedy("dropout", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert not t.applied and len(model) == 12 and "drop most of the signal" in t.description
    model[5].p = model[8].p = 0.0  # one dropout of 0.5 left: room for up to 0.6, 0.3 added
    t = apply_remedy("dropout", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert t.applied and model[11].p == 0.3
    model = nn.Sequential(*[m for i in range(5) for m in (nn.Linear(4 if i == 0 else 8, 8), nn.ReLU())],
                          nn.Linear(8, 3))
    t = apply_remedy("dropout", model, rp.optim.SGD(model.parameters(), lr=0.1))
    assert t.applied and [m.p for m in model if isinstance(m, nn.Dropout)] == [0.25] * 5


def test_he_init_redraws_weights_and_resets_optimizer_state():
    model = sigmoid_net()
    opt = trained_optimizer(model)
    before = model[0].weight.data.copy()
    t = apply_remedy("he_init", model, opt)
    assert not np.array_equal(model[0].weight.data, before)
    assert (model[0].bias.data == 0).all()
    assert len(t.optimizer.state) == 0
    assert np.std(model[0].weight.data) == pytest.approx(np.sqrt(2 / 4), rel=0.6)


def test_adam_clipping_and_weight_decay():
    model = sigmoid_net()
    opt = trained_optimizer(model)
    t = apply_remedy("adam", model, opt)
    assert isinstance(t.optimizer, rp.optim.Adam)
    assert not apply_remedy("adam", model, t.optimizer).applied
    assert apply_remedy("clip_gradients", model, opt).clip_grad_norm == 1.0
    apply_remedy("weight_decay", model, opt)
    assert opt.param_groups[0]["weight_decay"] == 1e-4


def test_structural_remedies_skip_custom_modules_and_say_why():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 3)

        def forward(self, x):
            return rp.F.sigmoid(self.linear(x))

    model = Custom()
    opt = rp.optim.SGD(model.parameters(), lr=0.1)
    t = apply_remedy("batchnorm", model, opt)
    assert not t.applied and "edits nn.Sequential models" in t.description
    assert apply_remedy("lower_lr", model, opt).applied  # non-structural remedies still work


def test_rebuild_optimizer_can_change_settings():
    model = sigmoid_net()
    opt = trained_optimizer(model)
    new = rebuild_optimizer(opt, model, lr=0.5)
    assert new.param_groups[0]["lr"] == 0.5 and new.param_groups[0]["momentum"] == 0.9


def test_rebuild_optimizer_keeps_the_settings_a_users_optimizer_class_takes_no_keyword_for():
    class KerasStyleSGD(rp.optim.SGD):  # fixes momentum and weight decay in its own defaults
        def __init__(self, params, lr=0.01):
            super().__init__(params, lr=lr, momentum=0.5, weight_decay=1e-3)

    model = sigmoid_net()
    opt = KerasStyleSGD(model.parameters(), lr=0.2)
    new = rebuild_optimizer(opt, model, lr=0.05)
    assert type(new) is KerasStyleSGD
    group = new.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.5, 1e-3)
    treatment = apply_remedy("he_init", model, opt)
    assert treatment.applied and type(treatment.optimizer) is KerasStyleSGD


# -- widen ----------------------------------------------------------------------------------------
def test_widen_grows_each_hidden_layer_and_keeps_what_the_model_computes():
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1), nn.ReLU(), nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Tanh(),
                          nn.Dropout(0.0), nn.Linear(4, 6))
    x = rp.randn(32, 3)
    model.train()
    model(x)  # the batch norm's running statistics move off their start
    model.eval()
    before = model(x).numpy().copy()
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3)
    treatment = apply_remedy("widen", model, optimizer)
    assert treatment.applied and "1→6" in treatment.description and "4→8" in treatment.description
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [6, 8, 6]
    assert model[3].num_features == 8 and not model[3].training
    np.testing.assert_allclose(model(x).numpy(), before, rtol=1e-5, atol=1e-6)
    held = {id(p) for g in treatment.optimizer.param_groups for p in g["params"]}
    assert held == {id(p) for p in model.parameters()}
    # the new units learn: a step moves their weights on the next layer off zero
    model.train()
    loss = (model(x) ** 2).mean()
    treatment.optimizer.zero_grad()
    loss.backward()
    treatment.optimizer.step()
    assert np.abs(model[2].weight.numpy()[:, 1:]).max() > 0


def test_widen_says_when_there_is_nothing_it_can_widen():
    single = nn.Sequential(nn.Linear(3, 2))
    treatment = apply_remedy("widen", single, rp.optim.SGD(single.parameters(), lr=0.1))
    assert not treatment.applied and "no hidden Linear layer" in treatment.description

    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.b(self.a(x).relu())

    custom = Custom()
    treatment = apply_remedy("widen", custom, rp.optim.SGD(custom.parameters(), lr=0.1))
    assert not treatment.applied and "nn.Sequential" in treatment.description
    normed = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2), nn.Linear(2, 2))
    treatment = apply_remedy("widen", normed, rp.optim.SGD(normed.parameters(), lr=0.1))
    assert not treatment.applied and "through activations" in treatment.description


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_widens_a_one_unit_bottleneck_that_underfits(seed):
    # 4 classes from one hidden unit: the class scores are affine in one number, so the clusters are
    # told apart only along one direction; widened, the same run separates them all
    rng = np.random.default_rng(seed)
    centers = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [0.0, -3.0]])
    y = rng.integers(0, 4, 800)
    x = (centers[y] + 0.5 * rng.normal(size=(800, 2))).astype(np.float32)
    scores = {}
    for repair in (False, True):
        rp.manual_seed(seed)
        model = nn.Sequential(nn.Linear(2, 1), nn.ReLU(), nn.Linear(1, 4))
        history = rp.fit(model, x[:600], y[:600], loss="cross_entropy",
                         optimizer=rp.optim.Adam(model.parameters(), lr=0.01), epochs=60, batch_size=32,
                         validation_data=(x[600:], y[600:]), doctor=rp.Doctor(repair=repair), seed=seed,
                         verbose=0)
        scores[repair] = history.history["val_accuracy"][-1]
        if repair:
            assert any(t.remedy == "widen" and t.applied for t in history.treatments)
        else:
            assert "underfitting" in [d.problem for d in history.diagnoses]
    assert scores[False] < 0.8 < 0.95 < scores[True]
