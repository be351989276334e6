"""The clinic: run the labelled scenarios with the doctor watching, score what it says, and repair.

For every scenario of the chosen split this trains the network with ``rp.fit(..., doctor=...)`` and
compares the problems diagnosed with the label: an expected problem that is not diagnosed is a miss, a
problem outside ``expected`` and ``allowed`` is a false alarm. The label itself is checked against
the signals measured from the run (``scenarios.SIGNALS``); a scenario whose signals disagree with
its label is flagged. Then each faulty scenario is trained again with ``repair=True`` and its final
validation accuracy is compared with its healthy twin's (success: within 2 points or better), and
the wall time of the repaired run with the twin's (both with the repairing doctor on, best of
``--repeats`` runs).

Reported per split (dev: where the thresholds are frozen; test: other seeds, sizes and data sets,
the headline): per-problem precision and recall, the share of healthy runs with any alarm, the
median detection step and epoch per problem, repair success and the repaired/healthy wall-time
ratio. One thread per library, fixed seeds.

Run: ``python benchmarks/clinic/run.py [--split dev|test|all] [--only NAME[,NAME...]] [--no-repair]
[--json FILE] [--every K] [--repeats N] [--reseed K]``. ``--reseed K`` draws every scenario's data and
initialization with seeds moved by K: the same recipes on draws that the thresholds never saw (a
scenario whose measured signals do not confirm its label on the new draw is listed and left out).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _env and the clinic package

if __name__ == "__main__":
    from _env import use_native_blas_kernel

    use_native_blas_kernel()

import argparse
import json
import math
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import retroprop as rp
from clinic import scenarios as sc

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

REPAIR_TOLERANCE = 0.02  # a repaired run succeeds within 2 accuracy points of its healthy twin


# ---------------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """One scenario's detection result against its label."""

    run: sc.Run
    missed: set[str]
    false_alarms: set[str]
    first: dict[str, tuple[int, int]]  # problem -> (step, epoch) of its first diagnosis

    @property
    def scenario(self) -> sc.Scenario:
        return self.run.scenario


def judge(run: sc.Run) -> Verdict:
    s = run.scenario
    first: dict[str, tuple[int, int]] = {}
    for d in run.diagnoses:
        first.setdefault(d.problem, (d.step, d.epoch))
    fired = set(first)
    return Verdict(run, set(s.expected) - fired, fired - set(s.expected) - set(s.allowed), first)


def detect(scenarios: list[sc.Scenario], every: int | None = None, log: Any = print) -> list[Verdict]:
    verdicts = []
    for s in scenarios:
        verdict = judge(sc.run(s, every=every))
        verdicts.append(verdict)
        log(detail_line(verdict))
    return verdicts


def _fmt(value: float) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.2g}" if value and (abs(value) < 1e-2 or abs(value) >= 1e3) else f"{value:.3g}"


def signal_text(run: sc.Run) -> str:
    s, m = run.scenario, run.signals
    if s.healthy:
        return f"val_acc={m['val_acc']:.3f}"
    keys = []
    for problem in sorted(s.expected):
        keys += [k for k in sc.SIGNAL_KEYS[problem] if k not in keys]
    return " ".join(f"{k}={_fmt(m[k])}" for k in keys)


