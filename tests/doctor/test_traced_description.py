"""A custom module's forward, traced on two input rows (``structure.traced_chain``): described layer by
layer when it is one chain, one opaque layer otherwise, and the model left as it was."""

from __future__ import annotations

from typing import Any

import numpy as np

import retroprop as rp
from retroprop import F, nn
from retroprop.doctor.checks import check_setup
from retroprop.doctor.structure import describe_model, traced_chain

ROWS = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)


class TwoLayers(nn.Module):
    def __init__(self, activation: bool = True) -> None:
        super().__init__()
        self.fc1, self.fc2, self.activation = nn.Linear(4, 8), nn.Linear(8, 3), activation

    def forward(self, x: Any) -> Any:
        hidden = self.fc1(x)
        return self.fc2(F.relu(hidden) if self.activation else hidden)


def kinds(model: nn.Module) -> list[tuple[str, str]]:
    return [(layer["name"], layer["kind"]) for layer in describe_model(model, ROWS)]


def test_a_chain_of_layers_and_functions_is_described_in_the_order_the_forward_applies_them():
    assert kinds(TwoLayers()) == [("fc1", "linear"), ("relu()", "relu"), ("fc2", "linear")]
    assert describe_model(TwoLayers())[0]["kind"] == "other"  # without rows to trace: opaque
    assert describe_model(TwoLayers(), ROWS)[1]["label"] == "relu (relu()) after layer 1, Linear 4→8"

    class Nested(nn.Module):  # a Sequential, a custom block, a reused ReLU, views and an output softmax
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 8), nn.Sigmoid())
            self.head, self.relu = TwoLayers(), nn.ReLU()

        def forward(self, x: Any) -> Any:
            h = self.relu(self.body(x)).reshape(-1, 8)[:, :4]
            return F.softmax(self.relu(self.head(h)), dim=1)

    assert kinds(Nested()) == [
        ("body.0", "dropout"), ("body.1", "linear"), ("body.2", "sigmoid"), ("relu", "relu"),
        ("reshape()", "flatten"), ("getitem()", "identity"), ("head.fc1", "linear"), ("relu()", "relu"),
        ("head.fc2", "linear"), ("relu", "relu"), ("softmax()", "softmax")]


def test_what_is_no_chain_stays_one_opaque_layer():
    class Residual(TwoLayers):
        def forward(self, x: Any) -> Any:
            h = F.relu(self.fc1(x))
            return self.fc2(h + F.relu(h))

    class Tied(TwoLayers):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return self.fc2(F.relu(self.fc1(F.relu(self.fc1(x)))))

    class TwoInputs(TwoLayers):
        def forward(self, x: Any, mask: Any) -> Any:
            return self.fc2(F.relu(self.fc1(x))) * mask

    class Embedded(nn.Module):  # integer inputs carry no gradient to follow
        def __init__(self) -> None:
            super().__init__()
            self.embedding, self.fc = nn.Embedding(10, 4), nn.Linear(4, 2)

        def forward(self, x: Any) -> Any:
            return self.fc(self.embedding(x).mean(axis=1))

    for model in (Residual(), Tied(), TwoInputs()):
        assert traced_chain(model, ROWS) is None, type(model).__name__
        assert kinds(model) == [("", "other")]
    assert traced_chain(Embedded(), np.arange(6).reshape(2, 3)) is None


def test_tracing_changes_nothing_in_the_model_or_the_random_streams():
    class Noise(nn.Module):  # a layer of the user's that draws even in evaluation mode
        def forward(self, x: Any) -> Any:
            return x + 0.01 * rp.randn(*x.shape)

    class Normalized(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.norm, self.drop = nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5)
            self.noise = Noise()

        def forward(self, x: Any) -> Any:
            return self.noise(self.drop(F.relu(self.norm(self.fc(x)))))

    rp.manual_seed(0)
    model = Normalized()
    model.train()
    state = {k: v.copy() for k, v in model.state_dict().items()}
    rp.manual_seed(1)
    kinds(model)
    after_trace = rp.rand(3)
    rp.manual_seed(1)
    assert np.array_equal(after_trace.data, rp.rand(3).data)  # nothing drawn
    assert all(module.training for module in model.modules())
    assert all(np.array_equal(v, state[k]) for k, v in model.state_dict().items())
    assert [kind for _, kind in kinds(model)] == ["linear", "batchnorm", "relu", "dropout", "other"]


def test_fit_names_stacked_linear_layers_in_a_custom_module():
    from sklearn.datasets import make_moons

    x, y = make_moons(400, noise=0.1, random_state=0)
    x, y = x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)

    class Stacked(nn.Module):  # three Linear layers applied one after another, nothing between
        def __init__(self, relu: bool) -> None:
            super().__init__()
            self.l1, self.l2, self.l3, self.relu = nn.Linear(2, 16), nn.Linear(16, 16), nn.Linear(16, 1), relu

        def forward(self, x: Any) -> Any:
            act = F.relu if self.relu else (lambda v: v)
            return self.l3(act(self.l2(act(self.l1(x)))))

    def fit(relu: bool) -> Any:
        rp.manual_seed(0)
        model = Stacked(relu)
        return rp.fit(model, x[:300], y[:300], loss="bce_with_logits", epochs=5, batch_size=32,
                      optimizer=rp.optim.Adam(model.parameters(), lr=1e-2), verbose=0, seed=0,
                      validation_data=(x[300:], y[300:]), doctor=True)

    first = fit(relu=False).diagnoses[0]
    assert (first.problem, first.step) == ("missing_nonlinearity", 0)
    assert first.evidence["model_is_linear"] and first.layer == "l1"
    assert not any(d.problem == "missing_nonlinearity" for d in fit(relu=True).diagnoses)
    assert check_setup(describe_model(Stacked(True), x[:2]), "bce_with_logits") == []
