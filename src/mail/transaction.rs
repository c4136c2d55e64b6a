//! One SMTP mail transaction (MAIL, RCPT, DATA, content) on a lettre connection, pipelined
//! (RFC 2920) when the relay offers it.
//!
//! lettre's own `send` speaks one command at a time and dot-stuffs the content byte by byte:
//! four round trips per message, and on loopback every write also runs the receiver's TCP
//! processing. Relays worth sending a digest through advertise PIPELINING, so MAIL, RCPT and
//! DATA go out in one write and their replies come back together; the content and its final
//! dot follow in a second write, stuffed a line at a time. Only the transaction is ours: the
//! connection, the commands, the reply parser and the errors are lettre's.

use std::fmt::{self, Display, Formatter, Write};

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use super::SendError;

/// A relay connection and whether it accepts pipelined commands.
pub struct Connection {
    pub smtp: AsyncSmtpConnection,
    pipelining: bool,
}

impl Connection {
    /// Asks the relay for its extensions once more: lettre keeps only those it knows, and
    /// PIPELINING is not one of them. Call it after STARTTLS, whose EHLO may differ.
    pub async fn new(
        mut smtp: AsyncSmtpConnection,
        hello: &ClientId,
    ) -> Result<Self, lettre::transport::smtp::Error> {
        let ehlo = smtp.command(Ehlo::new(hello.clone())).await?;
        let pipelining = ehlo.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Self { smtp, pipelining })
    }

    /// Sends `content` (a formatted message, CRLF line ends) from `sender` to `recipient`.
    /// An error leaves the connection between transactions (every reply read, the content
    /// ended if the relay wrongly accepted DATA), so it may still be closed with QUIT.
    pub async fn send(
        &mut self,
        sender: Address,
        recipient: Address,
        content: &[u8],
    ) -> Result<(), SendError> {
        let content = std::str::from_utf8(content)
            .map_err(|_| SendError::Permanent("the message is not UTF-8".into()))?;
        let ascii = |a: &Address| AsRef::<str>::as_ref(a).is_ascii();
        let parameters = self.mail_parameters(content, ascii(&sender) && ascii(&recipient))?;
        let mail = Mail::new(Some(sender), parameters);
        let rcpt = Rcpt::new(recipient, vec![]);
        if self.pipelining {
            self.pipelined(mail, rcpt).await?;
        } else {
            self.smtp.command(mail).await.map_err(classify)?;
            self.smtp.command(rcpt).await.map_err(classify)?;
            self.smtp.command(Data).await.map_err(classify)?;
        }
        self.smtp
            .command(Content(content))
            .await
            .map(drop)
            .map_err(classify)
    }

    /// MAIL, RCPT and DATA in one write. Every reply is read even after a refusal, and if the
    /// relay accepted DATA although it refused the recipient, a lone dot ends that empty
    /// message (RFC 2920, 3.1).
    async fn pipelined(&mut self, mail: Mail, rcpt: Rcpt) -> Result<(), SendError> {
        let mut refused = self.smtp.command(Group(mail, rcpt)).await.err();
        if let Err(e) = self.smtp.read_response().await {
            refused.get_or_insert(e);
        }
        match (self.smtp.read_response().await, refused) {
            (Ok(_), None) => Ok(()),
            (Err(data), None) => Err(classify(data)),
            (Err(_), Some(first)) => Err(classify(first)),
            (Ok(_), Some(first)) => {
                let _ = self.smtp.command(".\r\n").await;
                Err(classify(first))
            }
        }
    }

    /// BODY=8BITMIME and SMTPUTF8 where the message needs them, if the relay has them.
    fn mail_parameters(
        &self,
        content: &str,
        ascii_addresses: bool,
    ) -> Result<Vec<MailParameter>, SendError> {
        let info = self.smtp.server_info();
        let mut parameters = Vec::new();
        if !ascii_addresses {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError::Permanent(
                    "the relay does not accept non-ASCII addresses (no SMTPUTF8)".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !content.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(SendError::Permanent(
                    "the relay does not accept 8-bit messages (no 8BITMIME)".into(),
                ));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(parameters)
    }
}

/// MAIL and RCPT followed by DATA, written as one.
struct Group(Mail, Rcpt);

impl Display for Group {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, Data)
    }
}

/// A message's content dot-stuffed (RFC 5321, 4.5.2), then the line with the final dot.
struct Content<'a>(&'a str);

