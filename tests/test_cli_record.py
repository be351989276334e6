"""``--record`` saves a run's record; ``retroprop report`` turns a saved record into the report the
run itself would have written, and refuses a record that does not fit in one line."""

from __future__ import annotations

import json
import re

import pytest

from retroprop.cli import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, main
from retroprop.run_record import RunRecord
from tests.test_cli_runs import iris, write_spec


def section(page: str, name: str) -> str:
    return re.search(rf'<section id="{name}">.*?</section>', page, re.S).group(0)


def test_a_saved_record_gives_the_runs_report(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    spec = write_spec(tmp_path, "iris.json", iris(epochs=4))
    record_path, live, later = tmp_path / "run.json", tmp_path / "live.html", tmp_path / "later.html"
    status = main(["train", str(spec), "--quiet", "--record", str(record_path), "--report", str(live)])
    assert status in (EXIT_OK, EXIT_PROBLEM)
    assert "run record written to" in capsys.readouterr().out
    record = RunRecord.load(record_path)
    assert record.title == "retroprop: iris-small" and record.config["name"] == "iris-small"
    assert len(record.logs["loss"]) == 4 and record.probes  # the doctor watched (the spec's default)
    assert main(["report", str(record_path), "--out", str(later)]) == EXIT_OK
    live_page, later_page = live.read_text(encoding="utf-8"), later.read_text(encoding="utf-8")
    for name in ("verdict", "history", "config"):
        assert section(live_page, name) == section(later_page, name)
    # the figures from the record are the live report's (the live one also drew the model's activations)
    images = re.findall(r'src="(data:image/png;base64,[^"]+)"', later_page)
    assert len(images) >= 2 and all(image in live_page for image in images)


def test_a_record_that_does_not_fit_is_refused_in_one_line(tmp_path, capsys):
    good = RunRecord(logs={"loss": [1.0, 0.5]})
    data = good.to_dict()
    data["version"] = 99
    wrong = tmp_path / "future.json"
    wrong.write_text(json.dumps(data))
    out = tmp_path / "r.html"
    assert main(["report", str(wrong), "--out", str(out)]) == EXIT_USAGE
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "version 99 is not supported" in error and "future.json" in error
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(out)]) == EXIT_USAGE
    assert "missing.json: cannot read the run record" in capsys.readouterr().err
    saved = good.save(tmp_path / "good.json")
    assert main(["report", str(saved), "--out", str(tmp_path / "r.txt")]) == EXIT_USAGE  # checked first
    assert not out.exists()
    assert main(["report", str(saved), "--out", str(out)]) == EXIT_OK and "Healthy." in out.read_text()
