"""The real OpenTelemetry Python SDK sends logs written inside spans; a real SSE client sees them.

Two services (`checkout`, `payments`) each log through Python's `logging` with the SDK's
`LoggingHandler`, inside spans of their own `TracerProvider`. One copy of each service's records
travels as OTLP/HTTP protobuf through the SDK's `OTLPLogExporter` (gzip for `payments`); another
as OTLP/HTTP JSON. The SDK has no JSON exporter, so the JSON is the SDK's own request message
(`encode_logs`) through protobuf's JSON printer, with the ids turned into hex as OTLP/JSON wants.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span

from clients import SseReader, describe
from hub import Hub

SERVICES = ("checkout", "payments")
# RFC 3339, UTC, nanoseconds.
TS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
# Past 2^53 - 1 an integer attribute must arrive as a decimal string.
BIG_COUNT = 2**60


@dataclass
class Expected:
    """What the stream must show for one record the SDK emitted."""

    message: str
    service: str
    level: str
    severity: int
    trace_id: str
    span_id: str
    scope: str
    attributes: dict[str, Any] = field(default_factory=dict)


def hex_ids(span: Span) -> tuple[str, str]:
    """The span's trace and span id as 32 and 16 lower-case hex digits."""
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def emit_in_spans(
    logger_provider: LoggerProvider, tracer_provider: TracerProvider, service: str, encoding: str
) -> list[Expected]:
    """Logs INFO, WARNING and ERROR through `logging` inside two nested spans."""
    scope = f"interop.{service}.{encoding}.{uuid.uuid4().hex[:8]}"
    logger = logging.getLogger(scope)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    tracer = tracer_provider.get_tracer("interop")
    prefix = f"[{encoding}] {service}"
    expected = []
    try:
        with tracer.start_as_current_span(f"{service} request") as request_span:
            trace_id, request_span_id = hex_ids(request_span)

            message = f"{prefix}: request received"
            logger.info(message)
            expected.append(Expected(message, service, "INFO", 9, trace_id, request_span_id, scope))

            with tracer.start_as_current_span(f"{service} call") as call_span:
                _, call_span_id = hex_ids(call_span)
                message = f'{prefix}: slow upstream "pricing" – 1.2 s ✓'
                logger.warning(message, extra={"order.id": 42, "big.count": BIG_COUNT})
                warn = Expected(message, service, "WARN", 13, trace_id, call_span_id, scope)
                warn.attributes = {"order.id": 42, "big.count": str(BIG_COUNT)}
                expected.append(warn)

            message = f"{prefix}: charge failed\n  data: id: 999\n\nevent: forged"
            logger.error(message)
            error = Expected(message, service, "ERROR", 17, trace_id, request_span_id, scope)
            expected.append(error)
    finally:
        logger.removeHandler(handler)
    return expected


class RecordingExporter(LogRecordExporter):
    """Wraps the SDK's OTLP exporter to keep the result of every export."""

    def __init__(self, inner: OTLPLogExporter) -> None:
        self.inner = inner
        self.results: list[tuple[int, LogRecordExportResult]] = []

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        result = self.inner.export(batch)
        self.results.append((len(batch), result))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def send_over_protobuf(base: str, service: str, caplog: pytest.LogCaptureFixture) -> list[Expected]:
    """The SDK's batch processor and OTLP/HTTP protobuf exporter, as an application runs them."""
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    compression = Compression.Gzip if service == "payments" else Compression.NoCompression
    exporter = RecordingExporter(
        OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10, compression=compression)
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, schedule_delay_millis=200)
    )
    try:
        expected = emit_in_spans(logger_provider, tracer_provider, service, "protobuf")
        assert logger_provider.force_flush(15_000), "SDK flush timed out"
    finally:
        logger_provider.shutdown()
        tracer_provider.shutdown()

    exported = sum(count for count, _ in exporter.results)
    failures = [result for _, result in exporter.results if result != LogRecordExportResult.SUCCESS]
    assert exported == len(expected) and not failures, (
        f"OTLPLogExporter ({compression.value}) results {exporter.results}; "
        f"exporter said:\n{caplog.text}"
    )
    return expected


