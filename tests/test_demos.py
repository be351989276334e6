"""The four demonstrations: each shows what the course page says, by the numbers it prints."""

from __future__ import annotations

import html.parser
import json
import re
import subprocess
import sys

import pytest

from retroprop import demos


def test_vanishing_demo_prints_a_table_that_matches_its_numbers():
    lines: list[str] = []
    result = demos.run_demo("vanishing", out=None, echo=lines.append)
    text = "\n".join(lines)
    assert result.holds, result.claims
    before, after = result.runs
    assert "vanishing_gradients" in before.problems and not after.problems
    row = next(line for line in text.splitlines() if line.startswith("validation accuracy"))
    printed = [float(v) / 100 for v in re.findall(r"([\d.]+)%", row)]
    assert printed == pytest.approx([before.val_accuracy, after.val_accuracy], abs=5e-4)
    assert before.grad_first / before.grad_last < 1e-3  # the lower layers' gradients have vanished
    assert "doctor (before: sigmoid): [critical] vanishing_gradients" in text


def test_unknown_demo_is_refused():
    with pytest.raises(ValueError, match="unknown demonstration 'explode'"):
        demos.run_demo("explode")


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img" and dict(attrs).get("src", "").startswith("data:image/png;base64,"):
            self.images += 1


@pytest.mark.slow
def test_demo_all_end_to_end(tmp_path):
    """`retroprop demo all` in under 3 minutes, each claim checked against the numbers it printed."""
    result = subprocess.run([sys.executable, "-m", "retroprop", "demo", "all", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600, check=False)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "4 of 4 demonstrations show what the course page says" in out
    assert "[NO]" not in out
    sections = dict(re.findall(r"\n== (\w[^\n]*)\n(.*?)(?=\n== |\Z)", out, flags=re.S))
    assert len(sections) == 5  # four demonstrations and the summary
    for title, body in sections.items():
        if title.startswith(("Vanishing", "Exploding", "Dead")):
            row = next(line for line in body.splitlines() if line.startswith("validation accuracy"))
            before, *after = (float(v) for v in re.findall(r"([\d.]+)%", row))
            assert before < 30 and all(a > 90 for a in after), (title, row)
        if title.startswith("Dropout"):
            row_pattern = r"^\s+([01]\.\d)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%$"
            rows = {float(m[0]): (float(m[1]), float(m[3])) for m in re.findall(row_pattern, body, re.M)}
            assert sorted(rows) == [round(0.1 * i, 1) for i in range(11)]
            majority = float(re.search(r"majority\s+([\d.]+)%", body).group(1))
            assert abs(rows[1.0][1] - majority) <= 2.0  # p = 1.0 learns nothing: the majority class
            assert max(rows[p][1] for p in rows if 0 < p < 1) > rows[0.0][1]  # some dropout helps
    for name in demos.DEMOS:
        folder = tmp_path / name
        summary = json.loads((folder / "summary.json").read_text())
        assert all(claim["holds"] for claim in summary["claims"]), summary["claims"]
        pngs = sorted(folder.glob("*.png"))
        assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        parser = _Parser()
        parser.feed((folder / "report.html").read_text(encoding="utf-8"))
        assert parser.images == len(summary["figures"]) >= 1
