"""The clinic on PyTorch: the same labelled scenarios trained as torch models under ``retroprop.torch.watch``.

Every scenario of ``scenarios.py`` is built twice from one draw: the retroprop model of ``build`` and a
torch ``nn.Sequential`` of the same layers holding a copy of its initial weights, with the torch
optimizer of the same name and settings (retroprop's optimizers follow torch's update rules). The
torch model is trained in a plain PyTorch loop: the same shuffled batches (drawn from the scenario's
seed as ``fit`` draws them), ``watch(model, optimizer)`` before the loop, ``doctor.observe(loss)``
after ``loss.backward()`` and ``doctor.end_epoch(epoch, logs)`` with the logs ``fit`` computes (the
epoch's sample-weighted training loss and accuracy, the validation loss and accuracy in eval mode,
the learning rate). The loop stops as ``fit`` does: at a non-finite loss or gradient (that step is
shown to the doctor, then undone) or at weights that overflow (put back to the epoch's start). The
dropout masks come from torch's generator, so dropout scenarios are the same recipe on other masks.

The labels are checked on the torch run's own measured signals (a monitor that reads gradients and
update ratios around ``optimizer.step()``; the trained weights copied back into the retroprop model
for ``scenarios.signals``), and the runs are scored with ``run.py``'s own ``judge`` and ``score``.
By default the retroprop clinic runs too and the two engines are printed side by side per split.

Run: ``python benchmarks/clinic/torch_run.py [--split dev|test|all] [--only NAME[,NAME...]]
[--torch-only] [--setup] [--every K] [--repair] [--json FILE]``. ``--setup`` also gives ``watch`` the
optional set-up (loss module, training inputs and targets, class count, batch size) for its checks
before the first step; by default it gets the model and optimizer only, as in the one-line example.
``--repair`` also runs each faulty scenario under ``watch(repair=True)`` in the same loop and compares
its validation accuracy with its healthy twin's torch run.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _env and the clinic package

if __name__ == "__main__":
    from _env import use_native_blas_kernel

    use_native_blas_kernel()

import argparse
import copy
import json
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

import retroprop as rp
from clinic import run as clinic_run
from clinic import scenarios as sc
from retroprop.files import write_text
from retroprop.history import History
from retroprop.torch import watch

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

TORCH_LAYERS = {"ReLU": nn.ReLU, "Tanh": nn.Tanh, "Sigmoid": nn.Sigmoid}


# ---------------------------------------------------------------------------------------------
# The torch twin of a scenario's model
# ---------------------------------------------------------------------------------------------
def build_torch(s: sc.Scenario) -> tuple[rp.nn.Sequential, nn.Sequential, torch.optim.Optimizer]:
    """The scenario's retroprop model (``scenarios.build``), a torch model of the same layers holding a
    copy of its initial weights, and the torch optimizer of the same kind and settings."""
    rp_model, _ = sc.build(s)
    layers: list[nn.Module] = []
    for module in rp_model:
        kind = type(module).__name__
        if isinstance(module, rp.nn.Linear):
            linear = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.array(module.weight.data, dtype=np.float32)))
                if module.bias is not None:
                    linear.bias.copy_(torch.from_numpy(np.array(module.bias.data, dtype=np.float32)))
            layers.append(linear)
        elif isinstance(module, rp.nn.LeakyReLU):
            layers.append(nn.LeakyReLU(module.negative_slope))
        elif isinstance(module, rp.nn.Dropout):
            layers.append(nn.Dropout(module.p))
        elif kind in TORCH_LAYERS:
            layers.append(TORCH_LAYERS[kind]())
        else:
            raise ValueError(f"build_torch: scenario {s.name}: no torch layer for retroprop's {kind}")
    model = nn.Sequential(*layers)
    return rp_model, model, sc.make_optimizer(s, model.parameters(), torch.optim)


def copy_back(model: nn.Sequential, rp_model: rp.nn.Sequential) -> rp.nn.Sequential:
    """Put the torch model's current weights into the retroprop model of the same layers."""
    linears = [m for m in rp_model if isinstance(m, rp.nn.Linear)]
    torch_linears = [m for m in model if isinstance(m, nn.Linear)]
    for mine, theirs in zip(linears, torch_linears, strict=True):
        mine.weight.data[...] = theirs.weight.detach().numpy()
        if mine.bias is not None:
            mine.bias.data[...] = theirs.bias.detach().numpy()
    return rp_model


