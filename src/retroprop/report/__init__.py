"""Figures and a self-contained HTML report of a training run and of what the doctor found.

The figures (``retroprop.report.plots``) need matplotlib (``pip install retroprop[plot]``), imported
only when a figure is drawn, and always drawn off-screen (Agg, without pyplot). The HTML report
(``retroprop.report.html``) is one file with its figures embedded, that opens without a server.

```python
from retroprop import report
history = rp.fit(model, x, y, ..., doctor=(doctor := rp.Doctor()))
report.report_run("run.html", history, doctor, x=x_val)              # everything at once
report.gradient_flow(doctor.recorder.records, "figures/gradient_flow.png")   # or one figure
```
"""

from __future__ import annotations

from retroprop.report.html import build_verdict, write_report
from retroprop.report.plots import (
    activation_distributions,
    dead_units,
    dropout_sweep,
    gradient_flow,
    training_curves,
)
from retroprop.report.run import report_run, run_config
from retroprop.report.samples import activation_samples

__all__ = [
    "activation_distributions",
    "activation_samples",
    "build_verdict",
    "dead_units",
    "dropout_sweep",
    "gradient_flow",
    "report_run",
    "run_config",
    "training_curves",
    "write_report",
]
