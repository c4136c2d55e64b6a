//! The connection pool: connections opened on demand by the thread that needs one, kept for
//! reuse, closed when the last handle on the pool is dropped.
//!
//! Not r2d2: r2d2 opens connections on background threads, also speculatively (to keep idle
//! ones ready), and a process that exits while one of them is still inside libpq dies in
//! OpenSSL's exit handler (SIGSEGV, exit status 139). Here a connection is only ever opened
//! inside a `run` that its caller awaits, so when a command returns, no thread is connecting.

use std::sync::{Arc, Mutex};

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use tokio::sync::Semaphore;

use super::{DbConnection, DbError};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Picks the backend from the URL scheme and returns what diesel wants to connect with.
    pub fn from_url(url: &str) -> Result<(Backend, String), DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, with_connect_timeout(url)))
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

/// libpq waits for an unreachable server as long as TCP does (minutes) unless told otherwise.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout=10")
}

/// The pool handed to handlers, workers and commands; cheap to clone.
///
/// Callers wait for a connection asynchronously (`permits`, one per connection) before a
/// blocking thread is used, so a burst of requests queues as cheap futures instead of as
/// blocked threads. On SQLite, which allows one writer at a time and whose busy handler waits
/// by sleeping (up to 100 ms a try), write transactions also queue on `sqlite_writer` and hand
/// over at once.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) sqlite_writer: Option<Arc<Semaphore>>,
}

struct Shared {
    backend: Backend,
    target: String,
    max_size: u32,
    idle: Mutex<Vec<DbConnection>>,
}

impl Pool {
    /// How many connections the pool holds at most.
    pub fn max_size(&self) -> u32 {
        self.shared.max_size
    }

    /// The backend the pool's URL names.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// A connection: an idle one, else a new one opened on this thread. The caller must hold
    /// one of `permits`, which bounds the connections to `max_size`.
    pub(super) fn checkout(&self) -> Result<Checkout<'_>, DbError> {
        let reused = self.shared.idle.lock().expect("pool lock").pop();
        let conn = match reused {
            Some(conn) => conn,
            None => self.shared.connect()?,
        };
        Ok(Checkout {
            pool: self,
            conn: Some(conn),
        })
    }
}

/// A connection out of the pool, back in it when dropped (unless broken).
pub(super) struct Checkout<'a> {
    pool: &'a Pool,
    conn: Option<DbConnection>,
}

impl std::ops::Deref for Checkout<'_> {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Checkout<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // A transaction left open by a panic, or a connection diesel saw break, is not reused.
        type Tm = <DbConnection as Connection>::TransactionManager;
        if !Tm::is_broken_transaction_manager(&mut conn) {
            self.pool.shared.idle.lock().expect("pool lock").push(conn);
        }
    }
}

impl Shared {
    fn connect(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.target)
                .map(DbConnection::Pg)
                .map_err(DbError::Connect),
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.target).map_err(DbError::Connect)?;
                // The busy timeout makes a writer wait for the lock instead of failing. WAL lets
                // readers run beside the one writer. SQLite leaves foreign keys off unless asked,
                // per connection. No memory map and a 4 MB page cache per connection keep the
                // service's memory flat however large the database grows.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = 0; PRAGMA cache_size = -4000;",
                )
                .map_err(|e| DbError::Open(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Builds the pool for `url` and opens one connection to check it, creating the SQLite file's
/// folder when needed.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, DbError> {
    let (backend, target) = Backend::from_url(url)?;
    if backend == Backend::Sqlite {
        if let Some(dir) = std::path::Path::new(&target).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|cause| DbError::CreateDir {
                    path: dir.display().to_string(),
                    cause,
                })?;
            }
        }
    }
    let max_size = max_size.max(1);
    let shared = Shared {
        backend,
        target,
        max_size,
        idle: Mutex::new(Vec::new()),
    };
    // The first connection also switches a new SQLite file to WAL, which needs a lock SQLite
    // does not wait for: done once here, before any other connection exists.
    let first = shared.connect()?;
    shared.idle.lock().expect("pool lock").push(first);
    Ok(Pool {
        shared: Arc::new(shared),
        permits: Arc::new(Semaphore::new(max_size as usize)),
        sqlite_writer: (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout_unless_they_have_one() {
        let (b, t) = Backend::from_url("postgres://u@h/db").unwrap();
        assert_eq!(
            (b, t.as_str()),
            (Backend::Postgres, "postgres://u@h/db?connect_timeout=10")
        );
        let (_, t) = Backend::from_url("postgresql://u@h/db?sslmode=require").unwrap();
        assert_eq!(t, "postgresql://u@h/db?sslmode=require&connect_timeout=10");
        let (_, t) = Backend::from_url("postgres://u@h/db?connect_timeout=3").unwrap();
        assert_eq!(t, "postgres://u@h/db?connect_timeout=3");
        let (b, t) = Backend::from_url("sqlite://data/x.db").unwrap();
        assert_eq!((b, t.as_str()), (Backend::Sqlite, "data/x.db"));
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
