"""Figures of a training run, drawn off-screen with matplotlib's Agg backend (``pip install
retroprop[plot]``); each function writes one PNG where it is told and returns its path.

* ``gradient_flow``: per-layer gradient norm over the probed steps (layers x steps, log colour
  scale), with the norm along the depth of the network at a few steps: vanishing gradients show as a
  fall of several orders of magnitude toward the input, exploding ones as a rise over time.
* ``dead_units``: which ReLU units fired (layers x units) at chosen probed steps.
* ``activation_distributions``: histograms of each layer's activation values, input side first (the
  saturation picture of Glorot & Bengio, 2010).
* ``training_curves``: loss and accuracy per epoch, with the doctor's diagnoses and repairs marked.
* ``dropout_sweep``: accuracy against the dropout rate, with the majority-class rate.

Inputs are a run record's entries (``retroprop.run_record``: ``ProbeEntry``, ``DiagnosisEntry``,
``TreatmentEntry``, ``RunRecord``, or their dicts) or the doctor's objects they are made from
(``ProbeRecord``, ``Diagnosis``, ``TreatmentRecord``, ``History``), each read by its fields. Steps and
epochs are 0-based there and shown 1-based, as the doctor prints them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retroprop.files import write_bytes
from retroprop.report._common import (
    as_record,
    diagnosis_entries,
    matplotlib_parts,
    output_path,
    probe_entries,
    treatment_entries,
)
from retroprop.run_record import ActivationProbe, LayerProbe, ProbeEntry

DPI = 90  # 11 inches wide: about 1000 pixels, the report's column
PALETTE = 256  # colours of the indexed PNG written (the figures use a few dozen; antialiasing the rest)
MIN_DECADES = 4.0  # the gradient-flow colour scale spans at least this many powers of ten
NONFINITE_COLOUR = "#e41a1c"  # red: NaN/Inf
ZERO_COLOUR = "#9e9e9e"  # grey: a gradient of exactly 0
ABSENT_COLOUR = "#ffffff"  # the layer did not exist at that probe (the model was changed)
ALIVE_COLOUR = "#a1d99b"
DEAD_COLOUR = "#252525"
CRITICAL_COLOUR = "#d62728"
WARNING_COLOUR = "#ff7f0e"
TREATMENT_COLOUR = "#2ca02c"
CROWDED = 0.03  # marks on the training curves closer than this share of the axis are crowded
TRAIN_COLOUR = "#1f77b4"
VAL_COLOUR = "#ff7f0e"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    figure_cls, canvas_cls = matplotlib_parts()
    figure = figure_cls(figsize=(width, height), dpi=DPI, layout="constrained")
    canvas_cls(figure)
    return figure


def _save(figure: Any, path: Any) -> Path:
    """Write the figure as a PNG, atomically: an indexed-colour PNG (a third of the size) when
    Pillow, which matplotlib itself needs, is there, else matplotlib's own."""
    target = output_path(path)
    write_bytes(target, _png_bytes(figure))
    return target


