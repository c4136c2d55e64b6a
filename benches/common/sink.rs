//! A fast SMTP sink for benchmarks: accepts everything, counts messages, keeps nothing.
//! Like Postfix, it advertises PIPELINING and CHUNKING (BDAT, RFC 3030) and sends its replies
//! when it has no more commands waiting to be read, so pipelined commands get their replies in
//! one write. `SINK_CHUNKING=0` in the environment leaves CHUNKING out (DATA only).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// Counts the messages accepted on `port`.
pub struct Sink {
    pub port: u16,
    pub count: Arc<AtomicU64>,
}

impl Sink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).ok();
                tokio::spawn(session(stream, counter.clone()));
            }
        });
        Self { port, count }
    }

    pub fn received(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

async fn session(stream: TcpStream, count: Arc<AtomicU64>) -> std::io::Result<()> {
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
                    count.fetch_add(1, Ordering::Relaxed);
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
                count.fetch_add(1, Ordering::Relaxed);
                write.write_all(b"250 OK\r\n").await?;
            }
            b"QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return write.flush().await;
            }
            _ => write.write_all(b"250 OK\r\n").await?,
        }
    }
}
