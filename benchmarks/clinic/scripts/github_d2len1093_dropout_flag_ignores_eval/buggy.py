# Port of d2l-en section 4.6.4 "Dropout, implementation from scratch", PyTorch tab (issue #1093):
# Net keeps its own flag `is_training`, set once in __init__ and never changed, and applies the
# hand-written dropout_layer whenever that flag is True. evaluate_accuracy calls net.eval(), which
# sets the module's `training` attribute but not `is_training`, so the test accuracy is measured
# with half of the second hidden layer (and a fifth of the first) dropped at random.
# Kept: dropout_layer (mask from torch.rand > p, scaled by 1 / (1 - p)), two hidden layers of 256
# ReLU units, dropout1 = 0.2 and dropout2 = 0.5, nn.CrossEntropyLoss, torch.optim.SGD lr 0.5,
# batch 256, 10 epochs, d2l.train_ch3's loop (net.train(), zero_grad / backward / step) and
# evaluate_accuracy (net.eval(), argmax).
# Cut: Fashion-MNIST (ToTensor, 784 inputs) is replaced by scikit-learn's 8x8 digits (pixels / 16,
# 64 inputs), stratified 75/25 split; RESULT is the test accuracy after the last epoch.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    # In this case, all elements are dropped out
    if dropout == 1:
        return torch.zeros_like(X)
    # In this case, all elements are kept
    if dropout == 0:
        return X
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 64, 10, 256, 256
dropout1, dropout2 = 0.2, 0.5


class Net(nn.Module):
    def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2, is_training=True):
        super(Net, self).__init__()
        self.num_inputs = num_inputs
        self.is_training = is_training
        self.lin1 = nn.Linear(num_inputs, num_hiddens1)
        self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
        self.lin3 = nn.Linear(num_hiddens2, num_outputs)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
        # Use dropout only when training the model
        if self.is_training == True:
            # Add a dropout layer after the first fully connected layer
            H1 = dropout_layer(H1, dropout1)
        H2 = self.relu(self.lin2(H1))
        if self.is_training == True:
            # Add a dropout layer after the second fully connected layer
            H2 = dropout_layer(H2, dropout2)
        out = self.lin3(H2)
        return out


def evaluate_accuracy(net, data_iter):
    if isinstance(net, torch.nn.Module):
        net.eval()  # Set the model to evaluation mode
    correct, total = 0, 0
    with torch.no_grad():
        for X, y in data_iter:
            correct += (net(X).argmax(axis=1) == y).sum().item()
            total += y.numel()
    return correct / total


def train_epoch_ch3(net, train_iter, loss, updater):
    if isinstance(net, torch.nn.Module):
        net.train()
    total_loss, total = 0.0, 0
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        updater.zero_grad()
        l.backward()
        updater.step()
        total_loss += l.item() * len(y)
        total += len(y)
    return total_loss / total


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    for epoch in range(num_epochs):
        train_loss = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        print(f"epoch {epoch + 1} loss {train_loss:.4f} test acc {test_acc:.4f}")
    return test_acc


digits = load_digits()
x = (digits.data / 16.0).astype(np.float32)
x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target)
batch_size = 256
train_iter = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)), batch_size, shuffle=True)
test_iter = DataLoader(TensorDataset(torch.tensor(x_te), torch.tensor(y_te)), batch_size, shuffle=False)

net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)
num_epochs, lr = 10, 0.5
loss = nn.CrossEntropyLoss()
trainer = torch.optim.SGD(net.parameters(), lr=lr)
test_acc = train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
print(f"RESULT val_accuracy={test_acc:.4f}")
