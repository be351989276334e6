"""The clinic's labelled scenarios: small MLP runs, half healthy, half with one known induced failure.

Every scenario is a recipe (data, network, optimizer, seeds) plus a label: ``expected`` (the problems
that must be diagnosed) and ``allowed`` (problems that may also be diagnosed; a learning rate high
enough to overflow can rightly be called exploding, unstable and non-finite at once). Any other
diagnosis is a false alarm. Each faulty scenario names its ``twin``: a healthy scenario of the same
data and seed family with the problem removed, the bar that a repaired run has to reach.

The labels are not taken on trust. ``measure`` records, from the run itself and never from the
doctor's verdict, the signal that defines each problem (``SIGNALS``), with its own probing: per-layer
gradient RMS and update ratios read in a callback, dead and saturated units counted over the whole
training set, non-finite losses, the loss curve, validation-loss rise and final accuracies.
``confirm`` checks that a faulty scenario's signals show each expected problem and that a healthy
scenario reaches its accuracy floor and shows none of them; the harness flags every scenario whose
signals disagree with its label.

The ``dev`` split is where thresholds are frozen; ``test`` uses other seeds and other data sets or
sizes and is the headline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.callbacks import Callback

PROBLEMS = (
    "vanishing_gradients", "exploding_gradients", "dead_relu", "saturated_activations", "non_finite",
    "unstable_loss", "slow_convergence", "overfitting", "dropout_too_high",
)
GRADIENT_PROBLEMS = ("vanishing_gradients", "exploding_gradients")


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    """Which data: a bundled or generated set, its split seed, training-set size and scaling."""

    name: str  # digits, mnist1d, breast_cancer, wine, iris, spiral, circles, xor, gaussians, moons
    seed: int = 0
    n_train: int | None = None  # None: the whole training split
    n_val: int | None = None  # generated sets and mnist1d: validation size
    standardize: bool = True

    def describe(self) -> str:
        size = "" if self.n_train is None else f" n={self.n_train}"
        raw = "" if self.standardize else " raw"
        return f"{self.name}/s{self.seed}{size}{raw}"


GENERATED = {"spiral": rp.data.spiral, "circles": rp.data.circles, "xor": rp.data.xor,
             "gaussians": rp.data.gaussians, "moons": rp.data.moons}
BUNDLED = {"digits": rp.data.load_digits, "breast_cancer": rp.data.load_breast_cancer,
           "wine": rp.data.load_wine, "iris": rp.data.load_iris}
# the validation accuracy a healthy run must reach on each data set (its confirming signal)
ACCURACY_FLOOR = {"digits": 0.90, "mnist1d": 0.40, "breast_cancer": 0.93, "wine": 0.90, "iris": 0.85,
                  "spiral": 0.85, "circles": 0.90, "xor": 0.90, "gaussians": 0.80, "moons": 0.90}


@cache
def load(data: Data) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """``x_train, y_train, x_val, y_val, n_classes`` (float32 inputs, int64 labels)."""
    if data.name == "mnist1d":
        n_train = data.n_train or 2000
        x_tr, y_tr, x_va, y_va = rp.data.load_mnist1d(n_train, data.n_val or 1000, seed=data.seed)
        classes = 10
    elif data.name in GENERATED:
        n_train = data.n_train or 600
        n_val = data.n_val or 400
        kwargs: dict[str, Any] = {}
        if data.name == "spiral":
            kwargs = {"n_classes": 3, "noise": 0.1}
        elif data.name == "gaussians":
            kwargs = {"n_classes": 4, "noise": 1.0}
        x, y = GENERATED[data.name](n_train + n_val, seed=data.seed, **kwargs)
        x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=n_val, seed=data.seed, stratify=y)
        classes = int(y.max()) + 1
    else:
        x, y = BUNDLED[data.name]()
        x_tr, x_va, y_tr, y_va = rp.data.train_test_split(x, y, test_size=0.25, seed=data.seed, stratify=y)
        if data.n_train is not None:
            x_tr, y_tr = x_tr[:data.n_train], y_tr[:data.n_train]
        classes = int(y.max()) + 1
    if data.standardize:
        x_tr, x_va = rp.data.standardize(x_tr, x_va)
    arrays = [np.ascontiguousarray(a) for a in (x_tr, y_tr, x_va, y_va)]
    for a in arrays:
        a.flags.writeable = False
    return (*arrays, classes)


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One labelled run: the recipe, the label and the healthy twin."""

    name: str
    split: str  # "dev" or "test"
    data: Data
    hidden: tuple[int, ...] = (64, 64)
    act: str = "relu"  # relu, tanh, sigmoid, leaky_relu
    init: str | float | None = None  # None (default), an init name, or a float: N(0, std²) weights
    bias: float | None = None  # a constant for every hidden bias (None: the init's own)
    dropout: float = 0.0  # after every hidden activation
    optimizer: str = "adam"  # sgd, momentum, adam, rmsprop
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 5
    seed: int = 0
    expected: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()
    twin: str | None = None
    floor: float | None = None  # healthy: the validation accuracy to reach (default: the data set's)
    note: str = ""

    @property
    def healthy(self) -> bool:
        return not self.expected

    def describe(self) -> str:
        init = "default" if self.init is None else (f"N(0,{self.init}²)" if isinstance(self.init, float)
                                                     else self.init)
        extra = f" bias={self.bias}" if self.bias is not None else ""
        extra += f" dropout={self.dropout}" if self.dropout else ""
        extra += f" wd={self.weight_decay:g}" if self.weight_decay else ""
        widths = "-".join(str(w) for w in self.hidden)
        return (f"{self.data.describe()} {widths} {self.act} init={init}{extra} {self.optimizer} "
                f"lr={self.lr:g} b={self.batch_size} e={self.epochs}")


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


