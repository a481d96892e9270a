"""Small pieces of the runners in ``extras/`` that need no server process."""

from __future__ import annotations

import importlib
import logging

import pytest

# imported by name, as run() does: mypy knows the directory as extras/, not asgi_core_extras
gunicorn_runner = importlib.import_module("asgi_core_extras.gunicorn")


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (logging.CRITICAL, "critical"),
        (logging.ERROR, "error"),
        (logging.WARNING, "warning"),
        (logging.INFO, "info"),
        (logging.DEBUG, "debug"),
        (5, "debug"),  # uvicorn's "trace"
        (25, "info"),
    ],
)
def test_gunicorn_gets_a_log_level_name_it_knows(level: int, name: str) -> None:
    assert gunicorn_runner.log_level_name(level) == name