# ---------------------------------------------------------------------------------------------
# Measuring the run (the torch loop's counterpart of scenarios.Monitor; independent of the doctor)
# ---------------------------------------------------------------------------------------------
class TorchMonitor:
    """Every ``every`` steps: each Linear layer's weight-gradient RMS and the largest update-to-weight
    ratio of the step (as ``scenarios.Monitor``); after the first epoch, the saturated share over the
    training set (read by ``scenarios.activation_stats`` on the weights copied back)."""

    def __init__(self, model: nn.Sequential, rp_model: rp.nn.Sequential, x_train: np.ndarray,
                 every: int = 5) -> None:
        self.model, self.rp_model = model, rp_model
        self.x_train = x_train[:1000]
        self.every = every
        self.step = 0
        self.grad_rms: list[list[float]] = []
        self.grad_epoch: list[int] = []
        self.update_ratio: list[float] = []
        self.saturated_first_epoch: float | None = None
        self._before: list[torch.Tensor] | None = None
        self._linears = [m for m in model if isinstance(m, nn.Linear)]

    def before_step(self) -> None:
        if self.step % self.every == 0:
            self._before = [layer.weight.detach().clone() for layer in self._linears]

    def after_step(self, epoch: int) -> None:
        if self._before is not None:
            rms, ratios = [], []
            with torch.no_grad():
                for layer, before in zip(self._linears, self._before, strict=True):
                    g = layer.weight.grad
                    rms.append(float(g.double().square().mean().sqrt()) if g is not None else 0.0)
                    norm = float(torch.linalg.vector_norm(before))
                    change = float(torch.linalg.vector_norm(layer.weight.detach() - before))
                    ratios.append(change / norm if norm else 0.0)
            self.grad_rms.append(rms)
            self.grad_epoch.append(epoch)
            self.update_ratio.append(max(ratios))
            self._before = None
        self.step += 1

    def end_epoch(self, epoch: int) -> None:
        if epoch == 0:
            with np.errstate(all="ignore"):
                stats = sc.activation_stats(copy_back(self.model, self.rp_model), self.x_train)
            self.saturated_first_epoch = stats["saturated_share"]


# ---------------------------------------------------------------------------------------------
# The plain torch loop
# ---------------------------------------------------------------------------------------------
def _finite_grads(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)


