//! Writes a message signed by `DkimSigner::sign_at` to stdout: how the
//! tests/fixtures/dkim/iscriviti-*.eml files were made (see the README there).
//!
//!     cargo run --example dkim_sign_at -- KEY_FILE DOMAIN SELECTOR TIMESTAMP MESSAGE_FILE

use std::io::Write as _;

use iscriviti::mail::DkimSigner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key, domain, selector, timestamp, message] = args.as_slice() else {
        return Err("usage: dkim_sign_at KEY_FILE DOMAIN SELECTOR TIMESTAMP MESSAGE_FILE".into());
    };
    let signer = DkimSigner::new(domain, selector, &std::fs::read_to_string(key)?)?;
    let message = std::fs::read_to_string(message)?;
    let signed = signer.sign_at(&message, timestamp.parse()?);
    std::io::stdout().write_all(signed.as_bytes())?;
    Ok(())
}
