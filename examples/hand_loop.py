"""The doctor in a hand-written training loop: watch, diagnose and repair without ``rp.fit``.

The loop is the usual one (forward, loss, backward, step); the doctor adds four calls:

- ``doctor = rp.Doctor(model, optimizer, repair=True)``; ``doctor.attach(...)`` again with the loss and
  the data lets it check the setup before the first step (the output against the loss, the scale of
  the inputs);
- ``new = doctor.observe(loss)`` after ``loss.backward()`` and before ``optimizer.step()``: the
  diagnoses that are new at this step;
- ``doctor.treat(new)`` when there are new diagnoses (repair on): it rolls back, applies a remedy and
  returns the record; then skip this step's ``optimizer.step()`` and go on with ``doctor.optimizer``
  (the model is changed in place, the optimizer may be new);
- ``doctor.end_epoch(logs=...)`` at the end of each epoch (it counts epochs itself), then
  ``doctor.treat([])`` if ``doctor.undo_pending`` (a treatment made the run worse: it is undone and the
  next remedy tried); ``doctor.finish()`` after the last one.

Run: ``python examples/hand_loop.py [--lr 50] [--epochs 4] [--no-repair]``.
"""

from __future__ import annotations

import argparse

import numpy as np

import retroprop as rp
from retroprop import nn


def main(argv: list[str] | None = None) -> rp.Doctor:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=50.0, help="SGD learning rate (50 explodes)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--no-repair", action="store_true")
    args = parser.parse_args(argv)

    x, y = rp.data.load_digits()
    x_train, x_val, y_train, y_val = rp.data.train_test_split(x, y, test_size=0.25, seed=0)
    x_train, x_val = rp.data.standardize(x_train, x_val)
    rp.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = rp.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    doctor = rp.Doctor(model, optimizer, repair=not args.no_repair)
    doctor.attach(model, optimizer, loss=loss_fn, inputs=x_train, targets=y_train, n_classes=10,
                  samples=(len(x_train), len(x_val)), batch_size=32)
    rng = np.random.default_rng(0)
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            optimizer.zero_grad()
            loss = loss_fn(model(rp.tensor(x_train[batch])), y_train[batch])
            loss.backward()
            new = doctor.observe(loss)
            for diagnosis in new:
                print(f"Doctor: {diagnosis}")
            if new and doctor.treat(new) is not None:
                optimizer = doctor.optimizer  # rolled back and treated: this step's update is skipped
                continue
            optimizer.step()
            losses.append(loss.item())
        with rp.no_grad():
            model.eval()
            scores = model(rp.tensor(x_val))
            val_loss = loss_fn(scores, y_val).item()
            model.train()
        logs = {"loss": float(np.mean(losses)) if losses else float("nan"), "val_loss": val_loss,
                "val_accuracy": float((scores.numpy().argmax(axis=1) == y_val).mean())}
        print(f"epoch {epoch + 1}: loss {logs['loss']:.3f}, val_loss {val_loss:.3f}, "
              f"val_accuracy {logs['val_accuracy']:.3f}")
        new = doctor.end_epoch(logs=logs)
        if new or doctor.undo_pending:
            if doctor.treat(new) is not None:
                optimizer = doctor.optimizer
    doctor.finish()
    print(doctor.summary())
    return doctor


if __name__ == "__main__":
    main()
