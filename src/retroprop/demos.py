"""The course page's four demonstrations: each failure, found by the doctor, next to its cure.

``run_demo(name, out)`` trains the failing network and the cured one side by side with the doctor
watching, prints the diagnoses and a before/after table, and writes figures and an HTML report to
``out/<name>/``. ``retroprop demo all`` runs the four. Everything is seeded: the same seed gives the
same numbers.

- vanishing: a deep sigmoid network against the same network with ReLU (and the He initialization
  ReLU needs);
- exploding: large initial weights and a high learning rate against BatchNorm and a lower rate;
- dead-relu: a learning rate so high it silences most ReLU units, against a lower one, and
  LeakyReLU at that lower rate;
- dropout: a sweep of dropout rates 0.0, 0.1, ..., 1.0 on a network that overfits without dropout,
  train and validation accuracy averaged over seeds.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.doctor import Doctor
from retroprop.doctor.rules import fired_in_window

DEMOS = ("vanishing", "exploding", "dead-relu", "dropout")
DROPOUT_RATES = tuple(round(0.1 * i, 1) for i in range(11))
DROPOUT_SEEDS = 3


# ---------------------------------------------------------------------------------------------
# What a demo measures
# ---------------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """One training run of a demo, with what the doctor saw."""

    label: str  # e.g. "before: 8 sigmoid layers"
    recipe: str
    train_accuracy: float
    val_accuracy: float
    grad_first: float  # gradient norm of the first weighted layer, median over the run's probes
    grad_last: float  # ... of the last weighted layer
    dead_share: float | None  # share of ReLU units silent on every probe of the last window
    problems: list[str]
    diagnoses: list[Any] = field(repr=False, default_factory=list)
    history: Any = field(repr=False, default=None)
    records: list[Any] = field(repr=False, default_factory=list)
    model: Any = field(repr=False, default=None)
    wall_time: float = 0.0

    def row(self) -> dict[str, Any]:
        return {"label": self.label, "recipe": self.recipe, "train_accuracy": self.train_accuracy,
                "val_accuracy": self.val_accuracy, "grad_first": self.grad_first,
                "grad_last": self.grad_last, "dead_share": self.dead_share, "problems": self.problems,
                "wall_time": self.wall_time}


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
    x_train, x_val, y_train, y_val = rp.data.train_test_split(x, y, test_size=0.25, seed=seed)
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


def _dead_share(records: list[Any], window: int = 5) -> float | None:
    """Share of ReLU units (over all ReLU layers) that fired on none of the last ``window`` probes."""
    recent = [r.as_plain() for r in records[-window:]]
    if not recent:
        return None
    total = silent = 0
    for activation in recent[-1]["activations"]:
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
                  *, epochs: int, seed: int, every: int = 5, batch_size: int = 32) -> RunSummary:
    """Train with the doctor watching (every ``every`` steps, for detailed pictures)."""
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
    return RunSummary(label=label, recipe=recipe, train_accuracy=train, val_accuracy=val,
                      grad_first=_median_norm(records, 0), grad_last=_median_norm(records, -1),
                      dead_share=_dead_share(records), problems=sorted({d.problem for d in doctor.diagnoses}),
                      diagnoses=list(doctor.diagnoses), history=history, records=list(records), model=model,
                      wall_time=elapsed)


# ---------------------------------------------------------------------------------------------
# The four demonstrations
# ---------------------------------------------------------------------------------------------
def _vanishing(data: tuple[np.ndarray, ...], seed: int) -> tuple[str, str, list[RunSummary]]:
    widths = [64] + [64] * 8 + [10]
    before = _mlp(widths, nn.Sigmoid, seed=seed)
    after = _mlp(widths, nn.ReLU, init="he_normal", seed=seed)
    runs = [
        train_watched("before: sigmoid", "8 hidden sigmoid layers of 64, SGD lr 0.05", before,
                      rp.optim.SGD(before.parameters(), lr=0.05), data, epochs=8, seed=seed),
        train_watched("after: ReLU", "the same 8 layers with ReLU and He init, SGD lr 0.05", after,
                      rp.optim.SGD(after.parameters(), lr=0.05), data, epochs=8, seed=seed),
    ]
    return ("Vanishing gradients: 8 sigmoid layers against 8 ReLU layers",
            "Backpropagation multiplies one derivative per layer; sigmoid's is at most 1/4, so the lower "
            "layers' gradients shrink toward 0. ReLU's derivative is 1 where a unit is active.", runs)


def _exploding(data: tuple[np.ndarray, ...], seed: int) -> tuple[str, str, list[RunSummary]]:
    widths = [64] + [64] * 6 + [10]
    before = _mlp(widths, nn.ReLU, std=0.5, seed=seed)
    after = _mlp(widths, nn.ReLU, std=0.5, batchnorm=True, seed=seed)
    runs = [
        train_watched("before: large weights", "6 ReLU layers, weights N(0, 0.5²), SGD momentum lr 0.1",
                      before, rp.optim.SGD(before.parameters(), lr=0.1, momentum=0.9), data, epochs=8,
                      seed=seed),
        train_watched("after: BatchNorm, lower lr", "the same weights with BatchNorm1d, lr 0.05", after,
                      rp.optim.SGD(after.parameters(), lr=0.05, momentum=0.9), data, epochs=8, seed=seed),
    ]
    return ("Exploding gradients: large weights and a high learning rate against BatchNorm and a lower rate",
            "Large weights make products of large terms: activations and gradients grow layer after layer "
            "until they overflow. Batch normalization rescales every layer; a lower learning rate keeps "
            "steps small.", runs)


def _dead_relu(data: tuple[np.ndarray, ...], seed: int) -> tuple[str, str, list[RunSummary]]:
    widths = [64, 64, 64, 64, 10]
    runs = []
    for label, recipe, act, lr in (
            ("before: lr 0.2", "3 ReLU layers of 64, He init, SGD momentum lr 0.2", nn.ReLU, 0.2),
            ("after: lr 0.02", "the same with lr 0.02", nn.ReLU, 0.02),
            ("after: LeakyReLU", "LeakyReLU(0.01) at lr 0.02", nn.LeakyReLU, 0.02)):
        model = _mlp(widths, act, init="he_normal", seed=seed)
        runs.append(train_watched(label, recipe, model, rp.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                                  data, epochs=8, seed=seed))
    return ("Dead ReLU units: a learning rate that silences them against a lower one",
            "A unit whose weighted sum stays below 0 outputs 0 and passes no gradient, so it never "
            "recovers: one large step can push most units there. A lower learning rate helps; LeakyReLU "
            "lets a small gradient through.", runs)


def _dropout_sweep(seed: int) -> tuple[str, str, dict[str, Any]]:
    split = rp.data.load_mnist1d(n_train=500, n_test=1000, seed=seed)
    x_train, x_val = rp.data.standardize(split.x_train, split.x_test)
    y_train, y_val = split.y_train, split.y_test
    train = np.zeros((len(DROPOUT_RATES), DROPOUT_SEEDS))
    val = np.zeros_like(train)
    for i, rate in enumerate(DROPOUT_RATES):
        for j in range(DROPOUT_SEEDS):
            run_seed = seed * 100 + j
            model = _mlp([40, 256, 256, 10], nn.ReLU, dropout=rate, seed=run_seed)
            rp.fit(model, x_train, y_train, loss="cross_entropy", epochs=40, batch_size=32, verbose=0,
                   optimizer=rp.optim.Adam(model.parameters(), lr=1e-3), seed=run_seed)
            train[i, j] = rp.evaluate(model, x_train, y_train, loss="cross_entropy")["accuracy"]
            val[i, j] = rp.evaluate(model, x_val, y_val, loss="cross_entropy")["accuracy"]
    majority = float(np.bincount(y_val).max() / len(y_val))
    sweep = {"rates": list(DROPOUT_RATES), "seeds": DROPOUT_SEEDS,
             "train_mean": train.mean(axis=1).tolist(), "train_std": train.std(axis=1).tolist(),
             "val_mean": val.mean(axis=1).tolist(), "val_std": val.std(axis=1).tolist(), "majority": majority,
             "recipe": "MNIST-1D, 500 training samples, 40-256-256-10 ReLU MLP with Dropout(p) after each "
                       "hidden layer, Adam lr 1e-3, 40 epochs"}
    return ("Dropout: rates 0.0 to 1.0 on a network that overfits",
            "Dropout drops each unit's activation for one gradient step with probability p: some dropout "
            "regularizes, p = 1.0 drops everything and the network learns nothing.", sweep)


# ---------------------------------------------------------------------------------------------
# Claims, printing, figures
# ---------------------------------------------------------------------------------------------
def _claims(name: str, runs: list[RunSummary], sweep: dict[str, Any] | None) -> list[tuple[str, bool]]:
    if name == "dropout":
        rates, val = sweep["rates"], sweep["val_mean"]
        best = max(range(1, len(rates) - 1), key=lambda i: val[i])
        return [
            (f"at p = 1.0 validation accuracy ({val[-1]:.1%}) is the majority-class rate "
             f"({sweep['majority']:.1%}) within 2 points", abs(val[-1] - sweep["majority"]) <= 0.02),
            (f"p = {rates[best]} beats p = 0.0 on validation ({val[best]:.1%} against {val[0]:.1%}, mean of "
             f"{sweep['seeds']} seeds)", val[best] > val[0]),
        ]
    before, *after = runs
    claims = [(f"the doctor names {problem} in the failing run", problem in before.problems)
              for problem in {"vanishing": ["vanishing_gradients"], "exploding": ["exploding_gradients"],
                              "dead-relu": ["dead_relu"]}[name]]
    for run in after:
        claims.append((f"{run.label} trains: validation accuracy {run.val_accuracy:.1%} against "
                       f"{before.val_accuracy:.1%}", run.val_accuracy > before.val_accuracy + 0.5))
        claims.append((f"{run.label} is healthy: the doctor finds nothing", not run.problems))
    if name == "vanishing":
        before_ratio = before.grad_first / before.grad_last
        after_ratio = after[0].grad_first / after[0].grad_last
        claims.append((f"the first layer's gradient is {before_ratio:.1e} of the last layer's with sigmoid "
                       f"and {after_ratio:.2g} with ReLU", before_ratio < 1e-3 and after_ratio > 1e-1))
    if name == "dead-relu":
        claims.append((f"the high rate silences {before.dead_share:.0%} of the ReLU units, the lower one "
                       f"{after[0].dead_share:.0%}",
                       (before.dead_share or 0) > 0.5 and (after[0].dead_share or 0) < 0.1))
    return claims


def _fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _fmt_norm(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.2e}"


def table(result: DemoResult) -> str:
    """The before/after table (or the dropout sweep's), as printed."""
    if result.sweep is not None:
        s = result.sweep
        lines = [f"{'dropout p':>10} {'train acc':>10} {'(std)':>7} {'val acc':>9} {'(std)':>7}"]
        columns = (s["rates"], s["train_mean"], s["train_std"], s["val_mean"], s["val_std"])
        for rate, tm, ts, vm, vs in zip(*columns, strict=True):
            lines.append(f"{rate:>10.1f} {tm:>10.1%} {ts:>7.1%} {vm:>9.1%} {vs:>7.1%}")
        lines.append(f"{'majority':>10} {'':>10} {'':>7} {s['majority']:>9.1%}")
        return "\n".join(lines)
    runs = result.runs
    width = max(24, *(len(r.label) + 2 for r in runs))
    rows = [("", [r.label for r in runs]),
            ("train accuracy", [f"{r.train_accuracy:.1%}" for r in runs]),
            ("validation accuracy", [f"{r.val_accuracy:.1%}" for r in runs]),
            ("grad norm, first layer", [_fmt_norm(r.grad_first) for r in runs]),
            ("grad norm, last layer", [_fmt_norm(r.grad_last) for r in runs]),
            ("dead ReLU units", [_fmt_share(r.dead_share) for r in runs]),
            ("doctor", [", ".join(r.problems) or "healthy" for r in runs])]
    lines = []
    for name, cells in rows:
        lines.append(f"{name:<24}" + "".join(f"{c:>{width}}" if name != "doctor" else f"  {c:<{width - 2}}"
                                            for c in cells))
    return "\n".join(lines)


def _figures(result: DemoResult, out: Path, x_val: np.ndarray | None) -> None:
    from retroprop.report import activation_samples, plots

    out.mkdir(parents=True, exist_ok=True)
    if result.sweep is not None:
        s = result.sweep
        path = plots.dropout_sweep(s["rates"], s["train_mean"], s["val_mean"], out / "dropout_sweep.png",
                                   train_std=s["train_std"], val_std=s["val_std"], majority=s["majority"],
                                   title="Dropout rate against accuracy (MNIST-1D, mean of "
                                         f"{s['seeds']} seeds)")
        result.figures.append(("Train and validation accuracy against the dropout rate", path))
        return
    for index, run in enumerate(result.runs):
        tag = "before" if index == 0 else f"after{index if len(result.runs) > 2 else ''}"
        result.figures.append((f"Gradient flow, {run.label}: per-layer gradient norm over training",
                               plots.gradient_flow(run.records, out / f"gradient_flow_{tag}.png",
                                                   title=f"Gradient flow: {run.label}")))
        if any(a.fired is not None for r in run.records for a in r.activations):
            result.figures.append((f"ReLU units alive and dead, {run.label}",
                                   plots.dead_units(run.records, out / f"dead_units_{tag}.png")))
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

    verdict = []
    for run in result.runs:
        for diagnosis in run.diagnoses:
            entry = diagnosis.to_dict()
            entry["run"] = run.label
            verdict.append(entry)
    notes = [result.lesson, *(f"{'holds' if ok else 'DOES NOT HOLD'}: {claim}"
                              for claim, ok in result.claims)]
    recipes = {r.label: r.recipe for r in result.runs} if result.runs else result.sweep.get("recipe")
    config = {"demo": result.name, "seed": seed, "runs": recipes}
    history = result.runs[0].history.history if result.runs else None
    return html.write_report(out / "report.html", title=result.title, verdict=verdict, figures=result.figures,
                             history=history, config=config, notes=[table(result), *notes])


def run_demo(name: str, out: str | Path | None = None, seed: int = 0, figures: bool = True,
             echo: Callable[[str], None] = print) -> DemoResult:
    """Run one demonstration (one of ``DEMOS``), print what it found, and write its figures and
    report under ``out/<name>/`` (no files when ``out`` is None)."""
    if name not in DEMOS:
        raise ValueError(f"demo: unknown demonstration {name!r}; expected one of {', '.join(DEMOS)} or all")
    started = time.perf_counter()
    builder = {"vanishing": _vanishing, "exploding": _exploding, "dead-relu": _dead_relu}.get(name)
    sweep = None
    runs: list[RunSummary] = []
    data = None
    if builder is not None:
        data = _digits(seed)
        title, lesson, runs = builder(data, seed)
    else:
        title, lesson, sweep = _dropout_sweep(seed)
    result = DemoResult(name=name, title=title, lesson=lesson, runs=runs, claims=_claims(name, runs, sweep),
                        sweep=sweep)
    echo(f"\n== {title}")
    echo(lesson)
    for run in runs:
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
        (folder / "summary.json").write_text(json.dumps(result.to_dict(), indent=1, default=str))
        echo(f"  figures and report: {folder}/ (open {result.report})")
    result.wall_time = time.perf_counter() - started
    return result


def run_all(out: str | Path | None = None, seed: int = 0, figures: bool = True,
            echo: Callable[[str], None] = print) -> list[DemoResult]:
    """The four demonstrations, then a short summary of what was found and cured."""
    results = [run_demo(name, out, seed, figures, echo) for name in DEMOS]
    echo("\n== Summary")
    for result in results:
        if result.sweep is not None:
            s = result.sweep
            best = max(range(1, len(s["rates"]) - 1), key=lambda i: s["val_mean"][i])
            echo(f"  dropout:    p = 0.0 validation {s['val_mean'][0]:.1%}, p = {s['rates'][best]} "
                 f"{s['val_mean'][best]:.1%}, p = 1.0 {s['val_mean'][-1]:.1%} (majority class "
                 f"{s['majority']:.1%})")
            continue
        before, *after = result.runs
        cured = ", ".join(f"{r.label} {r.val_accuracy:.1%}" for r in after)
        echo(f"  {result.name + ':':<11} found {', '.join(before.problems) or 'nothing'}; "
             f"validation {before.val_accuracy:.1%} -> {cured}")
    held = sum(r.holds for r in results)
    echo(f"  {held} of {len(results)} demonstrations show what the course page says"
         f"{'' if held == len(results) else ' (see the claims marked NO above)'}.")
    return results
