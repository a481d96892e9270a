"""``python -m benchmarks``: run the suite."""

from __future__ import annotations

from benchmarks.cli import main

raise SystemExit(main())
