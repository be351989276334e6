# Port of the PyTorch forum thread "Scaling target variables" (discuss.pytorch.org/t/41046): the inputs are
# scaled to [-1, 1] but the targets, all around -2700, are fed to the loss as they are. The network is
# the question's: two hidden layers of 5 tanh units with Xavier-initialized weights and a linear output.
# Trained on the raw targets it settles on predicting their mean; the accepted answer explains that the
# outputs start near 0, so the first gradients are huge and push the tanh units into saturation.
# The question shows no data and names no optimizer: 5 generated inputs uniform in [-1, 1], targets
# -2700 + 25 (sin(2 x1) + x2 x3 + x4^2 - x5); MSE, plain SGD lr 0.01, mini-batches of 32, 300 epochs.
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)
rng = np.random.RandomState(SEED)


def make_data(n):
    x = rng.uniform(-1.0, 1.0, size=(n, 5))
    y = -2700.0 + 25.0 * (np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + x[:, 3] ** 2 - x[:, 4])
    return x.astype(np.float32), y.astype(np.float32).reshape(-1, 1)


x_train, y_train = make_data(1000)
x_val, y_val = make_data(300)
print(f'targets: mean {y_train.mean():.1f}  min {y_train.min():.1f}  max {y_train.max():.1f}')

y_fit = y_train  # the raw targets


def to_targets(pred):
    return pred


model = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 1))
for layer in model:
    if isinstance(layer, nn.Linear):
        nn.init.xavier_uniform_(layer.weight)

criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
train_set = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_fit))
loader = DataLoader(train_set, batch_size=32, shuffle=True)


def val_error():
    model.eval()
    with torch.no_grad():
        pred = to_targets(model(torch.from_numpy(x_val)).numpy())
    return float(np.mean((pred - y_val) ** 2) / np.var(y_val))


for epoch in range(300):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    if epoch % 50 == 0 or epoch == 299:
        print(f'epoch {epoch:3d}  train loss {loss.item():.4f}  val error {val_error():.4f}')

print(f"RESULT val_error={val_error():.4f}")
