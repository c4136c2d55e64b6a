//! A DKIM verifier (RFC 6376 §3.4, §3.7, §6.1; Ed25519 per RFC 8463) written from the RFCs for
//! the tests, independent of the signing code: it reads the message bytes as a receiver does and
//! checks the signature against a DNS-style TXT record.

use base64::Engine;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The tags of a DKIM-Signature, in order, with folding whitespace removed from values.
fn tags(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|t| {
            let (k, v) = t.split_once('=')?;
            let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            Some((k.trim().to_owned(), v))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Header fields as raw text, each with its folded continuation lines, CRLF-terminated.
fn header_fields(head: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in head.split_inclusive("\r\n") {
        if line.starts_with([' ', '\t']) {
            fields
                .last_mut()
                .expect("continuation line first")
                .push_str(line);
        } else {
            fields.push(line.to_owned());
        }
    }
    fields
}

fn field_name(field: &str) -> &str {
    field.split(':').next().unwrap_or_default().trim()
}

/// Relaxed header canonicalization (§3.4.2).
fn relaxed_header(field: &str) -> String {
    let (name, value) = field.split_once(':').expect("a header field has a colon");
    let unfolded = value.replace("\r\n", "");
    let value = unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{}:{}\r\n", name.trim().to_ascii_lowercase(), value)
}

/// Relaxed body canonicalization (§3.4.4).
fn relaxed_body(body: &str) -> String {
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|l| {
            let words = l
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            // Whitespace at the start of a line is a run like any other: one space stays.
            // Only a line of nothing but whitespace becomes empty (none at a line's end).
            if l.starts_with([' ', '\t']) && !words.is_empty() {
                format!(" {words}")
            } else {
                words
            }
        })
        .collect();
    // A trailing CRLF leaves one empty element; trailing empty lines are ignored.
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

/// Simple body canonicalization (§3.4.3).
fn simple_body(body: &str) -> String {
    let mut b = body.to_owned();
    while b.ends_with("\r\n\r\n") {
        b.truncate(b.len() - 2);
    }
    if b.is_empty() || !b.ends_with("\r\n") {
        b.push_str("\r\n");
    }
    b
}

/// The tags of the first DKIM-Signature of `raw`.
fn signature_tags(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = &text[..text.find("\r\n\r\n").expect("header/body separator") + 2];
    let sig = header_fields(head)
        .into_iter()
        .find(|f| field_name(f).eq_ignore_ascii_case("DKIM-Signature"))
        .expect("a DKIM-Signature header");
    tags(sig.split_once(':').unwrap().1)
}

/// The value of one tag (`bh`, `t`...) of the first DKIM-Signature, without folding whitespace.
pub fn signature_tag(raw: &[u8], name: &str) -> Option<String> {
    tag(&signature_tags(raw), name).map(str::to_owned)
}

/// The signature's header list, in the order to verify.
pub fn signed_headers(raw: &[u8]) -> Vec<String> {
    let t = signature_tags(raw);
    tag(&t, "h")
        .unwrap_or_default()
        .split(':')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect()
}

/// Verifies the first DKIM-Signature of `raw` with the key in `txt` (`v=DKIM1; k=...; p=...`).
/// Returns the signing domain.
pub fn verify(raw: &[u8], txt: &str) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let split = text.find("\r\n\r\n").ok_or("no header/body separator")?;
    let (head, body) = (&text[..split + 2], &text[split + 4..]);
    let fields = header_fields(head);
    let sig_field = fields
        .iter()
        .find(|f| field_name(f).eq_ignore_ascii_case("DKIM-Signature"))
        .ok_or("no DKIM-Signature")?;
    let t = tags(sig_field.split_once(':').unwrap().1);
    let get = |n: &str| tag(&t, n).ok_or(format!("no {n}= tag"));
    if get("v")? != "1" {
        return Err("v= is not 1".into());
    }
    if tag(&t, "l").is_some() {
        return Err("l= is not accepted (it lets anyone append content)".into());
    }
    let (hc, bc) = match tag(&t, "c").unwrap_or("simple/simple").split_once('/') {
        Some((h, b)) => (h.to_owned(), b.to_owned()),
        None => (tag(&t, "c").unwrap().to_owned(), "simple".to_owned()),
    };

    let canon_body = match bc.as_str() {
        "relaxed" => relaxed_body(body),
        "simple" => simple_body(body),
        other => return Err(format!("unknown body canonicalization {other}")),
    };
    let bh = B64.encode(Sha256::digest(canon_body.as_bytes()));
    if bh != get("bh")? {
        return Err("body hash mismatch".into());
    }

    // §5.4.2: each listed name takes the last not-yet-used instance; a missing one is null.
    let mut used = vec![false; fields.len()];
    let mut data = String::new();
    for name in get("h")?.split(':') {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && field_name(&fields[i]).eq_ignore_ascii_case(name.trim()));
        if let Some(i) = found {
            used[i] = true;
            data.push_str(&match hc.as_str() {
                "relaxed" => relaxed_header(&fields[i]),
                _ => fields[i].clone(),
            });
        }
    }
    // The signature header itself, with b= emptied and no trailing CRLF (§3.7).
    let (name, value) = sig_field.split_once(':').unwrap();
    let emptied: Vec<String> = value
        .split(';')
        .map(|seg| match seg.split_once('=') {
            Some((k, _)) if k.trim() == "b" => format!("{k}="),
            _ => seg.to_owned(),
        })
        .collect();
    let unsigned = format!("{name}:{}", emptied.join(";"));
    let unsigned = match hc.as_str() {
        "relaxed" => relaxed_header(&format!("{}\r\n", unsigned.trim_end_matches("\r\n"))),
        _ => unsigned,
    };
    data.push_str(unsigned.trim_end_matches("\r\n"));

    let signature = B64.decode(get("b")?).map_err(|e| e.to_string())?;
    let key_tags = tags(txt);
    let p = B64
        .decode(tag(&key_tags, "p").ok_or("no p= in the key record")?)
        .map_err(|e| e.to_string())?;
    let hash = Sha256::digest(data.as_bytes());
    match get("a")? {
        "rsa-sha256" => {
            use rsa::pkcs8::DecodePublicKey;
            let key = rsa::RsaPublicKey::from_public_key_der(&p).map_err(|e| e.to_string())?;
            key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
                .map_err(|e| format!("RSA signature does not verify: {e}"))?;
        }
        "ed25519-sha256" => {
            let key = ed25519_dalek::VerifyingKey::from_bytes(
                &p.try_into().map_err(|_| "an Ed25519 key is 32 bytes")?,
            )
            .map_err(|e| e.to_string())?;
            let sig =
                ed25519_dalek::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            key.verify_strict(&hash, &sig)
                .map_err(|e| format!("Ed25519 signature does not verify: {e}"))?;
        }
        other => return Err(format!("unknown algorithm {other}")),
    }
    Ok(get("d")?.to_owned())
}
