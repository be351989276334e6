"""The course page's four demonstrations: each failure, found by the doctor, next to its cure.

``run_demo(name, out)`` trains the failing network and the cured one side by side with the doctor
watching, prints the diagnoses and a before/after table, and writes figures and an HTML report to
``out/<name>/``. ``retroprop demo all`` runs the four. Everything is seeded: the same seed gives the
same numbers on one machine; the claims each demonstration checks hold on seeds 0-4 and across BLAS
kernels (``benchmarks/demos_over_seeds.py`` runs them all and prints the ranges).

- vanishing: a deep sigmoid network against the same network with ReLU (and the He initialization
  ReLU needs), both trained by SGD with momentum;
- exploding: large initial weights and a high learning rate against BatchNorm and a lower rate;
- dead-relu: a learning rate so high it silences most ReLU units, against a lower one, and
  LeakyReLU at that lower rate;
- dropout: rates 0.0, 0.1, ..., 1.0 on a network that memorizes a small training set whose labels
  are partly wrong: without dropout it overfits (the doctor says so), a moderate rate generalizes
  far better, and 1.0 learns nothing (the doctor says that too).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import _json as finite_json
from retroprop import nn
from retroprop.doctor import Doctor
from retroprop.doctor.rules import DEAD_SHARE, OVERFIT_GAP, VANISHING_RATIO, fired_in_window
from retroprop.files import write_text

DEMOS = ("vanishing", "exploding", "dead-relu", "dropout")
BACKENDS = ("retroprop", "torch")
DROPOUT_RATES = tuple(round(0.1 * i, 1) for i in range(11))
MODERATE_RATES = tuple(r for r in DROPOUT_RATES if 0.0 < r < 0.9)  # where the sweep looks for its best
BATCH = 32
# digits: 1797 samples, 1344 (42 full batches of 32) for training. A last batch of 3 samples would
# give BatchNorm statistics that are noise, and its one step can wreck the running statistics that
# evaluation uses.
DIGITS_TRAIN = 42 * BATCH
# the dropout demonstration: a small training set with some labels wrong, so that memorizing it hurts
DROPOUT_TRAIN, DROPOUT_VAL, LABEL_NOISE = 300, 600, 0.3
# what the claims ask of a failing run (a 10-class problem: chance is 10 %) and of a cured one
FAILED_AT_MOST, CURED_AT_LEAST = 0.30, 0.85
DROPOUT_GAIN = 0.05  # the best moderate rate beats no dropout by at least this on validation
DEAD_CURED = 0.10  # after the cure no ReLU layer has more than this share of dead units


# ---------------------------------------------------------------------------------------------
# What a demo measures
# ---------------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """One training run of a demo, with what the doctor saw."""

    label: str  # e.g. "before: sigmoid"
    recipe: str
    train_accuracy: float
    val_accuracy: float
    grad_first: float  # gradient norm of the first weighted layer, median over the run's probes
    grad_last: float  # ... of the last weighted layer
    dead_share: float | None  # share of ReLU units silent on every probe of the last window
    problems: list[str]
    dead_layers: dict[str, float] = field(default_factory=dict)  # the same share, per ReLU layer
    train_loss: float = math.nan  # the training loss of the last epoch (in training mode)
    diagnoses: list[Any] = field(repr=False, default_factory=list)
    history: Any = field(repr=False, default=None)
    records: list[Any] = field(repr=False, default_factory=list)
    model: Any = field(repr=False, default=None)
    wall_time: float = 0.0

    @property
    def worst_dead(self) -> float | None:
        return max(self.dead_layers.values()) if self.dead_layers else None

    def row(self) -> dict[str, Any]:
        return {"label": self.label, "recipe": self.recipe, "train_accuracy": self.train_accuracy,
                "val_accuracy": self.val_accuracy, "train_loss": self.train_loss,
                "grad_first": self.grad_first, "grad_last": self.grad_last, "dead_share": self.dead_share,
                "dead_layers": self.dead_layers,
                "problems": self.problems, "wall_time": self.wall_time}


@dataclass
class DemoResult:
    """What a demonstration found and showed."""

    name: str
    title: str
    lesson: str  # the course page's point, in one sentence
    runs: list[RunSummary]
    claims: list[tuple[str, bool]]  # each claim the demo makes, and whether the numbers bear it out
    figures: list[tuple[str, Path]] = field(default_factory=list)
    report: Path | None = None
    sweep: dict[str, Any] | None = None  # the dropout demo's table
    wall_time: float = 0.0

    @property
    def holds(self) -> bool:
        return all(ok for _, ok in self.claims)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "lesson": self.lesson,
                "runs": [r.row() for r in self.runs], "claims": [{"claim": c, "holds": ok}
                                                                for c, ok in self.claims],
                "figures": [{"caption": c, "path": str(p)} for c, p in self.figures],
                "report": None if self.report is None else str(self.report), "sweep": self.sweep,
                "wall_time": self.wall_time}


def _digits(seed: int) -> tuple[np.ndarray, ...]:
    x, y = rp.data.load_digits()
    x_train, x_val, y_train, y_val = rp.data.train_test_split(x, y, test_size=len(y) - DIGITS_TRAIN,
                                                              seed=seed, stratify=y)
    x_train, x_val = rp.data.standardize(x_train, x_val)
    return x_train, y_train, x_val, y_val


def _noisy_digits(seed: int) -> tuple[np.ndarray, ...]:
    """``DROPOUT_TRAIN`` training samples, ``LABEL_NOISE`` of whose labels are replaced by a random
    class (a hastily labelled data set), and ``DROPOUT_VAL`` validation samples labelled correctly."""
    x, y = rp.data.load_digits()
    x_train, x_val, y_train, y_val = rp.data.train_test_split(x, y, test_size=DROPOUT_VAL,
                                                              seed=seed, stratify=y)
    x_train, y_train = x_train[:DROPOUT_TRAIN], y_train[:DROPOUT_TRAIN].copy()
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y_train)) < LABEL_NOISE
    y_train[wrong] = rng.integers(0, 10, int(wrong.sum()))
    x_train, x_val = rp.data.standardize(x_train, x_val)
    return x_train, y_train, x_val, y_val


def _mlp(widths: list[int], act: Callable[[], nn.Module], *, init: str | None = None,
         std: float | None = None, batchnorm: bool = False, dropout: float = 0.0,
         seed: int = 0) -> nn.Sequential:
    """Linear layers of ``widths`` (input first), each hidden one followed by [BatchNorm1d], the
    activation and [Dropout]; weights N(0, std²) when ``std`` is given."""
    rp.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(fan_in, fan_out, init=init))
        if i < len(widths) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    model = nn.Sequential(*layers)
    if std is not None:
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, 0.0, std)
    return model


def _recent_activations(records: list[Any], window: int) -> list[dict[str, Any]]:
    """The last ``window`` probe records that saw the activations (a step probed only after it went
    non-finite, without a replay of its forward pass, has none), as plain dicts."""
    return [r.as_plain() for r in [r for r in records if r.activations][-window:]]


def _dead_layers(records: list[Any], window: int = 5) -> dict[str, float]:
    """Per ReLU layer, the share of units that fired on none of the last ``window`` probes (what the
    doctor's dead_relu rule measures)."""
    recent = _recent_activations(records, window)
    shares = {}
    for activation in recent[-1]["activations"] if recent else ():
        ever = fired_in_window(recent, activation["name"])
        if ever is not None and ever.size:
            shares[activation["label"]] = 1.0 - np.count_nonzero(ever) / ever.size
    return shares


def _dead_share(records: list[Any], window: int = 5) -> float | None:
    """Share of ReLU units (over all ReLU layers) that fired on none of the last ``window`` probes."""
    recent = _recent_activations(records, window)
    total = silent = 0
    for activation in recent[-1]["activations"] if recent else ():
        ever = fired_in_window(recent, activation["name"])
        if ever is not None:
            total += ever.size
            silent += int(ever.size - np.count_nonzero(ever))
    return silent / total if total else None


def _median_norm(records: list[Any], index: int) -> float:
    values = [r.layers[index].grad_norm for r in records
              if r.layers and math.isfinite(r.layers[index].grad_norm)]
    return float(np.median(values)) if values else math.nan


def train_watched(label: str, recipe: str, model: nn.Module, optimizer: Any, data: tuple[np.ndarray, ...],
                  *, epochs: int, seed: int, every: int | None = 5, batch_size: int = BATCH,
                  backend: str = "retroprop") -> RunSummary:
    """Train with the doctor watching (every ``every`` steps, for detailed pictures; None: the
    doctor's own schedule). ``backend="torch"``: the same network and optimizer built in PyTorch from
    these initial weights and trained under ``retroprop.torch.watch`` (``retroprop.demos_torch``)."""
    if backend == "torch":
        from retroprop.demos_torch import train_watched_torch

        return train_watched_torch(label, recipe, model, optimizer, data, epochs=epochs, seed=seed,
                                   every=every, batch_size=batch_size)
    x_train, y_train, x_val, y_val = data
    doctor = Doctor(every=every)
    started = time.perf_counter()
    history = rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                     batch_size=batch_size, validation_data=(x_val, y_val), verbose=0, seed=seed,
                     doctor=doctor)
    elapsed = time.perf_counter() - started
    train = rp.evaluate(model, x_train, y_train, loss="cross_entropy")["accuracy"]
    val = rp.evaluate(model, x_val, y_val, loss="cross_entropy")["accuracy"]
    records = doctor.recorder.records
    losses = history.history.get("loss") or [math.nan]
    return RunSummary(label=label, recipe=recipe, train_accuracy=train, val_accuracy=val,
                      grad_first=_median_norm(records, 0), grad_last=_median_norm(records, -1),
                      dead_share=_dead_share(records), problems=sorted({d.problem for d in doctor.diagnoses}),
                      dead_layers=_dead_layers(records), train_loss=float(losses[-1]),
                      diagnoses=list(doctor.diagnoses), history=history, records=list(records), model=model,
                      wall_time=elapsed)


