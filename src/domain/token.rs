use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::DomainError;

/// A secret handed to a reader in a link: 256 random bits, URL-safe. Only [`Token::hash`] is
/// ever stored, so a database leak gives nobody working links.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    const BYTES: usize = 32;
    /// Base64 without padding of 32 bytes.
    const ENCODED_LEN: usize = 43;

    /// A fresh random token.
    pub fn generate() -> Self {
        let mut bytes = [0u8; Self::BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses a token from a link; anything that cannot be one of ours is refused before it
    /// reaches the database.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let ok = input.len() == Self::ENCODED_LEN
            && URL_SAFE_NO_PAD
                .decode(input)
                .is_ok_and(|b| b.len() == Self::BYTES);
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(DomainError::InvalidToken)
        }
    }

    /// The secret, for building the link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored: hex SHA-256 of the token.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_junk_is_refused() {
        let t = Token::generate();
        assert_eq!(Token::parse(t.expose()).unwrap(), t);
        assert_ne!(Token::generate(), t);
        assert!(Token::parse("abc").is_err());
        assert!(Token::parse(&"!".repeat(43)).is_err());
        assert_eq!(format!("{t:?}"), "Token(…)");
    }
}
