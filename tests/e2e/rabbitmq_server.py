"""A throwaway RabbitMQ node (Debian's ``rabbitmq-server``) on 127.0.0.1, a deadline on every wait.

Everything of its own, so it never meets a system RabbitMQ: free loopback ports for AMQP, the
Erlang distribution and an ``epmd`` this module starts (in its own process group: the one Erlang
starts by itself daemonizes out of reach), a unique node name, and every file (config, Mnesia
database, logs, the Erlang cookie under ``HOME``) in the test's directory. No plugins. The
node's log goes to ``server.log``. Debian's ``/usr/sbin/rabbitmq-server`` is a wrapper that
switches to the ``rabbitmq`` user and its home; the script it wraps is run directly instead.

The node takes about 5 s to boot on an idle 2-core machine (3 s again after SIGTERM, 5 s after
SIGKILL), so the tests share one per session (``brokers.shared_server``) and restart it only
where a test takes it away. ``stop`` (SIGTERM) and ``kill`` (SIGKILL) keep
``epmd`` for the next ``start`` on the same ports; ``close`` ends both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator

import aio_pika
import pytest

from tests.e2e.brokers import (
    STOP_DEADLINE,
    BrokerCase,
    BrokerProcess,
    encoded,
    free_ports,
    running,
)
from tests.fixtures.rabbit_app import QUEUE, named_in

__all__ = ["RABBITMQ", "RabbitServer", "make_rabbit_server", "running_rabbit_server"]

CTL_DEADLINE = 20.0
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
LOOPBACK_DISTRIBUTION = "-kernel inet_dist_use_interface {127,0,0,1}"


def scripts() -> pathlib.Path:
    """The directory of RabbitMQ's own ``rabbitmq-server`` and ``rabbitmqctl`` scripts."""
    found = shutil.which("rabbitmq-server", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        pytest.fail(
            "rabbitmq-server is not installed; scripts/bootstrap installs it "
            "(Debian: apt-get install rabbitmq-server)"
        )
    real = pathlib.Path(found).resolve()
    if real.name == "rabbitmq-script-wrapper":  # Debian's: su to the rabbitmq user
        return real.parent
    return pathlib.Path(found).parent


class RabbitServer(BrokerProcess):
    """One RabbitMQ node (and its ``epmd``) on fixed loopback ports, and plain clients for it."""

    title = "rabbitmq-server"

    def __init__(
        self,
        bin_dir: pathlib.Path,
        epmd: str,
        ports: list[int],
        directory: pathlib.Path,
    ) -> None:
        super().__init__(directory)
        self.bin_dir = bin_dir
        self.epmd = epmd
        self.port, self.dist_port, self.epmd_port = ports
        self.node = f"asgi-core-e2e-{self.port}@localhost"
        self.epmd_process: subprocess.Popen[bytes] | None = None
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "log.console = true\nlog.console.level = info\nlog.file = false\n"
        )
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")  # not the system's
        cookie = directory / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def node_env(self) -> dict[str, str]:
        """What the node and ``rabbitmqctl`` need to find each other, and nothing else's."""
        d = self.directory
        return {
            "HOME": str(d),  # the Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CTL_ERL_ARGS": LOOPBACK_DISTRIBUTION,
            "RABBITMQ_CTL_DIST_PORT_MIN": "35672",
            "RABBITMQ_CTL_DIST_PORT_MAX": "35772",
        }

    def environment(self) -> dict[str, str]:
        d = self.directory
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        return {
            **inherited,
            **self.node_env(),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": LOOPBACK_DISTRIBUTION,
        }

    def command(self) -> list[str]:
        return [str(self.bin_dir / "rabbitmq-server")]

    def start(self) -> None:
        if self.epmd_process is None or self.epmd_process.poll() is not None:
            with open(self.directory / "epmd.log", "ab") as output:
                self.epmd_process = subprocess.Popen(
                    [self.epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                    cwd=self.directory,
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        super().start()

    def answers(self) -> bool:
        """The AMQP listener greets a protocol header with ``Connection.Start`` (a method frame)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(AMQP_HEADER)
                return sock.recv(1) == b"\x01"
        except OSError:
            return False

    def close(self) -> None:
        super().close()
        process = self.epmd_process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_DEADLINE)
            self.epmd_process = None

    def ctl_command(self) -> list[str]:
        """``rabbitmqctl`` for this node, environment included (``env NAME=value ... ctl``)."""
        pairs = [f"{key}={value}" for key, value in self.node_env().items()]
        return ["env", *pairs, str(self.bin_dir / "rabbitmqctl"), "-n", self.node]

    def service_env(self) -> dict[str, str]:
        return {"E2E_RABBIT_URL": self.url, "E2E_RABBITMQCTL": json.dumps(self.ctl_command())}

    def publish(self, body: str) -> None:
        async def publish() -> None:
            connection = await aio_pika.connect(self.url, timeout=5.0)
            async with connection:
                channel = await connection.channel()
                await channel.default_exchange.publish(
                    aio_pika.Message(encoded(body)), routing_key=QUEUE, mandatory=True
                )

        asyncio.run(asyncio.wait_for(publish(), 10.0))

    def connection_list(self) -> str:
        """What ``rabbitmqctl list_connections client_properties`` prints."""
        done = subprocess.run(
            [*self.ctl_command(), "-q", "list_connections", "client_properties"],
            capture_output=True,
            timeout=CTL_DEADLINE,
            check=False,
        )
        output = done.stdout.decode(errors="replace")
        if done.returncode != 0:
            raise AssertionError(
                f"rabbitmqctl list_connections failed ({done.returncode}): "
                f"{output}{done.stderr.decode(errors='replace')}"
            )
        return output

    def service_connections(self) -> int:
        return named_in(self.connection_list())


def make_rabbit_server(tmp_path: pathlib.Path) -> RabbitServer:
    """A RabbitMQ node on free ports with its directory in ``tmp_path``, not started yet."""
    bin_dir = scripts()
    epmd = shutil.which("epmd")
    if epmd is None:
        pytest.fail("epmd is not on PATH (Debian: erlang-base, a dependency of rabbitmq-server)")
    directory = tmp_path / "rabbitmq"
    directory.mkdir()
    return RabbitServer(bin_dir, epmd, free_ports(3), directory)


@contextlib.contextmanager
def running_rabbit_server(tmp_path: pathlib.Path) -> Iterator[RabbitServer]:
    """A started RabbitMQ node on free ports; killed at the end whatever happened."""
    server = make_rabbit_server(tmp_path)
    with running(server):
        yield server


RABBITMQ = BrokerCase(
    name="rabbitmq",
    app="tests.fixtures.rabbit_app:app",
    broker_class="RabbitBroker",
    channel=QUEUE,
    ping_asks_server=False,
    fails_fast=True,
    make=make_rabbit_server,
)
