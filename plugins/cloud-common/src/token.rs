//! A bearer token kept for the length of one job and fetched again shortly before it
//! expires. It lives only in the plugin instance's memory: writing it to the durable
//! `state` import would put a live credential in the database.

use std::cell::RefCell;

use chrono::{DateTime, Duration, Utc};

use crate::error::CloudError;
use crate::time::now;

/// Refresh this long before the token's end, so a call never leaves with a token that
/// expires in flight.
const MARGIN_SECS: i64 = 60;

#[derive(Default)]
pub struct BearerCache {
    current: RefCell<Option<(String, DateTime<Utc>)>>,
}

impl BearerCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached token, or a new one from `fetch`, which answers the token and its
    /// lifetime in seconds.
    pub fn get(
        &self,
        fetch: impl FnOnce() -> Result<(String, i64), CloudError>,
    ) -> Result<String, CloudError> {
        let now = now();
        if let Some((token, until)) = self.current.borrow().as_ref()
            && now + Duration::seconds(MARGIN_SECS) < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch()?;
        let until = now + Duration::seconds(lifetime.max(0));
        *self.current.borrow_mut() = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets the token (the service refused it), so the next call fetches another.
    pub fn clear(&self) {
        self.current.borrow_mut().take();
    }
}
