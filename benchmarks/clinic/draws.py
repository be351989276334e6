"""The clinic on several draws: every scenario again with its data and initialization seeds moved.

The thresholds were frozen on the clinic's own draws (seed offset 0); a rule derived from the
mechanism should hold on other draws of the same recipes. This runs ``run.py`` once per offset
(``--reseed K``), then prints one row per draw and split and the totals over all draws: healthy runs
with an alarm, faulty runs with every expected problem found, the lowest per-problem recall, repair
success and the repaired/healthy wall-time ratios. Runs whose measured signals do not confirm their
label on a draw are left out (listed in each draw's own output with ``--verbose``).

Repair success compares one repaired run with one healthy twin, each a single draw: on a data set
where accuracy varies by a few points from draw to draw (MNIST-1D), a repair as good as the twin's
recipe still misses the 2-point margin now and then. The last table shows, per repaired scenario, the
mean accuracy difference (repaired - twin) over the draws and the twin's own spread across them.

Run: ``python benchmarks/clinic/draws.py [--offsets 0,1,2,3,4] [--split dev|test|all] [--verbose]
[--json FILE]`` (about 25 s per draw).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _env and the clinic package

if __name__ == "__main__":
    from _env import use_native_blas_kernel

    use_native_blas_kernel()

import argparse
import contextlib
import io
import json
import statistics
from typing import Any

from clinic import run as clinic_run

# the problems read from per-layer probes (gradients, activations, NaN/Inf), which the doctor must name
# within the first epoch or the first 100 steps
LAYER_PROBLEMS = ("vanishing_gradients", "exploding_gradients", "dead_relu", "saturated_activations",
                  "non_finite")


def run_draws(offsets: list[int], split: str, verbose: bool = False) -> dict[int, dict[str, Any]]:
    results = {}
    for offset in offsets:
        argv = ["--split", split, "--reseed", str(offset)]
        if verbose:
            results[offset] = clinic_run.main(argv)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                results[offset] = clinic_run.main(argv)
        print(f"draw {offset}: done", file=sys.stderr)
    return results


def _share(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator} ({numerator / denominator:.0%})" if denominator else "-"


def summarize(results: dict[int, dict[str, Any]]) -> str:
    lines = []
    for split in ("dev", "test"):
        rows = [("draw", "healthy with an alarm", "faulty all found", "lowest recall",
                 "layer problems in time", "repaired", "time median", "time max", "labels left out")]
        keys = ("alarm", "healthy", "found", "faulty", "ok", "repaired", "in_time", "named")
        totals = dict.fromkeys(keys, 0)
        ratios: list[float] = []
        for offset, result in results.items():
            entry = result["splits"].get(split)
            if entry is None:
                continue
            d, r = entry["detection"], entry.get("repair") or {}
            recalls = [p["recall"] for p in d["problems"].values() if p["runs"]]
            # named by the end of the first epoch or step 100, whichever is later
            layer = [d["problems"][p] for p in LAYER_PROBLEMS]
            in_time, named = sum(p["in_time"] for p in layer), sum(p["detected"] for p in layer)
            totals["in_time"] += in_time
            totals["named"] += named
            totals["alarm"] += d["healthy_with_alarm"]
            totals["healthy"] += d["healthy"]
            totals["found"] += d["faulty_all_found"]
            totals["faulty"] += d["faulty"]
            totals["ok"] += r.get("successes", 0)
            totals["repaired"] += r.get("runs", 0)
            ratios += [row["time_ratio"] for row in entry.get("repair_rows", []) if row["error"] is None]
            rows.append((str(offset), _share(d["healthy_with_alarm"], d["healthy"]),
                         _share(d["faulty_all_found"], d["faulty"]),
                         f"{min(recalls):.2f}" if recalls else "-", _share(in_time, named),
                         _share(r.get("successes", 0), r.get("runs", 0)),
                         f"{r['time_ratio_median']:.2f}x" if r.get("time_ratio_median") else "-",
                         f"{r['time_ratio_max']:.2f}x" if r.get("time_ratio_max") else "-",
                         str(len(d["labels_not_confirmed"]))))
        rows.append(("all", _share(totals["alarm"], totals["healthy"]),
                     _share(totals["found"], totals["faulty"]), "",
                     _share(totals["in_time"], totals["named"]), _share(totals["ok"], totals["repaired"]),
                     f"{statistics.median(ratios):.2f}x" if ratios else "-",
                     f"{max(ratios):.2f}x" if ratios else "-", ""))
        lines += [f"## {split}: {len(results)} draws\n", clinic_run.markdown(rows), ""]
        lines += _misses(results, split)
    return "\n".join(lines)


def _misses(results: dict[int, dict[str, Any]], split: str) -> list[str]:
    """Per scenario repaired on several draws: mean (repaired - twin) and the twin's own spread."""
    gaps: dict[str, list[float]] = {}
    twins: dict[str, list[float]] = {}
    twin_of: dict[str, str] = {}
    failed: list[str] = []
    for offset, result in results.items():
        for row in result["splits"].get(split, {}).get("repair_rows", []):
            gaps.setdefault(row["scenario"], []).append(row["val_acc_repaired"] - row["val_acc_twin"])
            twins.setdefault(row["twin"], []).append(row["val_acc_twin"])
            twin_of[row["scenario"]] = row["twin"]
            if not row["success"]:
                failed.append(f"  draw {offset}: {row['scenario']} {row['val_acc_repaired']:.3f} against its "
                              f"twin's {row['val_acc_twin']:.3f}")
    rows = [("scenario", "draws", "mean repaired - twin", "twin's spread (sd)")]
    for name, values in sorted(gaps.items()):
        spread = twins[twin_of[name]]
        rows.append((name, str(len(values)), f"{statistics.mean(values):+.3f}",
                     f"{statistics.stdev(spread):.3f}" if len(spread) > 1 else "-"))
    out = [f"repairs that missed the 2-point margin ({len(failed)}):", *failed, ""]
    return [*out, clinic_run.markdown(rows), ""]


def main(argv: list[str] | None = None) -> dict[int, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offsets", default="0,1,2,3,4", help="seed offsets, comma-separated")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--verbose", action="store_true", help="print each draw's own tables")
    parser.add_argument("--json", help="write every draw's results to this file")
    args = parser.parse_args(argv)
    offsets = [int(k) for k in args.offsets.split(",") if k.strip()]
    results = run_draws(offsets, args.split, args.verbose)
    print(summarize(results))
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1,
                                              default=clinic_run._json_default))
    return results


if __name__ == "__main__":
    main()
