"""The doctor's one adapter interface: retroprop's adapter implements it, and a framework-free stand-in
(a NumPy network trained by hand) drives the whole Doctor through it, diagnosis, treatment and roll-back."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor, Recorder
from retroprop.doctor.adapter import ModelAdapter, ModelProbe, RetropropAdapter, Snapshot, adapter_for
from retroprop.doctor.probes import ActivationStats, LayerStats, ProbeRecord
from retroprop.doctor.remedies import Treatment


# ---------------------------------------------------------------------------------------------
# A framework-free stand-in: a 2-layer tanh net in plain NumPy, its SGD, its probe and its adapter
# ---------------------------------------------------------------------------------------------
class NumpyNet:
    """x -> W1 -> tanh -> W2 -> prediction, mean squared error; gradients written by hand."""

    def __init__(self, rng: np.random.Generator, n_in: int = 4, hidden: int = 16) -> None:
        self.params = {"w1": rng.normal(0.0, 1.0 / math.sqrt(n_in), (hidden, n_in)),
                       "w2": rng.normal(0.0, 1.0 / math.sqrt(hidden), (1, hidden))}
        self.grads = {name: np.zeros_like(w) for name, w in self.params.items()}
        self.hidden: np.ndarray | None = None

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, w2 = self.params["w1"], self.params["w2"]
        self.hidden = h = np.tanh(x @ w1.T)
        diff = h @ w2.T - y
        d_out = 2.0 * diff / diff.size
        self.grads["w2"] = d_out.T @ h
        self.grads["w1"] = ((d_out @ w2) * (1.0 - h * h)).T @ x
        return float(np.mean(diff * diff))


class NumpySGD:
    def __init__(self, lr: float) -> None:
        self.lr = lr

    def step(self, net: NumpyNet) -> None:
        for name, w in net.params.items():
            w -= self.lr * net.grads[name]  # in place: snapshots must copy


class NumpyProbe:
    """Per-layer numbers of a ``NumpyNet`` as the doctor's plain records."""

    def __init__(self, net: NumpyNet) -> None:
        self.net, self.errors, self.armed, self._before = net, [], False, None
        self.activation_names = ["tanh"]

    def arm(self) -> None:
        self.armed = True

    def disarm(self) -> None:
        self.armed = False

    def collect(self, step: int, epoch: int, loss: float) -> ProbeRecord:
        layers = []
        for index, (name, w) in enumerate(self.net.params.items()):
            g = self.net.grads[name]
            norm = float(np.linalg.norm(g))
            layers.append(LayerStats(name=name, label=f"layer {index + 1}, {name}", grad_norm=norm,
                                     grad_rms=norm / math.sqrt(g.size), grad_mean_abs=float(np.abs(g).mean()),
                                     weight_norm=float(np.linalg.norm(w)), size=w.size, fan_in=w.shape[1]))
        activations = []
        h = self.net.hidden
        if self.armed and h is not None:
            activations.append(ActivationStats(
                name="tanh", label="tanh after layer 1, w1", kind="tanh", mean=float(h.mean()),
                std=float(h.std()), saturated_share=float(np.mean(1 - h * h < 0.01)), samples=len(h),
                after="w1"))
        return ProbeRecord(step=step, epoch=epoch, loss=loss, layers=layers, activations=activations)

    def snapshot_weights(self, record: ProbeRecord | None = None) -> None:
        self._before = {name: w.copy() for name, w in self.net.params.items()}

    def update_ratios(self) -> dict[str, float]:
        before, self._before = self._before, None
        return {name: float(np.linalg.norm(self.net.params[name] - w) / np.linalg.norm(w))
                for name, w in (before or {}).items()}