def _finite_weights(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_torch(s: sc.Scenario, every: int | None = None, setup: bool = False, repair: bool = False) -> sc.Run:
    """Train ``s`` as a torch model in a plain loop under ``watch`` and measure its signals; the result
    is scored like ``scenarios.run``'s. ``repair``: ``watch(..., repair=True)`` treats the run inside the
    same loop, which then neither stops at a non-finite step nor puts weights back (the doctor's
    roll-back is the one that acts), and runs the planned epochs only (a loop's epochs are its own)."""
    x_tr, y_tr, x_va, y_va, classes = sc.load(s.data)
    rp_model, model, opt = build_torch(s)
    xt, xv = (torch.tensor(x, dtype=torch.float32) for x in (x_tr, x_va))
    yt, yv = (torch.tensor(y, dtype=torch.int64) for y in (y_tr, y_va))
    loss_fn = nn.CrossEntropyLoss()
    extra: dict[str, Any] = {}
    if setup:
        extra = {"loss": loss_fn, "inputs": xt, "targets": yt, "n_classes": classes,
                 "batch_size": s.batch_size}
    torch.manual_seed(s.seed)  # the dropout masks
    rp.manual_seed(s.seed)  # the batches: fit's shuffle, drawn from the same seed
    order_rng = rp.random.default_generator()
    n = len(xt)
    steps_per_epoch = -(-n // s.batch_size)
    monitor = TorchMonitor(model, rp_model, x_tr)
    step_loss: list[float] = []
    logs_by_key: dict[str, list[float]] = {}
    started = time.perf_counter()
    doctor = watch(model, opt, every=every, repair=repair, **extra)
    stopped = False
    for epoch in range(s.epochs):
        model.train()
        order = torch.from_numpy(order_rng.permutation(n))
        epoch_start = (_state(model), copy.deepcopy(opt.state_dict()))
        loss_sum, correct, seen = 0.0, 0.0, 0
        for i in range(0, n, s.batch_size):
            index = order[i:i + s.batch_size]
            xb, yb = xt[index], yt[index]
            monitor.before_step()
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            value = float(loss.detach())
            step_loss.append(value)
            doctor.observe(loss)
            if repair:
                opt.step()  # the doctor's step hook voids the update of a step it rolled back from
            elif math.isfinite(value) and _finite_grads(model):
                opt.step()
                if not _finite_weights(model):  # the update overflowed: back to the epoch's start, stop
                    model.load_state_dict(epoch_start[0])
                    opt.load_state_dict(epoch_start[1])
                    stopped = True
            else:  # the doctor sees this step (in the step's pre-hook); its update is undone, then stop
                kept = _state(model)
                opt.step()
                model.load_state_dict(kept)
                stopped = True
            monitor.after_step(epoch)
            loss_sum += value * len(index)
            correct += float((out.detach().argmax(dim=1) == yb).sum())
            seen += len(index)
            if stopped:
                break
        model.eval()
        with torch.no_grad():
            val_out = model(xv)
            logs = {"loss": loss_sum / seen, "accuracy": correct / seen,
                    "val_loss": float(loss_fn(val_out, yv)),
                    "val_accuracy": float((val_out.argmax(dim=1) == yv).float().mean()),
                    "lr": float(opt.param_groups[0]["lr"])}
        for key, value in logs.items():
            logs_by_key.setdefault(key, []).append(value)
        doctor.end_epoch(epoch, logs)
        monitor.end_epoch(epoch)
        if stopped:
            break
    doctor.finish()
    wall_time = time.perf_counter() - started
    if repair:  # a treated model may differ from the retroprop one (ReLU, BatchNorm): read its own logs
        return sc.Run(s, list(doctor.diagnoses), {"val_acc": logs_by_key["val_accuracy"][-1]}, wall_time,
                      steps_per_epoch=steps_per_epoch,
                      treatments=clinic_run.treatment_rows(doctor.treatments))
    history = History(model=copy_back(model, rp_model))
    history._step_loss = step_loss
    history.history = logs_by_key
    with np.errstate(all="ignore"):
        m = sc.signals(s, history, monitor)
    result = sc.Run(s, list(doctor.diagnoses), m, wall_time, steps_per_epoch=steps_per_epoch)
    result.label_problems = sc.confirm(s, m)
    return result


def repair_torch(verdicts: list[clinic_run.Verdict], log: Any = print) -> list[dict[str, Any]]:
    """Each faulty scenario whose label its torch run confirmed, run again under ``watch(repair=True)``
    and compared with its healthy twin's torch run (within ``run.REPAIR_TOLERANCE`` of its validation
    accuracy), as ``run.repair`` does for ``fit``; the twin is run too when it was not selected."""
    by_name = sc.by_name()
    healthy = {v.scenario.name: v.run for v in verdicts if v.scenario.healthy and not v.run.label_problems}
    rows = []
    for v in verdicts:
        s = v.scenario
        if s.healthy or s.twin is None or v.run.label_problems:
            continue
        if s.twin not in healthy:
            twin_run = run_torch(by_name[s.twin])
            if twin_run.label_problems:
                log(f"  {s.name:36s} skipped: its twin's label is not confirmed")
                continue
            healthy[s.twin] = twin_run
        twin = healthy[s.twin]
        try:
            with np.errstate(all="ignore"):
                fixed, error = run_torch(s, repair=True), None
        except Exception as err:  # a crash is a result, reported with its scenario
            fixed, error = None, f"{type(err).__name__}: {err}"
        target = twin.signals["val_acc"]
        acc = fixed.signals["val_acc"] if fixed is not None else math.nan
        row = {"scenario": s.name, "split": s.split, "twin": s.twin, "expected": sorted(s.expected),
               "val_acc_before": v.run.signals["val_acc"], "val_acc_repaired": acc, "val_acc_twin": target,
               "success": error is None and acc >= target - clinic_run.REPAIR_TOLERANCE,
               "time_repaired": fixed.wall_time if fixed is not None else math.nan,
               "time_twin": twin.wall_time,
               "time_ratio": (fixed.wall_time / twin.wall_time if fixed is not None and twin.wall_time
                              else math.nan),
               "epochs_repaired": s.epochs, "epochs_planned": s.epochs,
               "treatments": fixed.treatments if fixed is not None else [], "stop_reason": None,
               "error": error, "twin_error": None, "twin_treatments": []}
        rows.append(row)
        log(clinic_run.repair_line(row))
    return rows


def detect_torch(scenarios: list[sc.Scenario], every: int | None = None, setup: bool = False,
                 log: Any = print) -> list[clinic_run.Verdict]:
    verdicts = []
    for s in scenarios:
        verdict = clinic_run.judge(run_torch(s, every, setup))
        verdicts.append(verdict)
        log(clinic_run.detail_line(verdict))
    return verdicts


# ---------------------------------------------------------------------------------------------
# Both engines side by side
# ---------------------------------------------------------------------------------------------
GRADIENT = sc.GRADIENT_PROBLEMS


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets from one engine's ``score``: recall of faulty runs (every expected problem
    found), healthy runs with an alarm, gradient problems named within the first epoch."""
    problems = summary["problems"]
    grad_found = sum(problems[p]["detected"] for p in GRADIENT)
    return {"faulty_recall": summary["faulty_all_found"] / summary["faulty"] if summary["faulty"] else None,
            "found": f"{summary['faulty_all_found']}/{summary['faulty']}",
            "alarms": f"{summary['healthy_with_alarm']}/{summary['healthy']}",
            "gradient_in_epoch1": f"{sum(problems[p]['in_first_epoch'] for p in GRADIENT)}/{grad_found}",
            "labels_left_out": len(summary["labels_not_confirmed"])}


def side_by_side(summaries: dict[str, dict[str, Any]]) -> str:
    """One split's headline and per-problem table for each engine (``summaries``: engine -> score)."""
    rows = [("engine", "faulty runs, all found", "recall", "healthy runs with an alarm",
             "gradient problems in epoch 1", "labels left out")]
    for engine, summary in summaries.items():
        h = headline(summary)
        rows.append((engine, h["found"], clinic_run._pct(h["faulty_recall"]), h["alarms"],
                     h["gradient_in_epoch1"], str(h["labels_left_out"])))
    text = clinic_run.markdown(rows) + "\n\n"
    engines = list(summaries)
    header = ["problem", "runs"]
    for what in ("recall", "false alarms", "median step", "median epoch"):
        header += [f"{what} ({e})" for e in engines]
    rows = [tuple(header)]
    for problem in sc.PROBLEMS:
        entries = [summaries[e]["problems"][problem] for e in engines]
        if not any(p["runs"] or p["false_alarms"] for p in entries):
            continue
        row = [problem, "/".join(str(p["runs"]) for p in entries) if len({p["runs"] for p in entries}) > 1
               else str(entries[0]["runs"])]
        row += [clinic_run._pct(p["recall"]) for p in entries]
        row += [str(p["false_alarms"]) for p in entries]
        row += ["-" if p["median_step"] is None else f"{p['median_step']:g}" for p in entries]
        row += ["-" if p["median_epoch"] is None else f"{p['median_epoch']:g}" for p in entries]
        rows.append(tuple(row))
    return text + clinic_run.markdown(rows)


def agreement(a: list[clinic_run.Verdict], b: list[clinic_run.Verdict]) -> list[str]:
    """The scenarios whose two runs were not diagnosed with the same set of problems."""
    theirs = {v.scenario.name: v for v in b}
    lines = []
    for v in a:
        w = theirs.get(v.scenario.name)
        if w is not None and set(v.first) != set(w.first):
            lines.append(f"  {v.scenario.name}: retroprop {sorted(v.first) or '-'}; "
                         f"torch {sorted(w.first) or '-'}")
    return lines


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--only", help="scenario names (comma-separated; exact, else substrings)")
    parser.add_argument("--torch-only", action="store_true", help="skip the retroprop runs")
    parser.add_argument("--setup", action="store_true",
                        help="give watch the optional set-up (loss, inputs, targets, classes, batch size)")
    parser.add_argument("--every", type=int, default=None,
                        help="the doctor's probe cadence (default: its own)")
    parser.add_argument("--repair", action="store_true",
                        help="also run each faulty scenario under watch(repair=True) against its twin")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--keep-blas-env", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if threadpool_limits is None:
        return clinic(args)
    with threadpool_limits(limits=1):
        return clinic(args)


def clinic(args: argparse.Namespace) -> dict[str, Any]:
    chosen = clinic_run.select(args.split, args.only)
    started = time.perf_counter()
    print(f"The clinic on both engines: {len(chosen)} scenarios, retroprop {rp.__version__}, torch "
          f"{torch.__version__}, numpy {np.__version__}, one thread, doctor every {args.every or 'default'} "
          f"steps, watch {'with' if args.setup else 'without'} the optional set-up\n")
    engines: dict[str, list[clinic_run.Verdict]] = {}
    if not args.torch_only:
        print("retroprop (rp.fit with the doctor):")
        engines["retroprop"] = clinic_run.detect(chosen, args.every)
    print("\ntorch (a plain loop under retroprop.torch.watch):")
    engines["torch"] = detect_torch(chosen, args.every, args.setup)
    times = {e: sum(v.run.wall_time for v in vs) for e, vs in engines.items()}
    result: dict[str, Any] = {"splits": {}, "time_s": times, "torch": torch.__version__, "setup": args.setup,
                              "scenarios": {e: {v.scenario.name: {
                                  "fired": {p: {"step": st, "epoch": ep} for p, (st, ep) in v.first.items()},
                                  "missed": sorted(v.missed), "false_alarms": sorted(v.false_alarms),
                                  "label_problems": v.run.label_problems, "signals": v.run.signals}
                                  for v in vs} for e, vs in engines.items()}}
    for split in ("dev", "test"):
        summaries = {e: clinic_run.score([v for v in vs if v.scenario.split == split])
                     for e, vs in engines.items()}
        if not any(s["scenarios"] for s in summaries.values()):
            continue
        print(f"\n## {split}: both engines\n")
        print(side_by_side(summaries))
        print(f"\n### {split}: torch in detail\n")
        print(clinic_run.detection_table(summaries["torch"]))
        result["splits"][split] = summaries
    if args.repair:
        for split in ("dev", "test"):
            part = [v for v in engines["torch"] if v.scenario.split == split]
            if not part:
                continue
            print(f"\n## {split}: torch repair (watch(repair=True) in the same loop, against the twin's "
                  "torch run)\n")
            rows = repair_torch(part)
            summary = clinic_run.repair_summary(rows)
            print("\n" + clinic_run.repair_table(summary))
            result.setdefault("repair", {})[split] = {"summary": summary, "runs": rows}
    if "retroprop" in engines:
        differ = agreement(engines["retroprop"], engines["torch"])
        print(f"\nscenarios diagnosed with different problems by the two engines: "
              f"{len(differ)}/{len(chosen)}")
        print("\n".join(differ))
    print(f"\nclinic time: {time.perf_counter() - started:.1f} s ("
          + ", ".join(f"{e} training {t:.1f} s" for e, t in times.items()) + ")")
    if args.json:
        write_text(args.json, json.dumps(result, indent=1, default=clinic_run._json_default))
        print(f"results written to {args.json}")
    return result


if __name__ == "__main__":
    main()
