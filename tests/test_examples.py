"""The examples run: the engine demonstration trains and its loss falls."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_spec = importlib.util.spec_from_file_location("engine_spiral", EXAMPLES / "engine_spiral.py")
engine_spiral = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(engine_spiral)
main, spiral = engine_spiral.main, engine_spiral.spiral


def test_spiral_is_balanced_and_seeded():
    points, labels = spiral(points_per_class=50, seed=1)
    assert points.shape == (150, 2) and points.dtype.name == "float32"
    assert sorted(set(labels.tolist())) == [0, 1, 2]
    again, _ = spiral(points_per_class=50, seed=1)
    assert (points == again).all()


def test_demo_loss_falls_and_generalizes(capsys):
    assert main(["--epochs", "120", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    first_loss, last_loss = (float(v) for v in last.split()[1:4:2])
    assert last_loss < 0.5 * first_loss
    held_out = float(last.rsplit(" ", 1)[-1].rstrip("%"))
    assert held_out > 80.0, last


def test_example_runs_as_a_program():
    script = str(EXAMPLES / "engine_spiral.py")
    result = subprocess.run([sys.executable, script, "--epochs", "20"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "by backpropagation" in result.stdout and "held-out" in result.stdout
    bad = subprocess.run([sys.executable, script, "--lr", "-1"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "--lr positive" in bad.stderr
