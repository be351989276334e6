"""Run the clinic's published buggy PyTorch scripts as users run them: ``retroprop watch script.py``.

Each folder under ``benchmarks/clinic/scripts/`` is one published program: ``buggy.py`` and
``fixed.py``, plain PyTorch scripts that know nothing of retroprop (they take the seed as their first
argument and print ``RESULT val_accuracy=...`` or ``RESULT val_error=...`` as their last line), and
``case.toml`` (``source``, ``symptom``, ``fix``, ``data``, ``expected`` and ``allowed`` problem ids
written before any doctor run, ``plain``: the results measured without the doctor, and ``round``: the
round of porting, 1 when absent). For every script
and seed, three subprocesses of ``python -m retroprop watch --json``:

1. ``buggy.py``: an alarm is any diagnosis (of any model the script trains);
2. ``fixed.py``: any diagnosis is a false alarm;
3. (unless ``--no-repair``) ``buggy.py`` under ``--repair``: the repair succeeds when its RESULT is
   within ``programs/run.py``'s tolerances of the fixed script's.

Nothing is given to the doctor but the script: the model, the loss, the data and its order are what
``retroprop watch`` finds by itself. The verdicts, summaries and tables are ``programs/run.py``'s. The
scripts are a held-out set, ported in rounds: no rule is tuned on them. One thread per process.

Run: ``python benchmarks/clinic/scripts/run.py [--only NAME[,NAME...]] [--rounds 2] [--seeds 0,1,2]
[--no-repair] [--json FILE]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the package as benchmarks.clinic...

import argparse
import json
import math
import os
import re
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from typing import Any

from benchmarks.clinic.programs.run import Case, Outcome, _json_default, case_line, parse_seeds, report

from retroprop.files import check_output_path, write_text

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 600  # one script run at most (the scripts take seconds)
RESULT = re.compile(r"^RESULT (val_accuracy|val_error)=(\S+)\s*$")
KEYS = ("source", "symptom", "fix", "data", "expected", "allowed")
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


class CaseError(ValueError):
    """A script folder that does not follow the protocol."""


@dataclass(frozen=True)
class ScriptCase:
    """One folder: its two scripts and what is expected of the doctor on them."""

    name: str
    folder: Path
    expected: tuple[str, ...]
    allowed: tuple[str, ...]
    meta: dict[str, Any]
    round: int = 1


def folders(root: Path = HERE) -> list[Path]:
    """The script folders under ``root``."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def load_cases(root: Path = HERE) -> dict[str, ScriptCase]:
    """Every script folder under ``root``, by name, checked against the protocol."""
    return {folder.name: load_case(folder) for folder in folders(root)}


def load_case(folder: Path) -> ScriptCase:
    """One script folder, checked against the protocol (``CaseError`` says what is wrong)."""
    toml = folder / "case.toml"
    if not toml.is_file():
        raise CaseError(f"{folder}: no case.toml (each script folder needs one, with {', '.join(KEYS)})")
    meta = tomllib.loads(toml.read_text())
    missing = [k for k in KEYS if k not in meta]
    if missing:
        raise CaseError(f"{toml}: missing {', '.join(missing)}")
    for script in ("buggy.py", "fixed.py"):
        if not (folder / script).is_file():
            raise CaseError(f"{folder}: no {script}")
    expected, allowed = meta["expected"], meta["allowed"]
    if not (isinstance(expected, list) and expected and all(isinstance(p, str) for p in expected)):
        raise CaseError(f"{toml}: expected must be a non-empty list of problem ids, got {expected!r}")
    if not (isinstance(allowed, list) and all(isinstance(p, str) for p in allowed)):
        raise CaseError(f"{toml}: allowed must be a list of problem ids, got {allowed!r}")
    round_ = meta.get("round", 1)
    if not (isinstance(round_, int) and not isinstance(round_, bool) and round_ >= 1):
        raise CaseError(f"{toml}: round must be a whole number from 1, got {round_!r}")
    return ScriptCase(folder.name, folder, tuple(expected), tuple(allowed), meta, round_)


def parse_result(text: str) -> tuple[float, bool] | None:
    """The last ``RESULT`` line's (value, whether it is a regression's error), or None."""
    for line in reversed(text.splitlines()):
        match = RESULT.match(line.strip())
        if match:
            return float(match.group(2)), match.group(1) == "val_error"
    return None