def build(s: Scenario) -> tuple[nn.Sequential, Any]:
    """The scenario's model and optimizer, drawn from ``rp.manual_seed(s.seed)``."""
    _, _, _, _, classes = load(s.data)
    features = load(s.data)[0].shape[1]
    rp.manual_seed(s.seed)
    layers: list[nn.Module] = []
    fan = features
    named_init = s.init if isinstance(s.init, str) else None
    for width in s.hidden:
        layers += [nn.Linear(fan, width, init=named_init), ACTIVATIONS[s.act]()]
        if s.dropout:
            layers.append(nn.Dropout(s.dropout))
        fan = width
    layers.append(nn.Linear(fan, classes, init=named_init))
    model = nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if isinstance(s.init, float):
        for layer in linears:
            nn.init.normal_(layer.weight, 0.0, s.init)
    if s.bias is not None:
        for layer in linears[:-1]:
            layer.bias.data[...] = s.bias
    return model, make_optimizer(s, model.parameters())


# each scenario's optimizer: its class's name (the same in retroprop.optim and torch.optim) and settings
OPTIMIZERS: dict[str, tuple[str, dict[str, float]]] = {
    "sgd": ("SGD", {}), "momentum": ("SGD", {"momentum": 0.9}), "adam": ("Adam", {}),
    "rmsprop": ("RMSprop", {}),
}


def make_optimizer(s: Scenario, params: Any, library: Any = rp.optim) -> Any:
    """Scenario ``s``'s optimizer over ``params``, from ``library`` (``retroprop.optim`` or
    ``torch.optim``)."""
    if s.optimizer not in OPTIMIZERS:
        raise ValueError(f"scenario {s.name}: unknown optimizer {s.optimizer!r}")
    name, settings = OPTIMIZERS[s.optimizer]
    return getattr(library, name)(params, lr=s.lr, weight_decay=s.weight_decay, **settings)


def _s(name: str, split: str, data: Data, *, expected: tuple[str, ...] = (), allowed: tuple[str, ...] = (),
       **kwargs: Any) -> Scenario:
    # a faulty scenario on raw (unstandardized) inputs may also be called that: it is how its fault arises
    # (the doctor's setup check names it before the first step; a healthy scenario may not)
    if not data.standardize and expected:
        allowed = (*allowed, "unscaled_inputs")
    return Scenario(name=name, split=split, data=data, expected=frozenset(expected),
                    allowed=frozenset(allowed) - frozenset(expected), **kwargs)


SCENARIOS: list[Scenario] = []


