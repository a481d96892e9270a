"""Small pieces of the runners in ``extras/`` that need no server process."""

from __future__ import annotations

import logging

import pytest
from asgi_core_extras.gunicorn import log_level_name


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
    assert log_level_name(level) == name
