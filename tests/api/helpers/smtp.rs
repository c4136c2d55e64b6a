//! A real SMTP server for tests: speaks enough ESMTP for lettre, records every message, and
//! can be told to answer 4xx or 5xx, or be stopped and restarted on the same port. Like
//! Postfix it offers PIPELINING and CHUNKING (BDAT, RFC 3030; `without_chunking` for a relay
//! that takes DATA only), answers when no more commands are waiting, and refuses DATA or BDAT
//! when no recipient was accepted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::{Message, MessageParser};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    /// The message parsed as MIME.
    pub fn parsed(&self) -> Message<'_> {
        MessageParser::default()
            .parse(&self.data)
            .expect("a parsable message")
    }
}

/// How the sink answers RCPT TO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    Accept,
    /// 451: try again later.
    TempFail,
    /// 550: no such mailbox.
    PermFail,
}

/// The sink.
pub struct SmtpSink {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    mode: Arc<Mutex<SmtpMode>>,
    /// How long each DATA takes to be acknowledged (a slow relay).
    delay: Arc<Mutex<Duration>>,
    /// The extensions offered.
    offers: Arc<Mutex<Offers>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Listens on a free port.
    pub async fn start() -> Self {
        // Below the range the kernel takes outgoing connections' ports from (32768 and up on
        // Linux): while the relay is stopped, no connection of this or another test can be
        // given its port, so `restart` finds it free.
        loop {
            let port = rand::random::<u16>() % 12_000 + 20_000;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                return Self::serve(listener, Arc::default(), Arc::default());
            }
        }
    }

    /// A sink whose port is reserved but which is not listening (the relay is down).
    pub async fn down() -> Self {
        let mut sink = Self::start().await;
        sink.stop();
        sink
    }

    fn serve(
        listener: TcpListener,
        received: Arc<Mutex<Vec<Received>>>,
        arrived: Arc<Notify>,
    ) -> Self {
        let mut sink = Self {
            addr: listener.local_addr().unwrap(),
            received,
            arrived,
            mode: Arc::new(Mutex::new(SmtpMode::Accept)),
            delay: Arc::default(),
            offers: Arc::new(Mutex::new(Offers::default())),
            task: None,
        };
        sink.accept_on(listener);
        sink
    }

    fn accept_on(&mut self, listener: TcpListener) {
        let shared = Shared {
            received: self.received.clone(),
            arrived: self.arrived.clone(),
            mode: self.mode.clone(),
            delay: self.delay.clone(),
            offers: self.offers.clone(),
        };
        self.task = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, shared).await;
                });
            }
        }));
    }

    /// The port mail goes to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops listening (open sessions die with the listener's task).
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, keeping what was received.
    pub async fn restart(&mut self) {
        self.stop();
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("the port is free again");
        self.accept_on(listener);
    }

    /// Makes every DATA take `delay` to be acknowledged.
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Stops offering CHUNKING to new connections: messages then come with DATA.
    pub fn without_chunking(&self) {
        self.offers.lock().unwrap().chunking = false;
    }

    /// Stops offering 8BITMIME to new connections (and CHUNKING, which needs it).
    pub fn without_8bitmime(&self) {
        let mut offers = self.offers.lock().unwrap();
        (offers.eight_bit, offers.chunking) = (false, false);
    }

    /// Offers SMTPUTF8 (RFC 6531) to new connections: addresses with a non-ASCII local part
    /// are then taken when MAIL declares it.
    pub fn with_smtputf8(&self) {
        self.offers.lock().unwrap().smtputf8 = true;
    }

    /// Changes how RCPT TO is answered.
    pub fn set_mode(&self, mode: SmtpMode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} messages, got {}", self.received().len());
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    mode: Arc<Mutex<SmtpMode>>,
    delay: Arc<Mutex<Duration>>,
    offers: Arc<Mutex<Offers>>,
}

/// The extensions the sink offers: like Postfix by default, less SMTPUTF8.
#[derive(Debug, Clone, Copy)]
struct Offers {
    chunking: bool,
    eight_bit: bool,
    smtputf8: bool,
}

impl Default for Offers {
    fn default() -> Self {
        Self {
            chunking: true,
            eight_bit: true,
            smtputf8: false,
        }
    }
}

impl Offers {
    fn ehlo(&self) -> Vec<u8> {
        let mut reply = String::from("250-sink.test\r\n");
        for (offered, keyword) in [
            (self.eight_bit, "8BITMIME"),
            (true, "PIPELINING"),
            (self.chunking, "CHUNKING"),
            (self.smtputf8, "SMTPUTF8"),
        ] {
            if offered {
                reply.push_str(&format!("250-{keyword}\r\n"));
            }
        }
        reply.push_str("250 SIZE 10485760\r\n");
        reply.into_bytes()
    }
}