def _png_bytes(figure: Any) -> bytes:
    """The figure drawn at ``DPI`` on white, as PNG bytes with a palette of at most ``PALETTE``
    colours (the figures use a few dozen; antialiasing the rest)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib requires Pillow
        Image = None
    if Image is not None:
        figure.set_dpi(DPI)
        figure.patch.set_facecolor("white")
        canvas = figure.canvas
        canvas.draw()
        width, height = canvas.get_width_height(physical=True)
        rgba = Image.frombuffer("RGBA", (width, height), bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1)
        # an octree keeps rare colours apart (a few red marks on a large plot); median cut merges them
        indexed = rgba.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE,
                                               dither=Image.Dither.NONE)
        out = io.BytesIO()
        indexed.save(out, format="PNG", compress_level=9)
        return out.getvalue()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _row_keys(layers: Sequence[LayerProbe]) -> list[tuple[int | None, int, int]]:
    """Keys that follow a weighted layer across a change of the model (a repair that inserts
    BatchNorm1d layers renumbers the modules): its shape (inputs per unit and weight entries),
    numbered by occurrence."""
    counts: dict[tuple[int | None, int], int] = {}
    keys = []
    for layer in layers:
        shape = (layer.fan_in, layer.size)
        counts[shape] = counts.get(shape, 0) + 1
        keys.append((*shape, counts[shape]))
    return keys


def _merge_order(sequences: Iterable[Sequence[Any]]) -> list[Any]:
    """The union of several ordered sequences of keys, each one's order kept where they agree: a
    key first seen in a later sequence goes right after its predecessor there."""
    order: list[Any] = []
    for sequence in sequences:
        previous = None
        for name in sequence:
            if name not in order:
                order.insert(order.index(previous) + 1 if previous is not None else 0, name)
            previous = name
    return order


def _step_text(step: int | None, epoch: int | None = None) -> str:
    text = "step ?" if step is None else f"step {step + 1}"
    return text if epoch is None else f"{text} (epoch {epoch + 1})"


def _tick_positions(count: int, most: int = 12) -> list[int]:
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _message_figure(path: Any, title: str, message: str) -> Path:
    figure = _figure(8, 2.6)
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, fontsize=12)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11, transform=ax.transAxes)
    return _save(figure, path)


def _legend_patches(entries: Sequence[tuple[str, str]]) -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=colour, edgecolor="#555555", label=text) for colour, text in entries]


# ---------------------------------------------------------------------------------------------
# gradient flow
# ---------------------------------------------------------------------------------------------
def gradient_flow(records: Iterable[Any], path: Any, title: str | None = None) -> Path:
    """Per-layer gradient norm over training: a heatmap of layers (rows, input side at the top) by
    probed steps (one column per probe, 1-based step numbers on the axis), coloured by log10 of the
    weight gradient's norm, and beside it the norm along the depth of the network at the first,
    middle and last probe. Vanishing gradients show as rows that darken toward the input, exploding
    ones as colours that brighten over time. NaN/Inf gradients are red, exact zeros grey; where the
    model was changed (a repair) a white line separates the columns.

    ``records``: a record's ``probes`` or the doctor's ``ProbeRecord``s (``doctor.recorder.records``).
    Rows follow a layer by its shape across a change of the model. Returns the path of the PNG
    written."""
    matplotlib_parts()  # a clear message when matplotlib is missing
    from matplotlib.colors import ListedColormap

    data = [r for r in probe_entries(records) if r.layers]
    title = title or "Gradient flow: weight-gradient norm per layer"
    if not data:
        return _message_figure(path, title, "No probe recorded a weighted layer: nothing to show.")
    structures = [tuple(_row_keys(r.layers)) for r in data]
    keys = _merge_order(structures)
    names = {}
    for record, structure in zip(data, structures, strict=True):  # the latest label names a row
        names.update(zip(structure, (layer.label for layer in record.layers), strict=True))
    rows = [names[key] for key in keys]
    n_rows, n_cols = len(rows), len(data)
    norms = np.full((n_rows, n_cols), np.nan)
    kind = np.zeros((n_rows, n_cols), dtype=np.int8)  # 0 value, 1 absent, 2 zero, 3 NaN/Inf
    kind[:] = 1
    for col, (record, structure) in enumerate(zip(data, structures, strict=True)):
        for layer, key in zip(record.layers, structure, strict=True):
            row = keys.index(key)
            value = layer.grad_norm
            if layer.nonfinite_grad > 0 or not math.isfinite(value):
                kind[row, col] = 3
            elif value <= 0:
                kind[row, col] = 2
            else:
                kind[row, col], norms[row, col] = 0, value
    logs = np.full_like(norms, np.nan)
    positive = kind == 0
    logs[positive] = np.log10(norms[positive])
    if positive.any():
        low, high = float(logs[positive].min()), float(logs[positive].max())
    else:
        low, high = -1.0, 1.0
    if high - low < MIN_DECADES:  # so that the ordinary drift of a healthy run does not look dramatic
        middle = (high + low) / 2
        low, high = middle - MIN_DECADES / 2, middle + MIN_DECADES / 2

    figure = _figure(11, max(3.8, 0.42 * n_rows + 2.8))
    grid = figure.add_gridspec(1, 2, width_ratios=(3.2, 1))
    ax = figure.add_subplot(grid[0, 0])
    profile = figure.add_subplot(grid[0, 1], sharey=ax)
    image = ax.imshow(np.ma.masked_invalid(logs), aspect="auto", interpolation="nearest", cmap="viridis",
                      vmin=low, vmax=high, extent=(-0.5, n_cols - 0.5, n_rows - 0.5, -0.5))
    special = np.ma.masked_equal(kind, 0)
    ax.imshow(special, aspect="auto", interpolation="nearest", vmin=0.5, vmax=3.5,
              cmap=ListedColormap([ABSENT_COLOUR, ZERO_COLOUR, NONFINITE_COLOUR]),
              extent=(-0.5, n_cols - 0.5, n_rows - 0.5, -0.5))
    for row, col in zip(*np.nonzero(kind == 3), strict=True):
        ax.text(col, row, "×", ha="center", va="center", color="white", fontsize=9, fontweight="bold")
    for col in range(1, n_cols):  # the model was changed between these probes
        if structures[col] != structures[col - 1]:
            ax.axvline(col - 0.5, color="white", linewidth=2.5)
            ax.axvline(col - 0.5, color="black", linewidth=0.8, linestyle="--")
    colourbar = figure.colorbar(image, ax=ax, location="right", pad=0.01, fraction=0.04)
    colourbar.set_label("gradient norm (log10)")
    ax.set_yticks(range(n_rows), rows)
    ticks = _tick_positions(n_cols)
    ax.set_xticks(ticks, [str(data[c].step + 1) for c in ticks])
    ax.set_xlabel("training step (1-based; one column per probe)")
    ax.set_title("‖∇W‖ per layer and probe (input side at the top)", fontsize=11)
    specials = [(NONFINITE_COLOUR, "NaN/Inf gradient"), (ZERO_COLOUR, "gradient exactly 0"),
                (ABSENT_COLOUR, "layer absent (model changed)")]
    present = [entry for code, entry in zip((3, 2, 1), specials, strict=True) if (kind == code).any()]

    # the norm along the depth at a few probes
    chosen = sorted({0, n_cols // 2, n_cols - 1})
    colours = ["#9ecae1", "#3182bd", "#08306b"][-len(chosen):]
    drawn_bad = False
    for col, colour in zip(chosen, colours, strict=True):
        ys = np.arange(n_rows)
        values = norms[:, col]
        ok = kind[:, col] == 0
        profile.plot(values[ok], ys[ok], "o-", color=colour, markersize=4,
                     label=f"along the depth at {_step_text(data[col].step)}")
        bad = kind[:, col] == 3
        if bad.any():
            drawn_bad = True
            profile.plot(np.full(bad.sum(), 10 ** (high + 0.3)), ys[bad], "x", color=NONFINITE_COLOUR,
                         markersize=8, markeredgewidth=2)
    if drawn_bad:
        profile.plot([], [], "x", color=NONFINITE_COLOUR, label="NaN/Inf (drawn at the right)")
    profile.set_xscale("log")
    profile.set_xlim(10 ** (low - 0.3), 10 ** (high + 0.6))  # the colour scale's decades
    profile.set_xlabel("‖∇W‖ (log scale)")
    heading = "along the depth"
    last = n_cols - 1
    ends = [row for row in range(n_rows) if kind[row, last] == 0]
    if len(ends) >= 2:  # how much smaller the first layer's gradient is than the last one's
        ratio = norms[ends[0], last] / norms[ends[-1], last]
        heading += f"\nfirst / last layer\nat {_step_text(data[last].step)}: {ratio:.2g}"
    profile.set_title(heading, fontsize=10)
    if any(structures[c] != structures[c - 1] for c in range(1, n_cols)):
        ax.set_title("‖∇W‖ per layer and probe (input side at the top; dashed: the model was changed, "
                     "rows named as in the last model)", fontsize=10)
    profile.grid(True, which="major", axis="x", alpha=0.3)
    profile.tick_params(axis="y", labelleft=False)
    profile.set_ylim(n_rows - 0.5, -0.5)
    handles = _legend_patches(present) + profile.get_legend_handles_labels()[0]
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=9,
                  frameon=False)
    figure.suptitle(title, fontsize=13)
    return _save(figure, path)


# ---------------------------------------------------------------------------------------------
# dead units
# ---------------------------------------------------------------------------------------------
def _fired(activation: ActivationProbe) -> np.ndarray | None:
    return None if activation.fired is None else np.array(activation.fired, dtype=bool)


def _relu_layers(record: ProbeEntry) -> dict[tuple[str, int], ActivationProbe]:
    """The probe's activations with per-unit firing, by a key that follows them across a change
    of the model (a repair renumbers the modules): their kind, numbered by occurrence."""
    counts: dict[str, int] = {}
    out = {}
    for activation in record.activations:
        if activation.fired is not None:
            counts[activation.kind] = counts.get(activation.kind, 0) + 1
            out[(activation.kind, counts[activation.kind])] = activation
    return out


def has_relu_units(records: Iterable[Any]) -> bool:
    """Whether any of ``records`` saw which ReLU units fired (what ``dead_units`` draws)."""
    return any(a.fired is not None for r in probe_entries(records) for a in r.activations)


def _rule_verdict(share: float) -> str:
    """What the doctor's dead_relu rule makes of a layer with this share of dead units."""
    from retroprop.doctor.rules import DEAD_CRITICAL, DEAD_SHARE

    if share >= DEAD_CRITICAL:
        return f"critical (≥ {DEAD_CRITICAL:.0%})"
    if share >= DEAD_SHARE:
        return f"warning (≥ {DEAD_SHARE:.0%})"
    return ""


