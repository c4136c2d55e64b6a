//! End-to-end tests: the real server on port 0, a fresh database per test (a temporary SQLite
//! file, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), and a real SMTP
//! listener catching the mail, which is asserted on as parsed MIME.

mod addresses;
mod admin_access;
mod admin_browser;
mod admin_pages;
mod articles_api;
mod cli;
mod confirm;
mod consent;
mod crash;
mod delivery;
mod digests;
mod dkim;
mod editor_browser;
mod editor_pages;
mod feeds;
mod helpers;
mod import;
mod layers;
mod links;
mod migrations;
mod preferences;
mod schedules;
mod security;
mod signup;
mod unsubscribe;
mod validation;
