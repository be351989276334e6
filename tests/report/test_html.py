"""The HTML report: one valid, self-contained file with the verdict first, then figures, History and
configuration; every text escaped."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from retroprop.doctor import Diagnosis, TreatmentRecord
from retroprop.report import build_verdict, report_run, write_report
from retroprop.run_record import DiagnosisEntry, Measurement, Passed, RunRecord, TreatmentEntry

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # enough of a PNG to embed
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictParser(HTMLParser):
    """Parses the page and records what a strict reader would object to: unbalanced or misnested
    tags, scripts, external references; collects the visible text and the image sources."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.images: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.errors.append("script")
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name, value in attrs.items():
            if name in ("src", "href") and value and not value.startswith("data:"):
                self.errors.append(f"external {name}: {value[:40]}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> tuple[str, StrictParser]:
    page = path.read_text(encoding="utf-8")
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    return page, parser


def text_of(parser: StrictParser) -> str:
    return re.sub(r"\s+", " ", "".join(parser.text))


@pytest.fixture
def figures(tmp_path):
    paths = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(PNG)
        paths.append((f"figure <{name}> & caption", path))
    return paths


def test_report_of_a_diagnosed_run(runs, tmp_path, figures):
    run = runs.dead
    assert run.doctor.diagnoses
    config = {"model": repr(run.model), "optimizer": {"type": "SGD", "lr": 0.1}}
    path = write_report(tmp_path / "out" / "dead.html", title="Dead <ReLU> & co",
                        verdict=run.doctor.diagnoses, figures=figures, history=run.history, config=config)
    assert path == tmp_path / "out" / "dead.html"
    page, parser = parse(path)
    text = text_of(parser)
    for d in run.doctor.diagnoses:
        assert d.problem in text and d.layer_label in text
        assert f"{d.evidence['dead_share']:.4g}" in text  # each layer's own evidence, in its card's table
    first = run.doctor.diagnoses[0]  # the same diagnosis in two layers: one card, explained once
    assert html.escape(first.explanation) in page and re.sub(r"\s+", " ", first.explanation) in text
    assert {d.problem for d in run.doctor.diagnoses} == {"dead_relu"} and len(run.doctor.diagnoses) == 2
    assert page.count('<article class="finding') == 1 and "(2 places, the same diagnosis)" in text
    assert page.count("data:image/png;base64,") == len(figures) == len(parser.images)
    assert "Dead <ReLU> & co" in text and "<ReLU>" not in page  # escaped
    assert "figure <one> & caption" in text
    # the verdict comes first, then the figures, the History and the configuration
    assert parser.ids == ["verdict", "figures", "history", "config"]
    epochs = len(run.history.history["loss"])
    assert re.search(rf'<td class="key">{epochs}</td>', page) and "val_accuracy" in text
    assert "lower_lr" in text  # the first remedy


def test_healthy_run_says_so(runs, tmp_path, figures):
    assert runs.healthy.doctor.diagnoses == []
    page, parser = parse(write_report(tmp_path / "healthy.html", title="healthy", verdict=[],
                                      figures=figures[:1], history=runs.healthy.history))
    assert "Healthy." in text_of(parser) and "problem found" not in page
    assert page.count("data:image/png;base64,") == 1


def test_what_passed_by_itself_is_listed_after_the_verdict(tmp_path):
    plateau = DiagnosisEntry(
        problem="slow_convergence", layer=None, label=None, step=39, epoch=39, severity="warning",
        evidence={"fall": 0.001}, explanation="flat <here>.", remedies=[("higher_lr", "raise it")],
        escalated_from=None, caused_by=None, passed=Passed(step=1499, loss_then=0.693, loss_end=0.021))
    page, parser = parse(write_report(tmp_path / "passed.html", title="t", verdict=[], passed=[plateau]))
    text = text_of(parser)
    assert "Healthy by its end." in text and "Healthy. " not in text and "problem found" not in text
    assert ("slow_convergence in the whole model, said at step 40 (in epoch 40): by step 1500 the smoothed "
            "training loss fell from 0.693 to 0.021, untreated.") in text
    dead = DiagnosisEntry(problem="dead_relu", layer="1", label="layer 1 <ReLU>", step=5, epoch=0,
                          severity="warning", evidence={}, explanation="silent", remedies=[],
                          escalated_from=None, caused_by=None)
    page, parser = parse(write_report(tmp_path / "both.html", title="t", verdict=[dead], passed=[plateau]))
    text = text_of(parser)
    assert "1 problem found." in text and "Healthy" not in text
    assert text.index("dead_relu") < text.index("Passed by itself") < text.index("slow_convergence")
    assert "&lt;ReLU&gt;" in page


def test_treatments_are_filed_under_their_diagnosis_with_outcome_and_change(runs, tmp_path):
    run = runs.repaired
    applied = [t for t in run.doctor.treatments if t.applied]
    assert applied
    verdict = build_verdict(run.doctor.diagnoses, run.doctor.treatments, run.history)
    assert len(verdict) == len(run.doctor.diagnoses)
    filed = [t for finding in verdict for t in finding.treatments]
    assert len(filed) == len(run.doctor.treatments)
    assert all(t.changed for t in filed if t.entry.applied)  # what it changed, from the History
    for finding in verdict:  # each treatment under a diagnosis of its problem and layer (the key)
        assert all(t.entry.problem == finding.problem and t.entry.layer in (None, finding.layer)
                   for t in finding.treatments)
    _, parser = parse(write_report(tmp_path / "repaired.html", title="repaired", verdict=verdict,
                                   figures=[], history=run.history))
    text = text_of(parser)
    for t in run.doctor.treatments:
        assert t.remedy in text and t.description in text
    assert f"Applied inside the run: {applied[0].remedy}" in text and "What it changed:" in text
    assert "Outcome:" in text
    # the objects themselves work too, treatments filed the same way
    page2, _ = parse(write_report(tmp_path / "objects.html", title="repaired",
                                  verdict=[*run.doctor.diagnoses, *run.doctor.treatments], figures=[]))
    assert page2.count('<article class="finding') == len(run.doctor.diagnoses)


def test_hand_made_verdict_and_hostile_text_are_escaped(tmp_path):
    vanishing = DiagnosisEntry(
        problem="vanishing_gradients", layer="0", label="layer 1, Linear 64→64", step=6, epoch=0,
        severity="critical", evidence={"ratio": 1.1e-07, "layers": list(range(30)), "<b>": "</dd>",
                                       "loss": float("nan")},
        explanation="gradients <shrink> & \"vanish\" <script>alert(1)</script>",
        remedies=[("relu", "use ReLU")], escalated_from=None, caused_by=None)
    relu = TreatmentEntry(step=8, epoch=0, problem="vanishing_gradients", layer="0", label=None,
                          remedy="relu", description="relu: replaced 8 activation layers", applied=True,
                          rolled_back_to=None, wasted_steps=0, outcome="resolved",
                          measured=Measurement(metric="val_accuracy", before=0.1, after=0.95))
    verdict = [
        vanishing, relu,
        Diagnosis("slow_convergence", None, 120, 2, "warning", {"fall": 0.003}, "the loss is flat."),
        TreatmentRecord(130, 3, "slow_convergence", None, "higher_lr", "lr 0.01 -> 0.05", True,
                        rolled_back_to=100, wasted_steps=30, outcome="unconfirmed"),
        TreatmentRecord(500, 9, "overfitting", None, None, "no remedy left", False, outcome="exhausted"),
    ]
    page, parser = parse(write_report(tmp_path / "hand.html", title="<title>", verdict=verdict, figures=[],
                                      history=RunRecord(logs={"loss": [1.0, float("nan")], "lr": [0.1]}),
                                      config={"nested": {"deep": {"x": 1}}, "object": object(),
                                              "pairs": (1, 2)},
                                      notes=["<i>note</i>", "second"]))
    text = text_of(parser)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'gradients <shrink> & "vanish"' in text
    assert "step 7 (in epoch 1)" in text  # 0-based in, 1-based out
    assert "val_accuracy 0.1 before, 0.95 after" in text and "resolved" in text
    assert "lr 0.01 -> 0.05" in text and "Rolled back to the state before step 101" in text
    assert "overfitting" in text and "no remedy left" in text  # a treatment without its diagnosis
    assert "(30 in all)" in text  # long evidence lists are shortened
    assert "NaN" in text and "<i>note</i>" in text
    assert "3 problems found." in text
    with pytest.raises(TypeError, match=r"diagnoses\[0\]: expected a DiagnosisEntry"):
        write_report(tmp_path / "never.html", title="t", verdict=["vanishing_gradients"])
    assert not (tmp_path / "never.html").exists()


def test_missing_figure_is_noted_not_fatal(tmp_path):
    page, parser = parse(write_report(tmp_path / "r.html", title="t", verdict=[],
                                      figures=[("lost", tmp_path / "nowhere.png")]))
    assert "figure missing" in text_of(parser) and "base64" not in page


def test_report_run_end_to_end(runs, tmp_path):
    pytest.importorskip("matplotlib")
    run = runs.repaired
    path = report_run(tmp_path / "run" / "report.html", run.history, run.doctor, x=run.x, title="spiral")
    _, parser = parse(path)
    assert len(parser.images) == 4  # curves, gradient flow, dead units, activations
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    for d in run.doctor.diagnoses:  # a layer's label, or the whole model's (the run's end, short)
        assert (d.layer_label or "the whole model") in text_of(parser)
    assert list(tmp_path.rglob("*.png")) == []  # the figures live only inside the page
    _, parser = parse(report_run(tmp_path / "tanh.html", runs.tanh.history, runs.tanh.doctor))
    assert len(parser.images) == 2 and "Healthy." in text_of(parser)  # no ReLU: no dead-unit figure
