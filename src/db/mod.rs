//! The database layer: the one place that writes SQL.
//!
//! One [`DbConnection`] enum over PostgreSQL and SQLite, chosen from the URL scheme; a pool that
//! opens the right backend itself (diesel's derived `establish` would hide the real connection
//! error) and only on the thread that needs it; [`run`] to use a pooled connection from async
//! code; [`write`] for write
//! transactions; embedded migrations per backend. Query functions take `&mut DbConnection` so
//! callers compose them inside one transaction.

#[macro_use]
mod lease;

pub mod articles;
pub mod audit;
pub mod counts;
pub mod deliveries;
pub mod delivery_log;
pub mod digest_pages;
pub mod digests;
pub mod directory;
pub mod export;
pub mod feeds;
mod ids;
pub mod import;
pub mod import_jobs;
pub mod instances;
pub mod lists;
pub mod outbox;
pub mod ranges;
pub mod schedules;
pub mod schema;
pub mod settings;
pub mod staff;
pub mod stats;
pub mod subscribers;
pub mod suppressions;
pub mod terms;
pub mod tokens;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

mod pool;
pub use pool::{connect, Backend, Pool};

/// A connection to either backend; every query in `db::*` is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Errors from the database layer. Each message names its cause once (none is also a
/// `source`), so a printed chain does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {0:?})")]
    UnsupportedUrl(String),
    #[error("could not create the folder {path} for the SQLite database: {cause}")]
    CreateDir { path: String, cause: std::io::Error },
    #[error("could not open a database connection: {}", .0.to_string().trim_end())]
    Connect(diesel::ConnectionError),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("could not open the SQLite database: {0}")]
    Open(String),
    #[error("the blocking database task was cancelled")]
    Cancelled,
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e)
    }
}

/// Which backend a connection talks to.
pub fn backend(conn: &DbConnection) -> Backend {
    match conn {
        DbConnection::Pg(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The migration that added the search index of names, filled by [`terms::index_all`].
const TERMS_MIGRATION: &str = "20261202000011";

/// Applies the embedded migrations of the connection's backend, then the data steps that
/// need the service's own rules; returns how many migrations ran.
pub fn migrate(conn: &mut DbConnection) -> Result<usize, DbError> {
    let ran: Vec<String> = match conn {
        DbConnection::Pg(c) => c
            .run_pending_migrations(PG_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    if ran.iter().any(|v| v.replace('-', "") == TERMS_MIGRATION) {
        let indexed = terms::index_all(conn)?;
        tracing::info!(
            indexed,
            "indexed the names of existing subscribers for the search"
        );
    }
    Ok(ran.len())
}

/// Runs `f` on a pooled connection on the blocking thread pool, inside the caller's span.
pub async fn run<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let _permit = pool
        .permits
        .acquire()
        .await
        .map_err(|_| E::from(DbError::Cancelled))?;
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.checkout()?;
        f(&mut conn)
    })
    .await
    .map_err(|_| E::from(DbError::Cancelled))?
}

/// Runs `f` on a pooled connection in a write transaction, committed if it returns `Ok`.
///
/// On SQLite, transactions queue on the pool's writer lock and start with `BEGIN IMMEDIATE`,
/// taking the file's write lock up front: a deferred transaction that reads first and writes
/// later fails at once with SQLITE_BUSY when another writer got in between.
pub async fn write<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let _writer = match &pool.sqlite_writer {
        Some(lock) => Some(
            lock.acquire()
                .await
                .map_err(|_| E::from(DbError::Cancelled))?,
        ),
        None => None,
    };
    run(pool, move |conn| transaction(conn, f)).await
}

/// A write transaction on a connection the caller already holds, for a long job that commits
/// in steps on one connection (see [`write`] for `BEGIN IMMEDIATE`). It does not queue on the
/// pool's SQLite writer lock: other writers wait on SQLite's busy timeout meanwhile.
pub fn transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Tm = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(_) => Tm::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            Tm::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// True when the error is a unique-constraint violation (portable stand-in for ON CONFLICT).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A cheap round trip for the health check.
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// `%`, `_` and `\` matched as themselves in a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
