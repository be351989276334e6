# Port of pytorch/pytorch issue #1538 ("different result on LSTM whether using batch_first"): an LSTM
# classifier of MNIST that reads each image row by row (28 rows of 28 pixels, a batch shaped
# (batch, rows, pixels)), built as nn.LSTM(in_dim, hidden_dim, n_layer) with the batch_first=True argument
# commented out. Without it the LSTM takes the first axis for time and the second for the batch: it runs
# along the images of the batch, one "sequence" per image row, and out[:, -1, :] picks, for the i-th image,
# the state reached after reading the last row of images 0..i. The label of an image is then predicted from
# other images' rows, and the network cannot learn the digits.
# The network and settings: Rnn(in_dim, hidden_dim, n_layer, n_class), an LSTM with a Linear
# classifier on the last output; batches of 100, learning rate 1e-2, 20 epochs, cross-entropy. The
# instantiation and the optimizer are not in our copy of the issue: 128 units, 2 layers and Adam, as in the
# MNIST-LSTM tutorial code of the time (yunjey/pytorch-tutorial).
# MNIST is replaced by scikit-learn's 8x8 digits (pixels / 16), read as 8 rows of 8 pixels; 80/20 split.
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)  # noqa: NPY002
torch.set_num_threads(1)

batch_size = 100
learning_rate = 1e-2
num_epoches = 20

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)  # (n, 8, 8): 8 rows of 8 pixels
X_train, X_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2,
                                                    random_state=SEED)
train_loader = DataLoader(TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train)),
                          batch_size=batch_size, shuffle=True)
test_loader = DataLoader(TensorDataset(torch.from_numpy(X_test), torch.from_numpy(y_test)),
                         batch_size=batch_size, shuffle=False)


class Rnn(nn.Module):
    def __init__(self, in_dim, hidden_dim, n_layer, n_class):
        super().__init__()
        self.n_layer = n_layer
        self.hidden_dim = hidden_dim
        self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer)
        self.classifier = nn.Linear(hidden_dim, n_class)

    def forward(self, x):
        out, _ = self.lstm(x)
        out = out[:, -1, :]
        return self.classifier(out)


model = Rnn(8, 128, 2, 10)
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=learning_rate)

for epoch in range(num_epoches):
    model.train()
    running_loss, running_acc, seen = 0.0, 0.0, 0
    for img, label in train_loader:
        out = model(img)
        loss = criterion(out, label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * label.size(0)
        running_acc += (out.argmax(1) == label).sum().item()
        seen += label.size(0)
    if epoch % 5 == 0 or epoch == num_epoches - 1:
        print(f'epoch {epoch + 1:2d}  loss {running_loss / seen:.4f}  acc {running_acc / seen:.4f}')

model.eval()
correct, total = 0, 0
with torch.no_grad():
    for img, label in test_loader:
        correct += (model(img).argmax(1) == label).sum().item()
        total += label.size(0)
print(f"RESULT val_accuracy={correct / total:.4f}")
