"""Run the clinic's published buggy programs: does the doctor name each bug, stay quiet on its fix, repair it?

For every program of the chosen split and every seed, three or four runs of ``rp.fit`` (verbose=0):

1. the buggy version with ``doctor=True``: an alarm is any diagnosis; the expected labels found are
   counted; a label neither expected nor allowed is listed as unlisted;
2. the fixed version with ``doctor=True``: any diagnosis is a false alarm;
3. (unless ``--no-repair``) the buggy version with ``repair=True``: the repair succeeds when the repaired
   model's final validation accuracy is within 2 points of the fixed version's (or above it); for a
   regression (``Program.metric is None``) when its validation error is within 10 % of the fixed
   version's (or below it);
4. (unless ``--no-repair``, and only where run 2 raised an alarm) the fixed version with ``repair=True``:
   what acting on the false alarm does to a healthy program. The alarm stays a false alarm in every
   count; its verdict says more: ``improved`` when the repaired fixed version ends better than the plain
   one by more than the tolerance (the published fix left something the doctor could cure), ``harmed``
   when it ends worse by more than it (a repair that harms), ``same`` otherwise.

Repairs are also counted over the bugs within ``fit``'s power to fix (``fit_power.toml`` beside the
programs: a fix whose every change is one that ``fit``'s own remedies can make, judged from the two
versions' code by a fixed rubric, blind to the doctor's results); a bug whose fix changes its data,
labels, loss, epochs or loop is the user's to fix, and what ``fit`` does there says little.

The validation error of a regression is its mean squared error divided by the variance of its
validation targets: unit-free, so that a fixed version that standardizes its targets compares with a
buggy one that does not. A bug counts as reproduced when the buggy version (watched, not repaired)
ends worse than its fixed twin by more than those tolerances; alarms and repairs are reported over all
bugs and over the reproduced ones, for each split, and for each split of each round of porting (the
module's ``ROUND``) when the programs come from more than one. One BLAS thread; every run seeded.

Run: ``python benchmarks/clinic/programs/run.py [--split dev|heldout|all] [--only NAME[,NAME...]]
[--seeds 0,1,2] [--no-repair] [--json FILE]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/: _env
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the package as benchmarks.clinic.programs

if __name__ == "__main__":
    from _env import use_native_blas_kernel

    use_native_blas_kernel()

import argparse
import json
import math
import time
import tomllib
import traceback
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from benchmarks.clinic.programs import Program, load_programs

import retroprop as rp
from retroprop.files import check_output_path, write_text

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

FIT_POWER = Path(__file__).with_name("fit_power.toml")
ACCURACY_TOLERANCE = 0.02  # repaired accuracy within 2 points of the fixed version's
ERROR_TOLERANCE = 0.10  # repaired regression error within 10 % of the fixed version's


@dataclass
class Outcome:
    """One ``fit`` of one version: what the doctor said and how well the model ended."""

    score: float = float("nan")  # validation accuracy, or normalized validation MSE for a regression
    fired: list[str] = field(default_factory=list)  # problems diagnosed, in order of first diagnosis
    first_step: dict[str, int] = field(default_factory=dict)
    treatments: list[str] = field(default_factory=list)  # problem->remedy[outcome] of applied treatments
    stop_reason: str | None = None
    wall_time: float = float("nan")
    error: str | None = None


@dataclass
class Case:
    """One program at one seed: its three runs and their verdicts."""

    name: str
    split: str
    seed: int
    regression: bool
    expected: list[str]
    allowed: list[str]
    buggy: Outcome
    fixed: Outcome
    repaired: Outcome | None
    round: int = 1  # the round of porting that added the program (its module's ROUND)
    fixed_repaired: Outcome | None = None  # the fixed version repaired, where it raised an alarm
    within_fit: bool | None = None  # its fix is within fit's power (fit_power.toml; None: not judged)

    @property
    def found(self) -> list[str]:
        return [p for p in self.expected if p in self.buggy.fired]

    @property
    def missed(self) -> list[str]:
        return [p for p in self.expected if p not in self.buggy.fired]

    @property
    def unlisted(self) -> list[str]:
        return [p for p in self.buggy.fired if p not in self.expected and p not in self.allowed]

    @property
    def alarm(self) -> bool:
        return bool(self.buggy.fired)

    @property
    def false_alarm(self) -> bool:
        return bool(self.fixed.fired)

    @property
    def alarm_verdict(self) -> str | None:
        """What repairing the fixed version did, where it raised an alarm: ``improved``, ``harmed`` or
        ``same`` (None where it raised none or was not repaired; ``harmed`` where the repair raised)."""
        if not self.false_alarm or self.fixed_repaired is None:
            return None
        if self.fixed_repaired.error is not None:
            return "harmed"
        if not as_good(self.fixed.score, self.fixed_repaired.score, self.regression):
            return "improved"
        if not as_good(self.fixed_repaired.score, self.fixed.score, self.regression):
            return "harmed"
        return "same"

    @property
    def reproduced(self) -> bool:
        return not as_good(self.buggy.score, self.fixed.score, self.regression)

    @property
    def repair_ok(self) -> bool | None:
        if self.repaired is None:
            return None
        return self.repaired.error is None and as_good(self.repaired.score, self.fixed.score, self.regression)


def as_good(score: float, target: float, regression: bool) -> bool:
    """Whether ``score`` reaches ``target`` within the tolerance (accuracy: higher is better; a
    regression's normalized error: lower is better). A NaN target is reached by nothing."""
    if math.isnan(score) or math.isnan(target):
        return False
    if regression:
        return score <= target * (1.0 + ERROR_TOLERANCE)
    return score >= target - ACCURACY_TOLERANCE


def score(program: Program, model: Any) -> float:
    """The final validation accuracy, or for a regression the validation MSE over the targets' variance."""
    with np.errstate(all="ignore"):
        if program.metric is None:
            pred = np.asarray(rp.predict(model, program.x_val), dtype=np.float64)
            y = np.asarray(program.y_val, dtype=np.float64).reshape(pred.shape)
            error = float(np.mean((pred - y) ** 2) / np.var(y))
            return error if math.isfinite(error) else math.inf
        metrics = program.fit_options.get("metrics")
        result = rp.evaluate(model, program.x_val, program.y_val, loss=program.loss, metrics=metrics)
        return float(result[program.metric])


def train(program: Program, *, repair: bool) -> Outcome:
    """Fit ``program`` with the doctor watching (and repairing when ``repair``)."""
    outcome = Outcome()
    try:
        with np.errstate(all="ignore"):
            p = program
            history = rp.fit(p.model, p.x_train, p.y_train, loss=p.loss, optimizer=p.optimizer,
                             epochs=p.epochs, batch_size=p.batch_size, validation_data=(p.x_val, p.y_val),
                             verbose=0, doctor=rp.Doctor(repair=repair), **p.fit_options)
        for d in history.diagnoses:
            if d.problem not in outcome.first_step:
                outcome.first_step[d.problem] = int(d.step)
                outcome.fired.append(d.problem)
        outcome.treatments = [f"{t.problem}->{t.remedy}[{getattr(t, 'outcome', None)}]"
                              for t in history.treatments if getattr(t, "applied", True)]
        outcome.stop_reason = history.stop_reason
        outcome.wall_time = history.wall_time
        outcome.score = score(program, history.model if history.model is not None else program.model)
    except Exception as err:  # a crash is a result, reported with its program
        outcome.error = f"{type(err).__name__}: {err} | " + " <- ".join(
            f"{Path(f.filename).name}:{f.lineno}" for f in traceback.extract_tb(err.__traceback__)[-4:])
    return outcome


def fit_power(path: Path = FIT_POWER) -> dict[str, bool]:
    """Per program, whether its fix is within ``fit``'s power (``fit_power.toml``'s ``within``)."""
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        entries = tomllib.load(handle).get("programs", {})
    bad = [name for name, entry in entries.items() if not isinstance(entry.get("within"), bool)]
    if bad:
        raise SystemExit(f"{path}: 'within' must be true or false for each program; not so for {bad[:5]}")
    return {name: entry["within"] for name, entry in entries.items()}


def run_case(name: str, module: ModuleType, seed: int, repair: bool) -> Case:
    buggy = module.buggy(seed)
    regression = buggy.metric is None
    found = train(buggy, repair=False)
    fixed = train(module.fixed(seed), repair=False)
    repaired = train(module.buggy(seed), repair=True) if repair else None
    fixed_repaired = train(module.fixed(seed), repair=True) if repair and fixed.fired else None
    return Case(name, module.SPLIT, seed, regression, sorted(module.EXPECTED), sorted(module.ALLOWED), found,
                fixed, repaired, round=getattr(module, "ROUND", 1), fixed_repaired=fixed_repaired)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def _fmt(value: float, regression: bool) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    return f"err {value:.3g}" if regression else f"{value:.3f}"


def case_line(case: Case) -> str:
    fired = ", ".join(f"{p}@{case.buggy.first_step[p] + 1}" for p in case.buggy.fired) or "-"
    status = "ok" if not case.missed else "MISSED " + ", ".join(case.missed)
    if case.unlisted:
        status += "; unlisted " + ", ".join(case.unlisted)
    if case.fixed.fired:
        status += "; FALSE ALARM on fixed: " + ", ".join(case.fixed.fired)
        if case.fixed_repaired is not None:
            status += (f" (repaired: {_fmt(case.fixed_repaired.score, case.regression)}, "
                       f"{case.alarm_verdict})")
    buggy, fixed = _fmt(case.buggy.score, case.regression), _fmt(case.fixed.score, case.regression)
    text = (f"  {case.name} (seed {case.seed}, {case.split}) expected {', '.join(case.expected)}\n"
            f"    buggy {buggy} vs fixed {fixed}{'' if case.reproduced else ' (NOT reproduced)'}; "
            f"fired: {fired}\n"
            f"    {status}")
    if case.repaired is not None:
        verdict = "ok" if case.repair_ok else "FAILED"
        text += (f"\n    repair {verdict}: {_fmt(case.repaired.score, case.regression)}  "
                 f"{', '.join(case.repaired.treatments) or 'no treatment'}")
    for label, outcome in (("buggy", case.buggy), ("fixed", case.fixed), ("repair", case.repaired),
                           ("fixed repair", case.fixed_repaired)):
        if outcome is not None and outcome.error:
            text += f"\n    ERROR in the {label} run: {outcome.error}"
    return text


def summarize(cases: list[Case]) -> dict[str, Any]:
    reproduced = [c for c in cases if c.reproduced]
    repaired = [c for c in cases if c.repaired is not None]
    within = [c for c in repaired if c.within_fit]
    return {
        "bugs": len(cases),
        "reproduced": len(reproduced),
        "alarm": sum(c.alarm for c in cases),
        "alarm_on_reproduced": sum(c.alarm for c in reproduced),
        "expected_labels": sum(len(c.expected) for c in cases),
        "expected_found": sum(len(c.found) for c in cases),
        "expected_labels_on_reproduced": sum(len(c.expected) for c in reproduced),
        "expected_found_on_reproduced": sum(len(c.found) for c in reproduced),
        "buggy_with_unlisted_label": sum(bool(c.unlisted) for c in cases),
        "fixed": len(cases),
        "fixed_with_false_alarm": sum(c.false_alarm for c in cases),
        "false_alarms": {f"{c.name}@{c.seed}": c.fixed.fired for c in cases if c.false_alarm},
        "false_alarms_repaired": sum(c.alarm_verdict is not None for c in cases),
        "false_alarm_repair_improved": sum(c.alarm_verdict == "improved" for c in cases),
        "false_alarm_repair_harmed": sum(c.alarm_verdict == "harmed" for c in cases),
        "repairs": len(repaired),
        "repair_success": sum(bool(c.repair_ok) for c in repaired),
        "repairs_on_reproduced": sum(1 for c in repaired if c.reproduced),
        "repair_success_on_reproduced": sum(bool(c.repair_ok) for c in repaired if c.reproduced),
        "repairs_within_fit": len(within),
        "repair_success_within_fit": sum(bool(c.repair_ok) for c in within),
        "repairs_within_fit_on_reproduced": sum(1 for c in within if c.reproduced),
        "repair_success_within_fit_on_reproduced": sum(bool(c.repair_ok) for c in within if c.reproduced),
        "repairs_not_judged_for_fit": sum(1 for c in repaired if c.within_fit is None),
        "errors": sum(1 for c in cases for o in (c.buggy, c.fixed, c.repaired, c.fixed_repaired)
                      if o is not None and o.error),
    }


def summary_text(split: str, s: dict[str, Any]) -> str:
    lines = [f"## {split}: {s['bugs']} buggy runs ({s['reproduced']} reproduced), {s['fixed']} fixed runs",
             f"alarm on a buggy program: {s['alarm']}/{s['bugs']} (reproduced: "
             f"{s['alarm_on_reproduced']}/{s['reproduced']})",
             f"expected labels found: {s['expected_found']}/{s['expected_labels']} (reproduced: "
             f"{s['expected_found_on_reproduced']}/{s['expected_labels_on_reproduced']})",
             f"buggy runs with a label neither expected nor allowed: "
             f"{s['buggy_with_unlisted_label']}/{s['bugs']}",
             f"false alarms on fixed programs: {s['fixed_with_false_alarm']}/{s['fixed']}"]
    lines += [f"  {name}: {', '.join(fired)}" for name, fired in s["false_alarms"].items()]
    if s["false_alarms_repaired"]:
        improved, harmed = s["false_alarm_repair_improved"], s["false_alarm_repair_harmed"]
        lines.append(f"  repairing them: improved {improved}, harmed {harmed}, same "
                     f"{s['false_alarms_repaired'] - improved - harmed} of {s['false_alarms_repaired']} "
                     "(beyond the tolerance either way)")
    if s["repairs"]:
        lines.append(f"repair reaching the fixed version: {s['repair_success']}/{s['repairs']} (reproduced: "
                     f"{s['repair_success_on_reproduced']}/{s['repairs_on_reproduced']})")
        if s["repairs_within_fit"]:
            reproduced = (f"{s['repair_success_within_fit_on_reproduced']}/"
                          f"{s['repairs_within_fit_on_reproduced']}")
            lines.append(f"  of the bugs within fit's power to fix: {s['repair_success_within_fit']}/"
                         f"{s['repairs_within_fit']} (reproduced: {reproduced})")
        if 0 < s["repairs_not_judged_for_fit"] < s["repairs"]:  # a table that misses some of them
            lines.append(f"  bugs not judged for fit's power (missing from fit_power.toml): "
                         f"{s['repairs_not_judged_for_fit']}")
    if s["errors"]:
        lines.append(f"runs that raised: {s['errors']}")
    return "\n".join(lines)


def table(cases: list[Case]) -> str:
    rows = [("program", "seed", "expected", "fired on buggy", "missed", "fired on fixed", "buggy", "fixed",
             "repaired")]
    for c in cases:
        rows.append((c.name, str(c.seed), ",".join(c.expected), ",".join(c.buggy.fired) or "-",
                     ",".join(c.missed) or "-", ",".join(c.fixed.fired) or "-",
                     _fmt(c.buggy.score, c.regression) + ("" if c.reproduced else " (not repr.)"),
                     _fmt(c.fixed.score, c.regression),
                     "-" if c.repaired is None else
                     f"{_fmt(c.repaired.score, c.regression)} {'ok' if c.repair_ok else 'FAILED'}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    bad = f"--seeds {text!r}: expected non-negative integers separated by commas, e.g. 0,1,2"
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise SystemExit(bad) from err
    if not seeds or any(s < 0 for s in seeds):
        raise SystemExit(bad)
    return seeds


def select(split: str, only: str | None, rounds: str | None = None) -> dict[str, ModuleType]:
    programs = load_programs(split)
    if rounds:
        try:
            wanted = {int(part) for part in rounds.split(",") if part.strip()}
        except ValueError as err:
            raise SystemExit(f"--rounds {rounds!r}: expected round numbers separated by commas, "
                             "e.g. 1,2") from err
        programs = {k: v for k, v in programs.items() if getattr(v, "ROUND", 1) in wanted}
        if not programs:
            raise SystemExit(f"--rounds {rounds!r}: no program of split {split!r} is of those rounds")
    if only:
        names = [n.strip() for n in only.split(",") if n.strip()]
        exact = {k: v for k, v in programs.items() if k in names}
        programs = exact or {k: v for k, v in programs.items() if any(n in k for n in names)}
        if not programs:
            raise SystemExit(f"--only {only!r}: no program of split {split!r} matches")
    return programs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--only", help="program names (comma-separated; exact, else substrings)")
    parser.add_argument("--seeds", default="0", help="seeds, comma-separated (default 0)")
    parser.add_argument("--rounds", help="only the programs of these rounds of porting (comma-separated)")
    parser.add_argument("--no-repair", action="store_true", help="detection and false alarms only")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--keep-blas-env", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    if args.json:
        check_output_path(args.json, what="--json results", suffixes=(".json",))
    if threadpool_limits is None:
        return clinic(args, seeds)
    with threadpool_limits(limits=1):
        return clinic(args, seeds)


def clinic(args: argparse.Namespace, seeds: list[int]) -> dict[str, Any]:
    programs = select(args.split, args.only, args.rounds)
    started = time.perf_counter()
    print(f"The clinic's programs: {len(programs)} programs x {len(seeds)} seeds, retroprop "
          f"{rp.__version__}, numpy {np.__version__}, one thread{', no repair' if args.no_repair else ''}\n")
    within = fit_power()
    cases = []
    for name, module in programs.items():
        for seed in seeds:
            case = run_case(name, module, seed, repair=not args.no_repair)
            case.within_fit = within.get(name)
            cases.append(case)
            print(case_line(case), flush=True)
    result: dict[str, Any] = {"seeds": seeds, **report(cases)}
    result["time_s"] = time.perf_counter() - started
    print(f"\ntime: {result['time_s']:.1f} s")
    if args.json:
        write_text(args.json, json.dumps(result, indent=1, default=_json_default))
        print(f"results written to {args.json}")
    return result


def report(cases: list[Case]) -> dict[str, Any]:
    """Print each split's summary and table, and each split of each round's summary when the cases
    come from more than one round; returns them (``splits``, ``rounds``) with the cases as plain dicts."""
    result: dict[str, Any] = {"splits": {}, "rounds": {}}
    for split in ("dev", "heldout"):
        part = [c for c in cases if c.split == split]
        if not part:
            continue
        summary = summarize(part)
        result["splits"][split] = summary
        print(f"\n{summary_text(split, summary)}\n\n{table(part)}")
    # each round's halves apart: a later round's held-out half is the one no rule was looked at against
    for key in sorted({(c.split, c.round) for c in cases}):
        if len({c.round for c in cases}) < 2:
            break
        part = [c for c in cases if (c.split, c.round) == key]
        summary = summarize(part)
        result["rounds"][f"{key[0]}, round {key[1]}"] = summary
        print(f"\n{summary_text(f'{key[0]}, round {key[1]}', summary)}")
    result["cases"] = [{**asdict(c), "reproduced": c.reproduced, "repair_ok": c.repair_ok, "missed": c.missed,
                        "unlisted": c.unlisted, "alarm_verdict": c.alarm_verdict} for c in cases]
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
