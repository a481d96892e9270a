"""A real FastStream ``RedisBroker`` against a real ``redis-server``, served by ``asgi-core run``.

The tests are ``BrokerContract``'s (``broker_contract.py``), against one ``redis-server``
(``redis_server.py``) and the service of ``tests/fixtures/redis_app.py`` (uvicorn, one
process), talking to Redis with a plain redis-py client: a pushed message reaches the
subscriber; ``/health`` follows Redis (204 while it answers, 500 on the first probe once it is
gone, 204 again after it is back) while the process keeps serving; SIGTERM lets the handler in
flight finish, runs the shutdown hooks and leaves no connection of ours in ``CLIENT LIST``; a
service whose Redis is gone still stops cleanly.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from tests.e2e.broker_contract import BrokerContract
from tests.e2e.brokers import BrokerCase
from tests.e2e.redis_server import REDIS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class TestRedisBroker(BrokerContract):
    case: ClassVar[BrokerCase] = REDIS
