"""retroprop's doctor for PyTorch models: ``watch(model, optimizer)`` in an unchanged training loop.

```python
from retroprop.torch import watch
doctor = watch(model, optimizer, repair=False)   # before the loop: hooks only
...                                              # the loop as it was; optionally doctor.observe(loss)
doctor.finish(); print(doctor.summary())
```

torch is an optional dependency: importing this package imports it; ``import retroprop`` does not.
``TorchAdapter`` is the doctor's ``ModelAdapter`` of a torch model (``retroprop.doctor.Doctor``
accepts a torch model and optimizer directly through it).
"""

from __future__ import annotations

from retroprop.torch.adapter import TorchAdapter
from retroprop.torch.probe import TorchProbe
from retroprop.torch.watch import Watch, watch

__all__ = ["TorchAdapter", "TorchProbe", "Watch", "watch"]
