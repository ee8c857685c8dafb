//! Types of the key-management family (cloud key rotation and synchronization).

use serde_json::Value;

use crate::job::{Outcome, json_object_text};
use crate::wit::exports::keywarden::plugin::key_management as wit;

/// A key as the cloud reports it, pulled into the host by synchronization.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudKey {
    /// The cloud's key id (for AWS, the KeyId).
    pub id: String,
    /// Full resource name where the cloud has one (for AWS, the ARN).
    pub resource_name: Option<String>,
    /// Aliases of the key.
    pub aliases: Vec<String>,
    /// The cloud's state word, e.g. `Enabled`, `Disabled`, `PendingDeletion`.
    pub state: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; the last rotation, if known.
    pub rotated_at: Option<String>,
    /// Further attributes as a JSON object (spec, usage, tags...).
    pub attributes: Value,
}

impl CloudKey {
    /// A key with the required fields; the rest empty.
    pub fn new(
        id: impl Into<String>,
        state: impl Into<String>,
        created_at: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            resource_name: None,
            aliases: Vec::new(),
            state: state.into(),
            created_at: created_at.into(),
            rotated_at: None,
            attributes: Value::Object(Default::default()),
        }
    }

    fn into_wit(self) -> wit::CloudKey {
        wit::CloudKey {
            id: self.id,
            resource_name: self.resource_name,
            aliases: self.aliases,
            state: self.state,
            created_at: self.created_at,
            rotated_at: self.rotated_at,
            attributes: json_object_text(self.attributes),
        }
    }
}

/// What synchronization returns: the outcome and the keys found.
#[derive(Debug, Clone, PartialEq)]
pub struct Synchronized {
    /// How the synchronization went.
    pub outcome: Outcome,
    /// The keys the cloud reported.
    pub keys: Vec<CloudKey>,
}

impl Synchronized {
    pub(crate) fn into_wit(self) -> wit::Synchronized {
        wit::Synchronized {
            outcome: self.outcome.into_wit(),
            keys: self.keys.into_iter().map(CloudKey::into_wit).collect(),
        }
    }
}