def watch(script: Path, seed: int, *, repair: bool) -> tuple[Outcome, bool | None]:
    """One ``retroprop watch --json`` run of ``script`` with ``seed``: its outcome, and whether its
    RESULT is a regression's (None when it printed none)."""
    outcome = Outcome()
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "retroprop", "watch", "--json", "--report",
                   str(Path(folder) / "run.html"), *(["--repair"] if repair else []), str(script), str(seed)]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=folder,
                                  env={**os.environ, **THREADS})
        except subprocess.TimeoutExpired:
            outcome.error = f"timed out after {TIMEOUT_S} s"
            return outcome, None
        outcome.wall_time = time.perf_counter() - started
    result = parse_result(done.stderr)  # under --json the script's own output goes to stderr
    try:
        found = json.loads(done.stdout)
    except json.JSONDecodeError:
        outcome.error = f"exit {done.returncode}, no JSON: {done.stderr.strip()[-400:]}"
        return outcome, None if result is None else result[1]
    if found.get("script_status"):
        outcome.error = f"the script failed ({found.get('script_ended')}): {done.stderr.strip()[-400:]}"
    elif result is None:
        outcome.error = "the script printed no RESULT line"
    if found.get("doctor_errors"):
        outcome.error = (outcome.error or "") + f" doctor errors: {found['doctor_errors']}"
    diagnoses = sorted((d for m in found.get("models", []) for d in m["diagnoses"]), key=lambda d: d["step"])
    for d in diagnoses:
        if d["problem"] not in outcome.first_step:
            outcome.first_step[d["problem"]] = int(d["step"])
            outcome.fired.append(d["problem"])
    outcome.treatments = [f"{t['problem']}->{t['remedy']}[{t.get('outcome')}]"
                          for m in found.get("models", []) for t in m["treatments"] if t.get("applied", True)]
    if result is not None:
        outcome.score = result[0] if math.isfinite(result[0]) or result[1] else math.nan
    return outcome, None if result is None else result[1]


def run_case(case: ScriptCase, seed: int, repair: bool) -> Case:
    buggy, regression = watch(case.folder / "buggy.py", seed, repair=False)
    fixed, fixed_regression = watch(case.folder / "fixed.py", seed, repair=False)
    repaired = watch(case.folder / "buggy.py", seed, repair=True)[0] if repair else None
    return Case(case.name, "heldout", seed, bool(regression if regression is not None else fixed_regression),
                list(case.expected), list(case.allowed), buggy, fixed, repaired, round=case.round)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="script folder names (comma-separated; exact, else substrings)")
    parser.add_argument("--seeds", default="0", help="seeds, comma-separated (default 0)")
    parser.add_argument("--rounds", help="only these rounds of porting, comma-separated (default all)")
    parser.add_argument("--no-repair", action="store_true", help="detection and false alarms only")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--root", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    if args.json:
        check_output_path(args.json, what="--json results", suffixes=(".json",))
    cases = load_cases(args.root)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        cases = {k: v for k, v in cases.items() if k in names} or {
            k: v for k, v in cases.items() if any(n in k for n in names)}
        if not cases:
            raise SystemExit(f"--only {args.only!r}: no script folder matches")
    if args.rounds:
        try:
            rounds = {int(part) for part in args.rounds.split(",") if part.strip()}
        except ValueError as err:
            raise SystemExit(f"--rounds {args.rounds!r}: expected round numbers separated by commas, "
                             "e.g. 1,2") from err
        cases = {k: v for k, v in cases.items() if v.round in rounds}
        if not cases:
            raise SystemExit(f"--rounds {args.rounds!r}: no script folder of those rounds")
    started = time.perf_counter()
    print(f"The clinic's PyTorch scripts under `retroprop watch`: {len(cases)} programs x {len(seeds)} seeds"
          f"{', no repair' if args.no_repair else ''}\n")
    results = []
    for case in cases.values():
        for seed in seeds:
            result = run_case(case, seed, repair=not args.no_repair)
            results.append(result)
            print(case_line(result), flush=True)
    summary: dict[str, Any] = {"seeds": seeds, **report(results)}
    summary["time_s"] = time.perf_counter() - started
    print(f"\ntime: {summary['time_s']:.1f} s")
    if args.json:
        write_text(args.json, json.dumps(summary, indent=1, default=_json_default))
        print(f"results written to {args.json}")
    return summary


if __name__ == "__main__":
    main()
