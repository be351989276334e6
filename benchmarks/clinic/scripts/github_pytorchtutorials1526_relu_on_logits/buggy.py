# Port of pytorch/tutorials issue #1526 ("[Introduction to PyTorch] Bug on model definition part"):
# the Learn-the-Basics model (buildmodel_tutorial.py, optimization_tutorial.py) ends its
# linear_relu_stack with an nn.ReLU after the last Linear, so the logits given to nn.CrossEntropyLoss
# are clipped at 0. The tutorial's training: CrossEntropyLoss, SGD lr 1e-3, batch 64, DataLoader
# without shuffle, train_loop / test_loop per epoch, accuracy on the test set.
# FashionMNIST (28x28 pixels, ToTensor to [0, 1]) is replaced by scikit-learn's 8x8 digits (pixels
# / 16), a random 20% held out as the test set. The tutorial's 10 epochs over 60,000 images are
# ~9,400 steps; the 1,437 training digits are passed 250 times (~5,750 steps, within the time budget).
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

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)
x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=0.2, random_state=SEED)
training_data = TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr))
test_data = TensorDataset(torch.tensor(x_te), torch.tensor(y_te))

train_dataloader = DataLoader(training_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super(NeuralNetwork, self).__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
            nn.ReLU()
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork()

learning_rate = 1e-3
batch_size = 64


def train_loop(dataloader, model, loss_fn, optimizer):
    for batch, (X, y) in enumerate(dataloader):
        # Compute prediction and loss
        pred = model(X)
        loss = loss_fn(pred, y)

        # Backpropagation
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_loop(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0

    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()

    test_loss /= num_batches
    correct /= size
    return correct, test_loss


loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

epochs = 250
for t in range(epochs):
    train_loop(train_dataloader, model, loss_fn, optimizer)
    correct, test_loss = test_loop(test_dataloader, model, loss_fn)
    if (t + 1) % 50 == 0:
        print(f"Epoch {t + 1}: Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f}")
print(f"RESULT val_accuracy={correct:.4f}")
