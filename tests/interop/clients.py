"""Client sides used by the tests: a real SSE consumer (httpx-sse) and a JSON event sender.

[`SseReader`] reads one `GET /v1/stream` connection on a background thread, so that a test can
send logs while the stream is open and then wait, with a deadline, for what arrives. It ends the
connection when told to ([`SseReader.close`]) or when the server does; either way every event
it read stays in order in its queue.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

# How long a single read may block. Streams here send a heartbeat every second, so a silent
# connection for this long is a hung server.
READ_TIMEOUT = 10.0


@dataclass
class Event:
    """One SSE event as the client saw it."""

    event: str
    id: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def message(self) -> str:
        return self.json()["message"]


@dataclass
class _End:
    """Queued after the last event: why the stream ended."""

    error: BaseException | None


@dataclass
class SseReader:
    """One SSE connection, read on a background thread into a queue."""

    url: str
    last_event_id: str | None = None
    status: int | None = None
    headers: httpx.Headers | None = None
    retry: int | None = None
    body_on_error: str = ""
    _queue: queue.Queue[Event | _End] = field(default_factory=queue.Queue)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ended: _End | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sse {self.url}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        headers = {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}
        error: BaseException | None = None
        try:
            timeout = httpx.Timeout(5.0, read=READ_TIMEOUT)
            with httpx.Client(timeout=timeout) as client:
                with connect_sse(client, "GET", self.url, headers=headers) as source:
                    self.status = source.response.status_code
                    self.headers = source.response.headers
                    if self.status != 200:
                        self.body_on_error = source.response.read().decode(errors="replace")
                        raise AssertionError(f"GET {self.url} answered {self.status}")
                    for sse in source.iter_sse():
                        self._take(sse)
                        if self._stop.is_set():
                            break
        except BaseException as caught:  # noqa: BLE001 - handed to the test thread
            error = caught
        finally:
            self._queue.put(_End(None if self._stop.is_set() else error))

    def _take(self, sse: ServerSentEvent) -> None:
        if sse.retry is not None:
            self.retry = sse.retry
        # A frame holding only `retry:` dispatches no event in a browser; skip it likewise.
        if sse.event == "message" and sse.data == "" and sse.id == "":
            return
        self._queue.put(Event(event=sse.event, id=sse.id, data=sse.data))

    def next(self, timeout: float) -> Event:
        """The next event of any type; fails if none comes in time or the stream ended."""
        if self._ended is not None:
            raise AssertionError(f"stream {self.url} already ended: {self._ended.error!r}")
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no SSE event from {self.url} within {timeout}s") from None
        if isinstance(item, _End):
            self._ended = item
            detail = f" ({self.body_on_error[:300]})" if self.body_on_error else ""
            raise AssertionError(f"stream {self.url} ended: {item.error!r}{detail}")
        return item

    def expect_open(self, timeout: float = 10.0) -> dict[str, Any]:
        """Reads the first event, which the contract says is `open`, and returns its data."""
        first = self.next(timeout)
        assert first.event == "open", f"first event should be `open`, got {first}"
        return first.json()

    def logs(
        self, count: int, timeout: float = 15.0, others: list[Event] | None = None
    ) -> list[Event]:
        """The next `count` `log` events; other types go to `others` (heartbeats are dropped)."""
        deadline = time.monotonic() + timeout
        found: list[Event] = []
        while len(found) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"only {len(found)} of {count} log events within {timeout}s: "
                    f"{[event.message for event in found]}"
                )
            event = self.next(remaining)
            if event.event == "log":
                found.append(event)
            elif event.event != "heartbeat" and others is not None:
                others.append(event)
        return found

    def logs_until(
        self, last_message: str, timeout: float = 15.0, others: list[Event] | None = None
    ) -> list[Event]:
        """`log` events up to and including the one whose message is `last_message`."""
        deadline = time.monotonic() + timeout
        found: list[Event] = []
        while not found or found[-1].message != last_message:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{last_message!r} not seen within {timeout}s; got "
                    f"{[event.message for event in found]}"
                )
            found += self.logs(1, remaining, others)
        return found

    def until_heartbeat(self, timeout: float = 10.0) -> list[Event]:
        """Every event before the next heartbeat: proof that nothing more was pending."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(deadline - time.monotonic(), 0.01))
            if event.event == "heartbeat":
                return seen
            seen.append(event)

    def wait_ended(self, timeout: float) -> BaseException | None:
        """Waits for the stream to end (server side); returns the error the client saw."""
        deadline = time.monotonic() + timeout
        while self._ended is None:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"stream {self.url} still open after {timeout}s") from None
            if isinstance(item, _End):
                self._ended = item
        return self._ended.error

    def close(self) -> None:
        """Ends the connection from the client side (within one heartbeat)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=READ_TIMEOUT + 5)
            assert not self._thread.is_alive(), f"SSE reader of {self.url} did not stop"

    def __enter__(self) -> SseReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def post_events(base: str, events: list[dict[str, Any]], timeout: float = 10.0) -> None:
    """POSTs events to `/v1/events` and asserts every one was accepted."""
    body = json.dumps(events)
    response = httpx.post(
        f"{base}/v1/events",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=timeout,
    )
    assert 200 <= response.status_code < 300, describe("POST /v1/events", body, response)
    answer = response.json()
    assert answer.get("accepted") == len(events) and answer.get("rejected") == [], describe(
        "POST /v1/events", body, response
    )


def describe(request: str, body: str | bytes, response: httpx.Response) -> str:
    """A request and its answer, for a failure message that shows what the server did."""
    shown = body if isinstance(body, str) else repr(body[:300])
    return (
        f"{request} with body {shown[:600]}\n"
        f"answered {response.status_code} {dict(response.headers)}\n{response.text[:1000]}"
    )
