# Port of pytorch/examples issue #276 ("Mnist batch size one"): the reporter ran the MNIST example
# with --batch-size 1 and kept its defaults (SGD lr 0.01, momentum 0.5) and got random-like
# accuracy. The advice he got (from ptrblck on the PyTorch forum): with batch size one, lower the
# learning rate to 0.001 so that the network learns.
# The program is the 2017 examples/mnist/main.py: its Net (conv 10@5x5, conv 20@5x5 with Dropout2d,
# max-pooling, fc 320-50-10 with F.dropout, F.relu, log_softmax), F.nll_loss, SGD(lr, momentum=0.5),
# the train/test loops; with batch size 1 as the reporter ran it.
# MNIST is replaced by scikit-learn's 8x8 digits: each image upscaled 3x3 to 24x24 and zero-padded to
# 28x28, then normalized with the training set's mean and std (as transforms.Normalize does);
# stratified 80/20 split; 2 epochs instead of 10.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)

batch_size = 1
test_batch_size = 1000
epochs = 2
lr = 0.01
momentum = 0.5
log_interval = 400

digits = load_digits()
images = np.kron(digits.images / 16.0, np.ones((3, 3)))  # 24x24
images = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32)[:, None]  # 1x28x28
x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=0.2,
                                          random_state=SEED, stratify=digits.target)
mean, std = x_tr.mean(), x_tr.std()
x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
train_loader = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr, dtype=torch.long)),
                          batch_size=batch_size, shuffle=True)
test_loader = DataLoader(TensorDataset(torch.tensor(x_te), torch.tensor(y_te, dtype=torch.long)),
                         batch_size=test_batch_size, shuffle=True)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


model = Net()
optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test():
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.max(1, keepdim=True)[1]  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print('Test set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)'.format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))
    return correct / len(test_loader.dataset)


for epoch in range(1, epochs + 1):
    train(epoch)
    accuracy = test()
print(f"RESULT val_accuracy={accuracy:.4f}")