def otlp_json(request: Any) -> str:
    """The OTLP/JSON form of a protobuf request: protobuf's JSON with hex trace and span ids.

    Protobuf's JSON printer writes `bytes` as base64 and enums as names by default; OTLP/JSON
    wants `traceId`/`spanId` as hex and enums as integers.
    """
    document = json.loads(MessageToJson(request, use_integers_for_enums=True))
    for resource_logs in document.get("resourceLogs", []):
        for scope_logs in resource_logs.get("scopeLogs", []):
            for record in scope_logs.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return json.dumps(document)


def send_over_json(base: str, service: str) -> list[Expected]:
    """Records from the SDK's own pipeline, encoded by the SDK, sent as OTLP/HTTP JSON."""
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    memory = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    try:
        expected = emit_in_spans(logger_provider, tracer_provider, service, "json")
    finally:
        logger_provider.shutdown()
        tracer_provider.shutdown()

    records = memory.get_finished_logs()
    assert len(records) == len(expected)
    body = otlp_json(encode_logs(records))
    response = httpx.post(
        f"{base}/v1/logs", content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200, describe("POST /v1/logs (OTLP/JSON)", body, response)
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), describe(
        "POST /v1/logs (OTLP/JSON): a JSON request gets a JSON answer", body, response
    )
    partial = response.json().get("partialSuccess") or {}
    assert int(partial.get("rejectedLogRecords", 0)) == 0, describe(
        "POST /v1/logs (OTLP/JSON)", body, response
    )
    return expected


def check_event(event: dict[str, Any], want: Expected) -> None:
    """One streamed event against what the SDK emitted."""
    where = f"event for {want.message!r}: {event}"
    assert event["service"] == want.service, where
    assert event["trace_id"] == want.trace_id, where
    assert event["span_id"] == want.span_id, where
    assert event["level"] == want.level, where
    assert event["severity"] == want.severity, where
    assert TS_PATTERN.match(event["ts"]), where
    assert isinstance(event["id"], str) and event["id"], where
    assert event["resource"].get("service.name") == want.service, where
    assert event["resource"].get("telemetry.sdk.language") == "python", where
    assert event["attributes"].get("otel.scope.name") == want.scope, where
    for key, value in want.attributes.items():
        assert event["attributes"].get(key) == value, f"attribute {key}: {where}"


def test_otel_python_sdk_logs_inside_spans_protobuf_and_json(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    with SseReader(f"{hub.base}/v1/stream") as reader:
        reader.expect_open()
        expected: list[Expected] = []
        for service in SERVICES:
            expected += send_over_protobuf(hub.base, service, caplog)
            expected += send_over_json(hub.base, service)

        others: list[Any] = []
        events = [event.json() for event in reader.logs(len(expected), timeout=20, others=others)]
        assert not others, f"unexpected events on a live stream: {others}"

    by_message = {event["message"]: event for event in events}
    twice = sorted({m for m in by_message if [e["message"] for e in events].count(m) > 1})
    assert not twice, f"records streamed twice: {twice}"
    missing = [want.message for want in expected if want.message not in by_message]
    assert not missing, f"not streamed: {missing}; streamed: {list(by_message)}"
    for want in expected:
        check_event(by_message[want.message], want)

    # Each export keeps its records' order, and the stream keeps the store's.
    for service in SERVICES:
        for encoding in ("protobuf", "json"):
            prefix = f"[{encoding}] {service}:"
            sent = [want.message for want in expected if want.message.startswith(prefix)]
            seen = [event["message"] for event in events if event["message"].startswith(prefix)]
            assert seen == sent, f"order of {prefix} records"

    # Every record has a cursor of its own.
    assert len({event["id"] for event in events}) == len(events)