# ---------------------------------------------------------------------------------------------
# Measuring the run (the label's confirming signals; independent of the doctor)
# ---------------------------------------------------------------------------------------------
class Monitor(Callback):
    """Every ``every`` steps: each Linear layer's weight-gradient RMS and its update-to-weight ratio
    (read after the optimizer step, from the gradients fit left in place); after the first epoch:
    the saturated share of sigmoid/tanh outputs over the training set."""

    def __init__(self, x_train: np.ndarray, every: int = 5) -> None:
        self.x_train = x_train[:1000]
        self.every = every
        self.step = 0
        self.epoch = 0
        self.grad_rms: list[list[float]] = []  # per sampled step, per Linear layer
        self.grad_epoch: list[int] = []
        self.update_ratio: list[float] = []  # per sampled step: the largest over layers
        self.saturated_first_epoch: float | None = None
        self._before: list[np.ndarray] | None = None

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.model.modules() if isinstance(m, nn.Linear)]

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.step % self.every == 0:
            self._before = [layer.weight.data.copy() for layer in self.linears()]

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        if self._before is not None:
            rms, ratios = [], []
            with np.errstate(all="ignore"):
                for layer, before in zip(self.linears(), self._before, strict=True):
                    g = layer.weight.grad
                    rms.append(float(np.sqrt(np.mean(np.square(g, dtype=np.float64)))) if g is not None
                               else 0.0)
                    norm = float(np.linalg.norm(before))
                    ratios.append(float(np.linalg.norm(layer.weight.data - before)) / norm if norm else 0.0)
            self.grad_rms.append(rms)
            self.grad_epoch.append(self.epoch)
            self.update_ratio.append(max(ratios))
            self._before = None
        self.step += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == 0:
            self.saturated_first_epoch = activation_stats(self.model, self.x_train)["saturated_share"]


def activation_stats(model: nn.Module, x: np.ndarray) -> dict[str, float]:
    """Over ``x`` in eval mode: the largest share, over ReLU layers, of units that output > 0 on no
    sample (dead), and over sigmoid/tanh layers, of outputs where the derivative is below 1/100 of its
    peak (saturated)."""
    was_training = model.training
    model.eval()
    dead, saturated = 0.0, 0.0
    try:
        with rp.no_grad(), np.errstate(all="ignore"):
            h = rp.tensor(x)
            for module in model:
                h = module(h)
                out = h.data
                if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
                    dead = max(dead, float(np.mean(~(out > 0).any(axis=0))))
                elif isinstance(module, nn.Sigmoid):
                    saturated = max(saturated, float(np.mean(out * (1 - out) < 0.25 / 100)))
                elif isinstance(module, nn.Tanh):
                    saturated = max(saturated, float(np.mean(1 - out * out < 1 / 100)))
    finally:
        model.train(was_training)
    return {"dead_share": dead, "saturated_share": saturated}


def _smooth(values: np.ndarray, span: int = 20) -> np.ndarray:
    span = max(1, min(span, len(values)))
    return np.convolve(values, np.full(span, 1.0 / span), mode="valid")


def signals(s: Scenario, history: Any, monitor: Monitor) -> dict[str, float]:
    """The measured signals of a finished run (see ``SIGNALS``)."""
    x_tr, y_tr, x_va, y_va, classes = load(s.data)
    model = history.model
    losses = history.step_loss
    finite = losses[np.isfinite(losses)]
    start = float(np.mean(losses[:5])) if np.isfinite(losses[:5]).all() else float("nan")
    smooth = _smooth(finite) if finite.size else np.array([np.nan])
    running_min = np.minimum.accumulate(smooth)
    # the share of the progress made so far (start -> lowest) that the loss gave back, at its worst,
    # counted once the loss has made real progress (10 % of its start) and has at least doubled
    progress = smooth[0] - running_min
    climbed = (progress > 0.1 * smooth[0]) & (smooth > 2 * running_min)
    rebound = float(np.max((smooth - running_min)[climbed] / progress[climbed])) if climbed.any() else 0.0
    grads = np.asarray(monitor.grad_rms, dtype=np.float64)
    first_epoch = np.asarray(monitor.grad_epoch) == 0
    with np.errstate(all="ignore"):
        ratio = grads[first_epoch, 0] / grads[first_epoch, -1] if len(grads) else np.array([np.nan])
        norms = np.sqrt(np.sum(grads ** 2, axis=1)) if len(grads) else np.array([np.nan])
    val_loss = np.asarray(history.history.get("val_loss", [np.nan]), dtype=np.float64)
    with np.errstate(all="ignore"):
        train = rp.evaluate(model, x_tr, y_tr, loss="cross_entropy")
        val = rp.evaluate(model, x_va, y_va, loss="cross_entropy")
    acts = activation_stats(model, x_tr[:1000])
    finite_val = val_loss[np.isfinite(val_loss)]
    return {
        "steps": float(len(losses)),
        "nonfinite_losses": float(np.count_nonzero(~np.isfinite(losses))),
        "grad_ratio": float(np.nanmedian(ratio)) if ratio.size and np.isfinite(ratio).any() else float("nan"),
        "grad_growth": float(np.nanmax(norms) / norms[0]) if norms.size and norms[0] > 0 else float("nan"),
        "update_ratio": float(np.nanmax(monitor.update_ratio)) if monitor.update_ratio else float("nan"),
        "dead_share": acts["dead_share"],
        "saturated_share": max(acts["saturated_share"], monitor.saturated_first_epoch or 0.0),
        "loss_fall": float(1 - np.mean(finite[-20:]) / start) if finite.size and start > 0 else float("nan"),
        "rebound": rebound,
        "epoch_loss_chance": float(history.history["loss"][-1] / math.log(classes)),
        "val_rise": float(finite_val[-1] / finite_val.min() - 1) if finite_val.size else float("nan"),
        "train_acc": train["accuracy"],
        "val_acc": val["accuracy"],
        "gap": train["accuracy"] - val["accuracy"],
    }


