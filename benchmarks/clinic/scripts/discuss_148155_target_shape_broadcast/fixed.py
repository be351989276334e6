# Fixed twin of buggy.py (discuss.pytorch.org t/148155): the targets are given the model output's
# shape [N, 1] (loss = mse(out, y.unsqueeze(1))), the answer's fix, so MSELoss pairs each prediction
# with its own target. Everything else is the question's program, as in buggy.py:
# X uniform in [0, 1), y = X[:, 0] + X[:, 1] + X[:, 2], the weight initialized to
# zeros of shape [1, 3] (its "option 1"), SGD lr 10e-2, ReduceLROnPlateau(factor 0.5, patience 20),
# 500 full-batch epochs. Cut: nothing but the held-out rows added for validation.
import sys

import torch
from torch.nn import Linear as Lin
from torch.nn import Sequential as Seq
from torch.optim.lr_scheduler import ReduceLROnPlateau

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

X_all = torch.rand((1024 + 256, 3))
y_all = (X_all[:, 0] + X_all[:, 1] + X_all[:, 2])
X, y = X_all[:1024], y_all[:1024]
X_val, y_val = X_all[1024:], y_all[1024:]

m = Seq(Lin(3, 1, bias=False))
# 1 option
m[0].weight = torch.nn.parameter.Parameter(torch.tensor([[0, 0, 0]], dtype=torch.float))

optim = torch.optim.SGD(m.parameters(), lr=10e-2)
scheduler = ReduceLROnPlateau(optim, 'min', factor=0.5, patience=20)
mse = torch.nn.MSELoss()
for epoch in range(500):
    optim.zero_grad()
    out = m(X)
    loss = mse(out, y.unsqueeze(1))
    loss.backward()
    optim.step()
    if epoch % 20 == 0:
        print(loss.item())
    scheduler.step(loss)

with torch.no_grad():
    pred = m(X_val).view(-1)
    val_error = ((pred - y_val) ** 2).mean() / y_val.var(unbiased=False)
print(f"RESULT val_error={val_error.item():.6g}")
