# Port of heartcored98/Standalone-DeepLearning issue #11 (fixed in commit 50efcda, "Fix optimizer.zero_grad()
# position"), Lec3/Lab4_write_pretty_DL_code.ipynb: an MLP (5 Linear layers with ReLU, 100 hidden units, 10
# outputs) trained with CrossEntropyLoss and SGD (lr 0.001, momentum 0.9) on mini-batches of 4, where
# optimizer.zero_grad() is called once at the start of each epoch instead of once per mini-batch. Every
# loss.backward() then adds its gradient to the sum of all the earlier ones of the epoch, and SGD steps along
# that ever-growing sum.
# CIFAR-10 (32x32x3 flattened to 3072, ToTensor + Normalize(0.5, 0.5) into [-1, 1]) is replaced by
# scikit-learn's 8x8 digits flattened to 64, scaled the same way ((x / 16 - 0.5) / 0.5); the lab's 40000/10000
# train/validation split by an 80/20 split. The lab ran 2 epochs of 10000 steps; the digits give 360 steps an
# epoch, so 20 epochs are run here.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
torch.set_num_threads(1)

digits = load_digits()
X = ((digits.data / 16.0 - 0.5) / 0.5).astype(np.float32)
y = digits.target.astype(np.int64)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=SEED)
trainloader = DataLoader(TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)),
                         batch_size=4, shuffle=True)
x_val, t_val = torch.from_numpy(X_val), torch.from_numpy(y_val)


class MLP(nn.Module):
    def __init__(self, in_dim, out_dim, hid_dim, n_layer, act):
        super().__init__()
        self.fc = nn.Linear(in_dim, hid_dim)
        self.linears = nn.ModuleList([nn.Linear(hid_dim, hid_dim) for _ in range(n_layer - 1)])
        self.fc2 = nn.Linear(hid_dim, out_dim)
        if act == 'relu':
            self.act = nn.ReLU()

    def forward(self, x):
        x = self.act(self.fc(x))
        for fc in self.linears:
            x = self.act(fc(x))
        return self.fc2(x)


net = MLP(64, 10, 100, 5, 'relu')
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

epochs = 20
for epoch in range(epochs):
    net.train()
    optimizer.zero_grad()  # once per epoch: the gradients of every batch below pile up
    train_loss = 0.0
    for inputs, labels in trainloader:
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        train_loss += loss.item()

    net.eval()
    with torch.no_grad():
        out = net(x_val)
        val_loss = criterion(out, t_val).item()
        val_acc = (out.argmax(1) == t_val).float().mean().item()
    print(f'Epoch {epoch}, Train Loss: {train_loss / len(trainloader):.4f}, Val Loss: {val_loss:.4f}, '
          f'Val Acc: {100 * val_acc:.2f}')

net.eval()
with torch.no_grad():
    val_acc = (net(x_val).argmax(1) == t_val).float().mean().item()
print(f"RESULT val_accuracy={val_acc:.4f}")