def detail_line(v: Verdict) -> str:
    s = v.scenario
    fired = ", ".join(f"{p}@{step + 1}" for p, (step, _) in sorted(v.first.items(), key=lambda kv: kv[1]))
    status = "ok"
    if v.missed or v.false_alarms:
        status = "; ".join([*(f"MISSED {p}" for p in sorted(v.missed)),
                            *(f"FALSE ALARM {p}" for p in sorted(v.false_alarms))])
    label = "" if not v.run.label_problems else f"  LABEL NOT CONFIRMED: {'; '.join(v.run.label_problems)}"
    expected = ",".join(sorted(s.expected)) or "healthy"
    return (f"  {s.name:36s} {expected:42s} fired: {fired or '-'}\n"
            f"  {'':36s} {status}  [{signal_text(v.run)}]{label}")


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def score(verdicts: list[Verdict]) -> dict[str, Any]:
    """Per-problem precision, recall and detection times; false alarms on healthy runs; label checks.
    A scenario whose measured signals do not confirm its label is listed and left out of the scores."""
    unconfirmed = {v.scenario.name: v.run.label_problems for v in verdicts if v.run.label_problems}
    verdicts = [v for v in verdicts if not v.run.label_problems]
    per_problem = {}
    for problem in sc.PROBLEMS:
        positives = [v for v in verdicts if problem in v.scenario.expected]
        hits = [v for v in positives if problem not in v.missed]
        false_alarms = [v for v in verdicts if problem in v.false_alarms]
        fired_right = len(hits)
        flagged = fired_right + len(false_alarms)
        precision = fired_right / flagged if flagged else None
        steps = [v.first[problem][0] + 1 for v in hits]
        epochs = [v.first[problem][1] + 1 for v in hits]
        per_problem[problem] = {
            "runs": len(positives), "detected": fired_right, "false_alarms": len(false_alarms),
            "recall": fired_right / len(positives) if positives else None, "precision": precision,
            "median_step": median(steps) if steps else None,
            "median_epoch": median(epochs) if epochs else None,
            "in_first_epoch": sum(1 for e in epochs if e == 1),
            # the bound: named by the end of the first epoch or step 100, whichever is later
            "in_time": sum(1 for v in hits if v.first[problem][0] < max(v.run.steps_per_epoch, 100)),
            "missed_in": [v.scenario.name for v in positives if problem in v.missed],
            "false_alarm_in": [v.scenario.name for v in false_alarms],
        }
    healthy = [v for v in verdicts if v.scenario.healthy]
    alarmed = [v for v in healthy if v.false_alarms]
    faulty = [v for v in verdicts if not v.scenario.healthy]
    return {
        "scenarios": len(verdicts), "healthy": len(healthy), "faulty": len(faulty),
        "healthy_with_alarm": len(alarmed),
        "healthy_alarm_share": len(alarmed) / len(healthy) if healthy else None,
        "healthy_alarms": {v.scenario.name: sorted(v.false_alarms) for v in alarmed},
        "faulty_all_found": sum(1 for v in faulty if not v.missed),
        "faulty_with_false_alarm": sum(1 for v in faulty if v.false_alarms),
        "labels_not_confirmed": unconfirmed,
        "problems": per_problem,
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def detection_table(summary: dict[str, Any]) -> str:
    rows = [("problem", "runs", "found", "recall", "false alarms", "precision", "median step",
             "median epoch", "in epoch 1", "by epoch 1 or step 100")]
    for problem, p in summary["problems"].items():
        if not p["runs"] and not p["false_alarms"]:
            continue
        rows.append((problem, str(p["runs"]), str(p["detected"]), _pct(p["recall"]), str(p["false_alarms"]),
                     _pct(p["precision"]), "-" if p["median_step"] is None else f"{p['median_step']:g}",
                     "-" if p["median_epoch"] is None else f"{p['median_epoch']:g}",
                     f"{p['in_first_epoch']}/{p['detected']}" if p["detected"] else "-",
                     f"{p['in_time']}/{p['detected']}" if p["detected"] else "-"))
    text = markdown(rows)
    share = summary["healthy_alarm_share"]
    text += (f"\n\nhealthy runs with any alarm: {summary['healthy_with_alarm']}/{summary['healthy']}"
             f" ({'-' if share is None else f'{share:.0%}'})")
    for name, alarms in summary["healthy_alarms"].items():
        text += f"\n  {name}: {', '.join(alarms)}"
    faulty = summary["faulty"]
    text += (f"\nfaulty runs with every expected problem found: {summary['faulty_all_found']}/{faulty}"
             f"; with a false alarm: {summary['faulty_with_false_alarm']}/{faulty}")
    labels = summary["labels_not_confirmed"]
    text += f"\nlabels not confirmed by their measured signals (left out of the scores): {len(labels)}"
    for name, problems in labels.items():
        text += f"\n  {name}: {'; '.join(problems)}"
    return text


def markdown(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Repair
# ---------------------------------------------------------------------------------------------
@dataclass
class Repaired:
    """A run with ``repair=True``: its final validation accuracy, time and treatment log."""

    name: str
    val_acc: float = float("nan")
    wall_time: float = float("nan")
    epochs: int = 0
    treatments: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    error: str | None = None


def treatment_rows(treatments: list[Any]) -> list[dict[str, Any]]:
    """A repair's treatment log as plain dicts (for the report lines and the JSON)."""
    return [{k: getattr(t, k, None) for k in ("step", "epoch", "problem", "layer", "remedy", "description",
                                              "applied", "outcome", "rolled_back_to")}
            for t in treatments]


def repaired_run(s: sc.Scenario, repeats: int = 1) -> Repaired:
    """Train ``s`` with the repairing doctor; wall time is the best of ``repeats`` identical runs."""
    result = Repaired(s.name)
    x_tr, y_tr, x_va, y_va, _ = sc.load(s.data)
    times = []
    try:
        for _ in range(repeats):
            model, opt = sc.build(s)
            with np.errstate(all="ignore"):
                history = rp.fit(model, x_tr, y_tr, optimizer=opt, doctor=rp.Doctor(repair=True),
                                 **sc.fit_kwargs(s))
            times.append(history.wall_time)
        final = history.model if history.model is not None else model
        with np.errstate(all="ignore"):
            result.val_acc = rp.evaluate(final, x_va, y_va, loss="cross_entropy")["accuracy"]
        result.wall_time = min(times)
        result.epochs = len(history.epoch)
        result.stop_reason = history.stop_reason
        result.treatments = treatment_rows(getattr(history, "treatments", []))
    except Exception as err:  # a crash is a result: reported with its scenario, not fatal to the clinic
        result.error = f"{type(err).__name__}: {err} | " + " <- ".join(
            f"{Path(f.filename).name}:{f.lineno}" for f in traceback.extract_tb(err.__traceback__)[-4:])
    return result


def repair(verdicts: list[Verdict], repeats: int = 2, log: Any = print,
           offset: int = 0) -> list[dict[str, Any]]:
    """Repair every faulty scenario and compare it with its healthy twin (both drawn with the seed
    ``offset``); a scenario or twin whose label its signals do not confirm is left out."""
    by_name = sc.by_name()
    healthy_acc = {v.scenario.name: v.run.signals["val_acc"] for v in verdicts
                   if v.scenario.healthy and not v.run.label_problems}
    unconfirmed = {v.scenario.name for v in verdicts if v.run.label_problems}
    twins: dict[str, Repaired] = {}
    rows = []
    for v in verdicts:
        s = v.scenario
        if s.healthy or s.twin is None or s.name in unconfirmed or s.twin in unconfirmed:
            continue
        twin = sc.reseed(by_name[s.twin], offset)
        if twin.name not in healthy_acc:  # the twin was not in the selection: run it
            twin_run = sc.run(twin)
            if twin_run.label_problems:
                why = "; ".join(twin_run.label_problems)
                log(f"  {s.name:36s} skipped: its twin's label is not confirmed ({why})")
                continue
            healthy_acc[twin.name] = twin_run.signals["val_acc"]
        if twin.name not in twins:
            twins[twin.name] = repaired_run(twin, repeats)
        fixed = repaired_run(s, repeats)
        t = twins[twin.name]
        target = healthy_acc[twin.name]
        ok = fixed.error is None and fixed.val_acc >= target - REPAIR_TOLERANCE
        ratio = fixed.wall_time / t.wall_time if t.wall_time and t.wall_time > 0 else float("nan")
        row = {"scenario": s.name, "split": s.split, "twin": twin.name, "expected": sorted(s.expected),
               "val_acc_before": v.run.signals["val_acc"], "val_acc_repaired": fixed.val_acc,
               "val_acc_twin": target, "success": ok, "time_repaired": fixed.wall_time,
               "time_twin": t.wall_time, "time_ratio": ratio, "epochs_repaired": fixed.epochs,
               "epochs_planned": s.epochs, "treatments": fixed.treatments, "stop_reason": fixed.stop_reason,
               "error": fixed.error, "twin_error": t.error, "twin_val_acc_with_repair": t.val_acc,
               "twin_treatments": t.treatments}
        rows.append(row)
        log(repair_line(row))
    return rows


def repair_line(row: dict[str, Any]) -> str:
    applied = [f"{t['problem']}->{t['remedy']}[{t['outcome']}]" for t in row["treatments"] if t["applied"]]
    status = "ok" if row["success"] else "FAILED"
    text = (f"  {row['scenario']:36s} {status:6s} val {row['val_acc_before']:.3f} -> "
            f"{row['val_acc_repaired']:.3f} (twin {row['val_acc_twin']:.3f})  time x{row['time_ratio']:.2f}"
            f"  epochs {row['epochs_repaired']}/{row['epochs_planned']}  "
            f"{', '.join(applied) or 'no treatment'}")
    if row["error"]:
        text += f"\n  {'':36s} ERROR {row['error']}"
    if row["twin_treatments"]:
        twin_applied = [f"{t['problem']}->{t['remedy']}" for t in row["twin_treatments"] if t["applied"]]
        text += f"\n  {'':36s} (twin {row['twin']} was treated too: {', '.join(twin_applied) or 'skipped'})"
    return text


def repair_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["time_ratio"] for r in rows if r["error"] is None and math.isfinite(r["time_ratio"])]
    per_problem: dict[str, list[bool]] = {}
    per_problem_ratio: dict[str, list[float]] = {}
    for r in rows:
        for problem in r["expected"]:
            per_problem.setdefault(problem, []).append(r["success"])
            if r["error"] is None and math.isfinite(r["time_ratio"]):
                per_problem_ratio.setdefault(problem, []).append(r["time_ratio"])
    return {"runs": len(rows), "successes": sum(r["success"] for r in rows),
            "success_share": sum(r["success"] for r in rows) / len(rows) if rows else None,
            "time_ratio_median": median(ratios) if ratios else None,
            "time_ratio_max": max(ratios) if ratios else None,
            "errors": {r["scenario"]: r["error"] for r in rows if r["error"]},
            "failed": [r["scenario"] for r in rows if not r["success"]],
            "per_problem": {p: f"{sum(v)}/{len(v)}" for p, v in per_problem.items()},
            "per_problem_time_ratio": {p: median(v) for p, v in per_problem_ratio.items()}}


def repair_table(summary: dict[str, Any]) -> str:
    rows = [("problem", "repaired (within 2 pts of twin)", "median time / twin")]
    ratios = summary["per_problem_time_ratio"]
    rows += [(p, v, f"{ratios[p]:.2f}x" if p in ratios else "-") for p, v in summary["per_problem"].items()]
    text = markdown(rows)
    share = summary["success_share"]
    text += (f"\n\nrepair success: {summary['successes']}/{summary['runs']}"
             f" ({'-' if share is None else f'{share:.0%}'})")
    if summary["time_ratio_median"] is not None:
        text += (f"; wall time repaired / healthy twin: median {summary['time_ratio_median']:.2f}x, "
                 f"max {summary['time_ratio_max']:.2f}x")
    if summary["failed"]:
        text += f"\nnot repaired: {', '.join(summary['failed'])}"
    for name, error in summary["errors"].items():
        text += f"\nERROR in {name}: {error}"
    return text


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def select(split: str, only: str | None, offset: int = 0) -> list[sc.Scenario]:
    chosen = [s for s in sc.SCENARIOS if split == "all" or s.split == split]
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        exact = [s for s in chosen if s.name in names]
        chosen = exact or [s for s in chosen if any(n in s.name for n in names)]
        if not chosen:
            raise SystemExit(f"--only {only!r}: no scenario matches; names are e.g. {sc.SCENARIOS[0].name}")
    return [sc.reseed(s, offset) for s in chosen]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--only", help="scenario names (comma-separated; exact, else substrings)")
    parser.add_argument("--no-repair", action="store_true", help="detection only")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--every", type=int, default=None,
                        help="the doctor's probe cadence (default: its own)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed repair runs per scenario (the best time is kept)")
    parser.add_argument("--reseed", type=int, default=0, metavar="K",
                        help="draw every scenario's data and initialization with seeds moved by K (a "
                             "check on draws the thresholds never saw; default 0: the frozen draws)")
    parser.add_argument("--keep-blas-env", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if threadpool_limits is None:
        return clinic(args)
    with threadpool_limits(limits=1):
        return clinic(args)


def clinic(args: argparse.Namespace) -> dict[str, Any]:
    """Run the selected scenarios, print the tables and return every result."""
    offset = getattr(args, "reseed", 0)
    chosen = select(args.split, args.only, offset)
    started = time.perf_counter()
    print(f"The clinic: {len(chosen)} scenarios, retroprop {rp.__version__}, numpy {np.__version__}, "
          f"one thread, doctor every {args.every or 'default'} steps"
          + (f", seeds moved by {offset}" if offset else "") + "\n")
    result: dict[str, Any] = {"splits": {}, "scenarios": {}}
    verdicts = detect(chosen, args.every)
    for v in verdicts:
        result["scenarios"][v.scenario.name] = {
            "split": v.scenario.split, "recipe": v.scenario.describe(),
            "expected": sorted(v.scenario.expected),
            "allowed": sorted(v.scenario.allowed), "twin": v.scenario.twin,
            "fired": {p: {"step": st, "epoch": ep} for p, (st, ep) in v.first.items()},
            "missed": sorted(v.missed), "false_alarms": sorted(v.false_alarms),
            "signals": v.run.signals, "label_problems": v.run.label_problems, "wall_time": v.run.wall_time,
            "diagnoses": [{"problem": d.problem, "layer": d.layer, "step": d.step, "epoch": d.epoch,
                           "severity": d.severity, "evidence": d.evidence} for d in v.run.diagnoses]}
    detection_time = time.perf_counter() - started
    repair_rows: list[dict[str, Any]] = []
    if not args.no_repair:
        print("\nRepair (each faulty scenario again with repair=True, against its healthy twin):")
        repair_rows = repair(verdicts, args.repeats, offset=offset)
    for split in ("dev", "test"):
        part = [v for v in verdicts if v.scenario.split == split]
        if not part:
            continue
        summary = score(part)
        print(f"\n## {split}: detection ({summary['healthy']} healthy, {summary['faulty']} faulty)\n")
        print(detection_table(summary))
        entry = {"detection": summary}
        rows = [r for r in repair_rows if r["split"] == split]
        if rows:
            rsum = repair_summary(rows)
            print(f"\n## {split}: repair ({rsum['runs']} faulty runs)\n")
            print(repair_table(rsum))
            entry["repair"] = rsum
            entry["repair_rows"] = rows
        result["splits"][split] = entry
    total = time.perf_counter() - started
    result["time"] = {"detection_s": detection_time, "total_s": total}
    print(f"\nclinic time: {total:.1f} s (detection {detection_time:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=_json_default))
        print(f"results written to {args.json}")
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, set):
        return sorted(value)
    return str(value)


if __name__ == "__main__":
    main()
