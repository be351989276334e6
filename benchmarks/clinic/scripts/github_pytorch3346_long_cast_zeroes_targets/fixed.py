# Fixed twin of buggy.py (pytorch/pytorch issue #3346): the keypoint targets, 30 coordinates per image
# scaled to [-1, 1], stay floats (torch.from_numpy(y_train).type(torch.FloatTensor)), so the network is
# trained on the coordinates instead of on their truncation to 0.
# The issue shows the data (1929 images, 30 coordinates in [-1, 1]) and the cast, not the network: the
# network here is the single-hidden-layer keypoint regressor usually trained on that data (100 ReLU units,
# linear output of 30, MSE, SGD lr 0.01 with Nesterov momentum 0.9, mini-batches of 128).
# The 96x96 face images are replaced by scikit-learn's 8x8 digits (pixels / 16, as the faces' / 255) and the
# 30 keypoints by 30 smooth functions of the pixels scaled into [-1, 1]; the validation error is measured
# against the coordinates as stored (floats), held out before the cast.
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
rng = np.random.RandomState(1234)  # the "keypoints": fixed functions of the image, the same for every seed
W = rng.normal(size=(64, 30)) / 8.0
Z = np.tanh((X - X.mean(axis=0)) @ W)
y = (0.8 * Z / np.abs(Z).max(axis=0)).astype(np.float32)  # 30 coordinates in [-0.8, 0.8]
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=SEED)
print(y_train.shape, y_train[0][:6])

X_train = torch.from_numpy(X_train)
y_train = torch.from_numpy(y_train).type(torch.FloatTensor)
print('targets after the cast:', y_train[0][:6], 'distinct values:', y_train.unique().numel())

model = nn.Sequential(
    nn.Linear(64, 100),
    nn.ReLU(),
    nn.Linear(100, 30),
)
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
loader = DataLoader(TensorDataset(X_train, y_train), batch_size=128, shuffle=True)

for epoch in range(400):
    model.train()
    train_loss = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        train_loss += loss.item() * len(xb)
    if epoch % 50 == 0 or epoch == 399:
        model.eval()
        with torch.no_grad():
            pred = model(torch.from_numpy(X_val)).numpy()
        print(f'epoch {epoch:3d}  train loss {train_loss / len(X_train):.5f}  '
              f'val mse {np.mean((pred - y_val) ** 2):.5f}')

model.eval()
with torch.no_grad():
    pred = model(torch.from_numpy(X_val)).numpy()
val_error = float(np.mean((pred - y_val) ** 2) / np.var(y_val))
print(f"RESULT val_error={val_error:.4f}")
