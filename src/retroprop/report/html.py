"""A self-contained HTML report of a run: one file, figures embedded as base64 data URIs, inline CSS,
no scripts and no external references, so that it opens from disk without a server.

Order: the verdict first (what was wrong, where, since when, on what evidence, the remedy, and what
was applied and what it changed), then the figures, then the History table and the run's
configuration. ``build_verdict`` turns the doctor's diagnoses and treatments (and the History) into
the verdict's entries; ``write_report`` takes them, or hand-made dicts.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from retroprop.files import write_text
from retroprop.report._common import history_dict, integer, number, output_path, plain

OUTCOMES = {
    "resolved": "the problem was not diagnosed again over at least 120 steps",
    "unconfirmed": "the problem was not diagnosed again, but the run ended too soon to confirm it",
    "returned": "the problem came back, and the next remedy followed",
    "skipped": "not applied",
    "exhausted": "no remedy was left to try",
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
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    x = number(value)
    if math.isnan(x):
        return "NaN" if isinstance(value, float) or hasattr(value, "dtype") else str(value)
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e15 and not isinstance(value, float):
        return str(int(x))
    return f"{x:.4g}"


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
def _when(step: Any, epoch: Any) -> str:
    step_, epoch_ = integer(step), integer(epoch)
    parts = []
    if step_ is not None:
        parts.append(f"step {step_ + 1}")
    if epoch_ is not None:
        parts.append(f"epoch {epoch_ + 1}")
    if len(parts) == 2:
        return f"{parts[0]} (in {parts[1]})"
    return parts[0] if parts else "—"


def _is_treatment(item: Mapping[str, Any]) -> bool:
    return "remedy" in item and "applied" in item and "explanation" not in item


def _treatment_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"remedy": item.get("remedy"), "description": item.get("description"),
            "applied": bool(item.get("applied", True)), "outcome": item.get("outcome"),
            "step": item.get("step"), "epoch": item.get("epoch"),
            "rolled_back_to": item.get("rolled_back_to"), "wasted_steps": item.get("wasted_steps"),
            "changed": item.get("changed") or item.get("what_changed") or item.get("what it changed")}


def _remedy_list(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``[(id, description)]`` from ``remedies`` (dicts or pairs) or a single ``remedy``."""
    out = []
    for remedy in item.get("remedies") or ():
        if isinstance(remedy, Mapping):
            out.append((str(remedy.get("id", "")), str(remedy.get("description", ""))))
        elif isinstance(remedy, Sequence) and not isinstance(remedy, str) and len(remedy) == 2:
            out.append((str(remedy[0]), str(remedy[1])))
        else:
            out.append(("", str(remedy)))
    if not out and item.get("remedy"):
        remedy = item["remedy"]
        out.append(("", str(remedy)) if isinstance(remedy, str) else ("", _value_text(remedy)))
    return out


def _entries(verdict: Iterable[Any]) -> list[dict[str, Any]]:
    """The verdict's items as findings, each treatment filed under the finding it treated (the latest
    one of its problem, and of its layer when it names one, at or before its step)."""
    findings: list[dict[str, Any]] = []
    for raw in verdict or ():
        item = plain(raw)
        if isinstance(item, str):
            findings.append({"problem": item, "treatments": []})
            continue
        if not isinstance(item, Mapping):
            continue
        if _is_treatment(item):
            step = integer(item.get("step"))
            candidates = [f for f in findings if f.get("problem") == item.get("problem")
                          and (step is None or (integer(f.get("step")) or 0) <= step)]
            same_layer = [f for f in candidates if item.get("layer") in (None, f.get("layer"))]
            target = (same_layer or candidates or [None])[-1]
            if target is None:
                target = {"problem": item.get("problem"), "layer": item.get("layer"),
                          "step": item.get("step"), "epoch": item.get("epoch"), "treatments": []}
                findings.append(target)
            target["treatments"].append(_treatment_entry(item))
            continue
        entry = dict(item)
        treatments = []
        for key in ("treatments", "treatment", "applied"):
            given = entry.pop(key, None)
            if given is None or isinstance(given, bool):
                continue
            for t in given if isinstance(given, list | tuple) else [given]:
                t = plain(t)
                if isinstance(t, Mapping):
                    treatments.append(_treatment_entry(t))
                else:
                    treatments.append({"remedy": None, "description": str(t), "applied": True,
                                       "outcome": entry.get("outcome"), "changed": None})
        if treatments:
            for key in ("outcome", "changed", "what_changed", "what it changed"):
                if entry.get(key) and not treatments[-1].get("outcome" if key == "outcome" else "changed"):
                    treatments[-1]["outcome" if key == "outcome" else "changed"] = entry[key]
        entry["treatments"] = treatments
        findings.append(entry)
    return findings


