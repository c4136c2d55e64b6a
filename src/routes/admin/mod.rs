//! The staff's pages under `/admin`, rendered on the server from `templates/admin/`; nothing
//! in them needs JavaScript. Every handler takes the extractor of the access it needs
//! ([`Staff`] or [`Admin`]), so a role is checked on the route itself, not only by hiding a
//! menu entry; every state-changing form comes as a [`Posted`] whose fields are reachable only
//! once its CSRF token is checked against the session's.

mod access;
mod articles;
mod audit;
mod dashboard;
mod delivery_log;
mod digest_send;
mod digests;
mod error;
mod export;
mod feeds;
mod fields;
mod import_jobs;
mod imports;
mod lists;
mod page;
mod params;
mod sign_in;
mod subscriber_actions;
mod subscribers;
mod users;

pub use access::{Admin, Posted, Staff, SESSION_COOKIE};
pub use error::AdminError;

use actix_web::web;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the sign-in page and the one-time links.
    Anyone,
    /// Any signed-in staff member.
    Staff,
    /// Admins only.
    Admin,
}

/// One route of the admin pages.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

/// Form bodies of the admin pages (uploads have their own limit, a setting).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Declares the admin routes once, for the route table and for [`ROUTES`], which tests walk
/// to check every route's access.
macro_rules! admin_routes {
    ($($method:ident $path:literal => $handler:path, $access:ident;)+) => {
        /// Every admin route (paths with `{...}` parameters).
        pub const ROUTES: &[Route] = &[$(Route {
            method: stringify!($method),
            path: concat!("/admin", $path),
            access: Access::$access,
        }),+];

        /// Mounts the admin pages.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            cfg.service(
                web::scope("/admin")
                    .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
                    .wrap(crate::routes::private())
                    $(.route($path, web::$method().to($handler)))+
            );
        }
    };
}

admin_routes! {
    get "" => dashboard::page, Staff;
    get "/login" => sign_in::login_page, Anyone;
    post "/login" => sign_in::login, Anyone;
    post "/logout" => sign_in::logout, Staff;
    get "/link/{token}" => sign_in::link_page, Anyone;
    post "/link/{token}" => sign_in::use_link, Anyone;
    get "/account" => sign_in::account_page, Staff;
    post "/account/password" => sign_in::change_password, Staff;
    post "/account/language" => sign_in::change_language, Staff;
    get "/lists" => lists::index, Admin;
    get "/lists/new" => lists::new_page, Admin;
    post "/lists/new" => lists::create, Admin;
    get "/lists/{slug}" => lists::edit_page, Admin;
    post "/lists/{slug}" => lists::update, Admin;
    post "/lists/{slug}/archive" => lists::archive, Admin;
    get "/lists/{slug}/export" => export::export, Admin;
    get "/subscribers" => subscribers::search, Admin;
    get "/subscribers/new" => subscribers::new_page, Admin;
    post "/subscribers/new" => subscribers::add, Admin;
    get "/subscribers/{id}" => subscribers::detail, Admin;
    post "/subscribers/{id}" => subscribers::update, Admin;
    post "/subscribers/{id}/block" => subscriber_actions::block, Admin;
    post "/subscribers/{id}/erase" => subscriber_actions::erase, Admin;
    get "/import" => imports::upload_page, Admin;
    post "/import" => imports::upload, Admin;
    get "/import/{upload}" => imports::preview, Admin;
    post "/import/{upload}" => imports::start, Admin;
    get "/imports/{job}" => import_jobs::progress, Admin;
    get "/imports/{job}/errors" => import_jobs::error_report, Admin;
    get "/users" => users::index, Admin;
    post "/users" => users::create, Admin;
    post "/users/{id}" => users::update, Admin;
    post "/users/{id}/link" => users::password_link, Admin;
    get "/audit" => audit::page, Admin;
    get "/articles" => articles::index, Staff;
    get "/articles/new" => articles::new_page, Staff;
    post "/articles/new" => articles::create, Staff;
    get "/articles/{id}" => articles::edit_page, Staff;
    post "/articles/{id}" => articles::update, Staff;
    post "/articles/{id}/delete" => articles::delete, Staff;
    get "/feeds" => feeds::index, Staff;
    post "/feeds" => feeds::create, Staff;
    get "/feeds/{id}" => feeds::edit_page, Staff;
    post "/feeds/{id}" => feeds::update, Staff;
    post "/feeds/{id}/pause" => feeds::pause, Staff;
    post "/feeds/{id}/delete" => feeds::delete, Staff;
    post "/feeds/{id}/fetch" => feeds::fetch, Staff;
    get "/digests" => digests::history, Staff;
    get "/digests/new" => digests::new_page, Staff;
    post "/digests/new" => digests::create, Staff;
    get "/digests/{id}" => digests::page, Staff;
    post "/digests/{id}" => digests::revise, Staff;
    get "/digests/{id}/preview" => digests::preview, Staff;
    get "/digests/{id}/preview.txt" => digests::preview_text, Staff;
    post "/digests/{id}/test" => digests::test_send, Staff;
    get "/digests/{id}/send" => digest_send::send_page, Staff;
    post "/digests/{id}/send" => digest_send::send, Staff;
    get "/digests/{id}/progress" => digest_send::progress_json, Staff;
    post "/digests/{id}/control" => digest_send::control, Staff;
    get "/digests/{id}/deliveries" => delivery_log::log, Staff;
    get "/digests/{id}/deliveries.csv" => delivery_log::csv, Staff;
    post "/lists/{slug}/cadence" => digest_send::cadence, Staff;
}