class NumpyAdapter:
    """The ``ModelAdapter`` of a ``NumpyNet``: nothing of retroprop's but the plain record types."""

    def __init__(self, model: NumpyNet, optimizer: NumpySGD | None, rng: np.random.Generator) -> None:
        self.model, self.optimizer, self.rng = model, optimizer, rng
        self.calls: list[str] = []

    @property
    def adaptive(self) -> bool | None:
        return None if self.optimizer is None else False

    def probe(self) -> NumpyProbe:
        return NumpyProbe(self.model)

    def describe(self) -> list[dict]:
        (hidden, n_in), (n_out, _) = self.model.params["w1"].shape, self.model.params["w2"].shape
        return [{"name": "w1", "label": "layer 1, w1", "kind": "linear", "in_features": n_in,
                 "out_features": hidden},
                {"name": "tanh", "label": "tanh after layer 1, w1", "kind": "tanh", "in_features": None,
                 "out_features": None},
                {"name": "w2", "label": "layer 2, w2", "kind": "linear", "in_features": hidden,
                 "out_features": n_out}]

    def describe_loss(self, loss) -> str | None:
        return "mse" if loss == "mse" else None

    def learning_rates(self) -> tuple[float, ...]:
        return () if self.optimizer is None else (self.optimizer.lr,)

    def dropout_rates(self) -> list[float]:
        return []

    def snapshot(self, step: int, epoch: int) -> Snapshot:
        self.calls.append(f"snapshot {step}")
        return Snapshot(step, epoch, self.weights(), {"lr": self.optimizer.lr},
                        copy.deepcopy(self.rng.bit_generator.state))

    def restore(self, snapshot: Snapshot) -> None:
        self.calls.append(f"restore {snapshot.step}")
        for name, w in snapshot.model_state.items():
            self.model.params[name][...] = w
        self.optimizer.lr = snapshot.optimizer_state["lr"]
        self.rng.bit_generator.state = copy.deepcopy(snapshot.rng_state)

    def copy(self) -> NumpyAdapter:
        return NumpyAdapter(copy.deepcopy(self.model), copy.deepcopy(self.optimizer), self.rng)

    def adopt(self, other: NumpyAdapter) -> None:
        self.calls.append(f"adopt lr={other.optimizer.lr:g}")
        self.model.__dict__.update(copy.deepcopy(other.model.__dict__))
        self.optimizer = other.optimizer

    def weights(self) -> dict[str, np.ndarray]:
        return {name: w.copy() for name, w in self.model.params.items()}

    def with_weights(self, weights: dict[str, np.ndarray]) -> NumpyNet:
        model = copy.deepcopy(self.model)
        model.params = {name: w.copy() for name, w in weights.items()}
        return model

    def apply(self, remedy: str, layer: str | None = None, **options) -> Treatment:
        self.calls.append(f"apply {remedy}")
        if remedy != "lower_lr":
            return Treatment(remedy, self.model, self.optimizer, f"{remedy} skipped: not in this stand-in",
                             applied=False)
        old = self.optimizer.lr
        self.optimizer = NumpySGD(old * options["factor"])  # a new optimizer: the loop must take it up
        return Treatment(remedy, self.model, self.optimizer, f"lr {old:g} -> {self.optimizer.lr:g}")

    def close(self) -> None:
        self.calls.append("close")