# problem -> (what is measured, the test that confirms it on the measured signals)
SIGNALS: dict[str, tuple[str, Any]] = {
    "vanishing_gradients": ("first/last layer grad RMS (epoch 1, median) < 1e-2",
                            lambda m: m["grad_ratio"] < 1e-2),
    "exploding_gradients": ("largest update/weight > 0.5, or grad norm grew > 100x, or a non-finite loss",
                            lambda m: m["update_ratio"] > 0.5 or m["grad_growth"] > 100
                            or m["nonfinite_losses"] > 0),
    "dead_relu": ("share of a ReLU layer's units that fire on no training sample >= 0.5",
                  lambda m: m["dead_share"] >= 0.5),
    "saturated_activations": ("share of sigmoid/tanh outputs in the flat regions >= 0.5",
                              lambda m: m["saturated_share"] >= 0.5),
    "non_finite": ("non-finite training losses > 0", lambda m: m["nonfinite_losses"] > 0),
    "unstable_loss": ("smoothed loss climbed to > 2x its running minimum, giving back >= 50 % of the "
                      "progress made, or ended > 1.5x its start, or went non-finite",
                      lambda m: m["rebound"] >= 0.5 or m["loss_fall"] < -0.5 or m["nonfinite_losses"] > 0),
    "slow_convergence": ("training loss fell < 10 % over the run", lambda m: m["loss_fall"] < 0.10),
    "overfitting": ("val loss >= 10 % above its minimum at the end and train-val accuracy gap >= 10 pts",
                    lambda m: m["val_rise"] >= 0.10 and m["gap"] >= 0.10),
    "dropout_too_high": ("last epoch's training loss (dropout on) >= 90 % of a blind guess's (ln C)",
                         lambda m: m["epoch_loss_chance"] >= 0.9),
}


# the measured values shown beside each label
SIGNAL_KEYS: dict[str, tuple[str, ...]] = {
    "vanishing_gradients": ("grad_ratio",),
    "exploding_gradients": ("update_ratio", "grad_growth", "nonfinite_losses"),
    "dead_relu": ("dead_share",),
    "saturated_activations": ("saturated_share",),
    "non_finite": ("nonfinite_losses",),
    "unstable_loss": ("rebound", "loss_fall"),
    "slow_convergence": ("loss_fall",),
    "overfitting": ("val_rise", "gap"),
    "dropout_too_high": ("epoch_loss_chance",),
}


def confirm(s: Scenario, m: dict[str, float]) -> list[str]:
    """What in the measured signals disagrees with the label (empty: the label is confirmed)."""
    problems = []
    if s.healthy:
        floor = s.floor if s.floor is not None else ACCURACY_FLOOR[s.data.name]
        if not m["val_acc"] >= floor:
            problems.append(f"val_acc {m['val_acc']:.3f} < floor {floor}")
        for problem, (_, test) in SIGNALS.items():
            if problem not in s.allowed and test(m):
                problems.append(f"shows {problem}")
    else:
        for problem in sorted(s.expected):
            if not SIGNALS[problem][1](m):
                problems.append(f"{problem} not shown ({SIGNALS[problem][0]})")
    return problems


@dataclass
class Run:
    """One scenario's run: what the doctor said, the measured signals, and the time taken."""

    scenario: Scenario
    diagnoses: list[Any]
    signals: dict[str, float]
    wall_time: float
    label_problems: list[str] = field(default_factory=list)
    steps_per_epoch: int = 0
    treatments: list[dict[str, Any]] = field(default_factory=list)  # a repaired run's log (torch_run.py)

    @property
    def fired(self) -> set[str]:
        return {d.problem for d in self.diagnoses}


def fit_kwargs(s: Scenario) -> dict[str, Any]:
    _, _, x_va, y_va, _ = load(s.data)
    return {"loss": "cross_entropy", "epochs": s.epochs, "batch_size": s.batch_size,
            "validation_data": (x_va, y_va), "verbose": 0, "seed": s.seed}


