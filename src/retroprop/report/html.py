"""A self-contained HTML report of a run: one file, figures embedded as base64 data URIs, inline CSS,
no scripts and no external references, so that it opens from disk without a server.

Order: the verdict first (what was wrong, where, since when, on what evidence, the remedy, and what
was applied and what it changed), then the figures, then the History table and the run's
configuration. ``build_verdict`` turns a run record's diagnoses and treatments (``retroprop.run_record``)
into the verdict's findings, each about one layer (by its key) or the whole model; ``write_report``
takes them.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.files import write_text
from retroprop.report._common import as_record, diagnosis_entries, output_path, treatment_entries
from retroprop.run_record import (
    ActivationProbe,
    DiagnosisEntry,
    LayerProbe,
    ProbeEntry,
    TreatmentEntry,
)

OUTCOMES = {
    "resolved": "the problem was not diagnosed again over at least 120 steps",
    "unconfirmed": "the problem was not diagnosed again, but the run ended too soon to confirm it",
    "returned": "the problem came back, and the next remedy followed",
    "worse": "the measured outcome got worse: the treatment was undone and the next remedy tried",
    "skipped": "not applied",
    "exhausted": "no remedy was left to try",
    "left": "not treated: a consequence of a setup problem only you can fix",
    "pending": "the run was still going on",
}

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1b1b1b;background:#fafafa;
margin:0;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 3rem;background:#fff}
h1{font-size:1.7rem;margin:.2rem 0 1rem}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin:.1rem 0 .5rem;font-size:1.15rem}
.summary{font-size:1.1rem;padding:.8rem 1rem;border-radius:6px;margin:.6rem 0 1rem}
.summary ul{margin:.3rem 0 .4rem;padding-left:1.4rem}
.summary.healthy{background:#e8f5e9;border-left:6px solid #2e7d32}
.summary.shown{background:#eef4fb;border-left:6px solid #1565c0}
.summary li.no{color:#c62828;font-weight:bold}
.run{margin:1.4rem 0 .4rem}.run h3{font-size:1.25rem}
.summary.problems{background:#fdecea;border-left:6px solid #c62828}
.passed{background:#f4f6f8;border-left:6px solid #78909c;padding:.5rem 1rem;border-radius:6px;
margin:.6rem 0 1rem}
.finding{border:1px solid #ddd;border-left:6px solid #f57c00;border-radius:6px;padding:.8rem 1rem;
margin:1rem 0}
.finding.critical{border-left-color:#c62828}
.badge{display:inline-block;font-size:.75rem;font-weight:bold;text-transform:uppercase;padding:.1rem .45rem;
border-radius:4px;color:#fff;background:#f57c00;vertical-align:middle;margin-left:.4rem}
.badge.critical{background:#c62828}.badge.applied{background:#2e7d32}.badge.skipped{background:#757575}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.4rem 0}
dl.facts dt{font-weight:bold;color:#444}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:.4rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}th{background:#f3f3f3}
td.key,th.key{text-align:left}
table.notes td,table.notes th{white-space:nowrap}
.treatment{background:#f1f8e9;border-radius:5px;padding:.5rem .8rem;margin:.6rem 0 .2rem}
.treatment.skipped{background:#f5f5f5;color:#555}
figure{margin:1.2rem 0;text-align:center}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.95rem;color:#333;margin-top:.3rem}
pre{background:#f6f8fa;padding:.7rem;border-radius:5px;overflow-x:auto;font-size:.85rem}
dl.config{margin:.2rem 0 .2rem 1rem}
dl.config dt{font-weight:bold;margin-top:.3rem}dl.config dd{margin-left:1.2rem}
.muted{color:#666;font-size:.9rem}
footer{margin-top:3rem;color:#888;font-size:.8rem}
"""

_MIME = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def _e(value: Any) -> str:
    """Escaped text (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any) -> str:
    """A number as a reader wants it: integers whole, floats to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Inf" if x > 0 else "-Inf"
        return f"{x:.4g}"
    return str(value)


