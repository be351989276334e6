# Fixed twin of buggy.py (skorch-dev/skorch issue #468): Adam with a much smaller learning rate, as
# the maintainer answered; lr=0.002 is the value the MNIST notebook adopted with Adam weeks later
# (skorch PR #480). The user's setup otherwise unchanged: Adam replacing the notebook's Adadelta;
# the notebook's Cnn (conv 32 -> pool -> relu, conv 64 -> Dropout2d ->
# pool -> relu, fc 1600 -> 128 -> relu -> dropout -> fc 10 -> softmax) and NeuralNetClassifier's
# defaults of the time: NLLLoss on torch.log of the softmax output, batch size 128, shuffled training
# batches, 20% of the training data held out by CVSplit(5) (stratified); max_epochs=15 cut to 10; a 25% test
# split scored with accuracy_score.
# MNIST is replaced by scikit-learn's 8x8 digits, each pixel repeated 3x3 and the image padded to
# 28x28 so that the notebook's layer sizes (1600 = 64 * 5 * 5) hold; pixels / 16 as X /= 255.0.
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Cnn(nn.Module):
    def __init__(self):
        super(Cnn, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(1600, 128)  # 1600 = number channels * width * height
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, x.size(1) * x.size(2) * x.size(3))  # flatten over channel, height and width = 1600
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        x = F.softmax(x, dim=-1)
        return x


digits = load_digits()
X = np.kron(digits.images, np.ones((3, 3))).astype('float32')  # 24 x 24
X = np.pad(X, ((0, 0), (2, 2), (2, 2)))  # 28 x 28
X /= 16.0
y = digits.target.astype('int64')
XCnn = X.reshape(-1, 1, 28, 28)
XCnn_train, XCnn_test, y_train, y_test = train_test_split(XCnn, y, test_size=0.25, random_state=SEED)

# NeuralNetClassifier(Cnn, max_epochs=10, lr=0.002, optimizer=torch.optim.Adam), written out
max_epochs, lr, batch_size = 10, 0.002, 128
X_tr, X_valid, y_tr, y_valid = train_test_split(XCnn_train, y_train, test_size=0.2, stratify=y_train,
                                                random_state=SEED)  # train_split=CVSplit(5)
module = Cnn()
optimizer = torch.optim.Adam(module.parameters(), lr=lr)
criterion = nn.NLLLoss()
train_iter = DataLoader(TensorDataset(torch.tensor(X_tr), torch.tensor(y_tr)), batch_size=batch_size,
                        shuffle=True)


def get_loss(y_pred, y_true):
    return criterion(torch.log(y_pred), y_true)


for epoch in range(max_epochs):
    module.train()
    train_losses = []
    for Xi, yi in train_iter:
        optimizer.zero_grad()
        loss = get_loss(module(Xi), yi)
        loss.backward()
        optimizer.step()
        train_losses.append(loss.item())
    module.eval()
    with torch.no_grad():
        proba = module(torch.tensor(X_valid))
        valid_loss = get_loss(proba, torch.tensor(y_valid)).item()
        valid_acc = (proba.argmax(1).numpy() == y_valid).mean()
    print(f"epoch {epoch + 1} train_loss {np.mean(train_losses):.4f} valid_acc {valid_acc:.4f} "
          f"valid_loss {valid_loss:.4f}")

module.eval()
with torch.no_grad():
    y_pred_cnn = module(torch.tensor(XCnn_test)).argmax(1).numpy()
print(f"RESULT val_accuracy={accuracy_score(y_test, y_pred_cnn):.4f}")
