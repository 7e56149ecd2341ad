"""A real SSE client (httpx-sse) resumes with `Last-Event-ID` across a server restart or crash.

The contract: resume is exclusive, exactly once, in order; a crash (`kill -9`) loses no record
that was acknowledged, and a restarted server resumes every cursor it issued before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from clients import Event, SseReader, post_events
from hub import Hub


def numbered(prefix: str, numbers: range) -> list[dict[str, str]]:
    return [{"service": "resume-test", "level": "info", "message": f"{prefix}{n}"} for n in numbers]


def messages(events: list[Event]) -> list[str]:
    return [event.message for event in events]


def resume_and_read_to_sentinel(hub: Hub, last_event_id: str, sentinel: str) -> list[Event]:
    """Reconnects with `Last-Event-ID`, sends `sentinel`, and returns every log up to it.

    The sentinel is stored after everything the client missed, so the stream must deliver the
    missed records, then the sentinel, then nothing more before it falls idle (a heartbeat).
    """
    others: list[Event] = []
    with SseReader(f"{hub.base}/v1/stream", last_event_id=last_event_id) as reader:
        reader.expect_open()
        post_events(hub.base, [{"service": "resume-test", "message": sentinel}])
        logs = reader.logs_until(sentinel, timeout=20, others=others)
        trailing = reader.until_heartbeat()
    assert not others, f"resume from a cursor of this store must not announce anything: {others}"
    assert not trailing, f"events after the sentinel: {trailing}"
    return logs


def test_sse_client_resumes_with_last_event_id_across_restart(hub: Hub) -> None:
    # The client reads the first five of ten records, then goes away.
    with SseReader(f"{hub.base}/v1/stream") as reader:
        reader.expect_open()
        post_events(hub.base, numbered("r", range(0, 4)))
        post_events(hub.base, numbered("r", range(4, 10)))
        seen = reader.logs(5)
    assert messages(seen) == [f"r{n}" for n in range(5)]
    last_event_id = seen[-1].id
    assert last_event_id, f"log events carry an id: {seen[-1]}"

    # Records the client misses, before and after a graceful restart.
    post_events(hub.base, numbered("r", range(10, 15)))
    hub.restart()
    post_events(hub.base, numbered("r", range(15, 18)))
    post_events(hub.base, numbered("r", range(18, 20)))

    resumed = resume_and_read_to_sentinel(hub, last_event_id, "r-end")
    assert messages(resumed) == [f"r{n}" for n in range(5, 20)] + ["r-end"]
    ids = [event.id for event in resumed]
    assert len(set(ids)) == len(ids) and last_event_id not in ids, ids


def test_sse_client_resumes_while_the_server_restarts_under_an_open_stream(hub: Hub) -> None:
    # A client stays connected while the server stops: the stream must end, not hang.
    reader = SseReader(f"{hub.base}/v1/stream")
    reader.expect_open()
    post_events(hub.base, numbered("s", range(0, 3)))
    seen = reader.logs(3)
    code = hub.stop()
    assert code == 0, f"tracetail serve exited with {code} after SIGTERM\n{hub.log_tail()}"
    reader.wait_ended(timeout=5)
    reader.close()

    hub.start()
    post_events(hub.base, numbered("s", range(3, 6)))
    resumed = resume_and_read_to_sentinel(hub, seen[-1].id, "s-end")
    assert messages(resumed) == ["s3", "s4", "s5", "s-end"]


@dataclass
class Sender:
    """Sends batches of three records, one request at a time, until stopped or refused.

    `acked` holds every batch the server answered 2xx; `in_flight` the batch whose request
    failed (the crash came while it was being sent), if any.
    """

    base: str
    name: str
    acked: list[int] = field(default_factory=list)
    in_flight: int | None = None
    unexpected: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            batch = 0
            while not self.stop.is_set():
                events = numbered(f"{self.name}{batch}.", range(3))
                try:
                    response = client.post(f"{self.base}/v1/events", json=events)
                except httpx.HTTPError:
                    self.in_flight = batch
                    return
                if not 200 <= response.status_code < 300:
                    self.unexpected = f"batch {batch}: {response.status_code} {response.text}"
                    return
                self.acked.append(batch)
                batch += 1


def test_sse_client_resumes_after_kill_9(hub: Hub) -> None:
    # One live client reads the first batches, remembers its cursor and leaves.
    reader = SseReader(f"{hub.base}/v1/stream")
    reader.expect_open()
    senders = [Sender(hub.base, "a"), Sender(hub.base, "b")]
    threads = [threading.Thread(target=sender.run, daemon=True) for sender in senders]
    for thread in threads:
        thread.start()
    seen = reader.logs(12)
    reader.close()
    last_event_id = seen[-1].id

    # Two senders keep the store busy; the crash lands mid-request.
    deadline = time.monotonic() + 20
    while min(len(sender.acked) for sender in senders) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    hub.kill()
    for thread in threads:
        thread.join(timeout=15)
        assert not thread.is_alive(), "a sender hung after the crash"
    for sender in senders:
        assert sender.unexpected is None, sender.unexpected
        assert len(sender.acked) >= 40, f"sender {sender.name} got only {len(sender.acked)} acks"

    hub.start()
    resumed = resume_and_read_to_sentinel(hub, last_event_id, "k-end")
    assert resumed[-1].message == "k-end"
    after = messages(seen) + messages(resumed[:-1])
    twice = sorted({m for m in after if after.count(m) > 1})
    assert not twice, f"records delivered twice across the crash: {twice}"

    for sender in senders:
        delivered = [m for m in after if m.startswith(sender.name)]
        acked = [f"{sender.name}{batch}.{n}" for batch in sender.acked for n in range(3)]
        # Every acknowledged record, once, in send order; at most the in-flight batch besides,
        # and that whole or not at all.
        assert delivered[: len(acked)] == acked, (
            f"sender {sender.name}: acknowledged records lost or out of order after kill -9; "
            f"missing {sorted(set(acked) - set(delivered))[:10]}"
        )
        extra = delivered[len(acked):]
        in_flight = [f"{sender.name}{sender.in_flight}.{n}" for n in range(3)]
        assert extra in ([], in_flight), f"sender {sender.name}: unexpected records {extra}"