def _value_text(value: Any, limit: int = 12) -> str:
    """Evidence and configuration values in a line: numbers rounded, long lists shortened."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_value_text(v, limit)}" for k, v in value.items()) + "}"
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()
    if isinstance(value, list | tuple):
        items = [_value_text(v, limit) for v in value[:limit]]
        more = f", … ({len(value)} in all)" if len(value) > limit else ""
        return "[" + ", ".join(items) + more + "]"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _num(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# the verdict
# ---------------------------------------------------------------------------------------------
def _when(step: int | None, epoch: int | None) -> str:
    parts = []
    if step is not None:
        parts.append(f"step {step + 1}")
    if epoch is not None:
        parts.append(f"epoch {epoch + 1}")
    if len(parts) == 2:
        return f"{parts[0]} (in {parts[1]})"
    return parts[0] if parts else "—"


@dataclass(frozen=True)
class Treated:
    """A treatment as the verdict shows it: the log's entry and what the run's metrics did after it."""

    entry: TreatmentEntry
    changed: str | None = None


@dataclass
class Finding:
    """One entry of the verdict: a diagnosis (None for a treatment whose diagnosis is not in the
    verdict), the treatments filed under it, and its layer's reading at the probe before it."""

    problem: str
    layer: str | None  # the key: findings about one layer meet by it
    label: str | None  # shown
    step: int | None
    epoch: int | None
    diagnosis: DiagnosisEntry | None = None
    treatments: list[Treated] = field(default_factory=list)
    reading: tuple[int, LayerProbe | ActivationProbe] | None = None  # (probe step, the layer's entry)

    @property
    def where(self) -> str:
        return self.label or self.layer or "the whole model"

    @classmethod
    def of(cls, diagnosis: DiagnosisEntry) -> Finding:
        return cls(diagnosis.problem, diagnosis.layer, diagnosis.label, diagnosis.step, diagnosis.epoch,
                   diagnosis=diagnosis)


def _remedy_list(finding: Finding) -> list[tuple[str, str]]:
    return [] if finding.diagnosis is None else [(rid, text) for rid, text in finding.diagnosis.remedies]


def _reading_text(entry: LayerProbe | ActivationProbe) -> str:
    """A layer's numbers at one probe, in a line."""
    if isinstance(entry, LayerProbe):
        parts = [f"‖∇W‖ {_num(entry.grad_norm)}", f"‖W‖ {_num(entry.weight_norm)}"]
        if entry.update_ratio is not None:
            parts.append(f"update ratio {_num(entry.update_ratio)}")
        if entry.nonfinite_grad:
            parts.append(f"{entry.nonfinite_grad} NaN/Inf gradient entries")
        return ", ".join(parts)
    parts = [f"{entry.kind} output mean {_num(entry.mean)}, std {_num(entry.std)}"]
    if entry.dead_share is not None:
        parts.append(f"{entry.dead_share:.0%} of units silent on the probed batch")
    if entry.saturated_share is not None:
        parts.append(f"{entry.saturated_share:.0%} of outputs in the flat regions")
    if entry.nonfinite:
        parts.append(f"{entry.nonfinite} NaN/Inf outputs")
    return ", ".join(parts)


def _treatment_html(treated: Treated) -> str:
    t = treated.entry
    cls = "treatment" if t.applied else "treatment skipped"
    badge = ('<span class="badge applied">applied</span>' if t.applied
             else '<span class="badge skipped">skipped</span>')
    head = f"{_e(t.remedy)} " if t.remedy else ""
    lines = [f'<div class="{cls}"><b>{head}</b>{badge}',
             f" <span class=\"muted\">at {_e(_when(t.step, t.epoch))}</span>"]
    if t.description:
        lines.append(f"<br>{_e(t.description)}")
    if t.applied and t.rolled_back_to is not None:
        extra = f" ({t.wasted_steps} steps of progress discarded)" if t.wasted_steps else ""
        lines.append(f"<br>Rolled back to the state before step {t.rolled_back_to + 1}{_e(extra)}.")
    if t.applied or t.outcome != "skipped":
        meaning = OUTCOMES.get(t.outcome)
        lines.append(f"<br><b>Outcome:</b> {_e(t.outcome)}" + (f" — {_e(meaning)}" if meaning else ""))
    measured = t.measured
    if measured is not None and measured.metric and None not in (measured.before, measured.after):
        lines.append(f"<br><b>Measured:</b> {_e(measured.metric)} {_e(_num(measured.before))} before, "
                     f"{_e(_num(measured.after))} after")
    if treated.changed:
        lines.append(f"<br><b>What it changed:</b> {_e(treated.changed)}")
    lines.append("</div>")
    return "".join(lines)


