# Fixed twin of buggy.py (RMeli/gnina-torch pull request #57): the scheduler watches the training loss, which
# improves by decreasing, so ReduceLROnPlateau runs in mode="min" and cuts the rate (factor 0.1, patience 5,
# floor 1e-5) only when the loss stops falling. Everything else is the buggy script's: the Default2018 pose
# network in 2D on scikit-learn's digits enlarged to 16x16 (target: the digit is odd), Xavier-uniform
# weights, SGD lr 0.01 momentum 0.9 weight decay 0.001, batches of 64, gradient norm clipped at 10, 2000
# iterations, the training loss evaluated and passed to the scheduler every 20 iterations.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
images = np.kron(digits.images / 16.0, np.ones((2, 2)))[:, None].astype(np.float32)  # (N, 1, 16, 16)
labels = (digits.target % 2).astype(np.int64)  # 1: odd digit
x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.25, random_state=SEED)
x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)


class Default2018Pose(nn.Module):
    def __init__(self, channels, size):
        super().__init__()
        self.features = nn.Sequential(
            nn.AvgPool2d(2, 2), nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 1), nn.ReLU(),
            nn.AvgPool2d(2, 2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 1), nn.ReLU(),
            nn.AvgPool2d(2, 2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
        )
        self.features_out_size = (size // 8) * (size // 8) * 128
        self.pose = nn.Linear(self.features_out_size, 2)

    def forward(self, x):
        x = self.features(x).view(-1, self.features_out_size)
        return F.log_softmax(self.pose(x), dim=1)


def weights_and_biases_init(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


model = Default2018Pose(1, 16)
model.apply(weights_and_biases_init)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.001)
pose_loss = nn.NLLLoss()
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=5,
                                                       min_lr=0.01 * 0.1 ** 3)
iterations, test_every, batch_size = 2000, 20, 64

for iteration in range(1, iterations + 1):
    model.train()
    idx = torch.randint(0, len(x_train), (batch_size,))
    optimizer.zero_grad()
    loss = pose_loss(model(x_train[idx]), y_train[idx])
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    optimizer.step()
    if iteration % test_every == 0:
        model.eval()
        with torch.no_grad():
            train_loss = pose_loss(model(x_train), y_train).item()
        scheduler.step(train_loss)  # update the LR according to the training loss
        if iteration % 400 == 0:
            with torch.no_grad():
                test_acc = (model(x_test).argmax(1) == y_test).float().mean().item()
            print(f"iteration {iteration:5d}  train loss {train_loss:.4f}  test acc {test_acc:.3f}  "
                  f"lr {optimizer.param_groups[0]['lr']:.1e}")

model.eval()
with torch.no_grad():
    val_accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
print(f"RESULT val_accuracy={val_accuracy:.4f}")