# ---------------------------------------------------------------------------------------------
# The four demonstrations
# ---------------------------------------------------------------------------------------------
def _vanishing(data: tuple[np.ndarray, ...], seed: int,
               backend: str = "retroprop") -> tuple[str, str, list[RunSummary]]:
    widths = [64] + [64] * 8 + [10]
    before = _mlp(widths, nn.Sigmoid, seed=seed)
    after = _mlp(widths, nn.ReLU, init="he_normal", seed=seed)
    runs = [
        train_watched("before: sigmoid", "8 hidden sigmoid layers of 64, SGD momentum 0.9, lr 0.01", before,
                      rp.optim.SGD(before.parameters(), lr=0.01, momentum=0.9), data, epochs=8, seed=seed,
                      backend=backend),
        train_watched("after: ReLU", "the same 8 layers with ReLU and He init, the same SGD", after,
                      rp.optim.SGD(after.parameters(), lr=0.01, momentum=0.9), data, epochs=8, seed=seed,
                      backend=backend),
    ]
    return ("Vanishing gradients: 8 sigmoid layers against 8 ReLU layers",
            "Backpropagation multiplies one derivative per layer; sigmoid's is at most 1/4, so the lower "
            "layers' gradients shrink toward 0. ReLU's derivative is 1 where a unit is active.", runs)