def _cause_html(d: DiagnosisEntry) -> str:
    cause = d.caused_by
    place = cause.label or cause.layer or "the whole model"
    return (f"<dt>Cause</dt><dd>follows from {_e(cause.problem)} in {_e(place)} (step {cause.step + 1}): "
            "treat that first</dd>")


def _finding_html(index: int, finding: Finding) -> str:
    d = finding.diagnosis
    severity = d.severity if d is not None else ""
    parts = [f'<article class="finding {_e(severity)}">',
             f"<h3>{index}. {_e(finding.problem)}"
             + (f' <span class="badge {_e(severity)}">{_e(severity)}</span>' if severity else "") + "</h3>",
             '<dl class="facts">', f"<dt>Where</dt><dd>{_e(finding.where)}</dd>"]
    if finding.step is not None or finding.epoch is not None:
        parts.append(f"<dt>When</dt><dd>first seen at {_e(_when(finding.step, finding.epoch))}</dd>")
    if d is not None and d.evidence:
        rows = "".join(f'<tr><td class="key">{_e(k)}</td><td class="key">{_e(_value_text(v))}</td></tr>'
                       for k, v in d.evidence.items())
        parts.append(f'<dt>Evidence</dt><dd><table class="evidence">{rows}</table></dd>')
    if finding.reading is not None:
        step, entry = finding.reading
        parts.append(f"<dt>Probe</dt><dd>{_e(entry.label)} at step {step + 1}: "
                     f"{_e(_reading_text(entry))}</dd>")
    if d is not None and d.explanation:
        parts.append(f"<dt>Why</dt><dd>{_e(d.explanation)}</dd>")
    if d is not None and d.caused_by is not None:
        parts.append(_cause_html(d))
    remedies = _remedy_list(finding)
    if remedies:
        rid, desc = remedies[0]
        parts.append(f"<dt>Remedy</dt><dd><b>{_e(rid)}</b>: {_e(desc)}")
        if len(remedies) > 1:
            others = "; ".join(f"{_e(r)}: {_e(text)}" for r, text in remedies[1:])
            parts.append(f'<br><span class="muted">then, if needed: {others}</span>')
        parts.append("</dd>")
    parts.append("</dl>")
    parts.extend(_treatment_html(t) for t in finding.treatments)
    parts.append("</article>")
    return "\n".join(parts)


