//! The database layer: the one place that writes SQL.
//!
//! One [`DbConnection`] enum over PostgreSQL and SQLite, chosen from the URL scheme; an r2d2 pool
//! whose manager opens the right backend itself (diesel's derived `establish` would hide the real
//! connection error); [`run`] to use a pooled connection from async code; [`write`] for write
//! transactions; embedded migrations per backend. Query functions take `&mut DbConnection` so
//! callers compose them inside one transaction.

#[macro_use]
mod lease;

pub mod articles;
pub mod bulk;
pub mod deliveries;
pub mod digests;
pub mod feeds;
mod ids;
pub mod lists;
pub mod outbox;
pub mod ranges;
pub mod schedules;
pub mod schema;
pub mod settings;
pub mod subscribers;
pub mod suppressions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

/// A connection to either backend; every query in `db::*` is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// The connection pool handed to handlers and workers.
///
/// Callers wait for a connection asynchronously (`permits`, one per connection) before a
/// blocking thread is used, so a burst of requests queues as cheap futures instead of as
/// blocked threads contending on the pool. On SQLite, which allows one writer at a time and
/// whose busy handler waits by sleeping (up to 100 ms a try), write transactions also queue on
/// `sqlite_writer` and hand over at once.
#[derive(Clone)]
pub struct Pool {
    conns: r2d2::Pool<Manager>,
    permits: Arc<Semaphore>,
    sqlite_writer: Option<Arc<Semaphore>>,
}

impl Pool {
    /// How many connections the pool holds at most.
    pub fn max_size(&self) -> u32 {
        self.conns.max_size()
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {0:?})")]
    UnsupportedUrl(String),
    #[error("could not create the folder {path} for the SQLite database: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not open a database connection: {0}")]
    Connect(#[from] r2d2::PoolError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("could not open the SQLite database: {0}")]
    Open(String),
    #[error("the blocking database task was cancelled")]
    Cancelled,
}

impl Backend {
    /// Picks the backend from the URL scheme and returns what diesel wants to connect with.
    pub fn from_url(url: &str) -> Result<(Backend, String), DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, url.to_owned()))
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Ok((Backend::Sqlite, path.to_owned()))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(DbError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }
}

/// Opens connections for the pool, configuring SQLite on every one of them.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    target: String,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.target)
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)
                    .map_err(r2d2::Error::ConnectionError)?;
                // The busy timeout makes a writer wait for the lock instead of failing. WAL lets
                // readers run beside the one writer. SQLite leaves foreign keys off unless asked,
                // per connection. No memory map and a 4 MB page cache per connection keep the
                // service's memory flat however large the database grows.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = 0; PRAGMA cache_size = -4000;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// Builds the pool for `url`, creating the SQLite file's folder when needed.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, DbError> {
    let (backend, target) = Backend::from_url(url)?;
    if backend == Backend::Sqlite {
        if let Some(dir) = std::path::Path::new(&target).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    if backend == Backend::Sqlite {
        // Switching a new file to WAL needs a lock that SQLite does not wait for, and the pool
        // opens its connections at once: do it on one connection first (the mode is stored in
        // the file), so the others find it done.
        Manager {
            backend,
            target: target.clone(),
        }
        .connect()
        .map_err(|e| DbError::Open(e.to_string()))?;
    }
    let conns = r2d2::Pool::builder()
        .max_size(max_size)
        // Opened as needed: r2d2 otherwise opens all of them before the first query, eight
        // PostgreSQL backends for a CLI command that uses one.
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        // A broken connection shows itself on use (`has_broken`); a `SELECT 1` round trip on
        // every checkout would cost more than the queries of a typical request.
        .test_on_check_out(false)
        .build(Manager { backend, target })?;
    let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1)));
    Ok(Pool {
        conns,
        permits: Arc::new(Semaphore::new(max_size as usize)),
        sqlite_writer,
    })
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

/// Applies the embedded migrations of the connection's backend; returns how many ran.
pub fn migrate(conn: &mut DbConnection) -> Result<usize, DbError> {
    let ran = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    ran.map_err(|e| DbError::Migration(e.to_string()))
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
    let conns = pool.conns.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = conns.get().map_err(DbError::from)?;
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
