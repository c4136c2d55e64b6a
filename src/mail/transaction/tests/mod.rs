//! A scripted relay for the transaction's tests.

mod chunked;
mod pipelined;

use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub(super) const EHLO: &str = "250-relay.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n";
pub(super) const EHLO_PIPELINING: &str = "250-relay.test\r\n250-8BITMIME\r\n250 PIPELINING\r\n";

/// One step of a scripted relay: read a message's content up to its final dot when
/// `content`, then `lines` more lines, and only then answer `reply`.
pub(super) struct Step {
    pub(super) content: bool,
    /// Messages sent with BDAT to read first: MAIL, RCPT, `BDAT <size> LAST` and the chunk.
    pub(super) chunked: usize,
    pub(super) lines: usize,
    pub(super) reply: &'static str,
    /// Answer only once this fires.
    pub(super) hold: Option<tokio::sync::oneshot::Receiver<()>>,
}

pub(super) fn commands(lines: usize, reply: &'static str) -> Step {
    Step {
        content: false,
        chunked: 0,
        lines,
        reply,
        hold: None,
    }
}

pub(super) fn content(then: usize, reply: &'static str) -> Step {
    Step {
        content: true,
        chunked: 0,
        lines: then,
        reply,
        hold: None,
    }
}

pub(super) fn chunked(messages: usize, reply: &'static str) -> Step {
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
pub(super) async fn relay(
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

pub(super) async fn next_line(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    seen: &mut String,
    line: &mut String,
) {
    line.clear();
    assert!(read.read_line(line).await.unwrap() > 0, "closed early");
    seen.push_str(line);
}

pub(super) async fn connect(port: u16) -> Connection {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let hello = ClientId::default();
    let smtp = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
        .await
        .unwrap();
    Connection::new(smtp, &hello).await.unwrap()
}

pub(super) fn to(recipient: &str) -> Envelope {
    Envelope {
        sender: "news@example.org".parse().unwrap(),
        recipient: recipient.parse().unwrap(),
    }
}

pub(super) async fn send(
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

pub(super) fn group(recipient: &str) -> String {
    format!("MAIL FROM:<news@example.org> BODY=8BITMIME\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
}
