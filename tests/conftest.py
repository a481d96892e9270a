"""Shared test configuration: every async test runs on asyncio and on trio."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``pytest.mark.anyio`` test once per backend, named explicitly."""
    backend: str = request.param
    return backend


# Hypothesis profiles: "ci" (the default) keeps the whole suite quick; "fuzz" runs the protocol
# fuzzers for thousands of examples (`tox -e fuzz`, or HYPOTHESIS_PROFILE=fuzz). Tests that name
# their own max_examples keep it; the fuzzers and security properties name none, so they scale.
settings.register_profile("ci", max_examples=100, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
