//! One SMTP mail transaction (MAIL, RCPT, DATA, content) on a lettre connection, pipelined
//! (RFC 2920) when the relay offers it.
//!
//! lettre's own `send` speaks one command at a time and dot-stuffs the content byte by byte:
//! four round trips per message, and on loopback every write also runs the receiver's TCP
//! processing. Relays worth sending a digest through advertise PIPELINING, so MAIL, RCPT and
//! DATA go out in one write and their replies come back together. When the caller already
//! knows the next message's envelope, its MAIL, RCPT and DATA follow this message's content in
//! the same write (RFC 2920 allows content first in a group): one round trip per message. A
//! message only counts as sent on its own reply to the final dot. Only the transaction is ours:
//! the connection, the commands, the reply parser and the errors are lettre's.

use std::fmt::{self, Display, Formatter, Write};
use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::Address;

use super::SendError;
use crate::domain::envelope_form;

/// Who a message is from and to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: Address,
    pub recipient: Address,
}

impl Envelope {
    /// The envelope of one message (domains in A-labels), or a permanent error naming the
    /// address that is not one.
    pub fn new(sender: &str, recipient: &str) -> Result<Self, SendError> {
        let address = |a: &str, what: &str| {
            envelope_form(a)
                .parse::<Address>()
                .map_err(|_| SendError::Permanent(format!("invalid {what} address")))
        };
        Ok(Self {
            sender: address(sender, "sender")?,
            recipient: address(recipient, "recipient")?,
        })
    }

    fn is_ascii(&self) -> bool {
        AsRef::<str>::as_ref(&self.sender).is_ascii()
            && AsRef::<str>::as_ref(&self.recipient).is_ascii()
    }
}

/// The largest write buffer a connection keeps between messages; a rare huge message does
/// not pin its size for the connection's life.
const KEPT_WIRE: usize = 1 << 20;

/// A relay connection and where it stands in the conversation.
pub struct Connection {
    pub smtp: AsyncSmtpConnection,
    pipelining: bool,
    /// CHUNKING (RFC 3030): content sent with `BDAT <size>`, which needs no reply before it.
    chunking: bool,
    eight_bit: bool,
    /// A message whose MAIL, RCPT and DATA went out with the previous content; their replies
    /// are read when its turn comes, so a slow answer to them never delays (or, through a
    /// timeout, fails) the message before it, which the relay has already accepted.
    announced: Option<Envelope>,
    /// Every reply has been read and the relay waits for no content: QUIT may be sent, and
    /// the connection may be reused.
    settled: bool,
    /// What the next write carries, kept between messages: a message's worth of buffer is
    /// not allocated and freed for every one (large blocks go through the allocator's shared
    /// arenas, whose locks the sending threads then contend for).
    wire: String,
}

