# Port of mrdbourke/pytorch-deep-learning issue #399 ("loss remains the same", from discussion #398):
# in 01_pytorch_workflow, the user builds model_1 = LinearRegressionModel2 (one nn.Linear(1, 1)) but
# creates the optimizer as torch.optim.SGD(params=model_0.parameters(), lr=0.01), the parameters of the
# notebook's earlier model_0 (LinearRegressionModel: a weight and a bias as nn.Parameter(torch.randn(1))).
# model_0 takes no part in model_1's forward pass, so optimizer.step() never changes model_1: its loss
# stays at its first value for all 1,000 epochs.
# Data as in the notebook: X = torch.arange(0, 1, 0.02), y = 0.7 * X + 0.3, the first 80% (40 points) for
# training and the last 10 for testing; the user's nn.MSELoss; full-batch training for 1,000 epochs. The
# notebook seeds with torch.manual_seed(42) before building each model; here the seed is the argument.
import sys

import torch
from torch import nn

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
torch.set_num_threads(1)
device = "cpu"

weight, bias = 0.7, 0.3
start, end, step = 0, 1, 0.02
X = torch.arange(start, end, step).unsqueeze(dim=1)
y = weight * X + bias
train_split = int(0.8 * len(X))
X_train, y_train = X[:train_split], y[:train_split]
X_test, y_test = X[train_split:], y[train_split:]


class LinearRegressionModel(nn.Module):
    """The notebook's first model: y = weights * x + bias with hand-made parameters."""

    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)
        self.bias = nn.Parameter(torch.randn(1, dtype=torch.float), requires_grad=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights * x + self.bias


class LinearRegressionModel2(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_layer = nn.Linear(in_features=1, out_features=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_layer(x)


torch.manual_seed(SEED)
model_0 = LinearRegressionModel()

torch.manual_seed(SEED)
model_1 = LinearRegressionModel2()
print(model_1.state_dict())

loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(params=model_0.parameters(), lr=0.01)

torch.manual_seed(SEED)
epochs = 1000
X_train, X_test = X_train.to(device), X_test.to(device)
y_train, y_test = y_train.to(device), y_test.to(device)

for epoch in range(epochs):
    model_1.train()
    y_pred = model_1(X_train)
    loss = loss_fn(y_pred, y_train)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    model_1.eval()
    with torch.inference_mode():
        test_pred = model_1(X_test)
        test_loss = loss_fn(test_pred, y_test)
    if epoch % 100 == 0 or epoch == epochs - 1:
        print(f"Epoch: {epoch} | Train loss: {loss.item():.5f} | Test loss: {test_loss.item():.5f}")

print(model_1.state_dict())
model_1.eval()
with torch.inference_mode():
    test_mse = loss_fn(model_1(X_test), y_test).item()
print(f"RESULT val_error={test_mse / y_test.var().item():.4f}")