def dead_units(records: Iterable[Any], path: Any, steps: Sequence[int] | None = None,
               window: int = 5, diagnoses: Iterable[Any] = (), title: str | None = None) -> Path:
    """Which ReLU units are dead: one panel per chosen probed step, layers (rows, input side at the
    top) by units; a unit is dead when it fired (output > 0 on some sample) on none of the last
    ``window`` probed batches up to that step, as the doctor's ``dead_relu`` rule counts, and each
    row says what the rule makes of that share there (warning from 50 %, critical from 90 %).
    Narrower layers leave the rest of their row blank.

    ``records``: a record's ``probes`` or ``ProbeRecord``s. ``steps``: the steps to show, as the
    records count them (0-based, like ``ProbeRecord.step`` and ``Diagnosis.step``), each matched to
    the latest probe at or before it; by default the first probe, the probe of each ``dead_relu``
    diagnosis in ``diagnoses`` (its panel names it: a diagnosis is made when a layer first crosses
    the rule's threshold and again when it turns critical; the panel shows the layer then), and the
    last probe (or the
    middle one when there is no diagnosis). A network without ReLU units gets a figure that says so.
    Returns the path of the PNG written."""
    matplotlib_parts()
    from matplotlib.colors import ListedColormap

    window = max(int(window), 1)
    probes = probe_entries(records)
    data = [r for r in probes if any(a.fired is not None for a in r.activations)]
    heading = "Dead ReLU units" + (f": {title}" if title else "")
    if not data:
        kinds = sorted({a.kind for r in probes for a in r.activations})
        found = f" (activations found: {', '.join(kinds)})" if kinds else ""
        return _message_figure(path, heading, "No ReLU layer with per-unit firing in these records: dead "
                                              f"units are a ReLU failure{found}.")
    findings = [d for d in diagnosis_entries(diagnoses) if d.problem == "dead_relu"]

    def probe_at(step: int) -> int:
        at_or_before = [i for i, r in enumerate(data) if r.step <= int(step)]
        return at_or_before[-1] if at_or_before else 0

    if steps is None:
        marked = [probe_at(f.step) for f in findings][:3]
        chosen = sorted({0, *marked, len(data) - 1} if marked else {0, (len(data) - 1) // 2, len(data) - 1})
    else:
        chosen = list(dict.fromkeys(probe_at(step) for step in steps))
    panels = []
    width_max = 1
    for index in chosen:
        record = data[index]
        labels, rows, notes = [], [], []
        for key, activation in _relu_layers(record).items():
            fired = _fired(activation)
            history = [fired]  # this probe and the ones before it, while the layer had this width
            for earlier in reversed(data[:index]):
                if len(history) >= window:
                    break
                match = _relu_layers(earlier).get(key)
                if match is None or len(match.fired) != fired.size:
                    break
                history.append(_fired(match))
            alive = np.logical_or.reduce(history)
            labels.append(activation.label)
            rows.append(alive)
            notes.append((len(history), activation.nonfinite, activation.layer))
            width_max = max(width_max, alive.size)
        here = [f for f in findings if probe_at(f.step) == index]
        panels.append((index, labels, rows, notes, here))

    n_layers = max(len(p[1]) for p in panels)
    figure = _figure(11, sum(0.42 * len(p[1]) + 1.1 for p in panels) + 0.8)
    grid = figure.add_gridspec(len(panels), 1, height_ratios=[max(len(p[1]), 1) + 1.6 for p in panels])
    colours = ListedColormap([ABSENT_COLOUR, ALIVE_COLOUR, DEAD_COLOUR])
    for k, (index, labels, rows, notes, here) in enumerate(panels):
        record = data[index]
        ax = figure.add_subplot(grid[k, 0])
        grid_values = np.zeros((max(len(rows), 1), width_max), dtype=np.int8)
        ticklabels = []
        diagnosed = {f.layer for f in here}
        for r, (alive, label, note) in enumerate(zip(rows, labels, notes, strict=True)):
            seen_here, nonfinite, layer = note
            grid_values[r, :alive.size] = np.where(alive, 1, 2)
            dead = int(alive.size - np.count_nonzero(alive))
            share = dead / max(alive.size, 1)
            verdict = _rule_verdict(share) if seen_here >= window else ""
            text = f"{label}\n{dead}/{alive.size} dead ({100 * share:.0f}%)"
            text += f": {verdict}" if verdict else ""
            if nonfinite:
                text += ", NaN/Inf in output"
            if layer in diagnosed:  # the diagnosis and the probe meet by the layer's key
                text += " (diagnosed)"
            ticklabels.append(text)
            if verdict:
                ax.text(1.003, r, "◀", transform=ax.get_yaxis_transform(), ha="left", va="center",
                        fontsize=13,
                        color=CRITICAL_COLOUR if verdict.startswith("critical") else WARNING_COLOUR)
        ax.imshow(grid_values, aspect="auto", interpolation="nearest", cmap=colours, vmin=-0.5, vmax=2.5,
                  extent=(0.5, width_max + 0.5, len(rows) - 0.5, -0.5))
        ax.set_yticks(range(len(rows)), ticklabels, fontsize=8.5)
        for r in range(1, len(rows)):
            ax.axhline(r - 0.5, color="white", linewidth=2)
        seen = min(n[0] for n in notes) if notes else 0
        first = data[max(index - seen + 1, 0)].step
        span = f"steps {first + 1}-{record.step + 1}" if seen > 1 else f"step {record.step + 1}"
        heading_k = (f"{_step_text(record.step, record.epoch)}: dead = no output > 0 on the last "
                     f"{seen} probed batch{'es' if seen != 1 else ''} ({span})")
        colour = "black"
        if here:
            named = "; ".join(f"{f.label or f.layer or 'a layer'} [{f.severity}]" for f in here)
            heading_k += f"\ndoctor: dead_relu diagnosed here in {named}"
            colour = CRITICAL_COLOUR if any(f.severity == "critical" for f in here) else WARNING_COLOUR
        ax.set_title(heading_k, fontsize=9.5, loc="left", color=colour)
        ax.set_xlabel("unit (1-based)" if k == len(panels) - 1 else "")
        ax.set_xlim(0.5, width_max + 0.5)
    legend = [(ALIVE_COLOUR, "alive (fired)"), (DEAD_COLOUR, "dead (never fired)")]
    if any(len(row) < width_max for p in panels for row in p[2]):
        legend.append((ABSENT_COLOUR, "no such unit (narrower layer)"))
    handles = _legend_patches(legend)
    if any("◀" in t.get_text() for ax in figure.axes for t in ax.texts):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], linestyle="none", marker="<", color=WARNING_COLOUR,
                              label="the dead_relu rule's share reached (orange warning, red critical)"))
    figure.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8.5, frameon=False)
    figure.suptitle(f"{heading}: {n_layers} ReLU layer{'s' if n_layers != 1 else ''} × units", fontsize=12)
    return _save(figure, path)


