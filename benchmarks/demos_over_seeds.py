"""Every demonstration over several seeds: the numbers behind the README's ranges, and whether each
claim holds on every seed.

    OPENBLAS_NUM_THREADS=1 python benchmarks/demos_over_seeds.py              # seeds 0-4, all demos
    OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Sandybridge python benchmarks/demos_over_seeds.py
    python benchmarks/demos_over_seeds.py --demos dropout --seeds 0 1 2 --json out.json

It keeps the machine's OpenBLAS settings (the point is to compare kernels): run it once with
``OPENBLAS_CORETYPE`` set to another kernel and once without. Prints, per demonstration, each run's
training and validation accuracy as min-max over the seeds, the problems the doctor named (and on
how many seeds), and each claim with the number of seeds on which it held. Exit status 1 when a
claim failed on some seed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from retroprop import demos
from retroprop.files import write_text


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown BLAS"
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in info)


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.1%}" if abs(high - low) < 5e-4 else f"{low:.1%}-{high:.1%}"


def _claim_key(text: str) -> str:
    """A claim's text without its numbers, so that the same claim on several seeds is counted once."""
    return re.sub(r"-?\d[\d.e+-]*%?", "#", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--demos", nargs="+", default=list(demos.DEMOS), choices=demos.DEMOS)
    parser.add_argument("--json", help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    print(f"BLAS: {_blas()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"seeds {args.seeds}")
    everything: dict[str, list[dict]] = {}
    failed = 0
    for name in args.demos:
        started = time.perf_counter()
        results = [demos.run_demo(name, out=None, seed=seed, echo=lambda _: None) for seed in args.seeds]
        elapsed = (time.perf_counter() - started) / len(results)
        everything[name] = [r.to_dict() for r in results]
        print(f"\n== {name} ({elapsed:.1f} s per seed)")
        by_label: dict[str, list] = defaultdict(list)
        for result in results:
            for run in result.runs:
                by_label[run.label].append(run)
        for label, runs in by_label.items():
            problems = Counter(p for run in runs for p in run.problems)
            named = ", ".join(f"{p} ({n}/{len(runs)})" for p, n in sorted(problems.items())) or "nothing"
            print(f"  {label:<34} train {_span([r.train_accuracy for r in runs]):<13} "
                  f"val {_span([r.val_accuracy for r in runs]):<13} doctor: {named}")
        claims: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
        for seed, result in zip(args.seeds, results, strict=True):
            for text, ok in result.claims:
                claims[_claim_key(text)].append((seed, text, ok))
        for entries in claims.values():
            held = sum(ok for _, _, ok in entries)
            failed += held < len(entries)
            mark = "ok" if held == len(entries) else "NO"
            print(f"  [{mark}] {held}/{len(entries)} seeds: {entries[0][1]}")
            for seed, text, ok in entries:
                if not ok:
                    print(f"        seed {seed}: {text}")
    if args.json:
        write_text(args.json, json.dumps(everything, indent=1, default=str))
    print(f"\n{'every claim held on every seed' if not failed else f'{failed} claim(s) failed on some seed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