def regression(seed: int = 0, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, np.tanh(x @ np.array([[1.0], [-2.0], [0.5], [1.0]]) / 2)


def hand_loop(doctor: Doctor, net: NumpyNet, epochs: int, steps: int) -> list[float]:
    x, y = regression()
    losses = []
    for _ in range(epochs):
        for _ in range(steps):
            loss = net.loss_and_grads(x, y)
            losses.append(loss)
            new = doctor.observe(loss)
            if new and doctor.treat(new) is not None:
                continue  # rolled back and treated: this step's update is void
            doctor.optimizer.step(net)
        doctor.end_epoch(logs={"loss": losses[-1]})
    doctor.finish()
    return losses


# ---------------------------------------------------------------------------------------------
# The core needs no retroprop types
# ---------------------------------------------------------------------------------------------
def test_a_framework_free_adapter_drives_the_doctor_to_a_diagnosis_a_remedy_and_a_roll_back():
    rng = np.random.default_rng(1)
    net = NumpyNet(rng)
    adapter = NumpyAdapter(net, NumpySGD(lr=40.0), rng)  # far too large: one step moves a layer past its size
    initial = adapter.weights()
    assert isinstance(adapter, ModelAdapter) and isinstance(adapter.probe(), ModelProbe)
    doctor = Doctor(adapter, repair=True)
    assert doctor.model is net and doctor.adapter is adapter
    losses = hand_loop(doctor, net, epochs=3, steps=60)

    first = doctor.diagnoses[0]
    assert (first.problem, first.step) == ("exploding_gradients", 1)  # step 0's update, seen at step 1
    assert first.evidence["update_ratio"] > 0.5
    treated = [t for t in doctor.treatments if t.applied]
    assert [(t.remedy, t.rolled_back_to) for t in treated] == [("lower_lr", 0)]
    assert "restore 0" in adapter.calls and "apply lower_lr" in adapter.calls
    assert doctor.optimizer is adapter.optimizer and doctor.optimizer.lr < 40.0 * 0.1 + 1e-12
    assert doctor.treatments[-1].outcome == "resolved"  # not seen again over the 120 steps that followed
    assert losses[-1] < 0.5 * losses[0]  # the treated loop learns
    assert not any(d.problem == "non_finite" for d in doctor.diagnoses)
    assert adapter.calls[-1] == "close"
    # the state the treatment started from is the initial one, put back through restore
    assert doctor.treatments[-1].wasted_steps == 2  # steps 0 and 1 were observed
    assert set(doctor.best.weights) == set(initial) and isinstance(doctor.best.model, NumpyNet)


def test_the_same_stand_in_at_a_sane_rate_is_healthy():
    rng = np.random.default_rng(1)
    net = NumpyNet(rng)
    adapter = NumpyAdapter(net, NumpySGD(lr=0.05), rng)
    doctor = Doctor(adapter, repair=True)
    hand_loop(doctor, net, epochs=2, steps=60)
    assert doctor.diagnoses == [] and doctor.treatments == []
    assert not any(call.startswith("restore") for call in adapter.calls)


def test_an_undone_treatment_puts_the_copy_back_through_adopt():
    rng = np.random.default_rng(1)
    net = NumpyNet(rng)
    adapter = NumpyAdapter(net, NumpySGD(lr=40.0), rng)
    doctor = Doctor(adapter, repair=True)
    x, y = regression()
    for _ in range(2):
        new = doctor.observe(net.loss_and_grads(x, y))
        if new and doctor.treat(new) is not None:
            continue
        doctor.optimizer.step(net)
    record = doctor.treatments[-1]
    assert record.remedy == "lower_lr" and doctor.optimizer.lr < 40.0
    doctor._undo = doctor._trial  # as if the treatment had been measured to do harm
    adapter.calls.clear()
    doctor.treat([])
    # the copy from before the remedy is put back, then the next remedy applied to it
    assert adapter.calls[0] == "adopt lr=40" and "apply lower_lr" in adapter.calls
    assert doctor.treatments[-1].remedy == "lower_lr" and doctor.treatments[-1].outcome == "pending"


def test_a_recorder_measures_through_any_probe():
    net = NumpyNet(np.random.default_rng(0))
    recorder = Recorder(NumpyProbe(net), every=1)
    x, y = regression()
    record = recorder.observe(net.loss_and_grads(x, y))
    assert [layer.name for layer in record.layers] == ["w1", "w2"]
    assert record.activations[0].kind == "tanh"  # the probe was armed for step 0


# ---------------------------------------------------------------------------------------------
# retroprop's adapter
# ---------------------------------------------------------------------------------------------
def tanh_mlp() -> nn.Sequential:
    rp.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.25), nn.Linear(8, 3))


def one_step(model: nn.Module, optimizer, x, y) -> None:
    optimizer.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()


def test_the_retroprop_adapter_implements_every_method_on_a_real_model():
    model = tanh_mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    adapter = adapter_for(model, optimizer)
    assert isinstance(adapter, RetropropAdapter) and isinstance(adapter, ModelAdapter)
    probe = adapter.probe()
    assert isinstance(probe, ModelProbe) and probe.activation_names == ["1"]
    assert [layer["kind"] for layer in adapter.describe()] == ["linear", "tanh", "dropout", "linear"]
    assert adapter.describe_loss(nn.CrossEntropyLoss()) == "cross_entropy"
    assert adapter.describe_loss("mse") == "mse"
    assert adapter.learning_rates() == (0.1,) and adapter.dropout_rates() == [0.25]
    assert adapter.adaptive is False
    assert RetropropAdapter(model, rp.optim.Adam(model.parameters())).adaptive is True
    assert RetropropAdapter(model).adaptive is None and RetropropAdapter(model).learning_rates() == ()

    probe.arm()
    twin = adapter.copy()  # deep copies, without the probe's hooks
    assert probe.armed and twin.model is not model and twin.optimizer is not optimizer
    assert all(not m._forward_hooks for m in twin.model.modules())
    weights = adapter.weights()
    rebuilt = adapter.with_weights(weights)
    assert rebuilt is not model and all(not m._forward_hooks for m in rebuilt.modules())
    for key, value in rebuilt.state_dict().items():
        np.testing.assert_array_equal(value, weights[key])
    probe.disarm()

    treatment = adapter.apply("lower_lr", None, factor=0.5)
    assert treatment.applied and adapter.learning_rates() == (0.05,)
    treatment = adapter.apply("relu")
    assert treatment.applied and adapter.model is model and isinstance(model[1], nn.ReLU)
    assert adapter.optimizer is treatment.optimizer
    refused = adapter.apply("lower_dropout", rate=0.5)  # nothing above 0.5: a remedy that does not apply
    assert not refused.applied and "no rate above" in refused.description
    assert adapter.dropout_rates() == [0.25]
    assert adapter.apply("lower_dropout", rate=0.1).applied and adapter.dropout_rates() == [0.1]

    adapter.adopt(twin)  # the copy's structure, in place: the loop's model object stays the same
    assert isinstance(model[1], nn.Tanh) and adapter.optimizer is twin.optimizer
    probe = adapter.probe()
    probe.arm()
    adapter.close()
    assert not probe.armed


