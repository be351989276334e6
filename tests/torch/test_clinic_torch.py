"""The clinic on PyTorch (benchmarks/clinic/torch_run.py): a scenario's torch twin starts from the same
weights as its retroprop model, and labelled scenarios trained in a plain torch loop under ``watch`` are
diagnosed as their labels say, at the steps retroprop's own run names them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import retroprop as rp  # noqa: E402
from clinic import run as clinic  # noqa: E402
from clinic import scenarios as sc  # noqa: E402
from clinic import torch_run  # noqa: E402

torch.set_num_threads(1)
BY_NAME = sc.by_name()


@pytest.mark.parametrize("name", ["dev_digits60_regularized", "test_digits_sigmoid_big_init",
                                  "test_digits_relu_rmsprop", "dev_digits_negative_bias"])
def test_the_torch_twin_starts_from_the_retroprop_models_weights_and_optimizer_settings(name):
    s = BY_NAME[name]
    rp_model, model, optimizer = torch_run.build_torch(s)
    reference, _ = sc.build(s)
    x = sc.load(s.data)[0][:16]
    model.eval()
    reference.eval()
    with torch.no_grad(), rp.no_grad():
        ours = model(torch.tensor(np.array(x))).numpy()
    np.testing.assert_allclose(ours, reference(rp.tensor(x)).data, rtol=1e-4, atol=1e-4)
    kinds = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adam": torch.optim.Adam,
             "rmsprop": torch.optim.RMSprop}
    assert type(optimizer) is kinds[s.optimizer]
    group = optimizer.param_groups[0]
    assert (group["lr"], group["weight_decay"]) == (s.lr, s.weight_decay)
    if s.optimizer in ("sgd", "momentum"):
        assert group["momentum"] == (0.9 if s.optimizer == "momentum" else 0)
    dropout = [m.p for m in model if isinstance(m, torch.nn.Dropout)]
    assert dropout == ([s.dropout] * len(s.hidden) if s.dropout else [])
    # the copy back puts trained torch weights into the retroprop model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    torch_run.copy_back(model, rp_model).eval()
    with rp.no_grad():
        assert np.allclose(rp_model(rp.tensor(x)).data, model(torch.tensor(np.array(x))).detach().numpy(),
                           rtol=1e-4, atol=1e-4)


# one healthy run and two faulty runs of different problems (a gradient problem and dead units); about a
# second each, the retroprop reference run included
@pytest.mark.parametrize("name", ["dev_digits_relu_adam", "dev_digits_deep8_sigmoid",
                                  "dev_digits_negative_bias"])
def test_scenarios_run_in_a_torch_loop_are_diagnosed_as_labelled_when_retroprop_names_them(name):
    s = BY_NAME[name]
    verdict = clinic.judge(torch_run.run_torch(s))
    assert verdict.run.label_problems == [], verdict.run.label_problems
    assert not verdict.missed and not verdict.false_alarms, clinic.detail_line(verdict)
    if s.healthy:
        assert verdict.first == {}
        return
    # the same weights and batches: the doctor names the problem at the step retroprop's run does
    reference = clinic.judge(sc.run(s))
    for problem in s.expected:
        step, epoch = verdict.first[problem]
        assert epoch == 0 and (step, epoch) == reference.first[problem]
    assert verdict.run.steps_per_epoch == reference.run.steps_per_epoch


def test_repair_in_the_torch_loop_is_scored_on_the_treated_models_own_validation_logs():
    # the relu remedy swaps the torch model's sigmoids: its own logs, not the untreated retroprop twin's
    # weights copied back, say how the repaired run ends
    s = BY_NAME["dev_digits_deep8_sigmoid"]
    verdicts = [clinic.judge(torch_run.run_torch(s))]
    (row,) = torch_run.repair_torch(verdicts, log=lambda line: None)
    assert [(t["problem"], t["remedy"], t["applied"]) for t in row["treatments"]][:1] == [
        ("vanishing_gradients", "relu", True)]
    assert row["val_acc_before"] < 0.2 and row["val_acc_repaired"] > 0.85
    assert row["success"] == (row["val_acc_repaired"] >= row["val_acc_twin"] - clinic.REPAIR_TOLERANCE)
