//! DKIM signing (RFC 6376, relaxed/relaxed; Ed25519 per RFC 8463) of finished messages.
//!
//! A message is signed as the bytes that go on the wire, so a digest copy assembled from
//! prepared parts is signed like any other: no message object per reader. Both hashes are
//! computed here; the signature is Ed25519 (ed25519-dalek) or RSA PKCS#1 v1.5 (rsa).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

use crate::config::DkimSettings;
use crate::domain::DnsName;

/// The headers a signature covers. Listing one a message lacks (Reply-To) is allowed (it
/// counts as empty) and also stops anyone adding it later without breaking the signature.
const SIGNED_HEADERS: [&str; 11] = [
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// The signature's value is folded in lines of this many characters (78 with " b=").
const FOLD: usize = 72;

enum Key {
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

/// Signs messages with one key for one domain.
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: Key,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DkimSigner")
    }
}

/// Why DKIM could not be set up; the service refuses to start rather than send unsigned mail.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("mail.dkim.domain (ISCRIVITI_DKIM_DOMAIN) is required with a key file")]
    NoDomain,
    #[error("mail.dkim.{0} {1:?} is not a valid DNS label sequence")]
    BadName(&'static str, String),
    #[error("reading the DKIM key {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("the DKIM key is not an RSA (PKCS#1 or PKCS#8 PEM) or Ed25519 (PKCS#8 PEM or base64 seed) private key: {0}")]
    BadKey(String),
}

impl DkimSigner {
    /// The signer the settings ask for, or None when no key is configured.
    pub fn from_settings(s: &DkimSettings) -> Result<Option<Self>, DkimError> {
        let Some(path) = &s.key_file else {
            return Ok(None);
        };
        let domain = s.domain.as_ref().ok_or(DkimError::NoDomain)?;
        let text = std::fs::read_to_string(path).map_err(|cause| DkimError::Read {
            path: path.display().to_string(),
            cause,
        })?;
        Ok(Some(Self::new(
            domain.as_str(),
            s.selector.as_str(),
            &text,
        )?))
    }

    /// A signer for `domain` with the key in `key` (see [`DkimSettings::key_file`]).
    pub fn new(domain: &str, selector: &str, key: &str) -> Result<Self, DkimError> {
        let name = |what, name: &str| match DnsName::parse(name) {
            Ok(n) => Ok(n.as_str().to_owned()),
            Err(_) => Err(DkimError::BadName(what, name.to_owned())),
        };
        Ok(Self {
            domain: name("domain", domain)?,
            selector: name("selector", selector)?,
            key: parse_key(key)?,
        })
    }

    /// `message` (a whole RFC 5322 message, CRLF line endings) with a `DKIM-Signature`
    /// header in front, signed now.
    pub fn sign(&self, message: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.sign_at(message, now)
    }