async fn session(stream: TcpStream, shared: Shared) -> std::io::Result<()> {
    let Shared {
        received,
        arrived,
        mode,
        delay,
        offers,
    } = shared;
    let (read, write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut write = BufWriter::new(write);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let (mut from, mut rcpt) = (String::new(), Vec::new());
    // Whether this transaction's MAIL declared SMTPUTF8.
    let mut utf8 = false;
    let mut ehlo: Vec<u8> = Vec::new();
    // The reply to the last refused RCPT (it lives as long as the reply borrowed from it).
    let mut refusal = String::new();
    // The chunks of a message sent with BDAT so far.
    let mut chunks = Vec::new();
    let mut line = String::new();
    loop {
        if lines.buffer().is_empty() {
            write.flush().await?;
        }
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            ehlo.clear();
            ehlo.extend(offers.lock().unwrap().ehlo());
            &ehlo
        } else if upper.starts_with("BDAT ") {
            // The chunk is read whatever the answer (RFC 3030 2), so the conversation stays in
            // step after a refusal.
            let mut words = upper.split_whitespace().skip(1);
            let size: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let last = words.next() == Some("LAST");
            let start = chunks.len();
            chunks.resize(start + size, 0);
            lines.read_exact(&mut chunks[start..]).await?;
            if rcpt.is_empty() {
                chunks.clear();
                b"554 5.5.1 no valid recipients\r\n"
            } else if !last {
                b"250 OK chunk\r\n"
            } else {
                let message = Received {
                    mail_from: std::mem::take(&mut from),
                    rcpt_to: std::mem::take(&mut rcpt),
                    data: std::mem::take(&mut chunks),
                };
                keep(&delay, &received, &arrived, message).await;
                b"250 OK queued\r\n"
            }
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            (from, rcpt) = (String::new(), Vec::new());
            chunks.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = path(&line[10..]);
            (rcpt, chunks) = (Vec::new(), Vec::new());
            utf8 = upper.contains(" SMTPUTF8");
            if utf8 && !offers.lock().unwrap().smtputf8 {
                b"555 5.5.4 Unsupported option: SMTPUTF8\r\n"
            } else {
                b"250 OK\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            let current = *mode.lock().unwrap();
            // Like Postfix, a refusal repeats the address.
            let address = path(&line[8..]);
            refusal.clear();
            match current {
                SmtpMode::TempFail => refusal.push_str("451 4.3.0 <"),
                SmtpMode::PermFail => refusal.push_str("550 5.1.1 <"),
                SmtpMode::Accept => {}
            }
            if current != SmtpMode::Accept {
                refusal.push_str(&address);
                refusal.push_str(">: refused by the test relay\r\n");
            }
            match current {
                // As Postfix: a non-ASCII address only in a transaction that declared it.
                _ if !line.is_ascii() && !utf8 => {
                    b"553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"
                }
                SmtpMode::Accept => {
                    rcpt.push(path(&line[8..]));
                    b"250 OK\r\n"
                }
                SmtpMode::TempFail | SmtpMode::PermFail => refusal.as_bytes(),
            }
        } else if upper.starts_with("DATA") && rcpt.is_empty() {
            b"554 5.5.1 no valid recipients\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            write.flush().await?;
            let mut data = Vec::new();
            loop {
                let mut raw = Vec::new();
                if lines.read_until(b'\n', &mut raw).await? == 0 {
                    return Ok(());
                }
                if raw == b".\r\n" {
                    break;
                }
                // Undo dot-stuffing (RFC 5321 4.5.2).
                let raw = if raw.starts_with(b"..") {
                    &raw[1..]
                } else {
                    &raw[..]
                };
                data.extend_from_slice(raw);
            }
            let message = Received {
                mail_from: std::mem::take(&mut from),
                rcpt_to: std::mem::take(&mut rcpt),
                data,
            };
            keep(&delay, &received, &arrived, message).await;
            b"250 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return write.flush().await;
        } else {
            b"500 unrecognised command\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// Keeps a message that arrived whole, once the relay's delay has passed.
async fn keep(
    delay: &Mutex<Duration>,
    received: &Mutex<Vec<Received>>,
    arrived: &Notify,
    message: Received,
) {
    let wait = *delay.lock().unwrap();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    received.lock().unwrap().push(message);
    arrived.notify_waiters();
}

/// The address in `<...>` of a MAIL FROM or RCPT TO, without the parameters after it
/// (BODY=8BITMIME, SMTPUTF8...).
fn path(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(open), Some(close)) if open < close => arg[open + 1..close].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}
