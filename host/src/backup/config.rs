//! The operator's `[backup]` table: where backups are written on the node that takes
//! them, and the SFTP connections `database_backup` may upload to.
//!
//! ```toml
//! [backup]
//! dir = "/var/lib/keywarden/backups"     # default: <data-dir>/backups
//!
//! [backup.connections.offsite]
//! host = "backup.example.net"
//! port = 22                               # default 22
//! user = "keywarden"
//! key_secret = "offsite_ssh_key"          # a [secrets] entry: an OpenSSH private key
//! remote_dir = "/srv/backups/keywarden"
//! host_key = "ssh-ed25519 AAAAC3Nz..."    # the server's public host key, as in known_hosts
//! ```
//!
//! The host key is required: an upload to a server whose key differs is refused, since
//! a backup is every account's data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[backup]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Where backups are written (default `<data-dir>/backups`, set by `serve`).
    pub dir: Option<PathBuf>,
    /// SFTP servers backups may be uploaded to, by name (a job's `connection`).
    #[serde(default)]
    pub connections: BTreeMap<String, SftpConnection>,
}

/// One SFTP server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpConnection {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    /// The `[secrets]` entry holding the user's OpenSSH private key.
    pub key_secret: String,
    /// The directory the backup is written into (it must exist).
    pub remote_dir: String,
    /// The server's public host key (`ssh-ed25519 AAAA...`, as in `known_hosts`).
    pub host_key: String,
}

fn default_port() -> u16 {
    22
}

impl BackupConfig {
    /// Checks what can be checked at start: every connection's host key parses, and
    /// names a configured secret for its key.
    pub fn check(&self, secrets: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {
        for (name, c) in &self.connections {
            super::sftp::parse_host_key(&c.host_key)
                .map_err(|e| anyhow::anyhow!("[backup.connections.{name}] host_key: {e}"))?;
            if !secrets(&c.key_secret) {
                anyhow::bail!(
                    "[backup.connections.{name}] key_secret {:?} is not in [secrets]",
                    c.key_secret
                );
            }
            if c.host.trim().is_empty() || c.user.trim().is_empty() {
                anyhow::bail!("[backup.connections.{name}]: host and user must not be empty");
            }
        }
        Ok(())
    }
}