    /// [`sign`](Self::sign) with `t=` set to `timestamp` (seconds since the Unix epoch) rather
    /// than the current time. It exists so that a signature can be reproduced: RSA PKCS#1 v1.5
    /// and Ed25519 are deterministic, so the same message, key and time give the same bytes
    /// (tests/fixtures/dkim compares them with signatures checked by another implementation).
    pub fn sign_at(&self, message: &str, timestamp: u64) -> String {
        let (head, body) = match message.find("\r\n\r\n") {
            Some(at) => (&message[..at + 2], &message[at + 4..]),
            None => (message, ""),
        };
        let mut body_hash = Sha256::new();
        relaxed_body(body, &mut |piece| body_hash.update(piece));
        let body_hash = B64.encode(body_hash.finalize());
        let fields = header_fields(head);
        let mut hash = Sha256::new();
        for name in SIGNED_HEADERS {
            // The last instance of each (RFC 6376 5.4.2); none counts as empty.
            if let Some(field) = fields
                .iter()
                .rev()
                .find(|f| field_name(f).eq_ignore_ascii_case(name))
            {
                hash.update(relaxed_header(field));
                hash.update(b"\r\n");
            }
        }
        let algorithm = match self.key {
            Key::Ed25519(_) => "ed25519-sha256",
            Key::Rsa(_) => "rsa-sha256",
        };
        let mut signature = format!(
            "DKIM-Signature: v=1; a={algorithm}; c=relaxed/relaxed; d={}; s={}; t={timestamp};\r\n h={};\r\n bh={body_hash};\r\n b=",
            self.domain,
            self.selector,
            SIGNED_HEADERS.join(":"),
        );
        // The signature's own header, with b= empty and no final CRLF, ends what is signed.
        hash.update(relaxed_header(&signature));
        let hash = hash.finalize();
        let value = match &self.key {
            // RFC 8463: Ed25519 over the SHA-256 hash of the canonicalized headers.
            Key::Ed25519(key) => key.sign(&hash).to_bytes().to_vec(),
            // With a random number, the private-key operation is blinded against timing.
            Key::Rsa(key) => key
                .sign_with_rng(
                    &mut rand::thread_rng(),
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &hash,
                )
                .expect("a SHA-256 digest fits any RSA key DKIM accepts"),
        };
        let value = B64.encode(value);
        for (i, chunk) in value.as_bytes().chunks(FOLD).enumerate() {
            if i > 0 {
                signature.push_str("\r\n ");
            }
            signature.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        }
        signature.push_str("\r\n");
        let mut signed = String::with_capacity(signature.len() + message.len());
        signed.push_str(&signature);
        signed.push_str(message);
        signed
    }
}

/// Header fields as written, each with its continuation lines, without the last CRLF.
fn header_fields(head: &str) -> Vec<&str> {
    let mut fields = Vec::with_capacity(24);
    let mut start = 0;
    let bytes = head.as_bytes();
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&bytes[at..], b"\r\n") {
        let end = at + i;
        let next = end + 2;
        // A line that starts with whitespace continues the field.
        if !matches!(bytes.get(next), Some(b' ' | b'\t')) {
            fields.push(&head[start..end]);
            start = next;
        }
        at = next;
    }
    if start < head.len() {
        fields.push(&head[start..]);
    }
    fields
}

fn field_name(field: &str) -> &str {
    field
        .split_once(':')
        .map_or(field, |(name, _)| name)
        .trim_end()
}

/// RFC 6376 3.4.2: name in lower case, no space around the colon, the value unfolded with
/// each run of whitespace made one space and none at either end. No final CRLF.
fn relaxed_header(field: &str) -> Vec<u8> {
    let (name, value) = field.split_once(':').unwrap_or((field, ""));
    let mut out = Vec::with_capacity(field.len());
    out.extend(name.trim_end().bytes().map(|b| b.to_ascii_lowercase()));
    out.push(b':');
    // Whitespace is written only between two other characters of the value.
    let (mut space, mut started) = (false, false);
    for &b in value.as_bytes() {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => space = true,
            _ => {
                if space && started {
                    out.push(b' ');
                }
                (space, started) = (false, true);
                out.push(b);
            }
        }
    }
    out
}

/// RFC 6376 3.4.4: each run of whitespace in a line made one space, none at a line's end, no
/// empty lines at the end; a body that is not empty ends with CRLF. The canonical body goes to
/// `out` piece by piece (into the hash, when signing).
fn relaxed_body(body: &str, out: &mut impl FnMut(&[u8])) {
    let body = body.as_bytes();
    let body = body.strip_suffix(b"\r\n").unwrap_or(body);
    let mut empty_lines = 0;
    let mut from = 0;
    let ends = memchr::memmem::find_iter(body, b"\r\n").chain(std::iter::once(body.len()));
    for end in ends {
        let line = &body[from..end];
        // WSP is space and tab only (RFC 5234): a form feed is kept.
        let kept = line.iter().rposition(|b| *b != b' ' && *b != b'\t');
        let line = &line[..kept.map_or(0, |i| i + 1)];
        from = end + 2;
        if line.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            out(b"\r\n");
        }
        empty_lines = 0;
        // Most lines have no run of whitespace to shorten: they go as they are.
        if memchr::memchr(b'\t', line).is_none() && memchr::memmem::find(line, b"  ").is_none() {
            out(line);
        } else {
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                out(b" ");
            }
            let mut words = line
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|w| !w.is_empty());
            if let Some(first) = words.next() {
                out(first);
            }
            for word in words {
                out(b" ");
                out(word);
            }
        }
        out(b"\r\n");
    }
}

