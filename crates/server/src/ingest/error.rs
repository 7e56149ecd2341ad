//! Why an ingest request is refused as a whole, and the status each reason answers.
//!
//! Problems with single records are not errors here: OTLP reports them in `partialSuccess`, and
//! `/v1/events` in its `rejected` list. An [`IngestError`] refuses the whole body, and nothing of
//! it is stored.

use axum::http::StatusCode;

use crate::error::ApiError;

/// A reason to refuse a whole ingest request; each carries the input that caused it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    /// The body, after decompression, is larger than `--max-body`.
    #[error("request body exceeds --max-body ({limit} bytes) after decompression")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A `Content-Encoding` other than identity and gzip.
    #[error("unsupported Content-Encoding {encoding:?}; send the body uncompressed or as gzip")]
    UnsupportedEncoding {
        /// The header value as sent.
        encoding: String,
    },
    /// A missing or unsupported `Content-Type`.
    #[error("{}; expected {accepted}", describe_content_type(content_type.as_deref()))]
    UnsupportedMediaType {
        /// The media type as sent, without parameters; `None` when the header is missing.
        content_type: Option<String>,
        /// The media types the route accepts, for the message.
        accepted: &'static str,
    },
    /// The body claims gzip but does not inflate.
    #[error("request body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// The body could not be read from the connection.
    #[error("reading request body: {0}")]
    Read(axum::Error),
    /// The body is not an OTLP export request in protobuf.
    #[error("request body is not a valid OTLP/protobuf {request}: {source}")]
    Protobuf {
        /// The message expected, e.g. `ExportLogsServiceRequest`.
        request: &'static str,
        /// The decoder's complaint.
        source: prost::DecodeError,
    },
    /// The body is not JSON, or not JSON of the expected shape.
    #[error("request body is not valid JSON: {0}")]
    Json(serde_json::Error),
    /// An OTLP/JSON body uses a protobuf field name instead of its camelCase JSON name.
    #[error("unknown field {found:?}: OTLP/JSON uses camelCase, expected {expected:?}")]
    SnakeCaseField {
        /// The key as sent, e.g. `resource_logs`.
        found: &'static str,
        /// The key OTLP/JSON requires, e.g. `resourceLogs`.
        expected: &'static str,
    },
    /// An OTLP/JSON body that is an array rather than a request object.
    #[error("request body must be an OTLP/JSON {request} object, got an array")]
    OtlpArray {
        /// The message expected, e.g. `ExportLogsServiceRequest`.
        request: &'static str,
    },
    /// A `/v1/events` JSON body that is neither an object nor an array.
    #[error("request body must be a JSON object or an array of objects, got {found}")]
    NotRecords {
        /// The JSON type found, e.g. `a string`.
        found: &'static str,
    },
}

fn describe_content_type(content_type: Option<&str>) -> String {
    match content_type {
        Some(media_type) => format!("unsupported Content-Type {media_type:?}"),
        None => "missing Content-Type".to_string(),
    }
}

impl IngestError {
    /// The HTTP status this refusal answers.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedEncoding { .. } | IngestError::UnsupportedMediaType { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::Gzip(_)
            | IngestError::Read(_)
            | IngestError::Protobuf { .. }
            | IngestError::Json(_)
            | IngestError::SnakeCaseField { .. }
            | IngestError::OtlpArray { .. }
            | IngestError::NotRecords { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> ApiError {
        ApiError::new(error.status(), error.to_string())
    }
}

/// The JSON type of a value, for messages: `a string`, `an array`…
pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_names_the_limit_and_that_it_is_measured_after_decompression() {
        let error = IngestError::TooLarge { limit: 8_388_608 };
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            error.to_string(),
            "request body exceeds --max-body (8388608 bytes) after decompression"
        );
    }

    #[test]
    fn media_type_messages_say_what_was_sent_and_what_is_accepted() {
        let missing = IngestError::UnsupportedMediaType {
            content_type: None,
            accepted: "a or b",
        };
        assert_eq!(missing.to_string(), "missing Content-Type; expected a or b");
        let wrong = IngestError::UnsupportedMediaType {
            content_type: Some("text/xml".into()),
            accepted: "a or b",
        };
        assert_eq!(
            wrong.to_string(),
            "unsupported Content-Type \"text/xml\"; expected a or b"
        );
        assert_eq!(wrong.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn snake_case_message_names_both_spellings() {
        let error = IngestError::SnakeCaseField {
            found: "resource_logs",
            expected: "resourceLogs",
        };
        assert_eq!(
            error.to_string(),
            "unknown field \"resource_logs\": OTLP/JSON uses camelCase, expected \"resourceLogs\""
        );
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }
}