def run(s: Scenario, every: int | None = None) -> Run:
    """Train ``s`` with the doctor watching (detection only) and measure its signals."""
    x_tr, y_tr, _, _, _ = load(s.data)
    model, opt = build(s)
    monitor = Monitor(x_tr)
    doctor = rp.Doctor() if every is None else rp.Doctor(every=every)
    with np.errstate(all="ignore"):
        history = rp.fit(model, x_tr, y_tr, optimizer=opt, doctor=doctor, callbacks=[monitor],
                         **fit_kwargs(s))
    m = signals(s, history, monitor)
    result = Run(s, list(history.diagnoses), m, history.wall_time, steps_per_epoch=history.params["steps"])
    result.label_problems = confirm(s, m)
    return result


def by_name() -> dict[str, Scenario]:
    return {s.name: s for s in SCENARIOS}


def reseed(s: Scenario, offset: int) -> Scenario:
    """The same recipe and label on other draws: the data's split (or generation) seed and the
    model's initialization seed both moved by ``offset``. Its label must be confirmed again."""
    if not offset:
        return s
    return replace(s, seed=s.seed + offset, data=replace(s.data, seed=s.data.seed + offset))


__all__ = ["GRADIENT_PROBLEMS", "PROBLEMS", "SCENARIOS", "SIGNALS", "SIGNAL_KEYS", "Data", "Monitor", "Run",
           "Scenario", "build", "by_name", "confirm", "fit_kwargs", "load", "reseed", "run", "signals"]


# ---------------------------------------------------------------------------------------------
# The scenarios. dev: digits (split seed 0), MNIST-1D (seed 42, 3000 samples), spiral, circles,
# breast cancer. test: other seeds and sizes (digits seed 1 on 900 samples, MNIST-1D seed 7 on 2500)
# and other data sets (moons, xor, gaussians, wine, iris).
# ---------------------------------------------------------------------------------------------
_HIGH_LR = ("exploding_gradients", "unstable_loss", "non_finite")
# units in their flat regions pass almost no gradient: the layers before them get little (vanishing) and
# the loss moves slowly; both are consequences a saturated run may rightly show
_SATURATED = ("vanishing_gradients", "slow_convergence")


