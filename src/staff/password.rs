//! Staff passwords: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), hashed and
//! checked on a blocking thread, never on the async workers.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's argon2id parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of a new password.
pub async fn hash(password: Password) -> String {
    tokio::task::spawn_blocking(move || hash_now(password.expose()))
        .await
        .expect("hashing does not panic")
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password")
        .to_string()
}

/// Whether `password` matches `stored` (`None`: the account does not exist, and a dummy hash
/// is checked instead, so the answer takes as long either way).
pub async fn verify(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        // An account without a password yet has no PHC string: it costs the dummy's time too.
        let real = stored.as_deref().and_then(|s| PasswordHash::new(s).ok());
        let dummy = PasswordHash::new(dummy()).expect("the dummy hash parses");
        let ok = argon2()
            .verify_password(password.as_bytes(), real.as_ref().unwrap_or(&dummy))
            .is_ok();
        ok && real.is_some()
    })
    .await
    .unwrap_or(false)
}

/// A hash with the same parameters, of a password nobody knows.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now(&hex::encode(rand::random::<[u8; 16]>())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let p = Password::parse("correct horse battery").unwrap();
        let stored = hash(p.clone()).await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(Some(stored.clone()), p.expose().to_owned()).await);
        assert!(!verify(Some(stored), "wrong horse battery".into()).await);
        assert!(
            !verify(None, p.expose().to_owned()).await,
            "no account, no login"
        );
    }
}
