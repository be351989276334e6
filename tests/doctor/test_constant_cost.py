"""The doctor's per-epoch work does not grow with the run: every epoch rule reads a bounded window.

(The timing itself is benchmarks/doctor_long_runs.py's; tests never time.)
"""

from __future__ import annotations

import numpy as np

import retroprop as rp
from retroprop import nn
from retroprop.doctor import rules


def test_epoch_rules_read_a_bounded_window_however_long_the_run(monkeypatch):
    seen: dict[str, list[int]] = {name: [] for name in ("overfitting", "oscillating_validation",
                                                        "collapsing_validation")}
    for name in seen:
        original = getattr(rules, name)

        def spy(logs, *args, _original=original, _name=name, **kwargs):
            seen[_name].append(len(logs))
            return _original(logs, *args, **kwargs)

        monkeypatch.setattr(rules, name, spy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    doctor = rp.Doctor()
    rp.fit(model, x, y, loss="cross_entropy", optimizer=rp.optim.SGD(model.parameters(), lr=0.05), epochs=400,
           batch_size=32, validation_data=(x[::-1].copy(), y[::-1].copy()), verbose=0, doctor=doctor)
    assert len(seen["overfitting"]) == 400
    assert max(seen["overfitting"]) <= rules.OVERFIT_EPOCHS
    assert max(seen["oscillating_validation"]) <= rules.SWINGS + 1
    assert max(seen["collapsing_validation"]) <= rules.SWINGS + 1
    # the running best still spans the whole run
    assert doctor._running_best.epochs == 400