def _exploding(data: tuple[np.ndarray, ...], seed: int,
               backend: str = "retroprop") -> tuple[str, str, list[RunSummary]]:
    widths = [64] + [64] * 6 + [10]
    before = _mlp(widths, nn.ReLU, std=0.5, seed=seed)
    after = _mlp(widths, nn.ReLU, std=0.5, batchnorm=True, seed=seed)
    runs = [
        train_watched("before: large weights", "6 ReLU layers, weights N(0, 0.5²), SGD momentum 0.9, lr 0.1",
                      before, rp.optim.SGD(before.parameters(), lr=0.1, momentum=0.9), data, epochs=8,
                      seed=seed, backend=backend),
        train_watched("after: BatchNorm, lower lr", "the same weights with BatchNorm1d, lr 0.05", after,
                      rp.optim.SGD(after.parameters(), lr=0.05, momentum=0.9), data, epochs=8, seed=seed,
                      backend=backend),
    ]
    return ("Exploding gradients: large weights and a high learning rate against BatchNorm and a lower rate",
            "Large weights make products of large terms: activations and gradients grow layer after layer "
            "until they overflow. Batch normalization rescales every layer; a lower learning rate keeps "
            "steps small.", runs)


def _dead_relu(data: tuple[np.ndarray, ...], seed: int,
               backend: str = "retroprop") -> tuple[str, str, list[RunSummary]]:
    widths = [64, 64, 64, 64, 10]
    runs = []
    for label, recipe, act, lr in (
            ("before: lr 0.2", "3 ReLU layers of 64, He init, SGD momentum 0.9, lr 0.2", nn.ReLU, 0.2),
            ("after: lr 0.02", "the same with lr 0.02", nn.ReLU, 0.02),
            ("after: LeakyReLU", "LeakyReLU(0.01) at lr 0.02", nn.LeakyReLU, 0.02)):
        model = _mlp(widths, act, init="he_normal", seed=seed)
        runs.append(train_watched(label, recipe, model, rp.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                                  data, epochs=8, seed=seed, backend=backend))
    return ("Dead ReLU units: a learning rate that silences them against a lower one",
            "A unit whose weighted sum stays below 0 outputs 0 and passes no gradient, so it never "
            "recovers: one large step can push most units there. A lower learning rate helps; LeakyReLU "
            "lets a small gradient through.", runs)


