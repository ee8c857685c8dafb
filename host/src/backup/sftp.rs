//! Uploading a backup over SFTP (the SSH file transfer subsystem, which OpenSSH's
//! `sshd` serves), with russh: pure Rust on tokio, ring for its cryptography.
//!
//! The server must present exactly the host key the operator configured; any other key
//! ends the connection before authentication, so the user's key never signs for an
//! impostor and the backup never leaves for one. The file is written under a `.partial`
//! name and renamed once complete.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::OpenFlags;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config::SftpConnection;

/// Connecting and authenticating may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a host key as `known_hosts` or `ssh-keyscan` show it (`[host] type base64
/// [comment]`; the host field, if any, is ignored).
pub fn parse_host_key(text: &str) -> Result<PublicKey, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let start = fields
        .iter()
        .position(|f| f.starts_with("ssh-") || f.starts_with("ecdsa-"))
        .ok_or("expected an OpenSSH public key such as \"ssh-ed25519 AAAA...\"")?;
    let line = fields[start..].join(" ");
    PublicKey::from_openssh(&line).map_err(|e| format!("not an OpenSSH public key: {e}"))
}

/// Checks the server's key against the configured one.
struct KnownHost {
    expected: PublicKey,
    /// Set when the server showed another key.
    mismatch: Arc<std::sync::Mutex<Option<String>>>,
}

impl russh::client::Handler for KnownHost {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        shown: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match shown {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => {
                *self.mismatch.lock().expect("mismatch lock") = Some(format!(
                    "the server showed a host certificate ({}); configure its plain host key",
                    c.algorithm()
                ));
                return Ok(false);
            }
        };
        if key.key_data() == self.expected.key_data() {
            return Ok(true);
        }
        *self.mismatch.lock().expect("mismatch lock") = Some(format!(
            "the server's host key ({} {}) is not the configured one ({}); refusing to upload",
            key.algorithm(),
            key.fingerprint(Default::default()),
            self.expected.fingerprint(Default::default())
        ));
        Ok(false)
    }
}

/// Uploads `file` into the connection's remote directory under its own name; returns
/// the remote path. `private_key` is the user's OpenSSH private key (never logged).
pub async fn upload(
    connection: &SftpConnection,
    private_key: &str,
    file: &Path,
) -> Result<String, String> {
    let expected = parse_host_key(&connection.host_key)?;
    let key = russh::keys::decode_secret_key(private_key, None).map_err(|_| {
        "the connection's key secret is not an OpenSSH private key (without a passphrase)"
            .to_owned()
    })?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the backup file has no name")?;
    let mismatch = Arc::new(std::sync::Mutex::new(None));
    let handler = KnownHost {
        expected,
        mismatch: mismatch.clone(),
    };
    let config = Arc::new(russh::client::Config {
        inactivity_timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    });
    let address = (connection.host.as_str(), connection.port);
    let connecting = russh::client::connect(config, address, handler);
    let mut session = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => {
            return Err(format!(
                "connecting to {}:{} timed out",
                connection.host, connection.port
            ));
        }
        Ok(Err(e)) => {
            if let Some(why) = mismatch.lock().expect("mismatch lock").take() {
                return Err(why);
            }
            return Err(format!(
                "connecting to {}:{}: {e}",
                connection.host, connection.port
            ));
        }
        Ok(Ok(s)) => s,
    };
    let hash = session
        .best_supported_rsa_hash()
        .await
        .map_err(|e| format!("negotiating with the server: {e}"))?
        .flatten();
    let auth = session
        .authenticate_publickey(
            connection.user.clone(),
            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
        )
        .await
        .map_err(|e| format!("authenticating: {e}"))?;
    if !auth.success() {
        return Err(format!(
            "the server refused user {:?} with the configured key",
            connection.user
        ));
    }
    let channel = session
        .channel_open_session()
        .await
        .map_err(|e| format!("opening a session: {e}"))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| format!("starting SFTP: {e}"))?;
    let sftp = SftpSession::new(channel.into_stream())
        .await
        .map_err(|e| format!("starting SFTP: {e}"))?;
    let dir = connection.remote_dir.trim_end_matches('/');
    let remote = format!("{dir}/{name}");
    let partial = format!("{remote}.partial");
    let mut local = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("reading {}: {e}", file.display()))?;
    // EXCLUDE: a name already there (a link someone planted) is not followed or reused.
    let mut out = sftp
        .open_with_flags(
            &partial,
            OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE,
        )
        .await
        .map_err(|e| format!("creating {partial} on the server: {e}"))?;
    let copied = async {
        let mut buf = vec![0_u8; 1 << 16];
        loop {
            let n = local
                .read(&mut buf)
                .await
                .map_err(|e| format!("reading {}: {e}", file.display()))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .await
                .map_err(|e| format!("writing {partial}: {e}"))?;
        }
        out.shutdown()
            .await
            .map_err(|e| format!("closing {partial}: {e}"))?;
        sftp.rename(&partial, &remote)
            .await
            .map_err(|e| format!("renaming {partial} to {remote}: {e}"))
    }
    .await;
    if let Err(e) = copied {
        // Nothing half-written is left behind under the backup's name.
        let _ = sftp.remove_file(&partial).await;
        return Err(e);
    }
    let _ = sftp.close().await;
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    Ok(remote)
}
