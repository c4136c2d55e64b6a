//! DKIM signing (RFC 6376; Ed25519 per RFC 8463) of outgoing messages, through lettre.

use base64::Engine;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::Message;

use crate::config::DkimSettings;

/// The headers a signature covers. Listing one a message lacks (Reply-To) is allowed and also
/// stops anyone adding it later without breaking the signature. Content-Type is left out:
/// lettre writes a multipart's Content-Type with the body, after signing, so it cannot hash it.
const SIGNED_HEADERS: [&str; 10] = [
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
];

/// Signs messages with one key for one domain.
pub struct DkimSigner {
    config: DkimConfig,
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
    #[error("reading the DKIM key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the DKIM key is not an RSA (PKCS#1 or PKCS#8 PEM) or Ed25519 (PKCS#8 PEM or base64 seed) private key: {0}")]
    BadKey(String),
}

impl DkimSigner {
    /// The signer the settings ask for, or None when no key is configured.
    pub fn from_settings(s: &DkimSettings) -> Result<Option<Self>, DkimError> {
        let Some(path) = &s.key_file else {
            return Ok(None);
        };
        let domain = s.domain.clone().ok_or(DkimError::NoDomain)?;
        check_name("domain", &domain)?;
        check_name("selector", &s.selector)?;
        let text = std::fs::read_to_string(path).map_err(|source| DkimError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Some(Self::new(&domain, &s.selector, &text)?))
    }

    /// A signer for `domain` with the key in `key` (see [`DkimSettings::key_file`]).
    pub fn new(domain: &str, selector: &str, key: &str) -> Result<Self, DkimError> {
        let key = parse_key(key)?;
        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        // relaxed/relaxed survives the re-folding and whitespace changes relays make.
        let canonicalization = DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        };
        Ok(Self {
            config: DkimConfig::new(
                selector.to_owned(),
                domain.to_owned(),
                key,
                headers,
                canonicalization,
            ),
        })
    }

    /// Adds a `DKIM-Signature` header.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), DkimError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(DkimError::BadName(what, name.to_owned()))
    }
}

/// The DER prefix of an Ed25519 private key in PKCS#8 (RFC 8410): the seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn parse_key(text: &str) -> Result<DkimSigningKey, DkimError> {
    let bad = |e: &dyn std::fmt::Display| DkimError::BadKey(e.to_string());
    let text = text.trim();
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return DkimSigningKey::new(text, DkimSigningAlgorithm::Rsa).map_err(|e| bad(&e));
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        let der = pem_body(text).ok_or_else(|| bad(&"malformed PEM"))?;
        if der.len() == 48 && der.starts_with(&ED25519_PKCS8_PREFIX) {
            let seed = base64::engine::general_purpose::STANDARD.encode(&der[16..]);
            return DkimSigningKey::new(&seed, DkimSigningAlgorithm::Ed25519).map_err(|e| bad(&e));
        }
        // lettre reads RSA keys as PKCS#1 only; `openssl genpkey` writes PKCS#8.
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| bad(&e))?;
        let pkcs1 = key
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .map_err(|e| bad(&e))?;
        return DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa).map_err(|e| bad(&e));
    }
    DkimSigningKey::new(text, DkimSigningAlgorithm::Ed25519).map_err(|e| bad(&e))
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        assert!(DkimSigner::new("example.org", "s1", &short).is_err());
        let seed = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(DkimSigner::new("example.org", "s1", &seed).is_ok());
        assert!(check_name("domain", "mail.example.org").is_ok());
        assert!(check_name("domain", "exa mple.org").is_err());
        assert!(check_name("selector", "").is_err());
    }
}
