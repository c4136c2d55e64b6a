//! SMTP through lettre's connection type over sockets we open ourselves.
//!
//! lettre's pooled transport never sets TCP_NODELAY, and with Nagle's algorithm each message
//! waits ~40 ms for a delayed ACK; opening the `TcpStream` here with `set_nodelay(true)` and
//! handing it to `AsyncSmtpConnection::connect_with_transport` removes that wait. lettre's own
//! timeout covers only connecting, so every exchange is wrapped in `tokio::time::timeout`.
//! The transaction itself (pipelined when the relay allows) is in `transaction`.

use std::sync::Mutex;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::transaction::{classify, Connection, Envelope};
use super::{Outgoing, SendError};
use crate::config::{SmtpTls, SmtpUrl};

/// Up to `size` open connections to one relay, reused across messages.
pub struct SmtpPool {
    url: SmtpUrl,
    size: usize,
    timeout: Duration,
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
    hello: ClientId,
}

impl SmtpPool {
    pub fn new(url: SmtpUrl, size: usize, timeout: Duration) -> Self {
        Self {
            url,
            size,
            timeout,
            permits: Semaphore::new(size),
            idle: Mutex::new(Vec::new()),
            hello: ClientId::default(),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// One connection's worth of sending, for a run of messages one after another.
    pub async fn session(&self) -> Session<'_> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        Session {
            pool: self,
            _permit: permit,
            conn: None,
        }
    }

    async fn with_timeout<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, SendError>>,
    ) -> Result<T, SendError> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .unwrap_or_else(|_| {
                Err(SendError::Temporary(format!(
                    "SMTP timed out after {:?}",
                    self.timeout
                )))
            })
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let temp = |what: &str, e: &dyn std::fmt::Display| {
            SendError::Temporary(format!("{what} {}:{}: {e}", self.url.host, self.url.port))
        };
        let tls = || {
            TlsParameters::new(self.url.host.clone())
                .map_err(|e| SendError::Temporary(e.to_string()))
        };
        let mut conn = if self.url.tls == SmtpTls::Implicit {
            // TLS from the first byte: lettre opens this socket itself (Nagle stays on).
            AsyncSmtpConnection::connect_tokio1(
                (self.url.host.as_str(), self.url.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(|e| temp("connecting to", &e))?
        } else {
            let stream = TcpStream::connect((self.url.host.as_str(), self.url.port))
                .await
                .map_err(|e| temp("connecting to", &e))?;
            stream
                .set_nodelay(true)
                .map_err(|e| temp("configuring", &e))?;
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                .await
                .map_err(classify)?
        };
        if self.url.tls == SmtpTls::StartTls {
            conn.starttls(tls()?, &self.hello).await.map_err(classify)?;
        }
        let mut conn = Connection::new(conn, &self.hello).await.map_err(classify)?;
        if let (Some(user), Some(password)) = (&self.url.username, &self.url.password) {
            let credentials = Credentials::new(user.clone(), password.expose().clone());
            conn.smtp
                .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// Sends QUIT on every idle connection.
    pub async fn close_idle(&self) {
        let idle: Vec<_> = std::mem::take(&mut *self.idle.lock().expect("pool lock"));
        for conn in idle {
            close(conn).await;
        }
    }
}

/// One of the pool's connections, held for a run of messages: each may announce the next, so
/// the relay gets one message's content and the next one's envelope in a single write.
pub struct Session<'a> {
    pool: &'a SmtpPool,
    _permit: SemaphorePermit<'a>,
    conn: Option<Connection>,
}

impl Session<'_> {
    /// Sends `body` to `this`, announcing `next` (the message this session sends next).
    pub async fn send(
        &mut self,
        this: &Envelope,
        body: &mut String,
        next: Option<&Envelope>,
    ) -> Result<(), SendError> {
        let pool = self.pool;
        let conn = self.connection().await?;
        let sent = pool.with_timeout(conn.send(this, body, next)).await;
        if sent.is_err() {
            // After a refusal the relay may be unwell, and after a timeout or an I/O error the
            // connection's state is unknown: never reuse it.
            self.close().await;
        }
        sent
    }

    /// Sends `group` over this session's connection, in one write with BDAT when the relay
    /// takes chunks, else one message after another, each announcing the next. Outcomes in
    /// the group's order.
    pub async fn send_group(&mut self, group: &mut [Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        let pool = self.pool;
        let conn = match self.connection().await {
            Ok(conn) => conn,
            Err(e) => return vec![Err(e); group.len()],
        };
        if !conn.takes_chunks() {
            let mut outcomes = Vec::with_capacity(group.len());
            for i in 0..group.len() {
                let (this, rest) = group[i..].split_first_mut().expect("i < len");
                let next = rest.first().map(|n| n.envelope);
                outcomes.push(self.send(this.envelope, this.body, next).await);
            }
            return outcomes;
        }
        let messages: Vec<(&Envelope, &str)> = group
            .iter()
            .map(|m| (m.envelope, m.body.as_str()))
            .collect();
        let outcomes = conn.send_chunked(&messages, pool.timeout).await;
        if outcomes.iter().any(Result::is_err) {
            // As after a single message: a relay that refused may be unwell, and after a
            // timeout the conversation's state is unknown.
            self.close().await;
        }
        outcomes
    }

    /// Whether the relay takes chunks (connecting first); false if it cannot be reached.
    pub async fn takes_chunks(&mut self) -> bool {
        match self.connection().await {
            Ok(conn) => conn.takes_chunks(),
            Err(_) => false,
        }
    }

    /// The session's connection: a pooled one, else a new one.
    async fn connection(&mut self) -> Result<&mut Connection, SendError> {
        let pool = self.pool;
        if self.conn.is_none() {
            let reused = pool.idle.lock().expect("pool lock").pop();
            let conn = match reused {
                Some(conn) => conn,
                None => pool.with_timeout(pool.connect()).await?,
            };
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just set"))
    }

    /// Gives the connection back to the pool, or closes it if it is mid-conversation (a
    /// message was announced and will not be sent).
    pub async fn finish(mut self) {
        match self.conn.take() {
            Some(conn) if conn.is_idle() => self.pool.idle.lock().expect("pool lock").push(conn),
            Some(conn) => close(conn).await,
            None => {}
        }
    }

    async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            close(conn).await;
        }
    }
}

/// QUIT if the relay waits for nothing, but never wait for long.
async fn close(conn: Connection) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
}
