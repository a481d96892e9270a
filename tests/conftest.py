"""Shared test configuration: every async test runs on asyncio and on trio."""

from __future__ import annotations

import os
import signal

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


def pytest_configure(config: pytest.Config) -> None:
    """SIGINT handled as in an interactive run, whatever this run inherited.

    A test run started in the background by a non-interactive shell (``cmd &`` in a script, as
    some CI runners do) inherits SIGINT *ignored*, and so would every server the e2e tests start:
    Twisted (daphne) then never installs its SIGINT handler, and the fault matrix's SIGINT cells
    would test the inherited disposition instead of the server. The default handler here is
    reset to the default action in each child at exec, as a user's Ctrl-C meets it.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