def _dev() -> list[Scenario]:
    d = Data("digits", seed=0)
    m = Data("mnist1d", seed=42, n_train=3000)
    sp = Data("spiral", seed=0)
    ci = Data("circles", seed=0)
    bc = Data("breast_cancer", seed=0)
    bc_raw = Data("breast_cancer", seed=0, standardize=False)
    d60 = Data("digits", seed=0, n_train=60)
    m200 = Data("mnist1d", seed=42, n_train=200)
    deep8, deep7, deep6 = (64,) * 8, (64,) * 7, (64,) * 6
    v = "dev"
    return [
        # healthy
        _s("dev_digits_relu_momentum", v, d, optimizer="momentum", lr=0.05),
        _s("dev_digits_relu_sgd", v, d, optimizer="sgd", lr=0.1, epochs=8),
        _s("dev_digits_relu_adam", v, d),
        _s("dev_digits_deep8_he_sgd", v, d, hidden=deep8, init="he_normal", optimizer="sgd", lr=0.05),
        _s("dev_digits_deep6_he_momentum", v, d, hidden=deep6, init="he_normal", optimizer="momentum",
           lr=0.01),
        _s("dev_digits_relu3_momentum", v, d, hidden=(64,) * 3, optimizer="momentum", lr=0.05),
        _s("dev_digits_tanh_sgd", v, d, act="tanh", optimizer="sgd", lr=0.05),
        _s("dev_digits_dropout02", v, d, dropout=0.2, epochs=8),
        _s("dev_digits60_regularized", v, d60, hidden=(512, 512), dropout=0.5, weight_decay=1e-2, epochs=60,
           floor=0.8),
        _s("dev_mnist1d_relu_adam", v, m, hidden=(128, 128), epochs=8),
        _s("dev_mnist1d_deep7_he_adam", v, m, hidden=deep7, init="he_normal", epochs=8),
        _s("dev_mnist1d_dropout01", v, m, hidden=(128, 128), dropout=0.1, epochs=8),
        _s("dev_mnist1d200_slow", v, m200, hidden=(512, 512), lr=1e-4, epochs=40, floor=0.22,
           note="steps 10x smaller: the 40 epochs end before the net memorizes its 200 samples"),
        _s("dev_spiral_relu_momentum", v, sp, optimizer="momentum", lr=0.05, epochs=20),
        _s("dev_spiral_tanh_momentum", v, sp, act="tanh", optimizer="momentum", lr=0.05, epochs=20),
        _s("dev_circles_relu_momentum", v, ci, hidden=(32, 32), optimizer="momentum", lr=0.05, epochs=20),
        _s("dev_breast_cancer_tanh_adam", v, bc, hidden=(32, 32), act="tanh", epochs=10, batch_size=16),
        _s("dev_breast_cancer_relu_rmsprop", v, bc, hidden=(32, 32), optimizer="rmsprop", epochs=10,
           batch_size=16),
        # faulty
        _s("dev_digits_deep8_sigmoid", v, d, hidden=deep8, act="sigmoid", optimizer="sgd", lr=0.05,
           expected=("vanishing_gradients",), allowed=("slow_convergence",), twin="dev_digits_deep8_he_sgd",
           note="deep sigmoid net, default init"),
        _s("dev_mnist1d_deep7_sigmoid", v, m, hidden=deep7, act="sigmoid", epochs=8,
           expected=("vanishing_gradients",), allowed=("slow_convergence",),
           twin="dev_mnist1d_deep7_he_adam"),
        _s("dev_digits_deep6_big_init", v, d, hidden=deep6, init=0.5, optimizer="momentum", lr=0.01,
           expected=("exploding_gradients", "non_finite"), allowed=(*_HIGH_LR, "dead_relu"),
           twin="dev_digits_deep6_he_momentum", note="weights N(0, 0.5²): 3x He scale"),
        _s("dev_spiral_momentum_lr1", v, sp, optimizer="momentum", lr=1.0, epochs=20,
           expected=("exploding_gradients",), allowed=(*_HIGH_LR, "dead_relu", "slow_convergence"),
           twin="dev_spiral_relu_momentum"),
        _s("dev_digits_negative_bias", v, d, hidden=(64,) * 3, bias=-3.0, optimizer="momentum", lr=0.05,
           expected=("dead_relu",), allowed=("slow_convergence",), twin="dev_digits_relu3_momentum"),
        _s("dev_digits_adam_lr0.1", v, d, lr=0.1, expected=("dead_relu",), allowed=_HIGH_LR,
           twin="dev_digits_relu_adam"),
        _s("dev_digits_tanh_big_init", v, d, act="tanh", init=1.0, optimizer="sgd", lr=0.05,
           expected=("saturated_activations",), allowed=_SATURATED, twin="dev_digits_tanh_sgd"),
        _s("dev_breast_cancer_raw_tanh", v, bc_raw, hidden=(32, 32), act="tanh", epochs=10, batch_size=16,
           expected=("saturated_activations",), allowed=_SATURATED, twin="dev_breast_cancer_tanh_adam",
           note="unscaled inputs (up to ~4000)"),
        _s("dev_digits_sgd_lr50", v, d, optimizer="sgd", lr=50.0, epochs=8, expected=("non_finite",),
           allowed=_HIGH_LR, twin="dev_digits_relu_sgd"),
        _s("dev_circles_momentum_lr20", v, ci, hidden=(32, 32), optimizer="momentum", lr=20.0, epochs=20,
           expected=("non_finite",), allowed=(*_HIGH_LR, "dead_relu"), twin="dev_circles_relu_momentum"),
        _s("dev_spiral_tanh_momentum_lr0.5", v, sp, act="tanh", optimizer="momentum", lr=0.5, epochs=20,
           expected=("unstable_loss",), allowed=(*_HIGH_LR, "saturated_activations"),
           twin="dev_spiral_tanh_momentum"),
        _s("dev_digits_momentum_lr0.2", v, d, optimizer="momentum", lr=0.2,
           expected=("unstable_loss", "dead_relu"), allowed=(*_HIGH_LR, "slow_convergence"),
           twin="dev_digits_relu_momentum"),
        _s("dev_digits_sgd_lr1e-6", v, d, optimizer="sgd", lr=1e-6, epochs=8, expected=("slow_convergence",),
           twin="dev_digits_relu_sgd"),
        _s("dev_mnist1d_adam_lr1e-6", v, m, hidden=(128, 128), lr=1e-6, epochs=8,
           expected=("slow_convergence",), twin="dev_mnist1d_relu_adam"),
        _s("dev_digits60_big_net", v, d60, hidden=(512, 512), epochs=60, expected=("overfitting",),
           twin="dev_digits60_regularized", note="512-512 net on 60 samples"),
        _s("dev_mnist1d200_big_net", v, m200, hidden=(512, 512), epochs=40, expected=("overfitting",),
           twin="dev_mnist1d200_slow", note="512-512 net on 200 samples"),
        _s("dev_digits_dropout095", v, d, dropout=0.95, epochs=8, expected=("dropout_too_high",),
           twin="dev_digits_dropout02"),
        _s("dev_mnist1d_dropout095", v, m, hidden=(128, 128), dropout=0.95, epochs=8,
           expected=("dropout_too_high",), twin="dev_mnist1d_dropout01"),
    ]


