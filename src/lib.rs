//! Iscriviti: a self-hosted newsletter service.
//!
//! # Layout
//! - [`config`] typed settings; [`telemetry`] logs; [`cli`] the commands; [`startup`] builds the
//!   application (pool, templates, transport, worker, route table).
//! - [`domain`] types that can only be built valid ([`domain::SubscriberEmail`], ...).
//! - [`routes`] HTTP handlers: parse input into domain types, call a use case, render.
//! - [`subscriptions`] the use cases (signup, confirm, unsubscribe, preferences, erase).
//! - [`feeds`] RSS/Atom feeds bound to lists, and the poller that turns them into articles.
//! - [`db`] the only SQL: one `MultiConnection` over PostgreSQL and SQLite.
//! - [`templates`] pages and mail; [`mail`] message building and transports;
//!   [`links`] signed links; [`delivery`] the outbox worker; [`ratelimit`] per-IP limits.
//!
//! # How a signup flows
//! `POST /subscribe` → `routes::public::subscribe` parses the form or JSON into a
//! `SignupRequest` → `subscriptions::signup` renders the confirmation mail, then in one write
//! transaction records subscriber, subscriptions, the token's hash and the message in the
//! `outbox` table → the request wakes the worker and answers "check your inbox".
//! `delivery::OutboxWorker` leases due rows (the lease is committed first), sends each over
//! `mail::Transport` with no transaction open, and records sent / retry with back-off / failed.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod digests;
pub mod domain;
pub mod feeds;
pub mod links;
pub mod mail;
pub mod ratelimit;
pub mod routes;
pub mod startup;
pub mod subscriptions;
pub mod telemetry;
pub mod templates;
