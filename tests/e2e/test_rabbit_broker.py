"""A real FastStream ``RabbitBroker`` against a real RabbitMQ node, served by ``asgi-core run``.

The tests are ``BrokerContract``'s (``broker_contract.py``), against one throwaway node
(``rabbitmq_server.py``: Debian's ``rabbitmq-server`` on loopback ports, node name and files of
its own) and the service of ``tests/fixtures/rabbit_app.py`` (uvicorn, one process), publishing
with a plain aio-pika client: a published message reaches the subscriber; ``/health`` follows
the node (204, 500 within the ping timeout once it is gone, 204 after it is back) while the
process keeps serving; SIGTERM lets the handler in flight finish and leaves no connection of
ours in ``rabbitmqctl list_connections``; a service whose node is gone still stops cleanly.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.e2e.broker_contract import BrokerContract
from tests.e2e.brokers import BrokerCase
from tests.e2e.rabbitmq_server import RABBITMQ

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class TestRabbitBroker(BrokerContract):
    case: ClassVar[BrokerCase] = RABBITMQ
