//! Iscriviti: a self-hosted newsletter service.
//!
//! # Layout
//! From the top down; a module imports only from those below it (a test keeps it so).
//! - [`cli`] the commands (`serve`, `migrate`, `list`, `subscriber`, `import`, `export`,
//!   `article`, `digest`, `feed`); [`startup`] assembles the application: the context, the
//!   outbox worker, the digest engine, the feed poller, the route table.
//! - [`routes`] HTTP handlers: parse input into domain types, call a use case, render; their
//!   state wraps the application context.
//! - The use cases, each taking an [`app::AppContext`]: [`subscriptions`] (signup, confirm,
//!   unsubscribe, preferences, erase, lists, import, export, reminders), [`digests`] (articles,
//!   compose, preview, test, send, schedule, cadences), [`feeds`] (RSS/Atom feeds and their
//!   poller), [`delivery`] (the outbox worker for transactional mail, the digest engine, the
//!   heartbeat that keeps an instance's leases).
//! - [`app`] the context and the use cases' error; [`templates`] pages and mail; [`mail`]
//!   message building, DKIM and transports; [`links`] signed links; [`db`] the only SQL, one
//!   `MultiConnection` over PostgreSQL and SQLite; [`ratelimit`] the per-client signup limit.
//! - [`domain`] types that can only be built valid ([`domain::SubscriberEmail`], statuses...);
//!   [`config`] typed settings; [`telemetry`] logs.
//!
//! # How a signup flows
//! `POST /subscribe` → `routes::public::subscribe` parses the form or JSON into a
//! `SignupRequest` → `subscriptions::signup` renders the confirmation mail, then in one write
//! transaction records subscriber, subscriptions, the token's hash and the message in the
//! `outbox` table → the request wakes the worker and answers "check your inbox".
//! `delivery::OutboxWorker` leases due rows (the lease is committed first), sends each over
//! `mail::Transport` with no transaction open, and records sent / retry with back-off / failed.
//!
//! # How a digest flows
//! `digests::start` freezes the audience as one `deliveries` row per reader. Every instance's
//! `delivery::DigestEngine` leases untried deliveries as ranges of ids (`db::ranges`), looks up
//! their readers, renders each copy from parts prepared once (`digests::PreparedDigest`),
//! sends over its own SMTP connections with no transaction open, and records the outcomes
//! every 100 ms; the instance's heartbeat renews its leases, so a dead instance's deliveries
//! are taken over within one lease.

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
pub mod outbound;
pub mod ratelimit;
pub mod routes;
pub mod staff;
pub mod startup;
pub mod subscriptions;
pub mod telemetry;
pub mod templates;
