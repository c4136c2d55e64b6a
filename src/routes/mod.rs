//! HTTP handlers. They parse input into domain types, call a use case, and render a page or
//! JSON; they hold no SQL. `configure` is the one route table.

pub mod admin;
pub mod api;
mod assets;
mod errors;
mod health;
pub mod public;
mod state;

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

pub use errors::{error_pages, PublicError};
pub use health::health;
pub use state::AppState;

/// Request bodies larger than this are refused with 413: a signup is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The policy of every page: no script, style or connection but the site's own (the progress
/// page polls its counts), never in a frame.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The same, for a page that shows the articles' images (from their own sites): the archive.
pub(crate) const CSP_WITH_IMAGES: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https: http:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The same, for the compose page, which frames the digest's preview from this site.
pub(crate) const CSP_WITH_PREVIEW: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The digest's preview, a mail's HTML: its inline styles and remote images, no script, no
/// form, and only inside this site's compose page.
pub(crate) const CSP_MAIL_PREVIEW: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data: https: http:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; \
     sandbox allow-popups allow-popups-to-escape-sandbox";

/// What every response says about itself: the policy above unless a handler set a wider one,
/// not to be sniffed into another type, no referrer to other sites.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// Pages that show a reader's data or act on their link: kept by no cache.
fn private() -> DefaultHeaders {
    DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store"))
}

/// The route table.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(public::index))
        .route("/subscribe", web::post().to(public::subscribe))
        .route("/static/{name}", web::get().to(assets::asset))
        .service(
            web::resource("/confirm")
                .wrap(private())
                .route(web::get().to(public::confirm_page))
                .route(web::post().to(public::confirm)),
        )
        .service(
            web::resource("/unsubscribe/{link}")
                .wrap(private())
                .route(web::get().to(public::unsubscribe_page))
                .route(web::post().to(public::unsubscribe)),
        )
        .service(
            web::resource("/preferences/{link}")
                .wrap(private())
                .route(web::get().to(public::preferences_page))
                .route(web::post().to(public::save_preferences)),
        )
        .service(
            web::resource("/unsubscribe/{link}/undo")
                .wrap(private())
                .route(web::post().to(public::undo)),
        )
        .service(
            web::resource("/preferences/{link}/erase")
                .wrap(private())
                .route(web::post().to(public::erase)),
        )
        .service(
            web::resource("/manage")
                .route(web::get().to(public::manage_page))
                .route(web::post().to(public::request_link)),
        )
        .route("/archive/{slug}", web::get().to(public::archive_index))
        .route(
            "/archive/{slug}/feed.xml",
            web::get().to(public::archive_feed),
        )
        .route(
            "/archive/{slug}/{id}",
            web::get().to(public::archive_digest),
        )
        .route("/health", web::get().to(health))
        .route("/api/articles", web::post().to(api::add_article))
        .configure(admin::configure);
}
