//! The static files the pages use (their style sheet), compiled into the binary.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::templates;

/// `GET /static/{name}`: pages ask for it with `?v=<version>`, so it may be cached long.
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    match templates::asset(&name) {
        Some((content_type, content)) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(content),
        None => HttpResponse::NotFound().finish(),
    }
}