# ---------------------------------------------------------------------------------------------
# activation distributions
# ---------------------------------------------------------------------------------------------
def _flat_region_share(label: str, values: np.ndarray) -> tuple[str, float] | None:
    """For sigmoid and tanh layers (named so in ``label``), the share of outputs where the
    derivative is below 1/100 of its peak, as the doctor's probes count it."""
    name = label.lower()
    if "sigmoid" in name:
        return "flat (σ' < 1% of peak)", float(np.mean(values * (1 - values) < 0.0025))
    if "tanh" in name:
        return "flat (tanh' < 1% of peak)", float(np.mean(1 - values * values < 0.01))
    return None


def activation_distributions(samples: Mapping[str, Any] | Iterable[tuple[str, Any]], path: Any,
                             title: str | None = None) -> Path:
    """Histograms of each layer's activation values, one row per layer, input side at the top, on a
    shared x axis (as in Glorot & Bengio, 2010): saturated sigmoid or tanh units pile up at the ends
    of their range, dead ReLUs at 0. Each row gives the mean and std and, for sigmoid and tanh layers
    (named so in their label), the share of values in the flat regions; a spike of exact zeros that
    would dwarf the rest is clipped and its height written on it.

    ``samples``: ``{label: values}`` (or ``(label, values)`` pairs) in network order; the values of
    each layer are flattened; NaN/Inf are left out and counted. Returns the path of the PNG written."""
    matplotlib_parts()
    from matplotlib.ticker import MaxNLocator

    items = list(samples.items()) if isinstance(samples, Mapping) else list(samples or ())
    title = title or "Activation values per layer"
    layers = []
    for i, item in enumerate(items):
        label, values = item
        with np.errstate(invalid="ignore"):
            array = np.asarray(values, dtype=np.float64).reshape(-1)
        finite = np.isfinite(array)
        layers.append((str(label) if label is not None else f"#{i + 1}", array[finite],
                       int(array.size - finite.sum())))
    if not layers:
        return _message_figure(path, title, "No activation values given.")
    pooled = np.concatenate([v for _, v, _ in layers]) if any(v.size for _, v, _ in layers) else np.zeros(1)
    nonzero = pooled[pooled != 0]  # dead ReLUs' zeros would squeeze the range to a point
    low, high = (float(q) for q in np.quantile(nonzero if nonzero.size else pooled, [0.001, 0.999]))
    if nonzero.size < pooled.size:
        low, high = min(low, 0.0), max(high, 0.0)
    names = " ".join(label.lower() for label, _, _ in layers)
    if "sigmoid" in names:  # show the whole range, where the flat regions lie
        low, high = min(low, 0.0), max(high, 1.0)
    if "tanh" in names:
        low, high = min(low, -1.0), max(high, 1.0)
    if high - low < 1e-12:
        half = 0.5 * max(abs(low), 1.0)
        low, high = low - half, high + half
    pad = 0.02 * (high - low)
    edges = np.linspace(low - pad, high + pad, 61)

    figure = _figure(10, 0.95 * len(layers) + 1.6)
    axes = figure.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    colours = _layer_colours(len(layers))
    for ax, (label, values, nonfinite), colour in zip(axes, layers, colours, strict=True):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=2))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(label, loc="left", fontsize=9, fontweight="bold", pad=3)
        if values.size == 0:
            ax.text(0.5, 0.5, f"no finite values ({nonfinite} NaN/Inf)" if nonfinite else "no values",
                    transform=ax.transAxes, ha="center", va="center", fontsize=9, color=NONFINITE_COLOUR)
            continue
        shown = np.clip(values, edges[0], edges[-1])
        heights, _ = np.histogram(shown, bins=edges)
        share = 100.0 * heights / values.size
        ax.stairs(share, edges, fill=True, color=colour, alpha=0.85)
        stats = [f"mean {values.mean():.3g}", f"std {values.std():.3g}"]
        zeros = float(np.mean(values == 0))
        if zeros >= 0.01:
            stats.append(f"{_percent(zeros)} exactly 0")
        flat = _flat_region_share(label, values)
        if flat is not None:
            stats.append(f"{_percent(flat[1])} {flat[0]}")
        outside = float(np.mean((values < edges[0]) | (values > edges[-1])))
        if outside >= 0.0005:
            stats.append(f"{_percent(outside)} beyond the axis (in the end bins)")
        if nonfinite:
            stats.append(f"{nonfinite} NaN/Inf left out")
        ax.set_title(", ".join(stats), loc="right", fontsize=8, pad=3)
        ordered = np.sort(share)
        if share.size > 1 and ordered[-1] > 3 * max(ordered[-2], 1e-12) and ordered[-2] > 0:
            top = 1.6 * ordered[-2]  # a spike (dead ReLUs' zeros) would flatten the rest: clip it
            peak = int(np.argmax(share))
            ax.set_ylim(0, top)
            ax.text((edges[peak] + edges[peak + 1]) / 2, top * 0.97, f"↑ {ordered[-1]:.0f}%", ha="left",
                    va="top", fontsize=8, color="#444444")
        else:
            ax.set_ylim(0, max(ordered[-1], 1e-12) * 1.35)
    axes[-1].set_xlabel("activation value")
    figure.supylabel("share of values per bin (%)", fontsize=10)
    figure.suptitle(title, fontsize=13)
    return _save(figure, path)