def _dropout_sweep(seed: int,
                   backend: str = "retroprop") -> tuple[str, str, list[RunSummary], dict[str, Any]]:
    data = _noisy_digits(seed)
    runs = []
    for rate in DROPOUT_RATES:
        model = _mlp([64, 128, 128, 10], nn.ReLU, dropout=rate, seed=seed)
        runs.append(train_watched(f"p = {rate:.1f}", f"Dropout({rate:.1f}) after each hidden layer", model,
                                  rp.optim.Adam(model.parameters(), lr=3e-3), data, epochs=30, seed=seed,
                                  every=None, backend=backend))
    y_val = data[3]
    sweep = {"rates": list(DROPOUT_RATES), "seeds": 1,
             "train": [r.train_accuracy for r in runs], "val": [r.val_accuracy for r in runs],
             "train_loss": [r.train_loss for r in runs], "problems": [r.problems for r in runs],
             "majority": float(np.bincount(y_val).max() / len(y_val)), "chance_loss": math.log(10),
             "recipe": f"digits, {DROPOUT_TRAIN} training samples with {LABEL_NOISE:.0%} of their labels "
                       f"replaced by a random class, {DROPOUT_VAL} validation samples labelled correctly; "
                       "64-128-128-10 ReLU MLP with Dropout(p) after each hidden layer, Adam lr 3e-3, "
                       f"batch {BATCH}, 30 epochs"}
    return ("Dropout: rates 0.0 to 1.0 on a network that memorizes noisy labels",
            "Dropout drops each unit's activation for one gradient step with probability p. A wide network "
            "memorizes a small training set, wrong labels and all, and does worse on new data; some "
            "dropout stops the memorizing, while p = 1.0 drops everything and the network learns "
            "nothing.", runs, sweep)


def _best_moderate(sweep: dict[str, Any]) -> int:
    """The index of the best validation accuracy among the moderate rates."""
    rates = sweep["rates"]
    return max((i for i, r in enumerate(rates) if r in MODERATE_RATES), key=lambda i: sweep["val"][i])