impl Connection {
    /// Asks the relay for its extensions once more: lettre keeps only those it knows, and
    /// PIPELINING is not one of them. Call it after STARTTLS, whose EHLO may differ.
    pub async fn new(
        mut smtp: AsyncSmtpConnection,
        hello: &ClientId,
    ) -> Result<Self, lettre::transport::smtp::Error> {
        let ehlo = smtp.command(Ehlo::new(hello.clone())).await?;
        let offers = |extension: &str| {
            ehlo.message().any(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|keyword| keyword.eq_ignore_ascii_case(extension))
            })
        };
        let (pipelining, chunking) = (offers("PIPELINING"), offers("CHUNKING"));
        let eight_bit = smtp.server_info().supports_feature(Extension::EightBitMime);
        Ok(Self {
            smtp,
            pipelining,
            chunking,
            eight_bit,
            announced: None,
            settled: true,
            wire: String::new(),
        })
    }

    /// Whether the connection is between transactions with nothing announced: reusable.
    pub fn is_idle(&self) -> bool {
        self.settled && self.announced.is_none()
    }

    /// Whether `send_chunked` may be used: the relay offers CHUNKING and PIPELINING (so
    /// commands need not wait for replies) and takes 8-bit content, and nothing is pending.
    pub fn takes_chunks(&self) -> bool {
        self.chunking && self.pipelining && self.eight_bit && self.is_idle()
    }

    /// Sends several messages in one write, each as MAIL, RCPT and `BDAT <size> LAST` followed
    /// by its content as is (RFC 3030: no dot-stuffing, no reply awaited before the content),
    /// then reads the three replies of each: one write and one read for the group, where
    /// DATA needs a round trip per message. A relay reads every chunk even after refusing its
    /// MAIL or RCPT, so a refusal (given as that message's outcome) leaves the conversation in
    /// step. When it breaks instead (no reply within `patience`, an I/O error), the messages
    /// whose replies were not read fail as temporary and the connection is fit only for
    /// `close`. `patience` bounds each wait for a reply, not the group's: a relay as slow per
    /// message as a single send allows still gets the whole group through. Only when
    /// `takes_chunks`.
    pub async fn send_chunked(
        &mut self,
        messages: &[(&Envelope, &str)],
        patience: Duration,
    ) -> Vec<Result<(), SendError>> {
        let mut outcomes: Vec<Option<Result<(), SendError>>> = vec![None; messages.len()];
        self.wire.clear();
        let mut written = Vec::with_capacity(messages.len());
        for (i, (envelope, content)) in messages.iter().enumerate() {
            match self.mail(envelope) {
                Ok(mail) => {
                    let rcpt = Rcpt::new(envelope.recipient.clone(), vec![]);
                    let size = content.len();
                    let _ = write!(self.wire, "{mail}{rcpt}BDAT {size} LAST\r\n");
                    self.wire.push_str(content);
                    written.push(i);
                }
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
        if !written.is_empty() {
            self.settled = false;
            let late = || SendError::Temporary(format!("SMTP timed out after {patience:?}"));
            let first = tokio::time::timeout(patience, self.smtp.command(self.wire.as_str()));
            let mut reply = Some(first.await);
            if self.wire.capacity() > KEPT_WIRE {
                self.wire = String::new();
            }
            let mut broken = None;
            'messages: for &i in &written {
                let mut refused = None;
                // MAIL's, RCPT's and BDAT's.
                for _ in 0..3 {
                    let answer = match reply.take() {
                        Some(first) => first,
                        None => tokio::time::timeout(patience, self.smtp.read_response()).await,
                    };
                    match answer {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) if is_reply(&e) => {
                            refused.get_or_insert(e);
                        }
                        Ok(Err(e)) => {
                            broken = Some(classify(e));
                            break 'messages;
                        }
                        Err(_) => {
                            broken = Some(late());
                            break 'messages;
                        }
                    }
                }
                outcomes[i] = Some(refused.map_or(Ok(()), |e| Err(classify(e))));
            }
            self.settled = broken.is_none();
            if let Some(SendError::Temporary(e) | SendError::Permanent(e)) = broken {
                let unknown = format!("the conversation broke before the relay answered: {e}");
                for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
                    *outcome = Some(Err(SendError::Temporary(unknown.clone())));
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every message has an outcome"))
            .collect()
    }

    /// Sends `content` (a formatted message, CRLF line ends) to `this` envelope, and announces
    /// `next` in the same write when the relay pipelines. The next call must then send `next`;
    /// any error leaves the connection fit only for `close`. `content` comes back as it was
    /// given: when no line needs escaping, the final dot and the next group are written after
    /// it in its own buffer for the write, then cut off again, which saves copying it.
    pub async fn send(
        &mut self,
        this: &Envelope,
        content: &mut String,
        next: Option<&Envelope>,
    ) -> Result<(), SendError> {
        if !self.eight_bit && !content.is_ascii() {
            return Err(SendError::Permanent(
                "the relay does not accept 8-bit messages (no 8BITMIME)".into(),
            ));
        }
        match self.announced.take() {
            Some(announced) if announced == *this => {
                let mail = self.smtp.read_response().await;
                self.rest_of_group(mail).await?;
            }
            Some(_) => {
                return Err(SendError::Temporary(
                    "the relay was expecting another message".into(),
                ))
            }
            None => self.open(this).await?,
        }
        let next = next.filter(|n| self.pipelining && self.eight_bit && n.is_ascii());
        let group = match next {
            Some(next) => Some(Group(
                self.mail(next)?,
                Rcpt::new(next.recipient.clone(), vec![]),
            )),
            None => None,
        };
        let wrote = if needs_stuffing(content) {
            written(&mut self.wire, content, group);
            let wrote = self.smtp.command(self.wire.as_str()).await;
            if self.wire.capacity() > KEPT_WIRE {
                self.wire = String::new();
            }
            wrote
        } else {
            // Cut back on every way out, a timeout that drops this future included.
            let content = Restore::new(content);
            ended(content.0, group);
            self.smtp.command(content.0.as_str()).await
        };
        wrote.map_err(classify)?;
        match next {
            Some(next) => self.announced = Some(next.clone()),
            None => self.settled = true,
        }
        Ok(())
    }

    /// Writes MAIL, RCPT and DATA for `this` (together when the relay pipelines) and reads
    /// the replies; Ok when the relay waits for the content.
    async fn open(&mut self, this: &Envelope) -> Result<(), SendError> {
        self.settled = false;
        let mail = self.mail(this)?;
        let rcpt = Rcpt::new(this.recipient.clone(), vec![]);
        if self.pipelining {
            let first = self.smtp.command(Group(mail, rcpt)).await;
            return self.rest_of_group(first).await;
        }
        let lock_step = async {
            self.smtp.command(mail).await?;
            self.smtp.command(rcpt).await?;
            self.smtp.command(Data).await
        };
        let outcome = lock_step.await.map(drop);
        // A refusal (a reply, not a broken connection) leaves the relay between transactions.
        self.settled = outcome.as_ref().is_err_and(is_reply);
        outcome.map_err(classify)
    }

    /// Given the reply to MAIL, reads those to RCPT and DATA. Every reply is read even after
    /// a refusal, and if the relay accepted DATA although it refused MAIL or RCPT, a lone dot
    /// ends that empty message (RFC 2920, 3.1).
    async fn rest_of_group(
        &mut self,
        mail: Result<Response, lettre::transport::smtp::Error>,
    ) -> Result<(), SendError> {
        self.settled = false;
        let mut refused = mail.err();
        if let Err(e) = self.smtp.read_response().await {
            refused.get_or_insert(e);
        }
        let data = self.smtp.read_response().await;
        let Some(first) = refused else {
            return data.map(drop).map_err(classify);
        };
        let mut settled = is_reply(&first) && data.as_ref().err().map_or(true, is_reply);
        if data.is_ok() {
            // The relay's answer to an empty message to nobody says nothing about this one.
            let dot = self.smtp.command(".\r\n").await;
            settled &= dot.as_ref().err().map_or(true, is_reply);
        }
        self.settled = settled;
        Err(classify(first))
    }

    /// MAIL FROM with BODY=8BITMIME whenever the relay has it (it is a declaration that the
    /// content may hold 8-bit text, true of any message), and SMTPUTF8 for non-ASCII addresses.
    fn mail(&self, envelope: &Envelope) -> Result<Mail, SendError> {
        let mut parameters = Vec::new();
        if !envelope.is_ascii() {
            if !self
                .smtp
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(SendError::Permanent(
                    "the relay does not accept non-ASCII addresses (no SMTPUTF8)".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if self.eight_bit {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(Mail::new(Some(envelope.sender.clone()), parameters))
    }

    /// Ends the conversation: QUIT when the relay waits for nothing, otherwise the socket is
    /// simply closed (a relay discards a message whose content never ended).
    pub async fn close(mut self) {
        if self.settled {
            let _ = self.smtp.quit().await;
        }
    }
}

/// Whether a line of `content` starts with a dot, which dot-stuffing (RFC 5321, 4.5.2) must
/// escape.
fn needs_stuffing(content: &str) -> bool {
    content.starts_with('.') || memchr::memmem::find(content.as_bytes(), b"\r\n.").is_some()
}

/// The content dot-stuffed and ended with its final dot, then the next group if any, in `out`
/// (cleared first): one write.
fn written(out: &mut String, content: &str, next: Option<Group>) {
    out.clear();
    out.reserve(content.len() + content.len() / 64 + 256);
    if content.starts_with('.') {
        out.push('.');
    }
    let mut from = 0;
    for at in memchr::memmem::find_iter(content.as_bytes(), b"\r\n.") {
        // Up to and including the dot that starts a line, then the dot that escapes it.
        out.push_str(&content[from..at + 3]);
        out.push('.');
        from = at + 3;
    }
    out.push_str(&content[from..]);
    ended(out, next);
}

/// Ends the content in `out` (a line end if it lacks one, the final dot), then the next group.
fn ended(out: &mut String, next: Option<Group>) {
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    if let Some(group) = next {
        let _ = write!(out, "{group}");
    }
}

/// A message buffer cut back to its length when dropped.
struct Restore<'a>(&'a mut String, usize);

impl<'a> Restore<'a> {
    fn new(content: &'a mut String) -> Self {
        let len = content.len();
        Self(content, len)
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.truncate(self.1);
    }
}

/// MAIL and RCPT followed by DATA, written as one.
struct Group(Mail, Rcpt);

impl Display for Group {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, Data)
    }
}

/// Whether `e` is the relay's answer (4xx or 5xx), as opposed to a broken or garbled exchange.
fn is_reply(e: &lettre::transport::smtp::Error) -> bool {
    e.is_transient() || e.is_permanent()
}

/// 5xx answers are permanent; everything else (4xx, I/O, TLS, timeouts) is worth a retry.
pub fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Temporary(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    #[test]
    fn lines_starting_with_a_dot_are_stuffed_and_the_content_is_ended() {
        let mut out = String::from("what the previous write carried");
        let mut wire = |content| {
            written(&mut out, content, None);
            out.clone()
        };
        assert_eq!(
            wire(".a\r\n..b\r\nc.\r\n."),
            "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"
        );
        assert_eq!(wire("a\r\n"), "a\r\n.\r\n");
        assert_eq!(wire(""), "\r\n.\r\n");
    }

    const EHLO: &str = "250-relay.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n";
    const EHLO_PIPELINING: &str = "250-relay.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n";

    /// One step of a scripted relay: read a message's content up to its final dot when
    /// `content`, then `lines` more lines, and only then answer `reply`.
    struct Step {
        content: bool,
        /// Messages sent with BDAT to read first: MAIL, RCPT, `BDAT <size> LAST` and the chunk.
        chunked: usize,
        lines: usize,
        reply: &'static str,
        /// Answer only once this fires.
        hold: Option<tokio::sync::oneshot::Receiver<()>>,
    }

    fn commands(lines: usize, reply: &'static str) -> Step {
        Step {
            content: false,
            chunked: 0,
            lines,
            reply,
            hold: None,
        }
    }

    fn content(then: usize, reply: &'static str) -> Step {
        Step {
            content: true,
            chunked: 0,
            lines: then,
            reply,
            hold: None,
        }
    }

    fn chunked(messages: usize, reply: &'static str) -> Step {
        Step {
            content: false,
            chunked: messages,
            lines: 0,
            reply,
            hold: None,
        }
    }

    /// A connection to a relay that answers both EHLOs with `ehlo`, then follows `steps`; the
    /// task returns what the relay read. When `strict`, the relay also checks that the client
    /// waited for each reply: nothing more may arrive before it answers.
    async fn relay(
        ehlo: &'static str,
        steps: Vec<Step>,
        strict: bool,
    ) -> (Connection, tokio::task::JoinHandle<String>) {
        let steps = [commands(1, ehlo), commands(1, ehlo)]
            .into_iter()
            .chain(steps);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            write.write_all(b"220 relay.test ESMTP\r\n").await.unwrap();
            let mut seen = String::new();
            let mut line = String::new();
            for step in steps {
                if step.content {
                    next_line(&mut read, &mut seen, &mut line).await;
                    while line != ".\r\n" {
                        next_line(&mut read, &mut seen, &mut line).await;
                    }
                }
                for _ in 0..step.chunked {
                    for _ in 0..3 {
                        next_line(&mut read, &mut seen, &mut line).await;
                    }
                    let size: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                    let mut chunk = vec![0; size];
                    read.read_exact(&mut chunk).await.unwrap();
                    seen.push_str(std::str::from_utf8(&chunk).unwrap());
                }
                for _ in 0..step.lines {
                    next_line(&mut read, &mut seen, &mut line).await;
                }
                if strict {
                    let more = tokio::time::timeout(Duration::from_millis(50), read.fill_buf());
                    assert!(more.await.is_err(), "the client sent before the reply");
                }
                if let Some(hold) = step.hold {
                    hold.await.unwrap();
                }
                write.write_all(step.reply.as_bytes()).await.unwrap();
            }
            seen
        });
        (connect(port).await, task)
    }

    async fn next_line(
        read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        seen: &mut String,
        line: &mut String,
    ) {
        line.clear();
        assert!(read.read_line(line).await.unwrap() > 0, "closed early");
        seen.push_str(line);
    }

    async fn connect(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let hello = ClientId::default();
        let smtp = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .unwrap();
        Connection::new(smtp, &hello).await.unwrap()
    }

    fn to(recipient: &str) -> Envelope {
        Envelope {
            sender: "news@example.org".parse().unwrap(),
            recipient: recipient.parse().unwrap(),
        }
    }

    async fn send(
        conn: &mut Connection,
        this: &Envelope,
        content: &str,
        next: Option<&Envelope>,
    ) -> Result<(), SendError> {
        let mut message = content.to_owned();
        let send = conn.send(this, &mut message, next);
        let sent = tokio::time::timeout(Duration::from_secs(5), send)
            .await
            .expect("no deadlock");
        assert_eq!(message, content, "the message comes back as it was given");
        sent
    }

    fn group(recipient: &str) -> String {
        format!("MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
    }

    #[tokio::test]
    async fn a_relay_with_pipelining_gets_mail_rcpt_and_data_before_answering() {
        // This relay answers nothing until it has all three commands: a client that waited
        // for the reply to MAIL would never finish.
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(0, "250 queued\r\n"),
            ],
            false,
        )
        .await;
        let (a, body) = (to("a@example.org"), "Subject: caffè\r\n\r\n.punto\r\n");
        send(&mut conn, &a, body, None).await.unwrap();
        assert!(conn.is_idle());
        let seen = relay.await.unwrap();
        let expected = format!(
            "{}Subject: caffè\r\n\r\n..punto\r\n.\r\n",
            group("a@example.org")
        );
        assert!(seen.ends_with(&expected), "{seen}");
    }

    #[tokio::test]
    async fn the_next_message_is_announced_with_the_content_of_this_one() {
        // The relay answers the content only once it also has the next MAIL, RCPT and DATA.
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(3, "250 queued a\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(0, "250 queued b\r\n"),
            ],
            false,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
            .await
            .unwrap();
        assert!(!conn.is_idle(), "the relay waits for b's content");
        send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
            .await
            .unwrap();
        assert!(conn.is_idle());
        let seen = relay.await.unwrap();
        let expected = format!(
            "{}Subject: a\r\n\r\nA\r\n.\r\n{}Subject: b\r\n\r\nB\r\n.\r\n",
            group("a@example.org"),
            group("b@example.org")
        );
        assert!(seen.ends_with(&expected), "{seen}");
    }

    #[tokio::test]
    async fn a_message_is_done_on_its_own_reply_whatever_the_next_group_awaits() {
        // The relay accepts a's content at once but holds its answers to b's MAIL, RCPT and
        // DATA: sending a must not wait for them (a timeout there would retry an accepted a).
        let (release, hold) = tokio::sync::oneshot::channel();
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(3, "250 queued a\r\n"),
                Step {
                    hold: Some(hold),
                    ..commands(0, "250 ok\r\n250 ok\r\n354 go ahead\r\n")
                },
                content(0, "250 queued b\r\n"),
            ],
            false,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
            .await
            .unwrap();
        release.send(()).unwrap();
        send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
            .await
            .unwrap();
        assert!(relay.await.unwrap().ends_with("B\r\n.\r\n"));
    }

    #[tokio::test]
    async fn an_announced_message_refused_by_the_relay_fails_when_its_turn_comes() {
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(
                    3,
                    "250 queued a\r\n250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n",
                ),
                commands(1, "221 bye\r\n"),
            ],
            false,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
            .await
            .unwrap();
        let err = send(&mut conn, &b, "Subject: b\r\n\r\nB\r\n", None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent(r) if r.contains("no such mailbox")),
            "{err:?}"
        );
        // Every reply was read and no content is awaited: QUIT is the next thing said.
        conn.close().await;
        assert!(relay.await.unwrap().ends_with("DATA\r\nQUIT\r\n"));
    }

    #[tokio::test]
    async fn sending_another_message_than_the_one_announced_is_refused() {
        let (mut conn, _relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                content(3, "250 queued a\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n"),
            ],
            false,
        )
        .await;
        let (a, b, c) = (
            to("a@example.org"),
            to("b@example.org"),
            to("c@example.org"),
        );
        send(&mut conn, &a, "Subject: a\r\n\r\nA\r\n", Some(&b))
            .await
            .unwrap();
        let err = send(&mut conn, &c, "Subject: c\r\n\r\nC\r\n", None)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
        assert!(!conn.is_idle(), "the connection must not be reused");
    }

    #[tokio::test]
    async fn a_relay_without_pipelining_gets_one_command_at_a_time() {
        let (mut conn, relay) = relay(
            EHLO,
            vec![
                commands(1, "250 ok\r\n"),
                commands(1, "250 ok\r\n"),
                commands(1, "354 go ahead\r\n"),
                content(0, "250 queued\r\n"),
            ],
            true,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        // Nothing is announced to a relay that does not pipeline, even when asked.
        send(&mut conn, &a, "Subject: caffè\r\n\r\nciao\r\n", Some(&b))
            .await
            .unwrap();
        assert!(conn.is_idle());
        let seen = relay.await.unwrap();
        let expected = format!(
            "{}Subject: caffè\r\n\r\nciao\r\n.\r\n",
            group("a@example.org")
        );
        assert!(seen.ends_with(&expected), "{seen}");
    }

    #[tokio::test]
    async fn a_refused_recipient_is_permanent_and_every_reply_is_read() {
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(
                    3,
                    "250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n",
                ),
                commands(1, "221 bye\r\n"),
            ],
            false,
        )
        .await;
        let err = send(
            &mut conn,
            &to("a@example.org"),
            "Subject: x\r\n\r\nx\r\n",
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent(r) if r.contains("no such mailbox")),
            "{err:?}"
        );
        // The next command gets its own reply, not one left over from the group.
        assert_eq!(
            conn.smtp
                .command("QUIT\r\n")
                .await
                .unwrap()
                .code()
                .to_string(),
            "221"
        );
        assert!(relay.await.unwrap().ends_with("DATA\r\nQUIT\r\n"));
    }

    #[tokio::test]
    async fn data_accepted_after_a_refused_recipient_is_ended_with_a_lone_dot() {
        let (mut conn, relay) = relay(
            EHLO_PIPELINING,
            vec![
                commands(3, "250 ok\r\n451 4.3.0 try later\r\n354 go ahead\r\n"),
                content(0, "554 5.5.1 no valid recipients\r\n"),
            ],
            false,
        )
        .await;
        let err = send(
            &mut conn,
            &to("a@example.org"),
            "Subject: x\r\n\r\nx\r\n",
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, SendError::Temporary(r) if r.contains("try later")),
            "{err:?}"
        );
        assert!(relay.await.unwrap().ends_with("DATA\r\n.\r\n"));
    }

    const EHLO_CHUNKING: &str =
        "250-relay.test\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 CHUNKING\r\n";

    async fn send_chunked(
        conn: &mut Connection,
        messages: &[(&Envelope, &str)],
    ) -> Vec<Result<(), SendError>> {
        assert!(conn.takes_chunks());
        let send = conn.send_chunked(messages, Duration::from_secs(2));
        tokio::time::timeout(Duration::from_secs(5), send)
            .await
            .expect("no deadlock")
    }

    #[tokio::test]
    async fn a_relay_with_chunking_gets_a_group_in_one_write_without_dot_stuffing() {
        // Strict: the relay checks nothing more arrives before it answers, so the whole group
        // came before any reply was awaited.
        let (mut conn, relay) = relay(
            EHLO_CHUNKING,
            vec![chunked(
                2,
                "250 ok\r\n250 ok\r\n250 queued\r\n250 ok\r\n250 ok\r\n250 queued\r\n",
            )],
            true,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        let (body_a, body_b) = ("Subject: a\r\n\r\n.punto\r\n", "Subject: b\r\n\r\nB");
        let sent = send_chunked(&mut conn, &[(&a, body_a), (&b, body_b)]).await;
        assert!(sent.iter().all(Result::is_ok), "{sent:?}");
        assert!(conn.is_idle(), "every reply was read");
        let seen = relay.await.unwrap();
        let expected = format!(
            "MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<a@example.org>\r\nBDAT {} LAST\r\n{body_a}\
             MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\nBDAT {} LAST\r\n{body_b}",
            body_a.len(),
            body_b.len()
        );
        assert!(seen.ends_with(&expected), "{seen}");
    }

    #[tokio::test]
    async fn a_refusal_in_a_group_is_that_messages_outcome_and_the_rest_go_on() {
        let (mut conn, relay) = relay(
            EHLO_CHUNKING,
            vec![
                chunked(
                    3,
                    "250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n\
                     250 ok\r\n250 ok\r\n452 4.3.1 try later\r\n\
                     250 ok\r\n250 ok\r\n250 queued\r\n",
                ),
                commands(1, "221 bye\r\n"),
            ],
            false,
        )
        .await;
        let (a, b, c) = (
            to("a@example.org"),
            to("b@example.org"),
            to("c@example.org"),
        );
        let sent = send_chunked(&mut conn, &[(&a, "A\r\n"), (&b, "B\r\n"), (&c, "C\r\n")]).await;
        assert!(matches!(&sent[0], Err(SendError::Permanent(r)) if r.contains("no such mailbox")));
        assert!(matches!(&sent[1], Err(SendError::Temporary(r)) if r.contains("try later")));
        assert!(sent[2].is_ok());
        // In step: the next thing said is QUIT, and the relay hears it.
        conn.close().await;
        assert!(relay.await.unwrap().ends_with("C\r\nQUIT\r\n"));
    }

    #[tokio::test]
    async fn a_group_cut_short_leaves_its_unanswered_messages_temporary() {
        let (mut conn, relay) = relay(
            EHLO_CHUNKING,
            vec![chunked(2, "250 ok\r\n250 ok\r\n250 queued\r\n250 ok\r\n")],
            false,
        )
        .await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        let group = [(&a, "A\r\n"), (&b, "B\r\n")];
        let (sent, _) = tokio::join!(send_chunked(&mut conn, &group), relay);
        assert!(sent[0].is_ok(), "its reply came: {:?}", sent[0]);
        assert!(
            matches!(&sent[1], Err(SendError::Temporary(_))),
            "{:?}",
            sent[1]
        );
        assert!(!conn.is_idle(), "the connection is fit only for close");
    }

    #[tokio::test]
    async fn a_relay_silent_past_the_patience_leaves_its_unanswered_messages_temporary() {
        let (release, held) = tokio::sync::oneshot::channel();
        let mut step = chunked(2, "250 ok\r\n250 ok\r\n250 queued\r\n");
        step.hold = Some(held);
        let (mut conn, _relay) = relay(EHLO_CHUNKING, vec![step], false).await;
        let (a, b) = (to("a@example.org"), to("b@example.org"));
        let group = [(&a, "A\r\n"), (&b, "B\r\n")];
        let sent = conn.send_chunked(&group, Duration::from_millis(200)).await;
        assert!(
            sent.iter()
                .all(|s| matches!(s, Err(SendError::Temporary(r)) if r.contains("timed out"))),
            "{sent:?}"
        );
        assert!(!conn.is_idle(), "the connection is fit only for close");
        let _ = release.send(());
    }

    #[tokio::test]
    async fn a_relay_without_chunking_takes_no_groups() {
        let (conn, _relay) = relay(EHLO_PIPELINING, vec![], false).await;
        assert!(!conn.takes_chunks());
    }

    #[test]
    fn the_group_is_mail_rcpt_and_data_in_order() {
        let mail = Mail::new(Some("a@example.org".parse().unwrap()), vec![]);
        let rcpt = Rcpt::new("b@example.org".parse().unwrap(), vec![]);
        assert_eq!(
            Group(mail, rcpt).to_string(),
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
        );
    }
}
