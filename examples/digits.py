"""Train a 64-128-10 ReLU network on scikit-learn's digits with rp.fit and report the test accuracy.

Run: python examples/digits.py   (needs the [data] extra: pip install "retroprop[data]")
"""

from __future__ import annotations

import time

import retroprop as rp
from retroprop import nn


def main() -> None:
    x, y = rp.data.load_digits()
    x_train, x_test, y_train, y_test = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    x_train, x_test = rp.data.standardize(x_train, x_test)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    print(model)
    start = time.perf_counter()
    optimizer = rp.optim.Adam(model.parameters(), lr=1e-3)
    rp.fit(model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=15, batch_size=32,
           validation_data=(x_test, y_test), verbose=2)
    seconds = time.perf_counter() - start
    result = rp.evaluate(model, x_test, y_test, loss="cross_entropy")
    print(f"test accuracy {result['accuracy']:.3f} on {len(y_test)} held-out digits after {seconds:.2f} s "
          "of training")


if __name__ == "__main__":
    main()
