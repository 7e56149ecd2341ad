//! How OTLP/HTTP routes refuse a request: with a `google.rpc.Status` in the request's encoding.
//!
//! The OTLP/HTTP specification asks 4xx and 5xx answers to carry a `Status` message, encoded
//! like the request, and SDKs log its `message`. A protobuf request gets the protobuf message; a
//! JSON request, or one whose content type is not supported at all, gets the JSON form
//! `{"code", "message"}`, which also keeps the `error` field that every other answer of the hub
//! has.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prost::Message;
use serde_json::json;

use super::otlp::OtlpEncoding;
use crate::error::ApiError;

/// `google.rpc.Status`, the fields OTLP uses (no `details`).
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    /// A `google.rpc.Code`.
    #[prost(int32, tag = "1")]
    code: i32,
    /// What went wrong, for people.
    #[prost(string, tag = "2")]
    message: String,
}

/// `google.rpc.Code` values for the statuses the ingest routes answer.
fn rpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::TOO_MANY_REQUESTS => 8,       // RESOURCE_EXHAUSTED
        StatusCode::SERVICE_UNAVAILABLE => 14,    // UNAVAILABLE
        status if status.is_server_error() => 13, // INTERNAL
        _ => 3,                                   // INVALID_ARGUMENT
    }
}

/// The answer to a refused OTLP request; `encoding` is `None` when the content type was not one
/// OTLP/HTTP defines.
pub(crate) fn refusal(encoding: Option<OtlpEncoding>, error: ApiError) -> Response {
    let code = rpc_code(error.status);
    match encoding {
        Some(OtlpEncoding::Protobuf) => {
            let status = RpcStatus {
                code,
                message: error.message,
            };
            let content_type = [(CONTENT_TYPE, OtlpEncoding::Protobuf.content_type())];
            (error.status, content_type, status.encode_to_vec()).into_response()
        }
        Some(OtlpEncoding::Json) | None => {
            let body = json!({"error": error.message, "code": code, "message": error.message});
            (error.status, Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Vec<u8> {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        bytes.expect("in-memory body").to_vec()
    }

    #[tokio::test]
    async fn protobuf_requests_are_refused_with_a_protobuf_status() {
        let error = ApiError::bad_request("truncated message");
        let response = refusal(Some(OtlpEncoding::Protobuf), error);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/x-protobuf");
        let status = RpcStatus::decode(&body_of(response).await[..]).expect("a Status");
        assert_eq!(status.code, 3);
        assert_eq!(status.message, "truncated message");
    }

    #[tokio::test]
    async fn json_and_unknown_encodings_get_the_json_status_with_the_error_field() {
        let error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
        let response = refusal(None, error);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value =
            serde_json::from_slice(&body_of(response).await).expect("JSON");
        assert_eq!(
            body,
            json!({"error": "shutting down", "code": 14, "message": "shutting down"})
        );
    }
}
