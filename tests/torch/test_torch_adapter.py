"""The torch adapter: the doctor's protocol on a torch model, snapshots and roll-backs in place
(Adam's state and the random generators included), remedies in place or as advice, descriptions for
the setup checks, and ``import retroprop`` without torch."""

from __future__ import annotations

import copy
import random
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")

from retroprop.doctor import Doctor  # noqa: E402
from retroprop.doctor.adapter import ModelAdapter, ModelProbe, adapter_for  # noqa: E402
from retroprop.doctor.checks import check_setup  # noqa: E402
from retroprop.torch import TorchAdapter  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


def mlp(act=nn.Tanh, dropout: float = 0.0) -> nn.Sequential:
    torch.manual_seed(0)
    layers = [nn.Linear(6, 16), act()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 16), act(), nn.Linear(16, 3))


def step(model, optimizer, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 6, generator=generator)
    y = torch.randint(0, 3, (32,), generator=generator)
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def test_adapter_for_recognises_a_torch_model_and_the_adapter_implements_the_protocol():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    adapter = adapter_for(model, optimizer)
    assert isinstance(adapter, TorchAdapter) and isinstance(adapter, ModelAdapter)
    assert isinstance(adapter.probe(), ModelProbe)
    assert adapter.adaptive is False and TorchAdapter(model, torch.optim.AdamW(model.parameters())).adaptive
    assert TorchAdapter(model).adaptive is None and TorchAdapter(model).learning_rates() == ()
    assert adapter.learning_rates() == (0.1,)
    assert adapter_for(mlp(dropout=0.4)).dropout_rates() == [0.4]
    with pytest.raises(TypeError, match=r"torch\.optim\.Optimizer"):
        TorchAdapter(model, "sgd")


def test_import_retroprop_does_not_import_torch():
    code = ("import sys, retroprop, retroprop.doctor, retroprop.doctor.adapter as a; "
            "assert 'torch' not in sys.modules; "
            "import numpy as np\ntry:\n    a.adapter_for(np.zeros(2))\nexcept TypeError:\n    pass\n"
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_snapshot_round_trips_weights_adam_state_and_every_random_generator_in_place():
    model = mlp(dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    adapter = TorchAdapter(model, optimizer)
    step(model, optimizer)
    params = [id(p) for p in model.parameters()]
    snapshot = adapter.snapshot(1, 0)
    saved = copy.deepcopy(optimizer.state_dict())
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    draws = (torch.rand(3), np.random.random(), random.random())  # noqa: NPY002
    for seed in range(3):
        step(model, optimizer, seed)
    adapter.restore(snapshot)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key])
    restored = optimizer.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    for index, state in saved["state"].items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(restored["state"][index][name], state[name])
    assert torch.equal(torch.rand(3), draws[0]) and np.random.random() == draws[1]  # noqa: NPY002
    assert random.random() == draws[2]
    assert [id(p) for p in model.parameters()] == params
    # the restored state trains on exactly as before (dropout masks included), and the snapshot stays
    # private: the steps after a restore do not write into it
    adapter.restore(snapshot)
    step(model, optimizer, 5)
    after = {k: v.clone() for k, v in model.state_dict().items()}
    adapter.restore(snapshot)
    step(model, optimizer, 5)
    for key, value in model.state_dict().items():
        assert torch.equal(value, after[key])


def test_batchnorm_joins_the_linear_group_so_a_schedulers_groups_still_match():
    # LambdaLR keeps one lambda per group: a group added by a remedy made its step() raise in the script
    model = mlp(act=nn.ReLU)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: 0.5)
    adapter = TorchAdapter(model, optimizer)
    step(model, optimizer)
    assert adapter.apply("batchnorm").applied
    assert len(optimizer.param_groups) == 1
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {id(p) for p in model.parameters()}
    step(model, optimizer)
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_a_snapshot_of_another_structure_is_refused():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    adapter = TorchAdapter(model, optimizer)
    snapshot = adapter.snapshot(0, 0)
    adapter.apply("batchnorm")
    with pytest.raises(ValueError, match="another structure"):
        adapter.restore(snapshot)


