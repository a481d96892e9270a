"""The server's side of one ASGI app running in a task: what it is sent, what it sends back.

Used wherever we play the server to an app: the test client and ``LifespanManager``
(``asgi_core.testing``), the lifespans of mounted apps (``_sub_lifespans.py``), and the test
suite's communicator (``tests/harness.py``).

Rules:

* ``run()`` calls ``app(scope, receive, send)``; the caller starts it in a task group (or hands
  ``start_in`` an exit stack, which then cancels the app and waits for it on close). An
  ``Exception`` the app raises is kept in ``error``; cancellation passes through.
* The app's ``receive`` takes the next message from ``inbox`` (waiting if there is none); its
  ``send`` calls ``check(message)`` and puts the message in ``outbox``. ``check`` is the point
  where a subclass refuses a message; by default it raises ``violation`` once ``refuse`` set one,
  so an app that carries on after a protocol error meets it again.
* When the app returns or raises, ``FINISHED`` goes into ``outbox``: ``next_message`` returns it,
  and keeps returning it to later waits. With ``report_waits``, ``WAITING`` goes into ``outbox``
  whenever the app calls ``receive()`` with nothing to read (the test client tells "the app waits
  for us" from "the app hangs" that way).
* ``next_message`` waits at most ``timeout`` seconds (``None``: no limit), then raises
  ``TimeoutError`` naming what was awaited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._concurrency._tasks import Mailbox, TaskGroup, open_task_group

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from asgi_core.types import ASGIApp, Message, Scope

__all__ = ["FINISHED", "WAITING", "AppTask"]

FINISHED: Message = {"type": "asgi_core.app-finished"}  # the app returned or raised
WAITING: Message = {"type": "asgi_core.app-waiting"}  # the app waits in receive()


class AppTask:
    """One app on one scope: ``inbox`` feeds its ``receive``, ``outbox`` collects its sends."""

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        timeout: float | None = None,
        *,
        report_waits: bool = False,
    ) -> None:
        self.app = app
        self.scope = scope
        self.timeout = timeout
        self.report_waits = report_waits
        self.inbox: Mailbox[Message] = Mailbox()
        self.outbox: Mailbox[Message] = Mailbox()
        self.error: Exception | None = None  # what the app raised
        self.violation: Exception | None = None  # set by refuse(): raised from every later send
        self.received = False  # the app called receive() at least once
        self.finished = False

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception as exc:
            self.error = exc
        finally:
            self.finished = True
            self.outbox.put(FINISHED)

    async def start_in(self, stack: AsyncExitStack) -> None:
        """Run the app in a task group of its own until ``stack`` closes (which cancels it)."""
        group = open_task_group()
        await group.__aenter__()
        stack.push_async_callback(_cancel_and_leave, group)
        group.start_soon(self.run)

    async def receive(self) -> Message:
        self.received = True
        if self.report_waits and not len(self.inbox):
            self.outbox.put(WAITING)
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.check(message)
        self.outbox.put(message)

    def check(self, message: Message) -> None:
        """Raise to refuse ``message``; the default refuses everything after ``refuse``."""
        if self.violation is not None:
            raise self.violation

    def refuse(self, error: Exception) -> Exception:
        """Raise ``error`` from the app's next ``send`` (and every later one); return it."""
        self.violation = error
        return error

    async def next_message(self, waiting_for: str) -> Message:
        """What the app sent next, or ``FINISHED`` (for this and every later call)."""
        try:
            message = await run_bounded(self.outbox.get, self.timeout)
        except DeadlineExceeded:
            raise TimeoutError(
                f"the app sent nothing within {self.timeout} s while the test waited for "
                f"{waiting_for}; it may be blocked in receive(), or raise the client's timeout"
            ) from None
        if message is FINISHED:
            self.outbox.put(FINISHED)
        return message


async def _cancel_and_leave(group: TaskGroup) -> None:
    group.cancel()
    # leave with no exception: on trio, the body's exception would come back in a group
    await group.__aexit__(None, None, None)