def _percent(share: float) -> str:
    """A share as a percentage that reads 0% or 100% only when it is exactly that."""
    value = 100.0 * share
    if 0 < value < 1 or 99 < value < 100:
        text = f"{value:.1f}"
        text = {"0.0": "0.1", "100.0": "99.9"}.get(text, text)
        return f"{text}%"
    return f"{value:.0f}%"


def _layer_colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.1 + 0.75 * i / max(count - 1, 1)) for i in range(count)]


# ---------------------------------------------------------------------------------------------
# training curves
# ---------------------------------------------------------------------------------------------
def _event_epoch(step: int | None, epoch: int | None, steps_per_epoch: int | None) -> float:
    """Where a step falls on the 1-based epoch axis, on which epoch k ends at k: the share of an
    epoch's steps done after ``step`` (0-based) is added to its (0-based) epoch."""
    if epoch is None and step is not None and steps_per_epoch:
        epoch = step // steps_per_epoch
    if epoch is None:
        return math.nan
    if step is None or not steps_per_epoch:
        return epoch + 0.5
    return epoch + ((step % steps_per_epoch) + 1) / steps_per_epoch


def training_curves(history: Any, path: Any, diagnoses: Iterable[Any] = (), treatments: Iterable[Any] = (),
                    title: str | None = None) -> Path:
    """Loss (training and validation) and accuracy per epoch (x axis: epoch, 1-based; the training
    loss of each step, when known, behind), with the doctor's diagnoses (dashed; red when
    critical, orange otherwise) and applied treatments (solid green, with the span of steps a
    roll-back discarded shaded) marked where they happened; a numbered key under the plots says what
    each mark is. The learning rate gets its own panel when it changed. A run of at most two epochs
    whose per-step losses are known (one stopped after a few steps, say) is drawn by step instead,
    each step's loss a point, each epoch's values at its last step.

    ``history``: a ``RunRecord`` or a ``History``. ``diagnoses``/``treatments``: a record's entries
    or the doctor's ``Diagnosis``/``TreatmentRecord`` objects. Returns the path of the PNG written."""
    matplotlib_parts()
    from matplotlib.ticker import MaxNLocator

    record = as_record(history)
    logs = record.logs
    step_loss = np.array(record.step_loss, dtype=np.float64) if record.step_loss else None
    steps_per_epoch = record.steps_per_epoch if (record.steps_per_epoch or 0) > 0 else None
    title = title or "Training curves"

    def series(key: str) -> np.ndarray | None:
        values = logs.get(key)
        return np.array(values, dtype=np.float64) if values else None

    loss, val_loss = series("loss"), series("val_loss")
    accuracy, val_accuracy = series("accuracy"), series("val_accuracy")
    lr = series("lr")
    panels = ["loss"]
    if accuracy is not None or val_accuracy is not None:
        panels.append("accuracy")
    if lr is not None and np.isfinite(lr).any() and np.nanmax(lr) != np.nanmin(lr):
        panels.append("lr")
    epochs = max((len(v) for v in logs.values()), default=0)
    by_step = bool(step_loss is not None and step_loss.size and steps_per_epoch and epochs <= 2)
    total_steps = step_loss.size if by_step else 0

    def x_of(step: int | None, epoch: int | None) -> float:
        """The x position of something that happened at ``step`` (0-based) in ``epoch``."""
        if not by_step:
            return _event_epoch(step, epoch, steps_per_epoch)
        if step is not None:
            return float(step + 1)
        return float(min((epoch + 1) * steps_per_epoch, total_steps)) if epoch is not None else math.nan

    events = []  # (x, kind, short label, long description, colour)
    for d in diagnosis_entries(diagnoses):
        where = d.label or d.layer or "the whole model"
        events.append((x_of(d.step, d.epoch), "diagnosis", d.problem,
                       f"{d.problem} [{d.severity}] in {where}, {_step_text(d.step, d.epoch)}",
                       CRITICAL_COLOUR if d.severity == "critical" else WARNING_COLOUR, None))
    for t in treatment_entries(treatments):
        if not t.applied:
            continue
        back = t.rolled_back_to
        start = None
        if back is not None and steps_per_epoch:
            start = x_of(back, None) - (1 if by_step else 1 / steps_per_epoch)
        remedy = t.remedy or "treatment"
        rolled = "" if back is None else f", rolled back to step {back + 1}"
        events.append((x_of(t.step, t.epoch), "treatment", remedy,
                       f"{remedy} for {t.problem}, {_step_text(t.step, t.epoch)}{rolled} [{t.outcome}]",
                       TREATMENT_COLOUR, start))
    events = [e for e in events if math.isfinite(e[0])]
    events.sort(key=lambda e: (e[0], e[1] != "diagnosis"))
    # marks at the same place share one number
    groups: list[tuple[float, list[Any]]] = []
    for event in events:
        if groups and abs(groups[-1][0] - event[0]) < 1e-9:
            groups[-1][1].append(event)
        else:
            groups.append((event[0], [event]))

    key_lines = []
    for number_, (_, members) in enumerate(groups, start=1):
        for j, event in enumerate(members):
            key_lines.append(f"{number_ if j == 0 else ' ' * len(str(number_))}  "
                             f"{'!' if event[1] == 'diagnosis' else '+'} {event[3]}")
    heights = {"loss": 3.2, "accuracy": 2.6, "lr": 1.5}
    key_height = 0.19 * len(key_lines) + (0.55 if key_lines else 0.0)
    figure = _figure(11, sum(heights[p] for p in panels) + key_height + 0.9)
    ratios = [heights[p] for p in panels] + ([key_height] if key_lines else [])
    grid = figure.add_gridspec(len(ratios), 1, height_ratios=ratios)
    span = (0.5, total_steps + 0.5) if by_step else (0.0, max(epochs, 1) + 0.2)  # the x limits set below
    fractions = [(g[0] - span[0]) / (span[1] - span[0]) for g in groups]
    shifts, roomy = [], []
    for k, fraction in enumerate(fractions):
        close = k > 0 and fraction - fractions[k - 1] < CROWDED
        shifts.append(shifts[-1] + 1 if close else 0)
        roomy.append(k + 1 == len(fractions) or fractions[k + 1] - fraction >= CROWDED)
    axes = []
    for i, panel in enumerate(panels):
        ax = figure.add_subplot(grid[i, 0], sharex=axes[0] if axes else None)
        axes.append(ax)
        x = np.arange(1, epochs + 1, dtype=np.float64)
        if by_step:  # each epoch's values at its last step
            x = np.array([x_of(None, k) for k in range(epochs)])
        if panel == "loss":
            per_step = None
            if step_loss is not None and step_loss.size and steps_per_epoch:
                per_step = np.where(np.isfinite(step_loss), step_loss, np.nan)
                xs = np.arange(1, per_step.size + 1) / (1 if by_step else steps_per_epoch)
                few = per_step.size <= 60
                ax.plot(xs, per_step, "-", marker="." if few else None, markersize=8, color=TRAIN_COLOUR,
                        alpha=0.8 if few else 0.45, linewidth=1.0, label="train (per step)")
                bad = ~np.isfinite(step_loss)
                if bad.any():
                    ax.plot(xs[bad], np.full(int(bad.sum()), 0.97), "x", color=NONFINITE_COLOUR, markersize=5,
                            transform=ax.get_xaxis_transform(), label="NaN/Inf loss (step)")
            for values, colour, name in ((loss, TRAIN_COLOUR, "train"), (val_loss, VAL_COLOUR, "validation")):
                if values is not None:
                    shown = np.where(np.isfinite(values), values, np.nan)
                    ax.plot(x[:values.size], shown, "o-", color=colour, label=name, markersize=4)
                    bad = ~np.isfinite(values)
                    if bad.any():  # an epoch whose loss is NaN/Inf: marked at the top
                        height = 0.93 if name == "train" else 0.85
                        ax.plot(x[:values.size][bad], np.full(int(bad.sum()), height), "X", color=colour,
                                markersize=8, markeredgecolor=NONFINITE_COLOUR,
                                transform=ax.get_xaxis_transform(), label=f"{name}: NaN/Inf")
            ax.set_ylabel("loss")
            _loss_limits(ax, [v for v in (loss, val_loss) if v is not None], per_step)
        elif panel == "accuracy":
            for values, colour, name in ((accuracy, TRAIN_COLOUR, "train"),
                                         (val_accuracy, VAL_COLOUR, "validation")):
                if values is not None:
                    ax.plot(x[:values.size], values, "o-", color=colour, label=name, markersize=4)
            ax.set_ylabel("accuracy")
            ax.set_ylim(-0.02, 1.02)
        else:
            ax.step(x[:lr.size], lr, where="mid", color="#555555")
            ax.plot(x[:lr.size], lr, "o", color="#555555", markersize=3)
            ax.set_yscale("log")
            ax.set_ylabel("learning rate")
        ax.grid(True, alpha=0.3)
        for number_, (position, members) in enumerate(groups, start=1):
            for event in members:
                style = "--" if event[1] == "diagnosis" else "-"
                ax.axvline(position, color=event[4], linestyle=style, linewidth=1.4, alpha=0.9)
                if event[5] is not None and math.isfinite(event[5]) and event[5] < position:
                    ax.axvspan(event[5], position, color=TREATMENT_COLOUR, alpha=0.07, linewidth=0)
            if i == 0:
                # marks closer than CROWDED of the axis: their numbers side by side, names only in the key
                k = number_ - 1
                ax.annotate(str(number_), (position, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(9 * shifts[k], 2), textcoords="offset points", ha="center", va="bottom",
                            fontsize=9, fontweight="bold", color=members[0][4])
                if roomy[k]:
                    short = " / ".join(dict.fromkeys(e[2] for e in members))
                    ax.annotate(short, (position, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -4),
                                textcoords="offset points", ha="left", va="top", rotation=90, fontsize=8,
                                color=members[0][4], bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                                                           "alpha": 0.7, "linewidth": 0})
        if panel != "lr" and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlim(*span)
    if by_step:
        axes[-1].set_xlabel(f"training step (1-based; {steps_per_epoch} steps per epoch, "
                            f"{total_steps} taken)")
    else:
        axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    if key_lines:
        key = figure.add_subplot(grid[len(panels), 0])
        key.set_axis_off()
        header = ("marks: ! diagnosis (dashed; red critical, orange warning); + treatment (solid green;\n"
                  "       shaded: the steps its roll-back discarded)")
        key.text(0.0, 1.0, "\n".join([header, *key_lines]), transform=key.transAxes, ha="left", va="top",
                 fontsize=8.5, family="monospace")
    figure.suptitle(title, fontsize=13)
    return _save(figure, path)


