//! `/healthz` (the process answers) and `/readyz` (it takes traffic: not shutting down).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// The health routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.shutdown.is_cancelled() {
        let body = json!({ "status": "shutting down" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let bounds = state.log.bounds();
    let stats = state.log.stats();
    let body = json!({
        "status": "ready",
        "latest": state.log.cursor(bounds.latest),
        "events": stats.events,
        "disk_bytes": stats.disk_bytes,
        "subscribers": state.hub.subscribers(),
    });
    Json(body).into_response()
}
