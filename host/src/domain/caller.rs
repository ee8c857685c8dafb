//! Who is asking: every domain call takes a [`Caller`], and the service (nothing else)
//! turns it into the account restriction of each read and write.

use keywarden_db::TokenRole;

/// The account a request acts as, from its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account the token acts as; what it creates belongs to this account.
    pub account: String,
    /// Admins see and act on every account.
    pub admin: bool,
    /// What the token may do (`admin` is `role == Admin`).
    pub role: TokenRole,
    /// The token's id, for the audit log (empty for callers that are not tokens).
    pub token_id: String,
}

impl Caller {
    /// A caller acting for `account` with `role`, through token `token_id`.
    pub fn new(account: &str, role: TokenRole, token_id: &str) -> Self {
        Self {
            account: account.to_owned(),
            admin: role == TokenRole::Admin,
            role,
            token_id: token_id.to_owned(),
        }
    }

    /// The account restriction for lookups: `None` (every account) for admins.
    pub fn scope(&self) -> Option<&str> {
        (!self.admin).then_some(self.account.as_str())
    }

    /// Narrows a listing's account filter to what the caller may see: a non-admin's own
    /// account. `false` when a non-admin asked for another account (the listing is empty).
    pub fn narrow(&self, asked: &mut Option<String>) -> bool {
        let Some(own) = self.scope() else {
            return true;
        };
        if asked.as_deref().is_some_and(|a| a != own) {
            return false;
        }
        *asked = Some(own.to_owned());
        true
    }
}
