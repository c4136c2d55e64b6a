use super::DomainError;

/// A new staff password: at least 12 characters (OWASP's minimum for a password without
/// composition rules), at most 256. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    const MAX_CHARS: usize = 256;

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            return Err(DomainError::PasswordTooShort);
        }
        if n > Self::MAX_CHARS || input.chars().any(char::is_control) {
            return Err(DomainError::PasswordInvalid);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_twelve_characters_at_least_and_never_print() {
        assert_eq!(Password::parse("short"), Err(DomainError::PasswordTooShort));
        assert_eq!(
            Password::parse("ciao€ciao€ci").unwrap().expose(),
            "ciao€ciao€ci"
        );
        assert!(Password::parse("a password\nwith a line break").is_err());
        assert_eq!(
            format!("{:?}", Password::parse("correct horse battery").unwrap()),
            "Password(…)"
        );
    }
}