def _loss_limits(ax: Any, epoch_values: list[np.ndarray], per_step: np.ndarray | None) -> None:
    """A log scale when the per-epoch losses span more than 30x, and limits that a few extreme
    per-step losses (a spike, a lucky batch) do not stretch."""
    pool = np.concatenate([v[np.isfinite(v)] for v in epoch_values]) if epoch_values else np.zeros(0)
    steps = per_step[np.isfinite(per_step)] if per_step is not None else np.zeros(0)
    if not pool.size and not steps.size:
        return
    low_parts = [pool.min()] if pool.size else []
    high_parts = [pool.max()] if pool.size else []
    if steps.size:  # among many steps, a few extreme ones are left out; among a few, none is
        low_parts.append(np.quantile(steps, 0.01) if steps.size >= 100 else steps.min())
        high_parts.append(np.quantile(steps, 0.99) if steps.size >= 100 else steps.max())
    low, high = float(min(low_parts)), float(max(high_parts))
    # the first step's loss marks the start (unless a later one of the first ten is lower): the
    # median of steps that are already exploding would hide the explosion
    start = float(min(steps[0], np.median(steps[:10]))) if steps.size else math.nan
    wide = pool.size > 0 and pool.min() > 0 and pool.max() / pool.min() > 30
    exploded = steps.size > 0 and start > 0 and steps.max() > 100 * start
    if low > 0 and (wide or exploded):
        ax.set_yscale("log")
        ax.set_ylabel("loss (log scale)")
        ax.set_ylim(low / 1.3, high * 1.3)
    elif high > low:
        pad = 0.06 * (high - low)
        ax.set_ylim(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad)


