"""``retroprop demo --backend torch``: the course page's networks built in PyTorch from retroprop's initial
weights, trained under ``retroprop.torch.watch``, with the same diagnoses and cures."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

import retroprop as rp  # noqa: E402
from retroprop import demos, nn  # noqa: E402
from retroprop.demos_torch import copy_back, torch_optimizer, torch_twin  # noqa: E402

torch.set_num_threads(1)


def test_the_torch_twin_holds_the_same_layers_weights_and_batchnorm_statistics():
    model = demos._mlp([8, 16, 16, 3], nn.LeakyReLU, batchnorm=True, dropout=0.3, seed=1)
    rng = np.random.default_rng(0)
    for module in model:
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.data[...] = rng.normal(size=module.num_features)
            module.running_var.data[...] = rng.uniform(0.5, 2.0, size=module.num_features)
    twin = torch_twin(model)
    assert [type(m).__name__ for m in twin] == [type(m).__name__ for m in model]
    assert [m.p for m in twin if isinstance(m, torch.nn.Dropout)] == [0.3, 0.3]
    x = rng.normal(size=(5, 8)).astype(np.float32)
    model.eval()
    twin.eval()
    with rp.no_grad(), torch.no_grad():
        np.testing.assert_allclose(twin(torch.from_numpy(x)).numpy(), model(rp.tensor(x)).data, rtol=1e-5,
                                   atol=1e-5)
        for p in twin.parameters():
            p.mul_(0.5)
        twin[1].running_mean.add_(1.0)
        copy_back(twin, model)
        np.testing.assert_allclose(model(rp.tensor(x)).data, twin(torch.from_numpy(x)).numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_the_torch_optimizer_has_the_kind_and_settings_of_retroprops():
    model = demos._mlp([4, 4, 2], nn.ReLU)
    params = list(torch_twin(model).parameters())
    sgd = torch_optimizer(rp.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4), params)
    assert type(sgd) is torch.optim.SGD
    assert {k: sgd.param_groups[0][k] for k in ("lr", "momentum", "weight_decay")} == {
        "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4}
    adam = torch_optimizer(rp.optim.Adam(model.parameters(), lr=3e-3), params)
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["lr"] == 3e-3


def test_a_deep_sigmoid_net_trained_in_torch_gets_vanishing_gradients_and_its_numbers():
    data = demos._digits(0)
    model = demos._mlp([64] + [64] * 8 + [10], nn.Sigmoid)
    before = model[0].weight.data.copy()
    run = demos.train_watched("before: sigmoid", "8 sigmoid layers", model,
                              rp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), data, epochs=2, seed=0,
                              backend="torch")
    assert "vanishing_gradients" in run.problems
    first = next(d for d in run.diagnoses if d.problem == "vanishing_gradients")
    assert first.layer == "0" and first.epoch == 0
    assert run.grad_first / run.grad_last < 1e-3
    assert len(run.history.history["val_accuracy"]) == 2 and len(run.history.step_loss) == 2 * 42
    assert run.records and not np.array_equal(model[0].weight.data, before)  # trained weights copied back


def test_an_unknown_backend_is_refused_before_any_work():
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        demos.run_demo("vanishing", None, backend="jax")


@pytest.mark.slow
@pytest.mark.parametrize("name", demos.DEMOS)
def test_each_demonstration_holds_on_torch(name):
    result = demos.run_demo(name, None, seed=0, echo=lambda _: None, backend="torch")
    assert result.holds, [claim for claim, ok in result.claims if not ok]
    assert "PyTorch" in result.title


def test_the_demo_command_takes_the_backend():
    from retroprop.cli import build_parser

    args = build_parser().parse_args(["demo", "exploding", "--backend", "torch", "--no-files"])
    assert (args.which, args.backend) == ("exploding", "torch")
    assert build_parser().parse_args(["demo"]).backend == "retroprop"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--backend", "jax"])