/// The DER prefix of an Ed25519 private key in PKCS#8 (RFC 8410): the seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn parse_key(text: &str) -> Result<Key, DkimError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let bad = |e: &dyn std::fmt::Display| DkimError::BadKey(e.to_string());
    let ed25519 = |seed: &[u8]| {
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad(&"an Ed25519 seed is 32 bytes"))?;
        Ok(Key::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
    };
    let text = text.trim();
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| bad(&e))?;
        return Ok(Key::Rsa(key));
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        let der = pem_body(text).ok_or_else(|| bad(&"malformed PEM"))?;
        if der.len() == 48 && der.starts_with(&ED25519_PKCS8_PREFIX) {
            return ed25519(&der[16..]);
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| bad(&e))?;
        return Ok(Key::Rsa(key));
    }
    ed25519(&B64.decode(text).map_err(|e| bad(&e))?)
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    B64.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 6376 3.4.5, and a value with a colon of its own.
    #[test]
    fn relaxed_canonicalization_follows_the_rfc_example() {
        let head = "A: X\r\nB : Y\t\r\n\tZ  \r\n";
        let fields = header_fields(head);
        assert_eq!(fields, ["A: X", "B : Y\t\r\n\tZ  "]);
        assert_eq!(relaxed_header(fields[0]), b"a:X");
        assert_eq!(relaxed_header(fields[1]), b"b:Y Z");
        assert_eq!(relaxed_header("Subject:  Re:  ciao "), b"subject:Re: ciao");
        let relaxed = |body: &str| {
            let mut out = Vec::new();
            relaxed_body(body, &mut |piece| out.extend_from_slice(piece));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(relaxed(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
        assert_eq!(relaxed("\r\n\r\n"), "");
        assert_eq!(relaxed("no final line break"), "no final line break\r\n");
        assert_eq!(relaxed("\t a  b\t\tc \r\n\r\nd\r\n"), " a b c\r\n\r\nd\r\n");
        assert_eq!(relaxed("e\x0c \r\n"), "e\x0c\r\n");
    }

    #[test]
    fn a_signature_made_at_a_given_time_is_the_same_every_time() {
        let signer = DkimSigner::new("example.org", "s1", &B64.encode([7u8; 32])).unwrap();
        let message = "From: a@example.org\r\nSubject: ciao\r\n\r\nbody\r\n";
        let signed = signer.sign_at(message, 1_772_433_000);
        assert!(signed.contains(" t=1772433000;\r\n"), "{signed}");
        assert!(signed.ends_with(message));
        assert_eq!(signer.sign_at(message, 1_772_433_000), signed);
        assert_ne!(signer.sign_at(message, 1_772_433_001), signed);
    }

    #[test]
    fn keys_and_names_are_checked() {
        assert!(DkimSigner::new("example.org", "s1", "not a key").is_err());
        assert!(DkimSigner::new(
            "example.org",
            "s1",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )
        .is_err());
        // A 32-byte seed in base64 is an Ed25519 key; any other length is not.
        let short = B64.encode([7u8; 31]);
        assert!(DkimSigner::new("example.org", "s1", &short).is_err());
        let seed = B64.encode([7u8; 32]);
        assert!(DkimSigner::new("example.org", "s1", &seed).is_ok());
        assert!(DkimSigner::new("mail.example.org", "s1", &seed).is_ok());
        assert!(DkimSigner::new("exa mple.org", "s1", &seed).is_err());
        assert!(DkimSigner::new("example.org", "", &seed).is_err());
    }
}