def _finding_html(index: int, finding: Mapping[str, Any]) -> str:
    severity = str(finding.get("severity") or "")
    problem = finding.get("problem") or "problem"
    where = finding.get("where") or finding.get("layer_label") or finding.get("layer") or "the whole model"
    parts = [f'<article class="finding {_e(severity)}">',
             f"<h3>{index}. {_e(problem)}"
             + (f' <span class="badge {_e(severity)}">{_e(severity)}</span>' if severity else "") + "</h3>",
             '<dl class="facts">', f"<dt>Where</dt><dd>{_e(where)}</dd>"]
    if finding.get("step") is not None or finding.get("epoch") is not None:
        parts.append(f"<dt>When</dt><dd>first seen at {_e(_when(finding.get('step'), finding.get('epoch')))}"
                     "</dd>")
    evidence = finding.get("evidence")
    if isinstance(evidence, Mapping) and evidence:
        rows = "".join(f'<tr><td class="key">{_e(k)}</td><td class="key">{_e(_value_text(v))}</td></tr>'
                       for k, v in evidence.items())
        parts.append(f'<dt>Evidence</dt><dd><table class="evidence">{rows}</table></dd>')
    elif evidence:
        parts.append(f"<dt>Evidence</dt><dd>{_e(_value_text(evidence))}</dd>")
    if finding.get("explanation"):
        parts.append(f"<dt>Why</dt><dd>{_e(finding['explanation'])}</dd>")
    remedies = _remedy_list(finding)
    if remedies:
        first = remedies[0]
        text = f"<b>{_e(first[0])}</b>: {_e(first[1])}" if first[0] else _e(first[1])
        parts.append(f"<dt>Remedy</dt><dd>{text}")
        if len(remedies) > 1:
            others = "; ".join(f"{_e(rid)}: {_e(desc)}" if rid else _e(desc) for rid, desc in remedies[1:])
            parts.append(f'<br><span class="muted">then, if needed: {others}</span>')
        parts.append("</dd>")
    parts.append("</dl>")
    for t in finding.get("treatments") or ():
        applied = bool(t.get("applied", True))
        outcome = str(t.get("outcome") or "")
        cls = "treatment" if applied else "treatment skipped"
        badge = ('<span class="badge applied">applied</span>' if applied
                 else '<span class="badge skipped">skipped</span>')
        head = f"{_e(t.get('remedy'))} " if t.get("remedy") else ""
        lines = [f'<div class="{cls}"><b>{head}</b>{badge}']
        if t.get("step") is not None:
            lines.append(f" <span class=\"muted\">at {_e(_when(t.get('step'), t.get('epoch')))}</span>")
        if t.get("description"):
            lines.append(f"<br>{_e(t['description'])}")
        back = integer(t.get("rolled_back_to"))
        if applied and back is not None:
            wasted = integer(t.get("wasted_steps"))
            extra = f" ({wasted} steps of progress discarded)" if wasted else ""
            lines.append(f"<br>Rolled back to the state before step {back + 1}{_e(extra)}.")
        if outcome and (applied or outcome != "skipped"):
            meaning = OUTCOMES.get(outcome)
            lines.append(f"<br><b>Outcome:</b> {_e(outcome)}" + (f" — {_e(meaning)}" if meaning else ""))
        if t.get("changed"):
            lines.append(f"<br><b>What it changed:</b> {_e(t['changed'])}")
        lines.append("</div>")
        parts.append("".join(lines))
    parts.append("</article>")
    return "\n".join(parts)


def _where(finding: Mapping[str, Any]) -> str:
    return str(finding.get("where") or finding.get("layer_label") or finding.get("layer") or "")