# ---------------------------------------------------------------------------------------------
# Claims, printing, figures
# ---------------------------------------------------------------------------------------------
def _dropout_claims(runs: list[RunSummary], sweep: dict[str, Any]) -> list[tuple[str, bool]]:
    none, full = runs[0], runs[-1]
    best = _best_moderate(sweep)
    moderate = runs[best]
    gap = none.train_accuracy - none.val_accuracy
    gain = moderate.val_accuracy - none.val_accuracy
    chance = sweep["chance_loss"]
    return [
        (f"without dropout the network memorizes its noisy labels: training accuracy "
         f"{none.train_accuracy:.1%}, validation {none.val_accuracy:.1%} (a gap of at least "
         f"{OVERFIT_GAP:.0%})", gap >= OVERFIT_GAP),
        ("the doctor names overfitting at p = 0.0", "overfitting" in none.problems),
        (f"p = {sweep['rates'][best]:.1f} beats p = 0.0 on validation by {100 * gain:.1f} points (at least "
         f"{100 * DROPOUT_GAIN:.0f})", gain >= DROPOUT_GAIN),
        (f"p = 1.0 learns nothing: training loss {full.train_loss:.2f}, a blind guess's is ln 10 = "
         f"{chance:.2f}; validation accuracy {full.val_accuracy:.1%}, at most {FAILED_AT_MOST:.0%}",
         full.train_loss >= 0.9 * chance and full.val_accuracy <= FAILED_AT_MOST),
        ("the doctor names dropout_too_high at p = 1.0", "dropout_too_high" in full.problems),
    ]


def _claims(name: str, runs: list[RunSummary], sweep: dict[str, Any] | None) -> list[tuple[str, bool]]:
    if name == "dropout":
        return _dropout_claims(runs, sweep)
    before, *after = runs
    problem = {"vanishing": "vanishing_gradients", "exploding": "exploding_gradients",
               "dead-relu": "dead_relu"}[name]
    claims = [(f"the doctor names {problem} in the failing run", problem in before.problems),
              (f"the failing run learns nothing: validation accuracy {before.val_accuracy:.1%}, at most "
               f"{FAILED_AT_MOST:.0%}", before.val_accuracy <= FAILED_AT_MOST)]
    for run in after:
        claims.append((f"{run.label} trains: validation accuracy {run.val_accuracy:.1%}, at least "
                       f"{CURED_AT_LEAST:.0%}", run.val_accuracy >= CURED_AT_LEAST))
        claims.append((f"{run.label} is healthy: the doctor finds nothing", not run.problems))
    if name == "vanishing":
        before_ratio = before.grad_first / before.grad_last
        after_ratio = after[0].grad_first / after[0].grad_last
        claims.append((f"the first layer's gradient is {before_ratio:.1e} of the last layer's with sigmoid "
                       f"(under {VANISHING_RATIO:g}) and {after_ratio:.2g} with ReLU (over 0.1)",
                       before_ratio < VANISHING_RATIO and after_ratio > 0.1))
    if name == "dead-relu":
        worst_before, worst_after = before.worst_dead or 0.0, after[0].worst_dead or 0.0
        claims.append((f"the high rate silences {worst_before:.0%} of the units of its worst ReLU layer (at "
                       f"least {DEAD_SHARE:.0%}), the lower one {worst_after:.0%} (at most {DEAD_CURED:.0%})",
                       worst_before >= DEAD_SHARE and worst_after <= DEAD_CURED))
    return claims


def _fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _fmt_norm(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.2e}"


def table_rows(result: DemoResult) -> tuple[list[str], list[list[str]]]:
    """The before/after table (or the dropout sweep's) as a header and rows of texts."""
    if result.sweep is not None:
        s = result.sweep
        header = ["dropout p", "train acc", "val acc", "train loss", "doctor"]
        rows = [[f"{rate:.1f}", f"{t:.1%}", f"{v:.1%}", f"{loss:.2f}", ", ".join(problems) or "healthy"]
                for rate, t, v, loss, problems in zip(s["rates"], s["train"], s["val"], s["train_loss"],
                                                       s["problems"], strict=True)]
        rows.append(["majority", "", f"{s['majority']:.1%}", f"{s['chance_loss']:.2f}", "(a blind guess)"])
        return header, rows
    runs = result.runs
    header = ["", *(r.label for r in runs)]
    rows = [["train accuracy", *(f"{r.train_accuracy:.1%}" for r in runs)],
            ["validation accuracy", *(f"{r.val_accuracy:.1%}" for r in runs)],
            ["grad norm, first layer", *(_fmt_norm(r.grad_first) for r in runs)],
            ["grad norm, last layer", *(_fmt_norm(r.grad_last) for r in runs)],
            ["dead ReLU units", *(_fmt_share(r.dead_share) for r in runs)],
            ["dead, worst layer", *(_fmt_share(r.worst_dead) for r in runs)],
            ["doctor", *(", ".join(r.problems) or "healthy" for r in runs)]]
    return header, rows


