//! What the domain service answers when it refuses: which part of the request is at fault
//! ([`Field`], in the model's words) and why. Each API dialect renders these with its own
//! field names and error body; internal failures keep their cause for the dialect to log.

use std::fmt;

use keywarden_db::DbError;

/// The part of a request a refusal is about, in the model's terms. Dialects name them
/// their way (`run_at` or `Schedule`, `operation` or `JobTypeName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The operation (job type) asked for.
    Operation,
    /// A member of the operation's params, by path (empty: the params object itself).
    Params(Vec<String>),
    /// The schedule (cron expression or recurrence).
    Schedule,
    /// The time zone the schedule is read in.
    Timezone,
    /// The end of the window a config fires in.
    EndDate,
    /// The node or agent jobs must run on.
    RunOn,
    /// The certificate store a request names.
    Store,
    /// A certificate store type.
    StoreType,
    /// A certificate store's path.
    StorePath,
    /// A member of a store's properties, by path.
    Properties(Vec<String>),
    /// The secret holding a store's password.
    PasswordSecret,
    /// The secret holding a private key.
    KeySecret,
    /// A certificate (PEM) a request carries.
    Certificate,
    /// The machine an agent names itself by.
    ClientMachine,
    /// A certificate signing request an agent sends.
    Csr,
    /// What an agent announces it can do.
    Capabilities,
    /// A job a request names.
    Job,
    /// The jobs a batch request selects.
    Selection,
    /// An account name.
    Account,
    /// A token's label.
    Label,
    /// The sort order of a listing.
    Sort,
    /// An agent (orchestrator) a request names.
    Agent,
    /// A registration credential's username.
    Username,
    /// A token (by id).
    Token,
    /// The directories a discovery searches (`Dirs`).
    Directories,
    /// The subject a certificate is asked for.
    Subject,
    /// The subject alternative names a certificate is asked for.
    Sans,
    /// An SSL network a request names.
    Network,
    /// An SSL network's name.
    NetworkName,
    /// An SSL network's ranges (`Some(n)`: the n-th given).
    Ranges(Option<usize>),
    /// The per-probe time limit of discovery (`false`) or monitoring (`true`) scans.
    ScanTimeout { monitoring: bool },
    /// How many days before expiry an SSL alert is raised.
    ExpirationAlertDays,
    /// The n-th quiet period of an SSL network.
    QuietHours(usize),
    /// Who SSL alerts go to.
    AlertRecipients,
    /// Which scans a scan request asks for (discovery, monitoring).
    ScanKinds,
    /// A member of a job config's scheduling policy, by its path (`jitter_secs`,
    /// `maintenance_windows[0].start`).
    Policy(String),
    /// Item `n` (0-based) of a request that lists several, and the field within it.
    Item(usize, Box<Field>),
}

impl Field {
    /// A member of the params.
    pub fn param(path: &[&str]) -> Self {
        Field::Params(path.iter().map(|s| (*s).to_owned()).collect())
    }

    /// This field inside item `index`.
    pub fn in_item(self, index: usize) -> Self {
        Field::Item(index, Box::new(self))
    }
}

/// A refused request, or a failure of the host.
#[derive(Debug)]
pub enum DomainError {
    /// The request is malformed in a way only the model can tell (a cron expression that
    /// does not parse, a window that ends before it starts): 400.
    Invalid {
        field: Option<Field>,
        reason: String,
    },
    /// Well-formed, but nothing here can serve it (no plugin provides the operation, the
    /// params fail its schema, a secret is not granted, a store is not approved): 422.
    Unprocessable { field: Field, reason: String },
    /// What the request names does not exist in the caller's account: 404.
    NotFound {
        field: Option<Field>,
        reason: String,
    },
    /// It clashes with the state of what it names (a duplicate name, a running job, a store
    /// that is not approved, params that do not fit the config's operation): 409.
    Conflict {
        field: Option<Field>,
        reason: String,
    },
    /// The caller may not do this: 403.
    Forbidden(String),
    /// The caller's account is not granted what the request names (a plugin, a directory,
    /// a secret, an authority, a name outside its issuance policy) or is over a quota:
    /// 403, the reason naming the rule.
    Denied {
        field: Option<Field>,
        reason: String,
    },
    /// The request's credentials (an agent's registration secret, client certificate or
    /// session token) are not recognised: 401.
    Unauthenticated(String),
    /// A batch refused as a whole: nothing was done. `missing` makes it a 404 (some
    /// selected jobs do not exist), else a 409 (some are not eligible in their state).
    Refused {
        missing: bool,
        message: String,
        refused: Vec<Refusal>,
    },
    /// The host failed (database down, a bug). The dialect logs `cause` and answers 500
    /// without it.
    Internal { context: String, cause: String },
}

