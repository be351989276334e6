"""The clinic's published programs as PyTorch loops: the torch doctor on them, or their parity without it.

Each program's buggy and fixed versions are built for a seed and converted to torch by ``_torch_twin``
(same initial weights, optimizer, loss numbers, batches and Dropout masks as ``rp.fit``); a program
whose conversion is not exact is skipped with the reason printed. Two modes:

- the measurement (default): each version trained in the plain torch loop under
  ``retroprop.torch.watch(model, optimizer, loss=, inputs=, targets=, validation_inputs=,
  validation_targets=, shuffled=, n_classes=, batch_size=, steps=)``
  with ``observe(loss)`` every step, ``end_epoch(epoch, logs)`` with fit's Keras-style logs and
  ``finish()``; scored with ``run.py``'s own ``Case``, ``as_good``, summaries and tables (alarms on buggy,
  expected labels found, false alarms on fixed, per split and per round of porting); ``--repair`` also
  runs the buggy version again under ``watch(..., repair=True)`` and compares it with the fixed one;
- ``--parity``: no doctor at all. Each version trained plainly in torch and by ``rp.fit(doctor=False)``;
  per version, the largest relative difference of the first ``--window`` step losses, the first step
  whose losses differ by more than ``PARITY_RTOL``, the final training loss and score of both, and
  whether the two end alike by ``run.py``'s own tolerance (and agree on whether the bug reproduces).
  ``--float64`` casts both engines' models to float64 first: a gap that float32 rounding grew (chaotic
  runs) shrinks by orders of magnitude there, a conversion error does not.

Run: ``python benchmarks/clinic/programs/_torch_run.py [--split dev|heldout|all] [--rounds 1,2]
[--only NAME[,NAME...]] [--seeds 0,1,2] [--repair] [--every K] [--parity [--window 20] [--float64]]
[--json FILE]``.
One BLAS thread, one torch thread.
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
import traceback
from types import ModuleType
from typing import Any

import numpy as np
import torch
from benchmarks.clinic.programs import Program
from benchmarks.clinic.programs import _torch_twin as twin_lib
from benchmarks.clinic.programs import run as clinic

import retroprop as rp
from retroprop.files import check_output_path, write_text

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

# float32 twins on the same weights and batches differ only by summation order (numpy's BLAS against
# torch's kernels: ~1e-7 relative per step); 1e-3 leaves four orders of magnitude for that to grow
# before a step counts as diverged, and is far below any difference a rule could react to
PARITY_RTOL = 1e-3
WINDOW = 20


# ---------------------------------------------------------------------------------------------
# The measurement: the torch doctor on each version
# ---------------------------------------------------------------------------------------------
def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err} | " + " <- ".join(
        f"{Path(f.filename).name}:{f.lineno}" for f in traceback.extract_tb(err.__traceback__)[-4:])


def watched(twin: twin_lib.TorchTwin, repair: bool, every: int | None = None) -> clinic.Outcome:
    """Train ``twin`` in the plain torch loop under ``retroprop.torch.watch`` (repairing when ``repair``)."""
    from retroprop.torch import watch

    outcome = clinic.Outcome()
    p = twin.program
    try:
        with np.errstate(all="ignore"):
            doctor = watch(twin.model, twin.optimizer, repair=repair, every=every, loss=twin.loss,
                           inputs=twin.tensors["x_train"], targets=twin.tensors["y_train"],
                           validation_inputs=twin.tensors["x_val"], validation_targets=twin.tensors["y_val"],
                           shuffled=twin.shuffle, n_classes=twin.n_classes, batch_size=p.batch_size,
                           steps=p.epochs * twin.steps_per_epoch)
            run = twin_lib.train(twin, doctor, repair=repair)
        for d in doctor.diagnoses:
            if d.problem not in outcome.first_step:
                outcome.first_step[d.problem] = int(d.step)
                outcome.fired.append(d.problem)
        outcome.treatments = [f"{t.problem}->{t.remedy}[{getattr(t, 'outcome', None)}]"
                              for t in doctor.treatments if getattr(t, "applied", True)]
        outcome.stop_reason = run.stop_reason or doctor.core.stop_reason
        outcome.wall_time = run.wall_time
        outcome.score = twin_lib.score(twin)
    except Exception as err:  # a crash is a result, reported with its program
        outcome.error = _error_text(err)
    return outcome


def build(module: ModuleType, version: str, seed: int) -> twin_lib.TorchTwin:
    """One version built for ``seed`` and converted at once (fit's generator as the program left it)."""
    return twin_lib.convert(getattr(module, version)(seed))


def unsupported(module: ModuleType, seed: int) -> str | None:
    """Why ``module``'s versions cannot be converted exactly, or None."""
    reasons = []
    for version in ("buggy", "fixed"):
        try:
            build(module, version, seed)
        except twin_lib.Unsupported as err:
            reasons.append(f"{version}: {err}")
    return "; ".join(reasons) or None


def run_case(name: str, module: ModuleType, seed: int, repair: bool, every: int | None) -> clinic.Case:
    buggy_twin = build(module, "buggy", seed)
    regression = buggy_twin.program.metric is None
    found = watched(buggy_twin, repair=False, every=every)
    fixed = watched(build(module, "fixed", seed), repair=False, every=every)
    repaired = watched(build(module, "buggy", seed), repair=True, every=every) if repair else None
    return clinic.Case(name, module.SPLIT, seed, regression, sorted(module.EXPECTED), sorted(module.ALLOWED),
                       found, fixed, repaired, round=getattr(module, "ROUND", 1))


# ---------------------------------------------------------------------------------------------
# Parity: plain torch against plain rp.fit, no doctor
# ---------------------------------------------------------------------------------------------
def fit_plain(program: Program) -> tuple[list[float], float, float, str | None]:
    """``rp.fit(doctor=False)`` on ``program``: step losses, final training loss, score, stop reason."""
    p = program
    with np.errstate(all="ignore"):
        history = rp.fit(p.model, p.x_train, p.y_train, loss=p.loss, optimizer=p.optimizer, epochs=p.epochs,
                         batch_size=p.batch_size, validation_data=(p.x_val, p.y_val), verbose=0,
                         doctor=False, **p.fit_options)
    return (list(history._step_loss), float(history.history["loss"][-1]), clinic.score(p, p.model),
            history.stop_reason)


def relative_gaps(a: list[float], b: list[float]) -> np.ndarray:
    """|a - b| / max(|a|, |b|) per step; 0 where both are equal (NaN and NaN, inf and inf included)."""
    n = min(len(a), len(b))
    x, y = np.asarray(a[:n], dtype=np.float64), np.asarray(b[:n], dtype=np.float64)
    with np.errstate(all="ignore"):
        gaps = np.abs(x - y) / np.maximum(np.abs(x), np.abs(y))
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    gaps[same] = 0.0
    gaps[np.isnan(gaps)] = np.inf  # one NaN, the other not
    return gaps


def made(module: ModuleType, version: str, seed: int, float64: bool = False) -> Program:
    """One version built for ``seed``; ``float64``: its model cast to float64 in place (the optimizer
    keeps its parameters), fit then casts the data to match."""
    program = getattr(module, version)(seed)
    if float64:
        program.model.double()
    return program


def parity_version(module: ModuleType, version: str, seed: int, window: int,
                   float64: bool = False) -> dict[str, Any]:
    twin = twin_lib.convert(made(module, version, seed, float64))
    run = twin_lib.train(twin)
    torch_score = twin_lib.score(twin)
    rp_losses, rp_final, rp_score, rp_stop = fit_plain(made(module, version, seed, float64))
    gaps = relative_gaps(run.step_loss, rp_losses)
    over = np.flatnonzero(gaps > PARITY_RTOL)
    span = min(window, max(len(run.step_loss), len(rp_losses)))  # both must have taken the window's steps
    regression = twin.program.metric is None
    final_gap = float(relative_gaps([run.logs["loss"][-1]], [rp_final])[0])
    return {"version": version, "steps_torch": len(run.step_loss), "steps_rp": len(rp_losses),
            "max_gap_window": float(gaps[:window].max()) if len(gaps) else math.nan,
            "window_agrees": bool(len(gaps) >= span and gaps[:span].max(initial=0.0) <= PARITY_RTOL),
            "first_diverged_step": int(over[0]) + 1 if len(over) else None,
            "max_gap": float(gaps.max()) if len(gaps) else math.nan,
            "final_loss_torch": run.logs["loss"][-1], "final_loss_rp": rp_final, "final_loss_gap": final_gap,
            "score_torch": torch_score, "score_rp": rp_score, "regression": regression,
            "same_result": (clinic.as_good(torch_score, rp_score, regression)
                            and clinic.as_good(rp_score, torch_score, regression))
            or (math.isnan(torch_score) and math.isnan(rp_score)),
            "stop_torch": run.stop_reason, "stop_rp": rp_stop}


def parity_case(name: str, module: ModuleType, seed: int, window: int,
                float64: bool = False) -> dict[str, Any]:
    rows = [parity_version(module, version, seed, window, float64) for version in ("buggy", "fixed")]
    buggy, fixed = rows
    regression = buggy["regression"]
    return {"name": name, "seed": seed, "split": module.SPLIT, "round": getattr(module, "ROUND", 1),
            "versions": rows,
            "reproduced_torch": not clinic.as_good(buggy["score_torch"], fixed["score_torch"], regression),
            "reproduced_rp": not clinic.as_good(buggy["score_rp"], fixed["score_rp"], regression)}


def _num(value: float | None, regression: bool = False) -> str:
    if value is None:
        return "-"
    return clinic._fmt(value, regression) if not math.isnan(value) else "nan"


def parity_table(cases: list[dict[str, Any]], window: int) -> str:
    rows = [("program", "seed", "version", "steps t/rp", f"max gap, first {window}",
             f"first step > {PARITY_RTOL:g}",
             "final loss torch / rp", "score torch / rp", "same result", "bug reproduced t/rp")]
    for case in cases:
        reproduced = "/".join("yes" if case[k] else "no" for k in ("reproduced_torch", "reproduced_rp"))
        for v in case["versions"]:
            regression = v["regression"]
            rows.append((case["name"], str(case["seed"]), v["version"], f"{v['steps_torch']}/{v['steps_rp']}",
                         f"{v['max_gap_window']:.1e}", str(v["first_diverged_step"] or "-"),
                         f"{v['final_loss_torch']:.5g} / {v['final_loss_rp']:.5g}",
                         f"{_num(v['score_torch'], regression)} / {_num(v['score_rp'], regression)}",
                         "yes" if v["same_result"] else "NO", reproduced if v["version"] == "buggy" else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parity_summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    versions = [v for c in cases for v in c["versions"]]
    return {"versions": len(versions),
            "window_agrees": sum(v["window_agrees"] for v in versions),
            "whole_run_agrees": sum(v["first_diverged_step"] is None and v["steps_torch"] == v["steps_rp"]
                                    for v in versions),
            "same_result": sum(v["same_result"] for v in versions),
            "same_reproduction": sum(c["reproduced_torch"] == c["reproduced_rp"] for c in cases),
            "programs": len(cases)}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="all")
    parser.add_argument("--only", help="program names (comma-separated; exact, else substrings)")
    parser.add_argument("--seeds", default="0", help="seeds, comma-separated (default 0)")
    parser.add_argument("--rounds", help="only the programs of these rounds of porting (comma-separated)")
    parser.add_argument("--repair", action="store_true",
                        help="also run each buggy version under watch(repair=True) against its fixed one")
    parser.add_argument("--every", type=int, default=None,
                        help="the doctor's probe cadence (default: its own)")
    parser.add_argument("--parity", action="store_true",
                        help="no doctor: plain torch against plain rp.fit, step by step")
    parser.add_argument("--window", type=int, default=WINDOW, help="parity: the first steps compared (20)")
    parser.add_argument("--float64", action="store_true",
                        help="parity: both engines in float64 (rounding chaos apart from conversion errors)")
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--keep-blas-env", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seeds = clinic.parse_seeds(args.seeds)
    if args.window < 1:
        raise SystemExit(f"--window {args.window}: expected a positive number of steps")
    if args.json:
        check_output_path(args.json, what="--json results", suffixes=(".json",))
    torch.set_num_threads(1)
    if threadpool_limits is None:
        return session(args, seeds)
    with threadpool_limits(limits=1):
        return session(args, seeds)


def session(args: argparse.Namespace, seeds: list[int]) -> dict[str, Any]:
    programs = clinic.select(args.split, args.only, args.rounds)
    started = time.perf_counter()
    if args.float64 and not args.parity:
        raise SystemExit("--float64 is for --parity runs (the measurement trains the programs as written)")
    what = f"parity{', float64' if args.float64 else ''}, no doctor" if args.parity else (
        f"under retroprop.torch.watch{', with repair' if args.repair else ''}")
    print(f"The clinic's programs in torch ({what}): {len(programs)} programs x {len(seeds)} seeds, "
          f"retroprop {rp.__version__}, torch {torch.__version__}, numpy {np.__version__}, one thread\n")
    skipped = {}
    for name, module in programs.items():
        reason = unsupported(module, seeds[0])
        if reason:
            skipped[name] = reason
            print(f"  SKIPPED {name}: {reason}")
    chosen = {k: v for k, v in programs.items() if k not in skipped}
    result: dict[str, Any] = {"seeds": seeds, "torch": torch.__version__, "skipped": skipped}
    if args.parity:
        cases = []
        for name, module in chosen.items():
            for seed in seeds:
                cases.append(parity_case(name, module, seed, args.window, args.float64))
                print(f"  {name} (seed {seed}) done", flush=True)
        print("\n" + parity_table(cases, args.window))
        summary = parity_summary(cases)
        print(f"\nversions whose first {args.window} step losses agree within {PARITY_RTOL:g}: "
              f"{summary['window_agrees']}/{summary['versions']}; whole run within {PARITY_RTOL:g}: "
              f"{summary['whole_run_agrees']}/{summary['versions']}; same final score (run.py's tolerance): "
              f"{summary['same_result']}/{summary['versions']}; same verdict on whether the bug reproduces: "
              f"{summary['same_reproduction']}/{summary['programs']}")
        result.update(parity=cases, summary=summary)
    else:
        cases = []
        for name, module in chosen.items():
            for seed in seeds:
                case = run_case(name, module, seed, args.repair, args.every)
                cases.append(case)
                print(clinic.case_line(case), flush=True)
        result.update(clinic.report(cases))
    if skipped:
        print(f"\nskipped ({len(skipped)}): " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    result["time_s"] = time.perf_counter() - started
    print(f"\ntime: {result['time_s']:.1f} s")
    if args.json:
        write_text(args.json, json.dumps(result, indent=1, default=clinic._json_default))
        print(f"results written to {args.json}")
    return result


if __name__ == "__main__":
    main()
