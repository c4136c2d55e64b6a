use super::DomainError;

/// Where a subscriber stands with one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// Signed up, waiting for the confirmation click (double opt-in).
    Pending,
    /// Receives the list's mail.
    Confirmed,
    /// Left the list; never mailed again unless they sign up again.
    Unsubscribed,
}

impl SubscriptionStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Confirmed => "confirmed",
            SubscriptionStatus::Unsubscribed => "unsubscribed",
        }
    }

    /// Parses the stored spelling (also used for CLI flags).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match input {
            "pending" => Ok(SubscriptionStatus::Pending),
            "confirmed" => Ok(SubscriptionStatus::Confirmed),
            "unsubscribed" => Ok(SubscriptionStatus::Unsubscribed),
            _ => Err(DomainError::UnknownStatus),
        }
    }
}

impl std::str::FromStr for SubscriptionStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}
