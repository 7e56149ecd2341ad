//! OTLP/HTTP log export bodies: what an OpenTelemetry SDK would `POST /v1/logs`.
//!
//! A batch is one `ExportLogsServiceRequest` with one resource (`service.name`) and one scope,
//! each record carrying a message body, a severity, and trace and span ids, as real SDK traffic
//! does. The answer's `partialSuccess` tells how many records the server refused.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use rand::RngCore as _;

/// The content type of every OTLP protobuf body.
pub(crate) const CONTENT_TYPE: &str = "application/x-protobuf";

/// OTLP's severity number for INFO.
const SEVERITY_INFO: i32 = 9;

/// One record to put in a batch.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The log text.
    pub(crate) message: String,
    /// When it happened, nanoseconds since the Unix epoch.
    pub(crate) time_ns: u64,
    /// The 16-byte trace id.
    pub(crate) trace_id: [u8; 16],
    /// The 8-byte span id.
    pub(crate) span_id: [u8; 8],
}

impl Record {
    /// A record with random trace and span ids.
    pub(crate) fn with_random_ids(message: String, time_ns: u64) -> Self {
        let mut rng = rand::rng();
        let mut trace_id = [0; 16];
        let mut span_id = [0; 8];
        rng.fill_bytes(&mut trace_id);
        rng.fill_bytes(&mut span_id);
        Self {
            message,
            time_ns,
            trace_id,
            span_id,
        }
    }
}

/// Encodes `records` from `service` as one protobuf export request body.
pub(crate) fn encode_batch(service: &str, records: impl IntoIterator<Item = Record>) -> Bytes {
    let log_records = records.into_iter().map(log_record).collect();
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_attribute("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "tracetail-bench".into(),
                    ..Default::default()
                }),
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Bytes::from(request.encode_to_vec())
}

fn log_record(record: Record) -> LogRecord {
    LogRecord {
        time_unix_nano: record.time_ns,
        observed_time_unix_nano: record.time_ns,
        severity_number: SEVERITY_INFO,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(record.message)),
        }),
        attributes: vec![string_attribute("bench.kind", "load")],
        trace_id: record.trace_id.to_vec(),
        span_id: record.span_id.to_vec(),
        flags: 1,
        ..Default::default()
    }
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// How many records a successful protobuf answer says were rejected (0 when it says nothing).
pub(crate) fn rejected_records(response_body: &[u8]) -> u64 {
    ExportLogsServiceResponse::decode(response_body)
        .ok()
        .and_then(|response| response.partial_success)
        .map_or(0, |partial| {
            u64::try_from(partial.rejected_log_records).unwrap_or(0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::payload::{Stamp, find_stamp, message};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;

    #[test]
    fn batch_decodes_with_service_ids_and_stamped_messages() {
        let records = (0..3).map(|seq| {
            let stamp = Stamp {
                run: 1,
                seq,
                sent_ns: 5,
            };
            Record::with_random_ids(message(stamp, 200), 5)
        });
        let body = encode_batch("svc-a", records);

        let request = ExportLogsServiceRequest::decode(body).expect("valid protobuf");
        let resource_logs = &request.resource_logs[0];
        let service = &resource_logs
            .resource
            .as_ref()
            .expect("resource")
            .attributes[0];
        assert_eq!(service.key, "service.name");
        let logs = &resource_logs.scope_logs[0].log_records;
        assert_eq!(logs.len(), 3);
        for (seq, log) in logs.iter().enumerate() {
            assert_eq!((log.trace_id.len(), log.span_id.len()), (16, 8));
            let Some(any_value::Value::StringValue(text)) =
                log.body.as_ref().and_then(|b| b.value.clone())
            else {
                panic!("string body expected");
            };
            assert_eq!(text.len(), 200);
            assert_eq!(find_stamp(text.as_bytes()).expect("stamp").seq, seq as u64);
        }
    }

    #[test]
    fn partial_success_counts_rejections() {
        let response = ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 4,
                error_message: "too old".into(),
            }),
        };
        assert_eq!(rejected_records(&response.encode_to_vec()), 4);
        assert_eq!(rejected_records(b""), 0);
    }
}