/// A job a batch could not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The job's audit id.
    pub audit_id: i64,
    pub reason: String,
}

/// Result alias of the domain service.
pub type DomainResult<T> = Result<T, DomainError>;

impl DomainError {
    /// One word for the kind of refusal (for the audit log, which never keeps a reason
    /// that might quote request data).
    pub fn kind(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "invalid",
            DomainError::Unprocessable { .. } => "unprocessable",
            DomainError::NotFound { .. } => "not found",
            DomainError::Conflict { .. } => "conflict",
            DomainError::Forbidden(_) | DomainError::Denied { .. } => "denied",
            DomainError::Unauthenticated(_) => "unauthenticated",
            DomainError::Refused { .. } => "refused",
            DomainError::Internal { .. } => "internal",
        }
    }

    pub fn invalid(field: Field, reason: impl fmt::Display) -> Self {
        DomainError::Invalid {
            field: Some(field),
            reason: reason.to_string(),
        }
    }

    pub fn unprocessable(field: Field, reason: impl fmt::Display) -> Self {
        DomainError::Unprocessable {
            field,
            reason: reason.to_string(),
        }
    }

    pub fn not_found(reason: impl fmt::Display) -> Self {
        DomainError::NotFound {
            field: None,
            reason: reason.to_string(),
        }
    }

    /// 404 naming the field that named the missing thing.
    pub fn not_found_at(field: Field, reason: impl fmt::Display) -> Self {
        DomainError::NotFound {
            field: Some(field),
            reason: reason.to_string(),
        }
    }

    /// 409 naming the field whose value the current state refuses.
    pub fn conflict(field: Field, reason: impl fmt::Display) -> Self {
        DomainError::Conflict {
            field: Some(field),
            reason: reason.to_string(),
        }
    }

    pub fn denied(field: Field, reason: impl fmt::Display) -> Self {
        DomainError::Denied {
            field: Some(field),
            reason: reason.to_string(),
        }
    }

    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        DomainError::Internal {
            context: context.to_owned(),
            cause: cause.to_string(),
        }
    }

    /// The same refusal about item `index` of a list.
    pub fn in_item(self, index: usize) -> Self {
        match self {
            DomainError::Invalid { field, reason } => DomainError::Invalid {
                field: field.map(|f| f.in_item(index)),
                reason,
            },
            DomainError::Unprocessable { field, reason } => DomainError::Unprocessable {
                field: field.in_item(index),
                reason,
            },
            DomainError::NotFound { field, reason } => DomainError::NotFound {
                field: field.map(|f| f.in_item(index)),
                reason,
            },
            DomainError::Conflict { field, reason } => DomainError::Conflict {
                field: field.map(|f| f.in_item(index)),
                reason,
            },
            DomainError::Denied { field, reason } => DomainError::Denied {
                field: field.map(|f| f.in_item(index)),
                reason,
            },
            other => other,
        }
    }
}

impl From<DbError> for DomainError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => DomainError::not_found("not found"),
            DbError::Conflict(what) => DomainError::Conflict {
                field: None,
                reason: what,
            },
            DbError::InvalidSort(key) => DomainError::Invalid {
                field: Some(Field::Sort),
                reason: format!("cannot sort by {key:?}"),
            },
            DbError::Invalid(what) => DomainError::Invalid {
                field: None,
                reason: what,
            },
            other => DomainError::internal("accessing the database", other),
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainError::Invalid { reason, .. }
            | DomainError::Unprocessable { reason, .. }
            | DomainError::NotFound { reason, .. }
            | DomainError::Conflict { reason, .. } => f.write_str(reason),
            DomainError::Forbidden(m) | DomainError::Unauthenticated(m) => f.write_str(m),
            DomainError::Denied { reason, .. } => f.write_str(reason),
            DomainError::Refused { message, .. } => f.write_str(message),
            DomainError::Internal { context, .. } => write!(f, "internal error while {context}"),
        }
    }
}
