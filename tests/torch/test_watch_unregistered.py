"""unregistered_parameters on torch: layers a model's ``forward`` uses but keeps in a plain Python list
(pytorch/pytorch issue 715) are named at the first step, from the graph of the model's first output;
the same layers in an ``nn.ModuleList`` are not, nor is a second model that the loss passes through
with its own optimizer (a GAN's discriminator), nor a frozen layer (no gradient). An optimizer built on
another instance of the model holds none of the tensors the output reaches: named too; one over some of
them (fine-tuning a head) or over the input (style transfer) is not."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")]

torch = pytest.importorskip("torch")

from retroprop.doctor import checks  # noqa: E402
from retroprop.torch import watch  # noqa: E402

nn = torch.nn
F = torch.nn.functional
torch.set_num_threads(1)


class Stack(nn.Module):
    def __init__(self, registered: bool) -> None:
        super().__init__()
        layers = [nn.Linear(8, 16), nn.Linear(16, 16)]
        self.hidden = nn.ModuleList(layers) if registered else layers
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.head(x)


def train(model, optimizer, steps: int = 5, through=None):
    generator = torch.Generator().manual_seed(0)
    doctor = watch(model, optimizer)
    for _ in range(steps):
        x, y = torch.randn(32, 8, generator=generator), torch.randint(0, 3, (32,), generator=generator)
        optimizer.zero_grad()
        out = model(x)
        loss = F.cross_entropy(through(out) if through is not None else out, y)
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    return doctor


def test_layers_in_a_python_list_are_named_at_the_first_step():
    torch.manual_seed(0)
    model = Stack(registered=False)
    doctor = train(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    (found,) = [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]
    assert found.step == 0 and found.severity == "critical"
    assert found.evidence["tensors"] == 4 and found.evidence["entries"] == 8 * 16 + 16 + 16 * 16 + 16
    assert found.remedies[0][0] == "register_layers"


def test_registered_layers_a_second_model_and_frozen_layers_are_not_named():
    torch.manual_seed(0)
    model = Stack(registered=True)
    assert not [d for d in train(model, torch.optim.Adam(model.parameters())).diagnoses
                if d.problem == "unregistered_parameters"]
    # a generator's loss through a discriminator with its own optimizer: the discriminator is no layer of
    # the generator's forward
    generator, critic = Stack(registered=True), nn.Linear(3, 3)
    doctor = train(generator, torch.optim.Adam(generator.parameters()), through=critic)
    assert not [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]
    # layers frozen on purpose take no gradient: nothing to name
    model = Stack(registered=False)
    for layer in model.hidden:
        layer.requires_grad_(False)
    doctor = train(model, torch.optim.Adam(model.parameters()))
    assert not [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]


def test_the_check_on_plain_numbers():
    assert checks.unregistered_parameters(None) == []
    assert checks.unregistered_parameters({"tensors": 0, "entries": 0, "shapes": []}) == []
    (finding,) = checks.unregistered_parameters({"tensors": 2, "entries": 80, "shapes": [(8, 8), (16,)]})
    assert "8x8, 16" in finding.explanation and finding.evidence["fix_by"] == "user"


def test_an_optimizer_of_another_instance_is_named_with_its_own_remedy():
    """The optimizer built on a model created before the one trained (or on a copy) holds none of the
    tensors the output reaches: nothing the model computes with is updated."""
    torch.manual_seed(0)
    stale, model = Stack(registered=True), Stack(registered=True)
    doctor = train(model, torch.optim.SGD(stale.parameters(), lr=0.1))
    (found,) = [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]
    assert found.step == 0 and found.severity == "critical"
    assert found.evidence["case"] == "optimizer_holds_none" and found.evidence["reached"] == 6
    assert [r for r, _ in found.remedies] == ["build_optimizer"] and found.evidence["fix_by"] == "user"


def test_an_optimizer_of_some_of_the_reached_tensors_or_of_the_input_is_not_named():
    torch.manual_seed(0)
    model = Stack(registered=True)
    # fine-tuning the head alone, the rest left out of the optimizer on purpose
    doctor = train(model, torch.optim.SGD(model.head.parameters(), lr=0.1))
    assert not [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]
    # an input optimized through a model whose weights still require gradients (style transfer)
    image = torch.randn(32, 8, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.01)
    doctor = watch(model, optimizer)
    for _ in range(3):
        optimizer.zero_grad()
        loss = model(image).pow(2).mean()
        loss.backward()
        doctor.observe(loss)
        optimizer.step()
    doctor.finish()
    assert not [d for d in doctor.diagnoses if d.problem == "unregistered_parameters"]


def test_the_check_on_an_optimizer_that_holds_none_of_them():
    assert checks.unregistered_parameters({"tensors": 0, "entries": 0, "shapes": [], "reached": 4,
                                           "optimized": 1}) == []
    assert checks.unregistered_parameters({"tensors": 0, "entries": 0, "shapes": [], "reached": 0,
                                           "optimized": 0}) == []
    (finding,) = checks.unregistered_parameters({"tensors": 0, "entries": 0, "shapes": [], "reached": 4,
                                                 "optimized": 0})
    assert finding.evidence["case"] == "optimizer_holds_none" and "none of the 4" in finding.explanation
