"""A real FastStream ``NatsBroker`` against a real ``nats-server``, served by ``asgi-core run``.

The tests are ``BrokerContract``'s (``broker_contract.py``), against one ``nats-server``
(``nats_server.py``: loopback ports of its own, monitoring on) and the service of
``tests/fixtures/nats_app.py`` (uvicorn, one process), publishing with a plain nats-py client: a
published message reaches the subscriber; ``/health`` follows the server (204, 500 within the
ping timeout once it is gone, 204 after it is back) while the process keeps serving; SIGTERM
lets the handler in flight finish and leaves no connection of ours in ``/connz``; a service
whose server is gone still stops cleanly.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.e2e.broker_contract import BrokerContract
from tests.e2e.brokers import BrokerCase
from tests.e2e.nats_server import NATS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class TestNatsBroker(BrokerContract):
    case: ClassVar[BrokerCase] = NATS
