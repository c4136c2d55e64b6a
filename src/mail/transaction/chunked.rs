//! Groups of messages in one write with BDAT (RFC 3030).

use std::fmt::Write;
use std::time::Duration;

use lettre::transport::smtp::commands::Rcpt;

use super::{classify, is_reply, Connection, Envelope, KEPT_WIRE};
use crate::mail::SendError;

impl Connection {
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
}