impl Display for Content<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest.starts_with('.') {
            f.write_char('.')?;
        }
        while let Some(at) = rest.find("\r\n.") {
            // Up to and including the dot that starts a line, then the dot that escapes it.
            f.write_str(&rest[..at + 3])?;
            f.write_char('.')?;
            rest = &rest[at + 3..];
        }
        f.write_str(rest)?;
        if !self.0.ends_with("\r\n") {
            f.write_str("\r\n")?;
        }
        f.write_str(".\r\n")
    }
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
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    #[test]
    fn lines_starting_with_a_dot_are_stuffed_and_the_content_is_ended() {
        assert_eq!(
            Content(".a\r\n..b\r\nc.\r\n.").to_string(),
            "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"
        );
        assert_eq!(Content("a\r\n").to_string(), "a\r\n.\r\n");
        assert_eq!(Content("").to_string(), "\r\n.\r\n");
    }

    const EHLO: &str = "250-relay.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n";
    const EHLO_PIPELINING: &str = "250-relay.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n";

    /// One step of a scripted relay: read `lines` lines (0: a message's content, up to its
    /// final dot), then answer `reply`.
    struct Step(usize, &'static str);

    /// A relay that follows `steps` and returns what it read. When `strict`, it also checks
    /// that the client waited for each reply: nothing more may arrive before it answers.
    async fn relay(steps: Vec<Step>, strict: bool) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            write.write_all(b"220 relay.test ESMTP\r\n").await.unwrap();
            let mut seen = String::new();
            for Step(lines, reply) in steps {
                let mut line = String::new();
                let mut n = 0;
                while if lines == 0 {
                    line != ".\r\n"
                } else {
                    n < lines
                } {
                    line.clear();
                    assert!(read.read_line(&mut line).await.unwrap() > 0, "closed early");
                    seen.push_str(&line);
                    n += 1;
                }
                if strict {
                    let more = tokio::time::timeout(Duration::from_millis(50), read.fill_buf());
                    assert!(more.await.is_err(), "the client sent before the reply");
                }
                write.write_all(reply.as_bytes()).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    async fn connect(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let hello = ClientId::default();
        let smtp = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .unwrap();
        Connection::new(smtp, &hello).await.unwrap()
    }

    async fn send(conn: &mut Connection, content: &str) -> Result<(), SendError> {
        let (from, to) = ("news@example.org", "lettore@example.org");
        let send = conn.send(
            from.parse().unwrap(),
            to.parse().unwrap(),
            content.as_bytes(),
        );
        tokio::time::timeout(Duration::from_secs(5), send)
            .await
            .expect("no deadlock")
    }

    const GROUP: &str =
        "MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<lettore@example.org>\r\nDATA\r\n";

    #[tokio::test]
    async fn a_relay_with_pipelining_gets_mail_rcpt_and_data_before_answering() {
        // This relay answers nothing until it has all three commands: a client that waited
        // for the reply to MAIL would never finish.
        let (port, relay) = relay(
            vec![
                Step(1, EHLO_PIPELINING),
                Step(1, EHLO_PIPELINING),
                Step(3, "250 ok\r\n250 ok\r\n354 go ahead\r\n"),
                Step(0, "250 queued\r\n"),
            ],
            false,
        )
        .await;
        let mut conn = connect(port).await;
        send(&mut conn, "Subject: caffè\r\n\r\n.punto\r\n")
            .await
            .unwrap();
        let seen = relay.await.unwrap();
        let expected = format!("{GROUP}Subject: caffè\r\n\r\n..punto\r\n.\r\n");
        assert!(seen.ends_with(&expected), "{seen}");
    }

    #[tokio::test]
    async fn a_relay_without_pipelining_gets_one_command_at_a_time() {
        let (port, relay) = relay(
            vec![
                Step(1, EHLO),
                Step(1, EHLO),
                Step(1, "250 ok\r\n"),
                Step(1, "250 ok\r\n"),
                Step(1, "354 go ahead\r\n"),
                Step(0, "250 queued\r\n"),
            ],
            true,
        )
        .await;
        let mut conn = connect(port).await;
        send(&mut conn, "Subject: caffè\r\n\r\nciao\r\n")
            .await
            .unwrap();
        let seen = relay.await.unwrap();
        assert!(seen.ends_with(&format!("{GROUP}Subject: caffè\r\n\r\nciao\r\n.\r\n")));
    }

    #[tokio::test]
    async fn a_refused_recipient_is_permanent_and_every_reply_is_read() {
        let (port, relay) = relay(
            vec![
                Step(1, EHLO_PIPELINING),
                Step(1, EHLO_PIPELINING),
                Step(
                    3,
                    "250 ok\r\n550 5.1.1 no such mailbox\r\n554 5.5.1 no valid recipients\r\n",
                ),
                Step(1, "221 bye\r\n"),
            ],
            false,
        )
        .await;
        let mut conn = connect(port).await;
        let err = send(&mut conn, "Subject: x\r\n\r\nx\r\n")
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
        let (port, relay) = relay(
            vec![
                Step(1, EHLO_PIPELINING),
                Step(1, EHLO_PIPELINING),
                Step(3, "250 ok\r\n451 4.3.0 try later\r\n354 go ahead\r\n"),
                Step(0, "554 5.5.1 no valid recipients\r\n"),
            ],
            false,
        )
        .await;
        let mut conn = connect(port).await;
        let err = send(&mut conn, "Subject: x\r\n\r\nx\r\n")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SendError::Temporary(r) if r.contains("try later")),
            "{err:?}"
        );
        assert!(relay.await.unwrap().ends_with("DATA\r\n.\r\n"));
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
