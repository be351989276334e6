"""Figures and a self-contained HTML report of a training run and of what the doctor found.

The figures (``retroprop.report.plots``) need matplotlib (``pip install retroprop[plot]``), imported
only when a figure is drawn, and always drawn off-screen (Agg, without pyplot). The HTML report
(``retroprop.report.html``) is one file with its figures embedded, that opens without a server.

```python
from retroprop import report
history = rp.fit(model, x, y, ..., doctor=(doctor := rp.Doctor()))
report.report_run("run.html", history, doctor, x=x_val)              # everything at once
record = rp.RunRecord.from_run(history, doctor)                      # or: the run as typed data,
record.save("run.json")                                              # saved as JSON,
report.report_record("run.html", rp.RunRecord.load("run.json"))      # and reported later
report.gradient_flow(record.probes, "figures/gradient_flow.png")     # or one figure
```

The report reads only the run's ``RunRecord`` (``retroprop.run_record``): every diagnosis, treatment
and probe entry names its layer by ``layer`` (the module's dotted name, the key by which entries
about one layer meet) and ``label`` (the text shown).
"""

from __future__ import annotations

from retroprop.report.html import Finding, Treated, build_verdict, write_report
from retroprop.report.plots import (
    activation_distributions,
    dead_units,
    dropout_sweep,
    gradient_flow,
    training_curves,
)
from retroprop.report.run import report_record, report_run, run_config
from retroprop.report.samples import activation_samples

__all__ = [
    "Finding",
    "Treated",
    "activation_distributions",
    "activation_samples",
    "build_verdict",
    "dead_units",
    "dropout_sweep",
    "gradient_flow",
    "report_record",
    "report_run",
    "run_config",
    "training_curves",
    "write_report",
]
