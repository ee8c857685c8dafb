//! Who is asking: every domain call takes a [`Caller`], and the service (nothing else)
//! turns it into the account restriction of each read and write.

/// The account a request acts as, from its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account the token acts as; what it creates belongs to this account.
    pub account: String,
    /// Admins see and act on every account.
    pub admin: bool,
}

impl Caller {
    /// The account restriction for lookups: `None` (every account) for admins.
    pub fn scope(&self) -> Option<&str> {
        (!self.admin).then_some(self.account.as_str())
    }
}