def _group_key(finding: Finding) -> tuple[Any, ...] | None:
    """What makes two findings the same diagnosis in other places (or other episodes): the problem,
    the severity, the remedies and the wording, with the place and the numbers left out. A finding
    with treatments is its own (what was done to it is particular)."""
    d = finding.diagnosis
    if finding.treatments or d is None:
        return None
    text = d.explanation
    if finding.label:
        text = text.replace(finding.label, "{where}")
    text = re.sub(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", "#", text)
    return (d.problem, d.severity, text, d.caused_by is None, tuple(rid for rid, _ in d.remedies))


def _grouped(findings: list[Finding]) -> list[list[Finding]]:
    """The findings in groups of the same diagnosis, in order of first sight."""
    groups: dict[Any, list[Finding]] = {}
    for i, finding in enumerate(findings):
        key = _group_key(finding)
        groups.setdefault(("alone", i) if key is None else key, []).append(finding)
    return list(groups.values())


def _places(findings: Iterable[Finding]) -> list[str]:
    """Where these findings were made, one text per layer (grouped by its key, named by its latest
    label), in order of first sight; "the whole model" for those without a layer."""
    places: dict[str | None, str] = {}
    for f in findings:
        places[f.layer] = f.where
    return list(places.values())


def _group_html(index: int, members: list[Finding]) -> str:
    """One card for the same diagnosis made in several places or episodes: where and when each was
    made, and its evidence, in a table; the explanation and remedy once."""
    first = members[0]
    d = first.diagnosis
    places = _places(members)
    count = f"{len(places)} places" if len(places) > 1 else f"{len(members)} times"
    parts = [f'<article class="finding {_e(d.severity)}">',
             f"<h3>{index}. {_e(d.problem)}"
             + f' <span class="badge {_e(d.severity)}">{_e(d.severity)}</span>'
             + f' <span class="muted">({_e(count)}, the same diagnosis)</span></h3>', '<dl class="facts">',
             "<dt>Where</dt><dd>" + (_e("; ".join(places)) if len(places) <= 3 else
                                     f"{len(places)} layers, each in the table below") + "</dd>"]
    keys = list(dict.fromkeys(k for m in members for k in m.diagnosis.evidence))
    head = '<tr><th class="key">where</th><th class="key">first seen</th>' + "".join(
        f'<th class="key">{_e(k)}</th>' for k in keys) + "</tr>"
    rows = []
    for m in members:
        evidence = m.diagnosis.evidence
        cells = "".join(f'<td class="key">{_e(_value_text(evidence[k]) if k in evidence else "—")}</td>'
                        for k in keys)
        rows.append(f'<tr><td class="key">{_e(m.where)}</td>'
                    f'<td class="key">{_e(_when(m.step, m.epoch))}</td>{cells}</tr>')
    parts.append(f'<dt>Evidence</dt><dd><table class="evidence">{head}{"".join(rows)}</table></dd>')
    if d.explanation:
        parts.append(f"<dt>Why</dt><dd>{_e(d.explanation)}"
                     '<br><span class="muted">(the first of them; the others alike, with their own numbers '
                     "above)</span></dd>")
    if d.caused_by is not None:
        parts.append(_cause_html(d))
    if d.remedies:
        rid, desc = d.remedies[0]
        parts.append(f"<dt>Remedy</dt><dd><b>{_e(rid)}</b>: {_e(desc)}</dd>")
    parts.append("</dl></article>")
    return "\n".join(parts)


HEALTHY = ("<b>Healthy.</b> The doctor found no problem in this run: no vanishing or exploding gradients, no "
           "dead units, no saturation, no NaN/Inf, and the loss behaved.")
PASSED = ("<b>Healthy by its end.</b> No problem remains: what the doctor said during the run, the run "
          "left by itself.")


def _passed_html(passed: Sequence[DiagnosisEntry]) -> str:
    """The diagnoses the run left by itself, untreated (said when seen; their ``passed`` says how)."""
    items = []
    for d in passed:
        how = d.passed
        where = d.label or d.layer or "the whole model"
        text = f"<b>{_e(d.problem)}</b> in {_e(where)}, said at {_when(d.step, d.epoch)}"
        if how is not None:
            text += (f": by step {how.step + 1} the smoothed training loss fell from "
                     f"{_e(_num(how.loss_then))} to {_e(_num(how.loss_end))}, untreated")
        items.append(f"<li>{text}.</li>")
    return ('<div class="passed"><h3>Passed by itself</h3><p>Said when seen, then left by the run itself: '
            "the model went on to fit its training data.</p><ul>" + "".join(items) + "</ul></div>")


def _verdict_html(findings: list[Finding], passed: Sequence[DiagnosisEntry] = ()) -> str:
    if not findings:
        if passed:
            return (f'<p class="summary healthy">{PASSED}</p>\n' + _passed_html(passed))
        return f'<p class="summary healthy">{HEALTHY}</p>'
    by_problem: dict[str, list[Finding]] = {}  # in order of first sight
    for f in findings:
        by_problem.setdefault(f.problem, []).append(f)
    names = []
    for problem, members in by_problem.items():
        places = _places(members)
        if len(places) == 1:
            names.append(f"<b>{_e(problem)}</b> in {_e(places[0])}")
        else:
            names.append(f"<b>{_e(problem)}</b> in {len(places)} layers: {_e('; '.join(places))}")
    count = len(by_problem)
    summary = (f"<b>{count} problem{'s' if count != 1 else ''} found.</b><ul>"
               + "".join(f"<li>{name}</li>" for name in names) + "</ul>")
    applied = [t.entry for f in findings for t in f.treatments if t.entry.applied]
    if applied:
        done = ", ".join(f"{t.remedy or t.description}" + (f" ({t.outcome})" if t.outcome else "")
                         for t in applied)
        summary += f"Applied inside the run: {_e(done)}."
    else:
        summary += "No treatment was applied (watch only)."
    body = [f'<div class="summary problems">{summary}</div>']
    for i, members in enumerate(_grouped(findings), start=1):
        body.append(_finding_html(i, members[0]) if len(members) == 1 else _group_html(i, members))
    if passed:
        body.append(_passed_html(passed))
    return "\n".join(body)


def _summary_html(summary: Any) -> str:
    """What a report shows as a whole (a demonstration's point and its claims), before the runs."""
    if isinstance(summary, str):
        return f'<div class="summary shown">{_e(summary)}</div>'
    if not isinstance(summary, Mapping):
        return ""
    claims = [(str(c[0]), bool(c[1])) if isinstance(c, Sequence) and not isinstance(c, str)
              else (str(c), True) for c in summary.get("claims") or ()]
    held = all(ok for _, ok in claims)
    items = "".join(f'<li class="{"ok" if ok else "no"}">{"✓" if ok else "✗ does not hold:"} {_e(text)}</li>'
                    for text, ok in claims)
    head = (f"<b>{'Shown' if held else 'Not shown'}:</b> " if claims else "") + _e(summary.get("text") or "")
    return f'<div class="summary {"shown" if held else "problems"}">{head}' + (
        f"<ul>{items}</ul>" if items else "") + "</div>"


def _runs_html(runs: Sequence[Mapping[str, Any]]) -> str:
    """Each run's own verdict, under its label (a demonstration's before and after)."""
    parts = []
    for run in runs:
        label = run.get("label") or "run"
        recipe = f'<p class="muted">{_e(run["recipe"])}</p>' if run.get("recipe") else ""
        parts.append(f'<div class="run"><h3>{_e(label)}</h3>{recipe}\n'
                     f"{_verdict_html(_findings(run.get('verdict') or ()))}</div>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# figures, history, configuration
# ---------------------------------------------------------------------------------------------
def _figure_html(item: Any) -> str:
    if isinstance(item, Mapping):
        caption, path = item.get("caption", ""), item.get("path")
    elif isinstance(item, str | Path):
        caption, path = Path(item).stem, item
    else:
        caption, path = item
    try:
        data = Path(path).read_bytes()
    except (OSError, TypeError) as err:
        return (f'<figure><p class="muted">figure missing: {_e(path)} ({_e(type(err).__name__)})</p>'
                f"<figcaption>{_e(caption)}</figcaption></figure>")
    mime = next((m for magic, m in _MIME if data.startswith(magic)), "image/png")
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<figure><img src="data:{mime};base64,{encoded}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _history_html(history: Any) -> str:
    logs = as_record(history).logs
    if not logs:
        return '<p class="muted">No per-epoch history.</p>'
    keys = list(logs)
    epochs = max(len(v) for v in logs.values())
    head = '<tr><th class="key">epoch</th>' + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>"
    rows = []
    for i in range(epochs):
        cells = "".join(f"<td>{_e(_num(logs[k][i]) if i < len(logs[k]) else '—')}</td>" for k in keys)
        rows.append(f'<tr><td class="key">{i + 1}</td>{cells}</tr>')
    return f'<table class="history">{head}{"".join(rows)}</table>'


def _config_html(config: Any, depth: int = 0) -> str:
    if isinstance(config, Mapping):
        if not config:
            return '<span class="muted">(empty)</span>'
        items = []
        for key, value in config.items():
            if isinstance(value, Mapping) and depth < 6:
                items.append(f"<dt>{_e(key)}</dt><dd>{_config_html(value, depth + 1)}</dd>")
            elif isinstance(value, str) and "\n" in value:
                items.append(f"<dt>{_e(key)}</dt><dd><pre>{_e(value)}</pre></dd>")
            else:
                items.append(f"<dt>{_e(key)}</dt><dd>{_e(_value_text(value, limit=50))}</dd>")
        return f'<dl class="config">{"".join(items)}</dl>'
    if isinstance(config, str):
        return f"<pre>{_e(config)}</pre>"
    try:
        text = json.dumps(config, indent=2, default=str)
    except (TypeError, ValueError):
        text = str(config)
    return f"<pre>{_e(text)}</pre>"


def _note_html(note: Any) -> str:
    """A note: a table (a dict with ``columns`` and ``rows``, optionally ``caption``), preformatted
    text (a text of several lines, whose columns line up) or a paragraph."""
    if isinstance(note, Mapping) and "rows" in note:
        columns = [str(c) for c in note.get("columns") or ()]

        def cell(tag: str, i: int, value: Any) -> str:  # the first column names the row
            attribute = ' class="key"' if i == 0 else ""
            return f"<{tag}{attribute}>{_e(_value_text(value))}</{tag}>"

        head = "<tr>" + "".join(cell("th", i, c) for i, c in enumerate(columns)) + "</tr>" if columns else ""
        rows = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>"
                       for row in note["rows"] or ())
        caption = f"<caption>{_e(note['caption'])}</caption>" if note.get("caption") else ""
        return f'<table class="notes">{caption}{head}{rows}</table>'
    text = "" if note is None else str(note)
    return f"<pre>{_e(text)}</pre>" if "\n" in text else f"<p>{_e(text)}</p>"


def write_report(path: Any, *, title: str, verdict: Iterable[Any] = (), figures: Iterable[Any] = (),
                 history: Any = None, config: Any = None, notes: Any = None, summary: Any = None,
                 runs: Sequence[Mapping[str, Any]] | None = None, passed: Iterable[Any] = ()) -> Path:
    """Write one self-contained HTML file (atomically) and return its path.

    ``verdict``: what ``build_verdict`` returns (``Finding``s), or the diagnoses and treatments
    themselves (``DiagnosisEntry``/``TreatmentEntry`` of a ``RunRecord``, or the doctor's
    ``Diagnosis``/``TreatmentRecord``), each treatment then filed under the diagnosis it treated.
    Steps and epochs are 0-based there and shown 1-based. Empty: the run was healthy.
    The same diagnosis made in several layers (or episodes) is shown as one card listing them.
    ``figures``: ``(caption, image path)`` pairs (PNG), embedded as base64. ``history``: a
    ``RunRecord`` or a ``History`` (its per-epoch logs: a table, epochs 1-based). ``config``: a nested dict
    (a definition list) or any JSON-able value. ``notes``: a text, a table (``{"columns": [...],
    "rows": [[...]], "caption": ...}``) or a list of them; a text of several lines stays as written.
    ``summary``: what the report shows as a whole, first: a text or ``{"text": ..., "claims":
    [(claim, holds), ...]}``. ``runs``: several runs compared (a demonstration's before and after):
    dicts with ``label``, ``recipe``, ``verdict`` and ``history``, each given its own verdict and
    History table (``verdict`` and ``history`` then add to them, and may be left out). ``passed``: the
    diagnoses the run left by itself (``RunRecord.passed`` or ``Doctor.passed``), listed after the verdict.
    Every text is HTML-escaped; the page has inline CSS only, no scripts and no external URLs."""
    findings = _findings(verdict)
    figures = list(figures or ())
    parts = [_summary_html(summary)] if summary is not None else []
    if runs:
        parts.append(_runs_html(runs))
    passed = list(diagnosis_entries(passed or ()))
    if findings or passed or not runs:
        parts.append(_verdict_html(findings, passed))
    sections = [f"<h1>{_e(title)}</h1>",
                '<section id="verdict"><h2>Verdict</h2>\n' + "\n".join(parts) + "\n</section>"]
    if figures:
        sections.append('<section id="figures"><h2>Figures</h2>\n'
                        + "\n".join(_figure_html(f) for f in figures) + "\n</section>")
    histories = [(str(run.get("label") or "run"), run["history"]) for run in runs or ()
                 if run.get("history") is not None]
    if history is not None:
        histories.append(("" if not histories else "other", history))
    if histories:
        tables = "\n".join((f"<h3>{_e(label)}</h3>" if label else "") + _history_html(h)
                           for label, h in histories)
        sections.append(f'<section id="history"><h2>History</h2>\n{tables}\n</section>')
    if config is not None:
        sections.append(f'<section id="config"><h2>Configuration</h2>\n{_config_html(config)}\n</section>')
    if notes:
        items = [notes] if isinstance(notes, str | Mapping) else list(notes)
        sections.append('<section id="notes"><h2>Notes</h2>\n' + "\n".join(_note_html(n) for n in items)
                        + "\n</section>")
    from retroprop import __version__

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(sections)
            + f"\n<footer>Written by retroprop {_e(__version__)} on {_e(stamp)}.</footer>\n"
              "</main>\n</body>\n</html>\n")
    target = output_path(path)
    write_text(target, page)
    return target


