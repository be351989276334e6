# Fixed twin of buggy.py (StackOverflow "PyTorch Binary Classification - same network structure,
# 'simpler' data, but worse performance?"): the accepted answer's fix, standardize the inputs
# (x_data = (x_data - x_data.mean()) / x_data.std(), the training statistics applied to the held-out
# rates too) and raise Adam's learning rate to 0.01.
# The question's model: Linear -> sigmoid -> Linear -> sigmoid, BCELoss, Adam, full-batch epochs.
# The patient's recording is not bundled: heart rates are drawn around 92 bpm with a few bpm of spread
# (an assumption from the answer's description); 20% held out. The question's hidden width and learning
# rate are not shown: 4 hidden units as in its circles example, and lr 0.001 (the answer's fix raises it
# to 0.01). 10,000 epochs cut to 1,000 (the answer's fix converges within them).
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.model_selection import train_test_split

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.manual_seed(SEED)
np.random.seed(SEED)
torch.set_num_threads(1)


class Model(nn.Module):
    def __init__(self, input_size, H1, output_size):
        super().__init__()
        self.linear = nn.Linear(input_size, H1)
        self.linear2 = nn.Linear(H1, output_size)

    def forward(self, x):
        x = torch.sigmoid(self.linear(x))
        x = torch.sigmoid(self.linear2(x))
        return x

    def predict(self, x):
        pred = self.forward(x)
        return (pred >= 0.5).float()


n_pts = 500
heart_rate = np.round(np.random.normal(92.0, 6.0, size=n_pts))  # whole beats per minute
labels = (heart_rate > 91).astype(np.float32)
x_train, x_val, y_train, y_val = train_test_split(heart_rate.reshape(-1, 1), labels, test_size=0.2,
                                                  random_state=SEED)
x_data = torch.FloatTensor(x_train)
y_data = torch.FloatTensor(y_train.reshape(-1, 1))
x_val = torch.FloatTensor(x_val)
y_val = torch.FloatTensor(y_val.reshape(-1, 1))
mean, std = x_data.mean(), x_data.std()
x_data = (x_data - mean) / std
x_val = (x_val - mean) / std

model = Model(1, 4, 1)
criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

epochs = 1000
for i in range(epochs):
    y_pred = model.forward(x_data)
    loss = criterion(y_pred, y_data)
    if i % 100 == 0:
        print("epoch:", i, "loss:", loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

with torch.no_grad():
    accuracy = (model.predict(x_val) == y_val).float().mean().item()
print(f"RESULT val_accuracy={accuracy:.4f}")
