//! A TCP stream for SMTP that sends what was written only when the peer's answer is awaited.
//!
//! lettre writes and flushes every piece separately: a message costs a `sendto` for MAIL, RCPT,
//! DATA, the body and the final `.`, and on loopback each one also runs the receiver's TCP
//! processing. SMTP always writes, then reads the reply, so holding writes until the next read
//! loses no time and sends the body and its terminating dot together. `poll_flush` therefore
//! does not send by itself: that is the one departure from the `AsyncWrite` contract, safe for
//! a strict request/reply protocol and for TLS on top (which also reads before it waits).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Above this much pending data, writes go out at once (a large message).
const MAX_PENDING: usize = 256 * 1024;

#[derive(Debug)]
pub struct CorkedStream {
    inner: TcpStream,
    pending: Vec<u8>,
    sent: usize,
}

impl CorkedStream {
    pub fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            pending: Vec::with_capacity(16 * 1024),
            sent: 0,
        }
    }

    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for CorkedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CorkedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() >= MAX_PENDING {
            ready!(this.poll_send_pending(cx))?;
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Deferred to the next read; see the module comment.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for CorkedStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    #[tokio::test]
    async fn held_writes_are_sent_before_the_reply_is_read() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = [0u8; 64];
            let mut n = 0;
            while !got[..n].ends_with(b".\r\n") {
                n += s.read(&mut got[n..]).await.unwrap();
            }
            s.write_all(b"250 ok\r\n").await.unwrap();
            String::from_utf8(got[..n].to_vec()).unwrap()
        });
        let mut c = CorkedStream::new(TcpStream::connect(addr).await.unwrap());
        c.write_all(b"body\r\n").await.unwrap();
        c.flush().await.unwrap();
        c.write_all(b".\r\n").await.unwrap();
        c.flush().await.unwrap();
        let mut reply = String::new();
        BufReader::new(&mut c).read_line(&mut reply).await.unwrap();
        assert_eq!(reply, "250 ok\r\n");
        assert_eq!(peer.await.unwrap(), "body\r\n.\r\n");
    }
}