def _group_key(finding: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What makes two findings the same diagnosis in other places (or other episodes): the problem,
    the severity, the remedies and the wording, with the place and the numbers left out. A finding
    with treatments is its own (what was done to it is particular)."""
    if finding.get("treatments"):
        return None
    text = str(finding.get("explanation") or "")
    where = _where(finding)
    if where:
        text = text.replace(where, "{where}")
    text = re.sub(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", "#", text)
    return (finding.get("problem"), finding.get("severity"), text,
            tuple(rid for rid, _ in _remedy_list(finding)))


def _grouped(findings: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The findings in groups of the same diagnosis, in order of first sight."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for i, finding in enumerate(findings):
        key = _group_key(finding)
        groups.setdefault(("alone", i) if key is None else key, []).append(finding)
    return list(groups.values())


def _group_html(index: int, members: list[dict[str, Any]]) -> str:
    """One card for the same diagnosis made in several places or episodes: where and when each was
    made, and its evidence, in a table; the explanation and remedy once."""
    first = members[0]
    severity = str(first.get("severity") or "")
    places = list(dict.fromkeys(_where(m) or "the whole model" for m in members))
    count = f"{len(places)} places" if len(places) > 1 else f"{len(members)} times"
    parts = [f'<article class="finding {_e(severity)}">',
             f"<h3>{index}. {_e(first.get('problem') or 'problem')}"
             + (f' <span class="badge {_e(severity)}">{_e(severity)}</span>' if severity else "")
             + f' <span class="muted">({_e(count)}, the same diagnosis)</span></h3>', '<dl class="facts">',
             "<dt>Where</dt><dd>" + (_e("; ".join(places)) if len(places) <= 3 else
                                     f"{len(places)} layers, each in the table below") + "</dd>"]
    keys = list(dict.fromkeys(k for m in members if isinstance(m.get("evidence"), Mapping)
                              for k in m["evidence"]))
    head = '<tr><th class="key">where</th><th class="key">first seen</th>' + "".join(
        f'<th class="key">{_e(k)}</th>' for k in keys) + "</tr>"
    rows = []
    for m in members:
        evidence = m.get("evidence") if isinstance(m.get("evidence"), Mapping) else {}
        cells = "".join(f'<td class="key">{_e(_value_text(evidence[k]) if k in evidence else "—")}</td>'
                        for k in keys)
        rows.append(f'<tr><td class="key">{_e(_where(m) or "the whole model")}</td>'
                    f'<td class="key">{_e(_when(m.get("step"), m.get("epoch")))}</td>{cells}</tr>')
    parts.append(f'<dt>Evidence</dt><dd><table class="evidence">{head}{"".join(rows)}</table></dd>')
    if first.get("explanation"):
        parts.append(f"<dt>Why</dt><dd>{_e(first['explanation'])}"
                     '<br><span class="muted">(the first of them; the others alike, with their own numbers '
                     "above)</span></dd>")
    remedies = _remedy_list(first)
    if remedies:
        rid, desc = remedies[0]
        parts.append(f"<dt>Remedy</dt><dd>{f'<b>{_e(rid)}</b>: ' if rid else ''}{_e(desc)}</dd>")
    parts.append("</dl></article>")
    return "\n".join(parts)


HEALTHY = ("<b>Healthy.</b> The doctor found no problem in this run: no vanishing or exploding gradients, no "
           "dead units, no saturation, no NaN/Inf, and the loss behaved.")


def _verdict_html(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return f'<p class="summary healthy">{HEALTHY}</p>'
    places: dict[str, list[str]] = {}  # problem -> where, in order of first sight
    for f in findings:
        places.setdefault(str(f.get("problem") or "problem"), []).append(_where(f))
    names = []
    for problem, wheres in places.items():
        named = [w for w in dict.fromkeys(wheres) if w]
        if not named:
            names.append(f"<b>{_e(problem)}</b> in the whole model")
        elif len(named) == 1:
            names.append(f"<b>{_e(problem)}</b> in {_e(named[0])}")
        else:
            names.append(f"<b>{_e(problem)}</b> in {len(named)} layers: {_e('; '.join(named))}")
    count = len(places)
    summary = (f"<b>{count} problem{'s' if count != 1 else ''} found.</b><ul>"
               + "".join(f"<li>{name}</li>" for name in names) + "</ul>")
    applied = [t for f in findings for t in f.get("treatments") or () if t.get("applied", True)]
    if applied:
        done = ", ".join(f"{t.get('remedy') or t.get('description') or 'a treatment'}"
                         + (f" ({t['outcome']})" if t.get("outcome") else "") for t in applied)
        summary += f"Applied inside the run: {_e(done)}."
    else:
        summary += "No treatment was applied (watch only)."
    body = [f'<div class="summary problems">{summary}</div>']
    for i, members in enumerate(_grouped(findings), start=1):
        body.append(_finding_html(i, members[0]) if len(members) == 1 else _group_html(i, members))
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
                     f"{_verdict_html(_entries(run.get('verdict') or ()))}</div>")
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
    logs, _, _ = history_dict(history)
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
                 runs: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Write one self-contained HTML file (atomically) and return its path.

    ``verdict``: the findings, in order: dicts with ``problem``, ``where`` (or ``layer_label``),
    ``step`` and ``epoch`` (0-based, as the doctor counts; shown 1-based), ``severity``, ``evidence``
    (a dict), ``explanation``, ``remedy`` (or ``remedies``) and optionally ``treatment`` (a text, a
    dict or a list of them, e.g. ``TreatmentRecord.to_dict()``), ``outcome`` and ``changed`` (what the
    treatment changed); ``Diagnosis`` and ``TreatmentRecord`` objects are taken as their
    ``to_dict()``, each treatment filed under the diagnosis it treated. Empty: the run was healthy.
    The same diagnosis made in several layers (or episodes) is shown as one card listing them.
    ``figures``: ``(caption, image path)`` pairs (PNG), embedded as base64. ``history``: a
    ``History`` or a dict of per-epoch lists (a table, epochs 1-based). ``config``: a nested dict
    (a definition list) or any JSON-able value. ``notes``: a text, a table (``{"columns": [...],
    "rows": [[...]], "caption": ...}``) or a list of them; a text of several lines stays as written.
    ``summary``: what the report shows as a whole, first: a text or ``{"text": ..., "claims":
    [(claim, holds), ...]}``. ``runs``: several runs compared (a demonstration's before and after):
    dicts with ``label``, ``recipe``, ``verdict`` and ``history``, each given its own verdict and
    History table (``verdict`` and ``history`` then add to them, and may be left out).
    Every text is HTML-escaped; the page has inline CSS only, no scripts and no external URLs."""
    findings = _entries(verdict)
    figures = list(figures or ())
    parts = [_summary_html(summary)] if summary is not None else []
    if runs:
        parts.append(_runs_html(runs))
    if findings or not runs:
        parts.append(_verdict_html(findings))
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
def _metric_change(logs: Mapping[str, list[Any]], epoch: int | None) -> str | None:
    """What the metrics did from the epoch of a treatment to the end of the run."""
    if epoch is None:
        return None
    parts = []
    for key in ("val_accuracy", "accuracy", "val_loss", "loss"):
        values = logs.get(key) or []
        if len(values) > epoch and len(values) > 1:
            before, after = number(values[epoch]), number(values[-1])
            if math.isfinite(before) or math.isfinite(after):
                parts.append(f"{key} {_num(before)} in epoch {epoch + 1} → {_num(after)} "
                             f"in epoch {len(values)}")
        if len(parts) == 2:
            break
    return "; ".join(parts) + "." if parts else None


def build_verdict(diagnoses: Iterable[Any] = (), treatments: Iterable[Any] = (),
                  history: Any = None) -> list[dict[str, Any]]:
    """The verdict's entries from the doctor's ``Diagnosis`` and ``TreatmentRecord`` objects (or
    their dicts): each diagnosis with its treatments, and, with the ``History``, what each applied
    treatment changed (the metrics from its epoch to the end of the run)."""
    logs, _, _ = history_dict(history)
    items: list[Any] = []
    for d in diagnoses or ():
        items.append(plain(d))
    for t in treatments or ():
        t = dict(plain(t))
        if t.get("applied", True) and not t.get("changed"):
            t["changed"] = _metric_change(logs, integer(t.get("epoch")))
        items.append(t)
    items.sort(key=lambda i: (integer(i.get("step")) if isinstance(i, Mapping) and integer(i.get("step"))
                              is not None else math.inf, isinstance(i, Mapping) and _is_treatment(i)))
    entries = _entries(items)
    return entries
