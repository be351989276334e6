"""What a reader sees first: grouped diagnoses, a demonstration's claims and each of its runs,
tables that stay tables, figures small enough to embed, and the figures' marks where the doctor
found something."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from retroprop.doctor import Diagnosis, TreatmentRecord
from retroprop.report import plots, write_report
from retroprop.run_record import RunRecord
from tests.report.test_html import parse, text_of


def _saturated(layer: int, share: float, step: int) -> Diagnosis:
    label = f"tanh after layer {layer}, Linear 64→64"
    return Diagnosis("saturated_activations", str(2 * layer), step, 0, "warning", {"saturated_share": share},
                     f"{share:.0%} of {label}'s outputs sit in its flat regions, where the derivative is "
                     "nearly 0: almost no gradient passes through.", layer_label=label,
                     remedies=[("relu", "use ReLU")])


def test_the_same_diagnosis_in_eight_layers_is_one_card(tmp_path):
    verdict = [_saturated(layer, 0.5 + 0.05 * layer, 10 + layer) for layer in range(1, 9)]
    verdict.append(Diagnosis("slow_convergence", None, 200, 3, "warning", {"fall": 0.001},
                             "the loss is flat."))
    treated = _saturated(3, 0.9, 300)
    verdict += [treated, TreatmentRecord(300, 4, "saturated_activations", treated.layer, "relu",
                                         "replaced 8 Tanh with ReLU", True, outcome="resolved")]
    page, parser = parse(write_report(tmp_path / "r.html", title="tanh", verdict=verdict, figures=[]))
    text = text_of(parser)
    # one card for the eight untreated ones, one for the flat loss, one for the treated one
    assert page.count('<article class="finding') == 3
    assert "(8 places, the same diagnosis)" in text
    for layer in range(1, 9):
        assert f"tanh after layer {layer}, Linear 64→64" in text
        assert f"{0.5 + 0.05 * layer:.4g}" in text  # each layer's evidence in the card's table
    assert text.count("almost no gradient passes through") == 2  # explained once per card
    assert "replaced 8 Tanh with ReLU" in text
    assert "2 problems found." in text


def test_a_comparison_opens_with_its_claims_then_each_run(runs, tmp_path):
    claims = [("the doctor names dead_relu in the failing run", True), ("the cure is healthy", True)]
    compared = [{"label": "before: biases -3", "recipe": "ReLU, biases -3",
                 "verdict": runs.dead.doctor.diagnoses, "history": runs.dead.history},
                {"label": "after: default biases", "recipe": "ReLU",
                 "verdict": runs.healthy.doctor.diagnoses, "history": runs.healthy.history}]
    page, parser = parse(write_report(tmp_path / "demo.html", title="demo", figures=[], runs=compared,
                                      summary={"text": "Dead units do not recover.", "claims": claims}))
    text = text_of(parser)
    verdict = text[text.index("Verdict"):text.index("History")]
    assert verdict.split()[1] == "Shown:"  # not "Healthy." first: what the demonstration showed
    before = verdict.index("before: biases -3")
    assert before < verdict.index("1 problem found.", before) < verdict.index("after: default")
    assert "Healthy." in verdict[verdict.index("after: default"):]
    history = text[text.index("History"):]
    assert "before: biases -3" in history and "after: default biases" in history
    assert page.count('<table class="history">') == 2
    failed = write_report(tmp_path / "failed.html", title="demo", figures=[], runs=compared,
                          summary={"text": "x", "claims": [("a claim", False)]})
    page, parser = parse(failed)
    assert "Not shown:" in text_of(parser) and "✗ does not hold: a claim" in text_of(parser)


def test_notes_keep_their_tables_and_columns(tmp_path):
    table = {"caption": "before and after", "columns": ["", "before", "after"],
             "rows": [["validation accuracy", "10.2%", "96.5%"],
                      ["doctor", "vanishing_gradients", "healthy"]]}
    lined = "p    val\n0.0  81.2%\n0.7  90.0%"
    page, _ = parse(write_report(tmp_path / "n.html", title="t", figures=[], notes=[table, lined, "plain"]))
    assert '<table class="notes"><caption>before and after</caption>' in page
    assert '<tr><td class="key">validation accuracy</td><td>10.2%</td><td>96.5%</td></tr>' in page
    assert f"<pre>{lined}</pre>" in page and "<p>plain</p>" in page


def _png_pixels(path) -> tuple[bytes, np.ndarray]:
    from PIL import Image

    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return data, np.asarray(image.convert("RGB"))


def test_figures_are_small_indexed_pngs_that_keep_rare_colours(runs, tmp_path):
    pytest.importorskip("matplotlib")
    run = runs.dead  # a layer all dead: a small red mark beside its row, the only red in the figure
    path = plots.dead_units(run.records, tmp_path / "dead.png", diagnoses=run.doctor.diagnoses)
    data, pixels = _png_pixels(path)
    assert data[25] == 3  # IHDR colour type 3: an indexed (palette) PNG
    assert len(data) < 40_000
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 10  # the critical mark kept its colour in the palette


class _Kept:
    """``plots._save`` stand-in that keeps the figure to look at."""

    def __init__(self) -> None:
        self.figure = None

    def __call__(self, figure, path):
        self.figure = figure
        return path


def test_a_run_stopped_after_three_steps_is_drawn_by_step(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    kept = _Kept()
    monkeypatch.setattr(plots, "_save", kept)
    history = RunRecord(logs={"loss": [math.nan], "val_loss": [math.nan], "accuracy": [0.1]},
                        steps_per_epoch=42, step_loss=[2.4, 3.0e9, math.inf])
    diagnoses = [Diagnosis("exploding_gradients", "0", 1, 0, "critical", {}, "x", layer_label="layer 1"),
                 Diagnosis("non_finite", None, 2, 0, "critical", {}, "y")]
    plots.training_curves(history, tmp_path / "c.png", diagnoses=diagnoses)
    loss_ax = kept.figure.axes[0]
    xlabel = kept.figure.axes[1].get_xlabel()
    assert "training step" in xlabel and "3 taken" in xlabel
    assert loss_ax.get_xlim() == (0.5, 3.5)
    assert loss_ax.get_yscale() == "log"  # 2.4 to 3e9: on a linear axis the first step is invisible
    low, high = loss_ax.get_ylim()
    assert low < 2.4 and high > 3.0e9
    marks = sorted(line.get_xdata()[0] for line in loss_ax.get_lines() if line.get_linestyle() == "--")
    assert marks == [2.0, 3.0]  # each diagnosis at its own (1-based) step


def test_dead_unit_map_shows_the_rules_verdict_where_the_doctor_diagnosed(runs, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    kept = _Kept()
    monkeypatch.setattr(plots, "_save", kept)
    run = runs.dead
    plots.dead_units(run.records, tmp_path / "d.png", diagnoses=run.doctor.diagnoses, title="biases -3")
    titles = [ax.get_title(loc="left") for ax in kept.figure.axes]
    marked = [t for t in titles if "doctor: dead_relu diagnosed here" in t]
    assert len(marked) == 1 and run.doctor.diagnoses[0].layer_label in marked[0]
    labels = [tick.get_text() for ax in kept.figure.axes for tick in ax.get_yticklabels()]
    assert any("(100%): critical (≥ 90%)" in label for label in labels)  # the rule's reading of the share
    assert "biases -3" in kept.figure.get_suptitle()
