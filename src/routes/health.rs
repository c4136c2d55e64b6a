use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::db;
use crate::routes::AppState;

/// `GET /health`: 200 when the process answers and the database does, else 503.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let check = db::run(&state.pool, db::ping);
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "database": "ok" }))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "degraded", "database": "unavailable" }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "degraded", "database": "timeout" })),
    }
}
