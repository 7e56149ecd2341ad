"""Node.js's `eventsource` package (a WHATWG EventSource) follows a stream across a restart.

EventSource reconnects by itself, after the `retry:` delay the server announced, and sends the
id of the last event it saw as `Last-Event-ID`. The test starts the server with a 3 s retry,
restarts it under the open stream, and sends records while the client waits to reconnect: the
client must receive them on reconnect, exactly once, in order, with no `gap`.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from clients import post_events
from hub import Hub

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "eventsource_tail.mjs"


def node_or_skip() -> str:
    """The `node` binary, once `npm ci` has installed the client; scripts/test-all requires it."""
    node = shutil.which("node")
    installed = (HERE / "node_modules" / "eventsource" / "package.json").is_file()
    if node and installed:
        return node
    reason = "needs node and `npm ci` in tests/interop"
    if os.environ.get("TRACETAIL_REQUIRE_NODE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class NodeClient:
    """`node eventsource_tail.mjs URL`, its JSON lines read on a background thread."""

    def __init__(self, node: str, url: str) -> None:
        self.process = subprocess.Popen(
            [node, str(SCRIPT), url],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(json.loads(raw))
        self.lines.put(None)

    def next(self, deadline: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"node client silent; so far: {self.seen[-10:]}") from None
        if line is None:
            assert self.process.stderr is not None
            stderr = self.process.stderr.read().decode(errors="replace")
            raise AssertionError(f"node client exited: {stderr[-2000:]}")
        self.seen.append(line)
        return line

    def wait_for(self, kind: str, event_type: str | None = None, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(deadline)
            if line["kind"] == kind and (event_type is None or line.get("type") == event_type):
                return line

    def logs(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        found = []
        while len(found) < count:
            line = self.next(deadline)
            if line["kind"] == "event" and line["type"] == "log":
                found.append(line)
        return found

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def message(line: dict[str, Any]) -> str:
    return json.loads(line["data"])["message"]


def test_node_eventsource_receives_live_and_resumes_after_restart(hub: Hub) -> None:
    node = node_or_skip()
    hub.retry = "3s"
    hub.restart()

    client = NodeClient(node, f"{hub.base}/v1/stream")
    try:
        client.wait_for("connected")
        client.wait_for("event", "open")
        post_events(hub.base, [{"service": "node-test", "message": f"e{n}"} for n in range(5)])
        before = client.logs(5)
        assert [message(line) for line in before] == [f"e{n}" for n in range(5)]

        # The stream ends with the server; EventSource waits 3 s, then reconnects by itself.
        hub.restart()
        post_events(hub.base, [{"service": "node-test", "message": f"e{n}"} for n in range(5, 10)])
        client.wait_for("connected", timeout=15)
        client.wait_for("event", "open")
        missed = client.logs(5)
        post_events(hub.base, [{"service": "node-test", "message": "e10"}])
        live = client.logs(1)
    finally:
        client.close()

    received = [message(line) for line in before + missed + live]
    assert received == [f"e{n}" for n in range(11)]
    gaps = [line for line in client.seen if line.get("type") == "gap"]
    assert not gaps, f"resume from a cursor of this store must not announce a gap: {gaps}"
    ids = [line["id"] for line in before + missed + live]
    assert all(ids) and len(set(ids)) == len(ids), ids