def test_a_snapshot_round_trips_weights_optimizer_state_and_the_random_generator():
    model = tanh_mlp()
    optimizer = rp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    adapter = RetropropAdapter(model, optimizer)
    x, y = rp.randn(16, 4), np.arange(16) % 3
    one_step(model, optimizer, x, y)
    snapshot = adapter.snapshot(1, 0)
    saved, state = adapter.weights(), copy.deepcopy(optimizer.state_dict())
    draw = rp.random.default_generator().random()
    for _ in range(3):
        one_step(model, optimizer, x, y)
    adapter.restore(snapshot)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, saved[key])
    momentum = state["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)
    assert rp.random.default_generator().random() == draw
    # the restored state trains on exactly as it did, dropout masks included
    adapter.restore(snapshot)
    one_step(model, optimizer, x, y)
    again = adapter.weights()
    adapter.restore(snapshot)
    one_step(model, optimizer, x, y)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, again[key])


def test_an_unsupported_model_is_refused_with_what_is_supported():
    with pytest.raises(TypeError, match=r"cannot watch a numpy\.ndarray.*retroprop nn\.Module.*ModelAdapter"):
        adapter_for(np.zeros(3))
    with pytest.raises(TypeError, match=r"cannot watch a builtins\.dict"):
        Doctor({"weights": 1})
    adapter = NumpyAdapter(NumpyNet(np.random.default_rng(0)), NumpySGD(0.1), np.random.default_rng(0))
    assert adapter_for(adapter) is adapter
    with pytest.raises(ValueError, match="brings its own optimizer"):
        adapter_for(adapter, NumpySGD(0.1))
    with pytest.raises(ValueError, match="needs the optimizer"):
        Doctor(NumpyAdapter(adapter.model, None, adapter.rng), repair=True)


def without(cls: type, member: str) -> type:
    """``cls`` as a new class that lacks ``member``."""
    return type(cls.__name__, (), {k: v for k, v in vars(cls).items() if k not in (member, "__dict__")})


def test_an_incomplete_adapter_or_probe_is_told_what_it_lacks():
    rng = np.random.default_rng(0)
    adapter = without(NumpyAdapter, "close")(NumpyNet(rng), NumpySGD(0.1), rng)
    with pytest.raises(TypeError, match=r"ModelAdapter \(this one lacks close\)"):
        adapter_for(adapter)
    blind_probe = without(NumpyProbe, "update_ratios")
    blind = NumpyAdapter(NumpyNet(rng), NumpySGD(0.1), rng)
    blind.probe = lambda: blind_probe(blind.model)
    with pytest.raises(TypeError, match=r"NumpyAdapter.probe\(\) must return a ModelProbe; its NumpyProbe "
                                        "lacks update_ratios"):
        Doctor(blind)


def test_copies_taken_while_the_probe_is_armed_keep_what_it_measured():
    """A snapshot or a copy between an armed pass and its record (a roll-back's, a repair's) pauses the
    probe: the copy has no hooks, and the pass already measured is still in the record."""
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    adapter = RetropropAdapter(model, rp.optim.SGD(model.parameters(), lr=0.1))
    probe = adapter.probe()
    probe.arm()
    model(rp.tensor(np.random.default_rng(0).normal(size=(16, 4))))
    twin = adapter.copy()
    adapter.with_weights(adapter.weights())
    assert probe.armed and all(not m._forward_hooks for m in twin.model.modules())
    (activation,) = probe.collect(0, 0, 1.0).activations
    assert activation.samples == 16 and activation.saturated_share is not None
