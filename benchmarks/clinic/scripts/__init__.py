"""Published buggy PyTorch programs as unmodified scripts, run under ``retroprop watch`` (run.py)."""