# ---------------------------------------------------------------------------------------------
# dropout sweep
# ---------------------------------------------------------------------------------------------
def dropout_sweep(rates: Sequence[float], train_acc: Sequence[float], val_acc: Sequence[float], path: Any,
                  train_std: Sequence[float] | None = None, val_std: Sequence[float] | None = None,
                  majority: float | None = None, title: str | None = None,
                  findings: Sequence[str] | None = None) -> Path:
    """Mean accuracy against the dropout rate (0 = keep every unit, 1 = drop every unit) for the
    training and validation data, with ± one standard deviation shaded when given, the best
    validation rate marked, and a horizontal line at the majority-class rate (what always guessing
    the most common class scores). ``findings``: per rate, what the doctor named in that run (a
    text, empty when nothing), written above the plot at its rate. Returns the path of the PNG
    written."""
    def column(values: Sequence[float] | None) -> np.ndarray | None:
        return None if values is None else np.array(values, dtype=np.float64).reshape(-1)

    x = column(rates)
    order = np.argsort(x, kind="stable")
    named = [str(f or "") for f in findings] if findings is not None and len(findings) == x.size else []
    longest = max((len(part) for t in named for part in t.split(", ")), default=0)
    strip_height = 0.25 + 0.06 * longest  # the names stand upright under their rates
    figure = _figure(10, 4.8 + (strip_height if longest else 0.0))
    grid = figure.add_gridspec(2 if longest else 1, 1, height_ratios=[4.0, strip_height] if longest else [1])
    ax = figure.add_subplot(grid[0, 0])
    for values, spread, colour, name in ((column(train_acc), column(train_std), TRAIN_COLOUR, "train"),
                                         (column(val_acc), column(val_std), VAL_COLOUR, "validation")):
        if values is None or values.size != x.size:
            continue
        spread = spread if spread is not None and spread.size == x.size else None
        ax.plot(x[order], values[order], "o-", color=colour,
                label=name + (" (mean)" if spread is not None else ""))
        if spread is not None:
            ax.fill_between(x[order], (values - spread)[order], (values + spread)[order], color=colour,
                            alpha=0.18, linewidth=0, label=f"{name} ± 1 std")
    val = column(val_acc)
    if val is not None and val.size == x.size and np.isfinite(val).any():
        best = int(np.nanargmax(val))
        ax.plot([x[best]], [val[best]], "*", color=VAL_COLOUR, markersize=14, markeredgecolor="black",
                label=f"best validation: rate {x[best]:.2g} ({val[best]:.3f})")
    majority = None if majority is None else float(majority)
    if majority is not None and math.isfinite(majority):
        ax.axhline(majority, color="#555555", linestyle=":", linewidth=1.5,
                   label=f"majority class ({majority:.3f})")
        ax.annotate(f"majority class ({majority:.3f})", (0.0, majority),
                    xycoords=("axes fraction", "data"), xytext=(4, 3), textcoords="offset points",
                    fontsize=9, color="#333333", va="bottom")
    ax.set_xlabel("dropout rate (share of units dropped)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.02, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if longest:  # what the doctor named, in a strip under the plot, one column per rate
        strip = figure.add_subplot(grid[1, 0], sharex=ax)
        strip.set_axis_off()
        strip.set_title("the doctor named:", loc="left", fontsize=9, color="#333333")
        for rate, text in zip(x, named, strict=True):
            strip.text(rate, 1.0, text.replace(", ", "\n") or "nothing", ha="center", va="top", fontsize=8,
                       rotation=90, linespacing=1.0, color=CRITICAL_COLOUR if text else "#777777",
                       transform=strip.get_xaxis_transform())
    figure.suptitle(title or "Accuracy against dropout rate", fontsize=13)
    return _save(figure, path)
