//! A fast SMTP sink for benchmarks: accepts everything, counts messages, keeps nothing.
//! Like Postfix, it advertises PIPELINING and CHUNKING (BDAT, RFC 3030) and sends its replies
//! when it has no more commands waiting to be read, so pipelined commands get their replies in
//! one write. `SINK_CHUNKING=0` in the environment leaves CHUNKING out (DATA only).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// Messages per recipient.
type PerRecipient = Arc<Mutex<HashMap<Vec<u8>, u32>>>;

/// Counts the messages accepted on `port`.
pub struct Sink {
    pub port: u16,
    pub count: Arc<AtomicU64>,
    per_recipient: Option<PerRecipient>,
}

impl Sink {
    pub async fn start() -> Self {
        Self::listen(None).await
    }

    /// A sink that also counts the messages each recipient got (for duplicates).
    pub async fn counting_recipients() -> Self {
        Self::listen(Some(PerRecipient::default())).await
    }

    async fn listen(per_recipient: Option<PerRecipient>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let (counter, per) = (count.clone(), per_recipient.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).ok();
                tokio::spawn(session(stream, counter.clone(), per.clone()));
            }
        });
        Self {
            port,
            count,
            per_recipient,
        }
    }

    pub fn received(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The recipients that got at least one message (with `counting_recipients`).
    pub fn recipient_set(&self) -> std::collections::HashSet<String> {
        let Some(per) = &self.per_recipient else {
            return Default::default();
        };
        per.lock()
            .unwrap()
            .keys()
            .map(|line| {
                let line = String::from_utf8_lossy(line);
                let start = line.find('<').map_or(0, |i| i + 1);
                let end = line.rfind('>').unwrap_or(line.len());
                line[start..end].to_owned()
            })
            .collect()
    }

    /// How many recipients got at least one message (with `counting_recipients`).
    pub fn recipients(&self) -> usize {
        self.per_recipient
            .as_ref()
            .map_or(0, |m| m.lock().unwrap().len())
    }
}

async fn session(
    stream: TcpStream,
    count: Arc<AtomicU64>,
    per_recipient: Option<PerRecipient>,
) -> std::io::Result<()> {
    let mut rcpt = Vec::new();
    let done = |rcpt: &[u8]| {
        count.fetch_add(1, Ordering::Relaxed);
        if let Some(per) = &per_recipient {
            *per.lock().unwrap().entry(rcpt.to_vec()).or_default() += 1;
        }
    };
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut write = BufWriter::new(write);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = Vec::new();
    loop {
        if reader.buffer().is_empty() {
            write.flush().await?;
        }
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line
            .get(..4)
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default();
        match &cmd[..] {
            b"EHLO" if std::env::var("SINK_CHUNKING").is_ok_and(|v| v == "0") => {
                write
                    .write_all(b"250-sink\r\n250-8BITMIME\r\n250 PIPELINING\r\n")
                    .await?
            }
            b"EHLO" => {
                write
                    .write_all(b"250-sink\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
                    .await?
            }
            b"BDAT" => {
                let words: Vec<&[u8]> = line.split(|b| b.is_ascii_whitespace()).collect();
                let size: u64 = std::str::from_utf8(words.get(1).copied().unwrap_or_default())
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                // Skipped in the read buffer, never copied.
                let mut left = size as usize;
                while left > 0 {
                    let got = reader.fill_buf().await?.len().min(left);
                    if got == 0 {
                        return Ok(());
                    }
                    reader.consume(got);
                    left -= got;
                }
                if words
                    .get(2)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"LAST"))
                {
                    done(&rcpt);
                }
                write.write_all(b"250 OK\r\n").await?;
            }
            b"DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                write.flush().await?;
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                }
                done(&rcpt);
                write.write_all(b"250 OK\r\n").await?;
            }
            b"RCPT" if per_recipient.is_some() => {
                rcpt = line.clone();
                write.write_all(b"250 OK\r\n").await?
            }
            b"QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return write.flush().await;
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
}