def test_batchnorm_is_inserted_in_place_joins_the_optimizer_and_is_undone_by_adopt():
    model = mlp(act=nn.ReLU)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    adapter = TorchAdapter(model, optimizer)
    step(model, optimizer)
    saved = adapter.copy()
    originals = list(model.parameters())
    treatment = adapter.apply("batchnorm")
    assert treatment.applied and adapter.model is model and adapter.optimizer is optimizer
    assert [type(m).__name__ for m in model] == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d",
                                                  "ReLU", "Linear"]
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in model.parameters()} == in_optimizer
    assert all(group["lr"] == 0.1 and group["momentum"] == 0.9 for group in optimizer.param_groups)
    step(model, optimizer, 1)  # the loop goes on with its own objects
    adapter.adopt(saved)  # undo: the structure from before, in the same model and optimizer objects
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [id(p) for p in model.parameters()] == [id(p) for p in originals]
    assert [id(p) for group in optimizer.param_groups for p in group["params"]] == [id(p) for p in originals]
    for p, q in zip(model.parameters(), saved.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert all(p in optimizer.state for p in originals)  # momentum from before the remedy
    step(model, optimizer, 2)


def test_the_other_in_place_remedies():
    model = mlp(act=nn.ReLU, dropout=0.6)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    adapter = TorchAdapter(model, optimizer)
    step(model, optimizer)
    assert adapter.apply("lower_lr", factor=0.5).applied and adapter.learning_rates() == (0.05,)
    assert adapter.apply("higher_lr", factor=10.0).applied and adapter.learning_rates() == (0.5,)
    assert adapter.apply("weight_decay", weight_decay=1e-3).applied
    assert optimizer.param_groups[0]["weight_decay"] == 1e-3
    assert adapter.apply("lower_dropout", rate=0.2).applied and adapter.dropout_rates() == [0.2]
    assert not adapter.apply("lower_dropout", rate=0.5).applied
    weight = model[0].weight.clone()
    assert adapter.apply("he_init").applied and not torch.equal(model[0].weight, weight)
    assert len(optimizer.state) == 0 and torch.all(model[0].bias == 0)
    assert adapter.apply("leaky_relu").applied
    assert [type(m).__name__ for m in model][:2] == ["Linear", "LeakyReLU"]
    clip = adapter.apply("clip_gradients", max_norm=2.0)
    assert clip.applied and clip.clip_grad_norm == 2.0
    assert adapter.model is model and adapter.optimizer is optimizer
    step(model, optimizer)


def test_the_output_is_fitted_to_the_loss_in_place():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(dim=1))
    adapter = TorchAdapter(model, torch.optim.SGD(model.parameters(), lr=0.1))
    probe = adapter.probe()  # a measured pass: the order forward ran the modules in is known
    probe.arm()
    model(torch.randn(4, 6))
    probe.disarm()
    treatment = adapter.apply("fix_output_loss", case="double_softmax", loss="cross_entropy")
    assert treatment.applied and "removed the output Softmax (3)" in treatment.description
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Identity"]
    nll = adapter.apply("fix_output_loss", case="nll_without_log_softmax", loss="nll")
    assert nll.applied and isinstance(model[-1], nn.LogSoftmax)  # appended after the Identity
    assert not adapter.apply("fix_output_loss", case="something else", loss="mse").applied


def test_the_output_activation_is_never_swapped():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 1), nn.Sigmoid())
    adapter = TorchAdapter(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert adapter.apply("relu").applied
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    assert not adapter.apply("relu").applied  # only the output's sigmoid is left


def test_structural_remedies_outside_a_sequential_are_advice_and_change_nothing():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    adapter = TorchAdapter(model, optimizer)
    before = copy.deepcopy(model.state_dict())
    for remedy in ("batchnorm", "early_stopping", "standardize_inputs", "fix_output_loss", "widen", "adam"):
        treatment = adapter.apply(remedy)
        assert not treatment.applied and "the change to make" in treatment.description, remedy
    assert "nn.BatchNorm1d" in adapter.apply("batchnorm").description
    assert len(optimizer.param_groups) == 1 and list(dict(model.named_children())) == ["fc1", "fc2", "fc3"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_describe_walks_sequentials_and_traces_custom_modules_that_are_one_chain():
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3),
                          nn.Softmax(dim=1))
    layers = TorchAdapter(model).describe()
    kinds = ["flatten", "linear", "relu", "dropout", "linear", "softmax"]
    assert [layer["kind"] for layer in layers] == kinds
    assert layers[1]["label"] == "layer 1, Linear 6→8 (1)" and layers[4]["out_features"] == 3
    assert check_setup(layers, "cross_entropy", n_classes=3)[0].problem == "loss_output_mismatch"

    class Functional(nn.Module):  # Linear layers with F.relu between them in forward
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    traced = TorchAdapter(Functional()).describe()  # torch.fx reads the forward: F.relu between them
    assert [(layer["name"], layer["kind"]) for layer in traced] == [
        ("fc1", "linear"), ("relu()", "relu"), ("fc2", "linear")]
    assert traced[1]["label"] == "relu (relu()) after layer 1, Linear 6→8 (fc1)"
    assert check_setup(traced, "cross_entropy", n_classes=3) == []  # no missing_nonlinearity claimed
    linear = TorchAdapter(nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 3))).describe()
    assert [f.problem for f in check_setup(linear, "mse")] == ["missing_nonlinearity"]

    class NoActivation(Functional):  # the same layers, nothing between them
        def forward(self, x):
            return self.fc2(self.fc1(x))

    assert [f.problem for f in check_setup(TorchAdapter(NoActivation()).describe(), "mse")] == [
        "missing_nonlinearity"]

    class Residual(Functional):  # a sum of two paths: no sequence of layers
        def forward(self, x):
            h = F.relu(self.fc1(x))
            return self.fc2(h + F.relu(h))

    class Branching(Functional):  # control flow on the values: fx cannot trace it
        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x))) if x.sum() > 0 else self.fc2(self.fc1(x))

    class Tied(Functional):  # one layer's weights applied twice
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(6, 6)

        def forward(self, x):
            return self.fc2(self.fc1(F.relu(self.fc1(x))))

    for opaque in (Residual(), Branching(), Tied()):
        layers = TorchAdapter(opaque).describe()
        assert [layer["kind"] for layer in layers] == ["other"], type(opaque).__name__
        assert check_setup(layers, "mse") == []  # nothing claimed of layers not known to be a chain


