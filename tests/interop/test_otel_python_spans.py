"""The real OpenTelemetry Python SDK sends the spans and logs of one trace; the hub gives them back.

A `checkout` service logs through Python's `logging` inside a server span and a client span of
its own `TracerProvider`. Spans travel through the SDK's `OTLPSpanExporter` (OTLP/HTTP protobuf,
gzip) and logs through its `OTLPLogExporter`; a second trace's spans go as OTLP/HTTP JSON (the
SDK's own `encode_spans` message through protobuf's JSON printer, ids turned into hex). Then
`GET /v1/traces/{id}` must return both spans and logs of the trace, and a `trace_id` stream must
replay the stored spans as `event: span`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from typing import Any

import httpx
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from clients import SseReader, describe
from hub import Hub

TS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def run_request(tracer_provider: TracerProvider, logger: logging.Logger) -> tuple[str, str, str]:
    """A server span with a failing client span inside, logging in both; returns the ids."""
    tracer = tracer_provider.get_tracer("interop.spans")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.request.method", "POST")
        logger.info("order received")
        with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as client:
            client.add_event("retry", {"attempt": 2})
            client.set_status(Status(StatusCode.ERROR, "card declined"))
            logger.warning("card declined")
        context = server.get_span_context()
        trace_id = format(context.trace_id, "032x")
        server_id = format(context.span_id, "016x")
        client_id = format(client.get_span_context().span_id, "016x")
    return trace_id, server_id, client_id


def get_trace(base: str, trace_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/v1/traces/{trace_id}", timeout=10)
    assert response.status_code == 200, describe(f"GET /v1/traces/{trace_id}", "", response)
    return response.json()


def check_spans(trace: dict[str, Any], trace_id: str, server_id: str, client_id: str) -> None:
    spans = {span["span_id"]: span for span in trace["spans"]}
    assert set(spans) == {server_id, client_id}, trace
    server, client = spans[server_id], spans[client_id]
    assert [span["span_id"] for span in trace["spans"]] == [server_id, client_id], "by start"
    assert "parent_span_id" not in server and client["parent_span_id"] == server_id
    assert (server["name"], server["kind"]) == ("POST /checkout", "SERVER")
    assert (client["name"], client["kind"]) == ("charge card", "CLIENT")
    assert client["status"] == {"code": "ERROR", "message": "card declined"}
    assert server["status"] == {"code": "UNSET"}
    assert client["events"][0]["name"] == "retry"
    assert client["events"][0]["attributes"] == {"attempt": 2}
    assert server["attributes"]["http.request.method"] == "POST"
    for span in (server, client):
        assert span["trace_id"] == trace_id and span["service"] == "checkout"
        assert span["resource"]["telemetry.sdk.language"] == "python"
        assert TS_PATTERN.match(span["start"]) and TS_PATTERN.match(span["end"])
        assert span["duration_ms"] >= 0


def test_python_sdk_spans_and_logs_of_one_trace_come_back_together(hub: Hub) -> None:
    resource = Resource.create({"service.name": "checkout"})
    tracer_provider = TracerProvider(resource=resource)
    span_exporter = OTLPSpanExporter(
        endpoint=f"{hub.base}/v1/traces", timeout=10, compression=Compression.Gzip
    )
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=200))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{hub.base}/v1/logs", timeout=10),
            schedule_delay_millis=200,
        )
    )
    logger = logging.getLogger(f"interop.spans.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        trace_id, server_id, client_id = run_request(tracer_provider, logger)
        assert tracer_provider.force_flush(15_000), "span flush timed out"
        assert logger_provider.force_flush(15_000), "log flush timed out"
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()
        tracer_provider.shutdown()

    trace = get_trace(hub.base, trace_id)
    assert trace["trace_id"] == trace_id
    check_spans(trace, trace_id, server_id, client_id)
    logs = [(log["message"], log["span_id"]) for log in trace["logs"]]
    assert logs == [("order received", server_id), ("card declined", client_id)], trace

    with SseReader(f"{hub.base}/v1/stream?trace_id={trace_id}") as reader:
        reader.expect_open()
        kinds = [reader.next(10).event for _ in range(4)]
        assert sorted(kinds) == ["log", "log", "span", "span"], kinds


def otlp_json(request: Any) -> str:
    """Protobuf's JSON of an export request, with hex ids and integer enums, as OTLP/JSON wants."""
    document = json.loads(MessageToJson(request, use_integers_for_enums=True))
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document)


def test_python_sdk_spans_as_otlp_json(hub: Hub) -> None:
    resource = Resource.create({"service.name": "checkout"})
    tracer_provider = TracerProvider(resource=resource)
    memory = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    logger = logging.getLogger(f"interop.spans.json.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    try:
        trace_id, server_id, client_id = run_request(tracer_provider, logger)
    finally:
        tracer_provider.shutdown()

    body = otlp_json(encode_spans(memory.get_finished_spans()))
    response = httpx.post(
        f"{hub.base}/v1/traces", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, describe("POST /v1/traces (OTLP/JSON)", body, response)
    assert response.json() == {}, describe("POST /v1/traces (OTLP/JSON)", body, response)
    check_spans(get_trace(hub.base, trace_id), trace_id, server_id, client_id)
