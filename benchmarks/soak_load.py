"""Load for the soak section: ``wrk`` bounded in requests and in time, and a server's RSS.

One Lua script drives every counted load. Each wrk thread stops itself once it has had its
share of responses (``wrk.thread:stop()``), and ``-d`` bounds the run in time whatever the
server does. The script checks every status against the expected one and prints one
``SOAK responses=N unexpected=M`` line at the end, so a run that got wrong answers is reported,
not counted. wrk's main thread sleeps for the whole ``-d`` even after every thread stopped,
so the script also creates a marker file, and the harness then sends wrk SIGINT, which makes
it print its summary at once. With ``every``, the script also creates a marker file after
every ``every`` responses, and the harness calls ``on_mark`` as each appears (to sample the
server's RSS while the load runs, its connections still open). Modes:

- ``fixed``: ``GET path`` every time (the route hit, the 404 miss);
- ``fresh``: ``GET path/<thread>-<n>``, a path the server has never seen, every time;
- ``websocket``: ``GET path`` with the WebSocket upgrade headers; the app refuses it, so the
  server answers 403 and closes the connection, and wrk opens a new one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCRIPT", "Load", "Loaded", "parse_loaded", "rss_kb", "run_load"]

SCRIPT = r"""
local limit = tonumber(os.getenv("SOAK_LIMIT"))
local mode = os.getenv("SOAK_MODE")
local path = os.getenv("SOAK_PATH")
local expected = tonumber(os.getenv("SOAK_STATUS"))
local marker = os.getenv("SOAK_DONE_FILE")
local every = tonumber(os.getenv("SOAK_EVERY"))
local threads = {}
responses = 0
unexpected = 0
sent = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if mode == "websocket" then
    wrk.headers["Connection"] = "Upgrade"
    wrk.headers["Upgrade"] = "websocket"
    wrk.headers["Sec-WebSocket-Version"] = "13"
    wrk.headers["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
  end
  fixed = wrk.format("GET", path)
end

function request()
  sent = sent + 1
  if mode == "fresh" then
    return wrk.format("GET", path .. "/" .. id .. "-" .. sent)
  end
  return fixed
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= expected then unexpected = unexpected + 1 end
  if every > 0 and responses % every == 0 then
    local mark = io.open(marker .. ".mark." .. math.floor(responses / every), "w")
    mark:close()
  end
  if responses >= limit then
    wrk.thread:stop()
    local done = io.open(marker .. "." .. id, "w")
    done:close()
  end
end

function done(summary, latency, requests)
  local total, wrong = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("responses")
    wrong = wrong + thread:get("unexpected")
  end
  io.write(string.format("SOAK responses=%d unexpected=%d\n", total, wrong))
end
"""


@dataclass(frozen=True)
class Load:
    """``count`` responses to ``path`` in ``mode``, each expected to have ``status``."""

    mode: str
    path: str
    status: int
    count: int


@dataclass(frozen=True)
class Loaded:
    """What a counted load got: responses, how many had another status, and socket errors."""

    responses: int
    unexpected: int
    errors: str


def parse_loaded(text: str) -> Loaded:
    """Read the script's ``SOAK`` line and wrk's socket-error line from wrk's output."""
    found = re.search(r"^SOAK responses=(\d+) unexpected=(\d+)$", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no SOAK line in wrk output (was the soak script used?):\n{text}")
    errors = re.search(r"^\s*Socket errors:.*$", text, re.MULTILINE)
    return Loaded(int(found[1]), int(found[2]), errors[0].strip() if errors else "")


def rss_kb(pid: int) -> int:
    """The resident set size of process ``pid`` in kB (``VmRSS`` in ``/proc/PID/status``)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no VmRSS in /proc/{pid}/status: has the server exited?")
    return int(found[1])


def run_load(
    port: int,
    load: Load,
    seconds: float,
    connections: int = 16,
    every: int = 0,
    on_mark: Callable[[], None] | None = None,
) -> Loaded:
    """Run ``load`` against 127.0.0.1:``port``, stopping after its count or ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="soak-wrk-") as work:
        script = Path(work, "soak.lua")
        script.write_text(SCRIPT, encoding="utf-8")
        environment = {
            **os.environ,
            "SOAK_LIMIT": str(max(1, load.count)),
            "SOAK_MODE": load.mode,
            "SOAK_PATH": load.path,
            "SOAK_STATUS": str(load.status),
            "SOAK_DONE_FILE": str(Path(work, "done")),
            "SOAK_EVERY": str(every),
        }
        command = [
            *("wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"),
            *("--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}"),
        ]
        wrk = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        )
        marks = 0

        def marked() -> None:
            nonlocal marks
            while Path(work, f"done.mark.{marks + 1}").exists():
                marks += 1
                if on_mark is not None:
                    on_mark()

        deadline = time.monotonic() + seconds + 30
        while wrk.poll() is None and not Path(work, "done.0").exists():
            marked()
            if time.monotonic() > deadline:
                wrk.kill()
                break
            time.sleep(0.01)
        marked()  # the last mark comes with the done file
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)  # wrk prints its summary and exits
        try:
            stdout, stderr = wrk.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            wrk.kill()
            stdout, stderr = wrk.communicate()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {stderr}{stdout}")
    return parse_loaded(stdout)
