//! First-start admin token: without it nobody could call the API to issue tokens.

use std::io::Write;
use std::path::{Path, PathBuf};

use keywarden_db::{Database, NewToken, TokenRole};

use crate::domain::tokens::{generate_token, hash_token};

/// Account of the bootstrap admin token.
pub const ADMIN_ACCOUNT: &str = crate::tenancy::access::ADMIN_ACCOUNT;
/// File (in the data dir) the bootstrap token is written to.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// If the database has no admin token yet, creates one for account `admin` and writes it to
/// `<data_dir>/admin-token` with mode 0600 (the file is the only copy of the secret; the
/// database keeps its hash). Returns the file's path when a token was created.
pub async fn ensure_admin_token(
    db: &dyn Database,
    data_dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    if db.count_admin_tokens().await? > 0 {
        return Ok(None);
    }
    let token = generate_token();
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_private(&path, &format!("{token}\n"))?;
    db.create_token(&NewToken {
        account_id: ADMIN_ACCOUNT,
        token_hash: &hash_token(&token),
        role: TokenRole::Admin,
        label: "bootstrap admin token",
        expires_at: None,
    })
    .await?;
    Ok(Some(path))
}

/// Writes `contents` to a file readable by the owner only (created with that mode, so the
/// secret is never briefly world-readable).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