# ---------------------------------------------------------------------------------------------
# from the doctor's objects to the verdict
# ---------------------------------------------------------------------------------------------
def _metric_change(logs: Mapping[str, Sequence[float]], epoch: int) -> str | None:
    """What the metrics did from the epoch of a treatment to the end of the run."""
    parts = []
    for key in ("val_accuracy", "accuracy", "val_loss", "loss"):
        values = logs.get(key) or ()
        if len(values) > epoch and len(values) > 1:
            before, after = values[epoch], values[-1]
            if math.isfinite(before) or math.isfinite(after):
                parts.append(f"{key} {_num(before)} in epoch {epoch + 1} → {_num(after)} "
                             f"in epoch {len(values)}")
        if len(parts) == 2:
            break
    return "; ".join(parts) + "." if parts else None


def _reading(probes: Sequence[ProbeEntry], layer: str | None,
             step: int) -> tuple[int, LayerProbe | ActivationProbe] | None:
    """The entry of layer ``layer`` (its key) at the latest probe at or before ``step``."""
    if layer is None:
        return None
    for probe in reversed(probes):
        if probe.step <= step:
            entry = probe.at(layer)
            if entry is not None:
                return probe.step, entry
    return None


def build_verdict(diagnoses: Iterable[Any] = (), treatments: Iterable[Any] = (),
                  history: Any = None) -> list[Finding]:
    """The verdict: each diagnosis a ``Finding`` with the treatments that followed it (the latest
    diagnosis of its problem, and of its layer when it names one, at or before its step). With the
    run's ``RunRecord`` (or ``History``) as ``history``: what each applied treatment changed (the
    metrics from its epoch to the end of the run) and, from the record's probes, each diagnosed
    layer's numbers at the probe before the diagnosis. ``diagnoses``/``treatments``: the record's
    entries or the doctor's ``Diagnosis``/``TreatmentRecord`` objects."""
    record = as_record(history)
    items: list[tuple[int, int, Any]] = [(d.step, 0, d) for d in diagnosis_entries(diagnoses)]
    items += [(t.step, 1, t) for t in treatment_entries(treatments)]
    items.sort(key=lambda item: item[:2])
    findings: list[Finding] = []
    for _, _, item in items:
        if isinstance(item, DiagnosisEntry):
            finding = Finding.of(item)
            finding.reading = _reading(record.probes, item.layer, item.step)
            findings.append(finding)
            continue
        candidates = [f for f in findings if f.problem == item.problem and f.diagnosis is not None]
        same_layer = [f for f in candidates if item.layer is None or f.layer == item.layer]
        target = (same_layer or candidates or [None])[-1]
        if target is None:
            target = Finding(item.problem, item.layer, item.label, item.step, item.epoch)
            findings.append(target)
        changed = _metric_change(record.logs, item.epoch) if item.applied else None
        target.treatments.append(Treated(item, changed))
    return findings


def _findings(verdict: Iterable[Any]) -> list[Finding]:
    """``write_report``'s verdict as findings: ``Finding``s as they are, diagnoses and treatments
    through ``build_verdict``."""
    given = list(verdict or ())
    findings = [v for v in given if isinstance(v, Finding)]
    rest = [v for v in given if not isinstance(v, Finding)]
    if rest:
        from retroprop.doctor import TreatmentRecord

        treatments = [v for v in rest if isinstance(v, TreatmentEntry | TreatmentRecord)]
        findings += build_verdict([v for v in rest if not isinstance(v, TreatmentEntry | TreatmentRecord)],
                                  treatments)
    return findings