def table(result: DemoResult) -> str:
    """The before/after table (or the dropout sweep's), as printed."""
    header, rows = table_rows(result)
    if result.sweep is not None:
        lines = [f"{header[0]:>10} {header[1]:>10} {header[2]:>9} {header[3]:>11}  {header[4]}"]
        lines += [f"{r[0]:>10} {r[1]:>10} {r[2]:>9} {r[3]:>11}  {r[4]}" for r in rows]
        return "\n".join(lines)
    width = max(24, *(len(label) + 2 for label in header[1:]))
    lines = []
    for row in [header, *rows]:
        name, cells = row[0], row[1:]
        lines.append(f"{name:<24}" + "".join(f"{c:>{width}}" if name != "doctor" else f"  {c:<{width - 2}}"
                                            for c in cells).rstrip())
    return "\n".join(lines)


def _report_runs(result: DemoResult) -> list[RunSummary]:
    """The runs a report shows: every run of a before/after demo; the sweep's no-dropout, best
    moderate and full-dropout runs."""
    if result.sweep is None:
        return result.runs
    return [result.runs[0], result.runs[_best_moderate(result.sweep)], result.runs[-1]]


def _figures(result: DemoResult, out: Path, x_val: np.ndarray | None) -> None:
    from retroprop.report import activation_samples, plots

    out.mkdir(parents=True, exist_ok=True)
    if result.sweep is not None:
        s = result.sweep
        path = plots.dropout_sweep(s["rates"], s["train"], s["val"], out / "dropout_sweep.png",
                                   majority=s["majority"], findings=[", ".join(p) for p in s["problems"]],
                                   title="Dropout rate against accuracy (digits, 30 % of the training labels "
                                         "wrong)")
        result.figures.append(("Train and validation accuracy against the dropout rate, with what the doctor "
                               "named at each rate", path))
    runs = _report_runs(result)
    for index, run in enumerate(runs):
        if result.sweep is not None:
            tag = f"p{run.label.split('= ')[-1].replace('.', '')}"
        else:
            tag = "before" if index == 0 else f"after{index if len(runs) > 2 else ''}"
        if result.sweep is None:
            result.figures.append((f"Gradient flow, {run.label}: per-layer gradient norm over training",
                                   plots.gradient_flow(run.records, out / f"gradient_flow_{tag}.png",
                                                       title=f"Gradient flow: {run.label}")))
            if plots.has_relu_units(run.records):
                result.figures.append((f"ReLU units alive and dead, {run.label}, at the first probe, where "
                                       "the doctor diagnosed dead units, and at the last probe",
                                       plots.dead_units(run.records, out / f"dead_units_{tag}.png",
                                                        diagnoses=run.diagnoses, title=run.label)))
            if x_val is not None:
                samples = activation_samples(run.model, x_val[:256])
                if samples:
                    result.figures.append((f"Activation distributions per layer, {run.label}",
                                           plots.activation_distributions(
                                               samples, out / f"activations_{tag}.png",
                                               title=f"Activations per layer: {run.label}")))
        result.figures.append((f"Loss and accuracy, {run.label}, with the doctor's findings",
                               plots.training_curves(run.history, out / f"curves_{tag}.png",
                                                     diagnoses=run.diagnoses, title=run.label)))


