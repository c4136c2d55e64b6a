//! The fields of a posted admin form, and the errors a form page shows next to them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AdminError;
use crate::routes::public::body::form_pairs;

/// A form's fields in the order sent; repeated names (checkboxes) keep every value.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub(super) fn parse(body: &[u8]) -> Result<Self, AdminError> {
        form_pairs(body)
            .map(Fields)
            .map_err(|e| AdminError::BadRequest("error_bad_request", e.to_string()))
    }

    pub(super) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// The first value of `name`, or "" (an empty field and a missing one are alike).
    pub fn text(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, or `None` when blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        Some(self.text(name).trim()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// What the person typed, to show the form again (passwords and the token left out).
    pub fn typed(&self) -> BTreeMap<&str, &str> {
        self.0
            .iter()
            .filter(|(k, _)| k != "csrf" && !k.contains("password"))
            .rev()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// The errors of a form, by field: each is a message catalogue key, shown next to its field.
#[derive(Debug, Default, Serialize)]
pub struct FieldErrors(BTreeMap<&'static str, &'static str>);

impl FieldErrors {
    /// Records the error of `field`'s parse and gives its value, if it parsed.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, impl Keyed>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.entry(field).or_insert(e.key());
                None
            }
        }
    }

    pub fn add(&mut self, field: &'static str, key: &'static str) {
        self.0.entry(field).or_insert(key);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An error with a message catalogue key.
pub trait Keyed {
    fn key(&self) -> &'static str;
}

impl Keyed for crate::domain::DomainError {
    fn key(&self) -> &'static str {
        use crate::domain::DomainError as E;
        // The admin pages say more than the readers' pages need to.
        match self {
            E::InvalidSlug => "admin_error_slug",
            E::InvalidSender => "admin_error_sender",
            E::InvalidCadence(_) => "admin_error_cadence",
            E::UnknownRole => "admin_error_role",
            other => other.key(),
        }
    }
}

impl Keyed for &'static str {
    fn key(&self) -> &'static str {
        self
    }
}