def _test() -> list[Scenario]:
    d = Data("digits", seed=1, n_train=900)
    m = Data("mnist1d", seed=7, n_train=2500)
    mo, xo, ga = Data("moons", seed=1), Data("xor", seed=1), Data("gaussians", seed=1)
    wi, wi_raw, ir = Data("wine", seed=1), Data("wine", seed=1, standardize=False), Data("iris", seed=1)
    d100, ga40 = Data("digits", seed=1, n_train=100), Data("gaussians", seed=1, n_train=40)
    deep6, wide6 = (64,) * 6, (96,) * 6
    v = "test"
    return [
        # healthy
        _s("test_digits_relu_rmsprop", v, d, optimizer="rmsprop", epochs=8),
        _s("test_digits_relu128_sgd", v, d, hidden=(128,), optimizer="sgd", lr=0.1, epochs=8),
        _s("test_digits_deep6_he_adam", v, d, hidden=deep6, init="he_normal", epochs=8),
        _s("test_digits_sigmoid_momentum", v, d, hidden=(128, 64), act="sigmoid", optimizer="momentum",
           lr=0.2, epochs=8),
        _s("test_digits_dropout03", v, d, hidden=(128, 128), dropout=0.3, epochs=10),
        _s("test_digits100_regularized", v, d100, hidden=(512, 512), dropout=0.5, weight_decay=1e-2,
           epochs=40, floor=0.8),
        _s("test_mnist1d_dropout01_rmsprop", v, m, hidden=(256, 128), dropout=0.1, optimizer="rmsprop",
           epochs=8),
        _s("test_mnist1d_deep6_he_momentum", v, m, hidden=wide6, init="he_normal", optimizer="momentum",
           lr=0.01, epochs=8),
        _s("test_mnist1d_relu_momentum", v, m, hidden=(256, 128), optimizer="momentum", lr=0.01, epochs=8),
        _s("test_moons_relu_sgd", v, mo, hidden=(32, 32), optimizer="sgd", lr=0.1, epochs=15),
        _s("test_moons_tanh_momentum", v, mo, hidden=(32, 32), act="tanh", optimizer="momentum", lr=0.05,
           epochs=15),
        _s("test_xor_relu_adam", v, xo, hidden=(32, 32), lr=1e-2, epochs=15),
        _s("test_xor_tanh_momentum", v, xo, hidden=(32, 32), act="tanh", optimizer="momentum", lr=0.05,
           epochs=15),
        _s("test_gaussians_relu_momentum", v, ga, hidden=(32, 32), optimizer="momentum", lr=0.05, epochs=15),
        _s("test_gaussians40_regularized", v, ga40, hidden=(512, 512), dropout=0.5, weight_decay=1e-2,
           epochs=60, batch_size=8, floor=0.8),
        _s("test_wine_relu_sgd", v, wi, hidden=(32, 32), optimizer="sgd", lr=0.05, epochs=20, batch_size=16),
        _s("test_wine_tanh_adam", v, wi, hidden=(32, 32), act="tanh", epochs=20, batch_size=16),
        _s("test_iris_tanh_adam", v, ir, hidden=(16, 16), act="tanh", lr=1e-2, epochs=30, batch_size=16),
        # faulty
        _s("test_digits_deep6_sigmoid_adam", v, d, hidden=deep6, act="sigmoid", epochs=8,
           expected=("vanishing_gradients",), allowed=("slow_convergence",),
           twin="test_digits_deep6_he_adam"),
        _s("test_mnist1d_deep6_sigmoid", v, m, hidden=wide6, act="sigmoid", optimizer="momentum", lr=0.01,
           epochs=8, expected=("vanishing_gradients",), allowed=("slow_convergence",),
           twin="test_mnist1d_deep6_he_momentum"),
        _s("test_mnist1d_deep6_big_init", v, m, hidden=wide6, init=0.4, optimizer="momentum", lr=0.01,
           epochs=8,
           expected=("exploding_gradients", "non_finite"), allowed=(*_HIGH_LR, "dead_relu"),
           twin="test_mnist1d_deep6_he_momentum", note="weights N(0, 0.4²): 3x He scale"),
        _s("test_digits_rmsprop_lr10", v, d, optimizer="rmsprop", lr=10.0, epochs=8,
           expected=("exploding_gradients",), allowed=(*_HIGH_LR, "dead_relu"),
           twin="test_digits_relu_rmsprop"),
        _s("test_moons_sgd_lr100", v, mo, hidden=(32, 32), optimizer="sgd", lr=100.0, epochs=15,
           expected=("exploding_gradients",), allowed=(*_HIGH_LR, "dead_relu"), twin="test_moons_relu_sgd"),
        _s("test_digits_negative_bias", v, d, hidden=(128,), bias=-3.0, optimizer="sgd", lr=0.1, epochs=8,
           expected=("dead_relu",), allowed=("slow_convergence",), twin="test_digits_relu128_sgd"),
        _s("test_mnist1d_deep6_negative_bias", v, m, hidden=wide6, init="he_normal", bias=-3.0,
           optimizer="momentum", lr=0.01, epochs=8, expected=("dead_relu",), allowed=("slow_convergence",),
           twin="test_mnist1d_deep6_he_momentum"),
        _s("test_xor_adam_lr0.5", v, xo, hidden=(32, 32), lr=0.5, epochs=15, expected=("dead_relu",),
           allowed=_HIGH_LR, twin="test_xor_relu_adam"),
        _s("test_digits_sigmoid_big_init", v, d, hidden=(128, 64), act="sigmoid", init=2.0,
           optimizer="momentum", lr=0.2, epochs=8, expected=("saturated_activations",), allowed=_SATURATED,
           twin="test_digits_sigmoid_momentum"),
        _s("test_wine_raw_tanh", v, wi_raw, hidden=(32, 32), act="tanh", epochs=20, batch_size=16,
           expected=("saturated_activations",), allowed=_SATURATED, twin="test_wine_tanh_adam",
           note="unscaled inputs (up to ~1700)"),
        _s("test_iris_tanh_big_init", v, ir, hidden=(16, 16), act="tanh", init=3.0, lr=1e-2, epochs=30,
           batch_size=16, expected=("saturated_activations",), allowed=_SATURATED,
           twin="test_iris_tanh_adam"),
        _s("test_digits_momentum_lr30", v, d, hidden=(128,), optimizer="momentum", lr=30.0, epochs=8,
           expected=("non_finite",), allowed=(*_HIGH_LR, "dead_relu"), twin="test_digits_relu128_sgd"),
        _s("test_wine_sgd_lr200", v, wi, hidden=(32, 32), optimizer="sgd", lr=200.0, epochs=20, batch_size=16,
           expected=("non_finite",), allowed=(*_HIGH_LR, "dead_relu"), twin="test_wine_relu_sgd"),
        _s("test_moons_tanh_momentum_lr1", v, mo, hidden=(32, 32), act="tanh", optimizer="momentum", lr=1.0,
           epochs=15, expected=("unstable_loss",),
           allowed=(*_HIGH_LR, "saturated_activations", "slow_convergence"), twin="test_moons_tanh_momentum"),
        _s("test_xor_tanh_momentum_lr0.8", v, xo, hidden=(32, 32), act="tanh", optimizer="momentum", lr=0.8,
           epochs=15, expected=("unstable_loss",),
           allowed=(*_HIGH_LR, "saturated_activations", "slow_convergence"), twin="test_xor_tanh_momentum"),
        _s("test_mnist1d_momentum_lr1e-6", v, m, hidden=(256, 128), optimizer="momentum", lr=1e-6, epochs=8,
           expected=("slow_convergence",), twin="test_mnist1d_relu_momentum"),
        _s("test_wine_sgd_lr1e-5", v, wi, hidden=(32, 32), optimizer="sgd", lr=1e-5, epochs=20, batch_size=16,
           expected=("slow_convergence",), twin="test_wine_relu_sgd"),
        _s("test_digits100_big_net", v, d100, hidden=(512, 512), epochs=40, expected=("overfitting",),
           twin="test_digits100_regularized", note="512-512 net on 100 samples"),
        _s("test_gaussians40_big_net", v, ga40, hidden=(512, 512), epochs=60, batch_size=8,
           expected=("overfitting",), twin="test_gaussians40_regularized", note="512-512 net on 40 samples"),
        _s("test_digits_dropout095", v, d, hidden=(128, 128), dropout=0.95, epochs=10,
           expected=("dropout_too_high",), twin="test_digits_dropout03"),
        _s("test_mnist1d_dropout095_rmsprop", v, m, hidden=(256, 128), dropout=0.95, optimizer="rmsprop",
           epochs=8, expected=("dropout_too_high",), twin="test_mnist1d_dropout01_rmsprop"),
    ]


SCENARIOS.extend(_dev())
SCENARIOS.extend(_test())
