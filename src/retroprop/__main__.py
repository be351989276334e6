"""``python -m retroprop``: the ``retroprop`` command (see ``retroprop --help``)."""

from __future__ import annotations

import sys

from retroprop.cli import main

if __name__ == "__main__":
    sys.exit(main())
