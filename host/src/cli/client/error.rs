//! The one error type of the CLI client, and the exit code each error means.
//!
//! Scripts branch on the exit code, so every failure maps to exactly one code (the table
//! is in `docs/cli.md`); the message on stderr is the server's own, with the field at
//! fault when the server named one.

/// Exit codes of the client commands. Clap's usage errors exit with 2 by itself.
pub mod exit {
    pub const OK: u8 = 0;
    /// A local failure: a file that cannot be read, JSON that does not parse.
    pub const LOCAL: u8 = 1;
    pub const NOT_FOUND: u8 = 3;
    /// 401 or 403: no token, a revoked or expired one, or a role that may not do this.
    pub const DENIED: u8 = 4;
    /// 400, 409 or 422: the server refused the input.
    pub const REFUSED: u8 = 5;
    /// 5xx, an unexpected answer, or the server could not be reached.
    pub const SERVER: u8 = 6;
    /// `--wait`: the job finished with a warning.
    pub const JOB_WARNING: u8 = 7;
    /// `--wait`: the job failed or was cancelled.
    pub const JOB_FAILED: u8 = 8;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status; `message` and `field` are from its body
    /// (both dialects answer `{"code", "codeDesc", "message", "field"?}`).
    #[error("{message}{}", field.as_deref().map(|f| format!(" (field: {f})")).unwrap_or_default())]
    Api {
        status: u16,
        message: String,
        field: Option<String>,
    },
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// An answer the client cannot read (not JSON, a broken event stream).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    pub fn local(message: impl std::fmt::Display) -> Self {
        Self::Local(message.to_string())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Api { status, .. } => match status {
                404 => exit::NOT_FOUND,
                401 | 403 => exit::DENIED,
                400 | 409 | 422 => exit::REFUSED,
                _ => exit::SERVER,
            },
            Self::Unreachable { .. } | Self::Protocol(_) => exit::SERVER,
            Self::Local(_) => exit::LOCAL,
        }
    }
}

/// What a client command returns: an exit code (0, or 7/8 for a waited-for job).
pub type ClientResult = Result<u8, ClientError>;
