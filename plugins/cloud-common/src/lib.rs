//! What the cloud key-rotation plugins (`aws-kms`, `azure-keyvault`, `gcp-kms`,
//! `oci-kms`) share: CipherTrust's duration strings, when a key is due under
//! `rotation_after` (with the last rotation kept in the durable `state` import), the
//! report every rotation job ends with, the params envelope, manifest operations and
//! routing every such plugin repeats, and a bearer-token cache for the clouds that
//! exchange a credential for a short-lived token.
//!
//! The clouds' own calls stay in each plugin: their protocols have nothing in common.

pub mod due;
pub mod duration;
pub mod error;
pub mod jobs;
pub mod oauth;
pub mod paging;
pub mod report;
pub mod rest;
pub mod scope;
pub mod time;
pub mod token;

pub use due::{due, forget_rotation, last_rotation, record_rotation};
pub use duration::{duration, duration_secs};
pub use error::CloudError;
pub use jobs::{key_operations, route};
pub use paging::{PageGuard, origin};
pub use report::{Report, synchronized};
pub use scope::{carries_all, config_list};
/// For [`job_params!`]: the plugin's structs derive with this crate's serde.
pub use serde;
pub use time::{now, parse_rfc3339, rfc3339};
pub use token::BearerCache;
