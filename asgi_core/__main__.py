"""``python -m asgi_core``: the ``asgi-core`` command line."""

from __future__ import annotations

import sys

from asgi_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