def test_traced_functions_have_kinds_and_metadata_is_no_data():
    from retroprop.torch.describe import traced_chain

    class Convolutional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.relu, self.fc = nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Linear(36, 10)

        def forward(self, x):
            x = F.max_pool2d(self.relu(self.conv(x)), 2)
            x = x.view(x.size(0), -1)  # x.size(0): a number about x, not a second value
            return F.log_softmax(self.relu(self.fc(x)), dim=1)  # the ReLU module reused: no weights

    steps = traced_chain(Convolutional())
    assert [(name, step if isinstance(step, str) else type(step).__name__) for name, step in steps] == [
        ("conv", "Conv2d"), ("relu", "ReLU"), ("max_pool2d()", "other_activation"), ("view()", "flatten"),
        ("fc", "Linear"), ("relu", "ReLU"), ("log_softmax()", "log_softmax")]
    kinds = [layer["kind"] for layer in TorchAdapter(Convolutional()).describe()]
    assert kinds == ["linear", "relu", "other_activation", "flatten", "linear", "relu", "log_softmax"]


@pytest.mark.parametrize(("loss", "kind"), [
    (nn.CrossEntropyLoss(), "cross_entropy"), (nn.NLLLoss(), "nll"), (nn.BCELoss(), "bce"),
    (nn.BCEWithLogitsLoss(), "bce_with_logits"), (nn.MSELoss(), "mse"), (nn.L1Loss(), "l1"),
    (nn.HuberLoss(), "huber"), (nn.SmoothL1Loss(), "huber"), (F.cross_entropy, "cross_entropy"),
    (nn.MSELoss, "mse"), (lambda a, b: (a - b).abs().mean(), None)])
def test_describe_loss_names_torch_losses(loss, kind):
    assert TorchAdapter(mlp()).describe_loss(loss) == kind


def test_a_hand_written_loop_with_the_core_doctor_and_a_torch_model():
    """``Doctor(model, optimizer)`` takes a torch model through ``adapter_for`` (no watch)."""
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = Doctor(model, optimizer, every=1)
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        x, y = torch.randn(32, 6, generator=generator), torch.randint(0, 3, (32,), generator=generator)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    records = doctor.recorder.records
    assert len(records) == 3 and all(r.layers[0].update_ratio is not None for r in records[:2])
    assert [a.kind for a in records[0].activations] == ["tanh", "tanh"]
    assert not optimizer._optimizer_step_post_hooks  # the ratio hooks are gone with the run


def test_copies_carry_no_hooks_and_the_original_keeps_them_all():
    from retroprop.torch import watch

    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append("user"))
    doctor = watch(model, optimizer)
    hooks = list(optimizer._optimizer_step_pre_hooks.values())
    step(model, optimizer)
    twin = doctor.adapter.copy()
    assert list(optimizer._optimizer_step_pre_hooks.values()) == hooks  # the original's, in order
    assert not twin.optimizer._optimizer_step_pre_hooks and not twin.optimizer._optimizer_step_post_hooks
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in twin.model.modules())
    step(twin.model, twin.optimizer)
    assert calls == ["user"] and doctor.core.recorder.step == 1  # the copy's step is not observed
    doctor.finish()


def test_tracing_runs_no_hook_and_leaves_every_hook_in_place():
    from torch.nn.modules.module import register_module_forward_pre_hook

    from retroprop.torch.describe import traced_chain

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.body(x.view(x.size(0), -1)))

    model, seen = Block(), []
    handles = [register_module_forward_pre_hook(lambda module, args: seen.append(type(args[0]).__name__)),
               model.body.register_forward_hook(lambda module, args, out: seen.append("body"))]
    try:
        steps = traced_chain(model)  # fx calls `body` with a placeholder: neither hook may see it
        assert [name for name, _ in steps] == ["view()", "body.0", "body.1", "head"] and seen == []
        model(torch.randn(2, 6))
        assert seen.count("Tensor") == 5 and "body" in seen  # the model and its 4 modules; both hooks kept
    finally:
        for handle in handles:
            handle.remove()


def test_a_container_without_a_forward_of_its_own_gives_no_outputs():
    class Parts(nn.Module):  # the loop calls parts.backbone and parts.head itself
        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = nn.Linear(6, 8), nn.Linear(8, 3)

    assert TorchAdapter(Parts()).outputs(np.zeros((4, 6), dtype=np.float32)) is None
    assert TorchAdapter(mlp()).outputs(np.zeros((4, 6), dtype=np.float32)).shape[0] == 4
