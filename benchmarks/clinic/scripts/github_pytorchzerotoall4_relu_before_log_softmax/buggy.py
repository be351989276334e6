# Port of hunkim/PyTorchZeroToAll pull request #4 ("remove relu in the final layer"): in 09_2_softmax_mnist.py
# the last Linear layer's class scores go through F.relu before F.log_softmax and F.nll_loss, so every
# negative score is clipped to 0 and gets no gradient.
# The lesson's training: a 784-520-320-240-120-10 fully connected network with ReLU, log_softmax and the NLL
# loss, SGD lr 0.01 momentum 0.5, mini-batches of 64, shuffled. MNIST is replaced by scikit-learn's 8x8
# digits enlarged to 28x28 (bilinear, pixels / 16, so in [0, 1] like ToTensor's); 60 epochs over 1437 images
# (1380 steps) instead of 9 over 60000.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
small = torch.from_numpy((digits.images / 16.0).astype(np.float32))[:, None]
images = F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
labels = torch.from_numpy(digits.target.astype(np.int64))
idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=SEED)
train_loader = DataLoader(TensorDataset(images[idx_train], labels[idx_train]), batch_size=64, shuffle=True)
test_loader = DataLoader(TensorDataset(images[idx_test], labels[idx_test]), batch_size=64, shuffle=False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 520)
        self.l2 = nn.Linear(520, 320)
        self.l3 = nn.Linear(320, 240)
        self.l4 = nn.Linear(240, 120)
        self.l5 = nn.Linear(120, 10)

    def forward(self, x):
        x = x.view(-1, 784)  # flatten (n, 1, 28, 28) -> (n, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        x = F.relu(self.l5(x))
        return F.log_softmax(x, dim=1)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)


def train(epoch):
    model.train()
    for data, target in train_loader:
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
    return loss.item()


def test():
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += (output.argmax(1) == target).sum().item()
    return test_loss / len(idx_test), correct / len(idx_test)


for epoch in range(1, 61):
    last_loss = train(epoch)
    if epoch % 10 == 0:
        test_loss, accuracy = test()
        print(f"epoch {epoch:2d}  train loss {last_loss:.4f}  test loss {test_loss:.4f}  "
              f"accuracy {accuracy:.3f}")

_, val_accuracy = test()
print(f"RESULT val_accuracy={val_accuracy:.4f}")
