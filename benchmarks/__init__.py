"""Benchmarks for asgi_core: every figure is a ratio to a floor measured in the same round.

Run with ``python -m benchmarks`` from the repository root (``--quick`` for a short run, ``--help``
for the options). Results go to ``benchmarks/README.md`` (table) and ``benchmarks/ratios.png``.
"""
