# Port of pytorch/pytorch issue #1871 ("Mistake in 'Deep Learning with PyTorch: A 60 Minute Blitz'"):
# the neural-networks page of the Blitz gave the SGD rule as
#     weight = weight + learning_rate * gradient
# and a reader who implements the rule as written steps UP the loss's slope (gradient ascent).
# soumith fixed the text to "weight = weight - learning_rate * gradient".
# The program is the tutorial's: its LeNet-style Net (conv 6@5x5, conv 16@5x5, max-pooling,
# fc 120-84-10, F.relu in forward), its nn.MSELoss, and the hand-written update loop over
# net.parameters() with learning_rate = 0.01 -- here with the rule as the text gave it.
# The tutorial's single random 32x32 input and dummy target become scikit-learn's 8x8 digits,
# each pixel repeated 4x4 to make the 32x32 image (scaled to [0, 1]), with one-hot targets for
# MSELoss; mini-batches of 4 (the Blitz's batch size), 15 epochs.
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution
        # kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        # Max pooling over a (2, 2) window
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # If the size is a square, you can specify with a single number
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # flatten all dimensions except the batch dimension
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


digits = load_digits()
images = np.kron(digits.images / 16.0, np.ones((4, 4))).astype(np.float32)[:, None]  # 1x32x32
x_tr, x_val, y_tr, y_val = train_test_split(images, digits.target, test_size=0.2,
                                            random_state=SEED, stratify=digits.target)
x_tr, x_val = torch.tensor(x_tr), torch.tensor(x_val)
y_tr, y_val = torch.tensor(y_tr), torch.tensor(y_val)
target_tr = F.one_hot(y_tr, 10).float()

net = Net()
criterion = nn.MSELoss()
learning_rate = 0.01
batch_size = 4

for epoch in range(15):
    perm = torch.randperm(len(x_tr))
    running_loss = 0.0
    for i in range(0, len(x_tr), batch_size):
        idx = perm[i:i + batch_size]
        net.zero_grad()  # zeroes the gradient buffers of all parameters
        output = net(x_tr[idx])
        loss = criterion(output, target_tr[idx])
        loss.backward()
        # weight = weight + learning_rate * gradient, as the tutorial's text gave the rule
        for f in net.parameters():
            f.data.add_(f.grad.data * learning_rate)
        running_loss += loss.item()
    print(f"epoch {epoch + 1} loss {running_loss / (len(x_tr) / batch_size):.4f}")

with torch.no_grad():
    predicted = net(x_val).argmax(1)
accuracy = (predicted == y_val).float().mean().item()
print(f"RESULT val_accuracy={accuracy:.4f}")