def _report(result: DemoResult, out: Path, seed: int) -> Path:
    from retroprop.report import html

    header, rows = table_rows(result)
    runs = [{"label": run.label, "recipe": run.recipe, "verdict": html.build_verdict(run.diagnoses),
             "history": run.history} for run in _report_runs(result)]
    config: dict[str, Any] = {"demo": result.name, "seed": seed,
                              "runs": {r.label: r.recipe for r in result.runs}}
    if result.sweep is not None:
        config["data and model"] = result.sweep["recipe"]
    notes: list[Any] = [{"caption": "The numbers behind the claims", "columns": header, "rows": rows}]
    if result.sweep is not None:
        notes.append("At p = 1.0 the second hidden layer receives only zeros in training, so each of its "
                     "units outputs ReLU(its bias), the same for every sample; where the doctor also names "
                     "dead_relu (on most seeds), those units are a consequence of the dropout, not "
                     "the cause. The report shows the runs at p = 0.0, at the best moderate rate and at "
                     "p = 1.0; the table has every rate.")
    return html.write_report(out / "report.html", title=result.title, verdict=(), figures=result.figures,
                             config=config, runs=runs,
                             summary={"text": result.lesson, "claims": result.claims}, notes=notes)


def run_demo(name: str, out: str | Path | None = None, seed: int = 0, figures: bool = True,
             echo: Callable[[str], None] = print, backend: str = "retroprop") -> DemoResult:
    """Run one demonstration (one of ``DEMOS``), print what it found, and write its figures and
    report under ``out/<name>/`` (no files when ``out`` is None). ``backend="torch"`` builds the same
    networks in PyTorch and watches them with ``retroprop.torch.watch`` (torch must be installed)."""
    if name not in DEMOS:
        raise ValueError(f"demo: unknown demonstration {name!r}; expected one of {', '.join(DEMOS)} or all")
    if backend not in BACKENDS:
        raise ValueError(f"demo: unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    started = time.perf_counter()
    builder = {"vanishing": _vanishing, "exploding": _exploding, "dead-relu": _dead_relu}.get(name)
    sweep = None
    data = None
    if builder is not None:
        data = _digits(seed)
        title, lesson, runs = builder(data, seed, backend)
    else:
        title, lesson, runs, sweep = _dropout_sweep(seed, backend)
    if backend == "torch":
        title += " (PyTorch, under retroprop.torch.watch)"
    result = DemoResult(name=name, title=title, lesson=lesson, runs=runs, claims=_claims(name, runs, sweep),
                        sweep=sweep)
    echo(f"\n== {title}")
    echo(lesson)
    for run in _report_runs(result):
        for diagnosis in run.diagnoses:
            echo(f"  doctor ({run.label}): {diagnosis}")
    echo("")
    echo(table(result))
    for claim, ok in result.claims:
        echo(f"  [{'ok' if ok else 'NO'}] {claim}")
    if out is not None and figures:
        folder = Path(out) / name
        _figures(result, folder, None if data is None else data[2])
        result.report = _report(result, folder, seed)
        write_text(folder / "summary.json", finite_json.dumps(result.to_dict(), indent=1))  # NaN/Inf: null
        echo(f"  figures and report: {folder}/ (open {result.report})")
    result.wall_time = time.perf_counter() - started
    return result


def run_all(out: str | Path | None = None, seed: int = 0, figures: bool = True,
            echo: Callable[[str], None] = print, backend: str = "retroprop") -> list[DemoResult]:
    """The four demonstrations, then a short summary of what was found and cured."""
    results = [run_demo(name, out, seed, figures, echo, backend) for name in DEMOS]
    echo("\n== Summary")
    for result in results:
        if result.sweep is not None:
            s = result.sweep
            best = _best_moderate(s)
            echo(f"  dropout:    p = 0.0 validation {s['val'][0]:.1%} "
                 f"({', '.join(s['problems'][0]) or 'healthy'}), p = {s['rates'][best]:.1f} "
                 f"{s['val'][best]:.1%}, p = 1.0 {s['val'][-1]:.1%} "
                 f"({', '.join(s['problems'][-1]) or 'healthy'})")
            continue
        before, *after = result.runs
        cured = ", ".join(f"{r.label} {r.val_accuracy:.1%}" for r in after)
        echo(f"  {result.name + ':':<11} found {', '.join(before.problems) or 'nothing'}; "
             f"validation {before.val_accuracy:.1%} -> {cured}")
    held = sum(r.holds for r in results)
    echo(f"  {held} of {len(results)} demonstrations show what the course page says"
         f"{'' if held == len(results) else ' (see the claims marked NO above)'}.")
    return results
