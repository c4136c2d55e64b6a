//! Request bodies: HTML forms and JSON, decoded strictly (invalid UTF-8 is refused, not
//! silently replaced), with repeated form keys kept (`lists=a&lists=b`).

use actix_web::http::header;
use actix_web::HttpRequest;

use super::PublicError;

/// The two body formats the public endpoints accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Form,
    Json,
}

/// The body format from `Content-Type`; anything else is a 415.
pub fn format(req: &HttpRequest) -> Result<Format, PublicError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(Format::Form),
        "application/json" => Ok(Format::Json),
        _ => Err(PublicError::UnsupportedType),
    }
}

/// Decodes `application/x-www-form-urlencoded` into key/value pairs.
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, PublicError> {
    let text = std::str::from_utf8(body).map_err(|_| invalid_utf8())?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Result<String, PublicError> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| invalid_utf8())
}

fn invalid_utf8() -> PublicError {
    PublicError::BadRequest("the body is not valid UTF-8".into())
}

/// Decodes a JSON body into `T`, saying what is wrong with it.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PublicError> {
    if std::str::from_utf8(body).is_err() {
        return Err(invalid_utf8());
    }
    serde_json::from_slice(body).map_err(|e| PublicError::BadRequest(format!("invalid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_repeated_keys_and_refuse_invalid_utf8() {
        let pairs = form_pairs(b"email=a%40b.it&lists=x&lists=y&name=Nicol%C3%B2+R").unwrap();
        assert_eq!(pairs[0], ("email".into(), "a@b.it".into()));
        assert_eq!(pairs[2].1, "y");
        assert_eq!(pairs[3].1, "Niccolò R".replace("cc", "c"));
        assert!(form_pairs(b"name=%FF").is_err());
        assert!(form_pairs(&[b'a', b'=', 0xff]).is_err());
    }
}
