//! The closed sets of the model (job status and result, scheduling policies, where a job
//! runs, what kind of schedule fired it) as types. Both API dialects and the database
//! store them as words; they are converted here, once, and nowhere else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A word that is not one of an enum's words. Its `Display` names the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected one of {expected}, got {got:?}")]
pub struct UnknownWord {
    /// The allowed words, comma-separated.
    pub expected: String,
    /// What was given.
    pub got: String,
}

/// An enum stored and shown as one lower-case word per variant. Parsing ignores ASCII
/// case and surrounding blanks.
macro_rules! word_enum {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word that stands for it in the database and on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            /// The allowed words, comma-separated (for error messages).
            pub fn words() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                let word = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(word))
                    .ok_or_else(|| UnknownWord {
                        expected: Self::words(),
                        got: word.to_owned(),
                    })
            }
        }
    };
}

word_enum! {
    /// Where a job is in its life cycle (see the crate docs).
    pub enum JobStatus {
        /// Waiting for a node to claim it (also after a retry or a lease-expiry requeue).
        Queued = "queued",
        /// Claimed by `processing_node`, which holds a lease until `lease_expires_at`.
        Running = "running",
        /// Ran to the end; the result says how well.
        Completed = "completed",
        /// Could not run to the end (plugin error, retries exhausted, node lost).
        Failed = "failed",
        /// Stopped on request.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// The statuses a finished job may have.
    pub const FINAL: [JobStatus; 3] = [
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// Whether a job in this status is finished for good.
    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

word_enum! {
    /// How well a finished job did: the plugin decides, the host records.
    pub enum JobResult {
        /// Everything the job set out to do was done.
        Success = "success",
        /// Partial success.
        Warning = "warning",
        /// Nothing (useful) was done.
        Failure = "failure",
    }
}

word_enum! {
    /// What to do with fires a job config missed while no scheduler ran.
    pub enum CatchUp {
        /// Never catch up: run only a fire that is still on time; older ones are dropped.
        Skip = "skip",
        /// Run once for the whole outage (the latest missed fire), so a rotation happens
        /// once instead of piling up. What the APIs default to.
        One = "one",
        /// Run every missed fire, oldest first (up to a cap per scheduler tick).
        All = "all",
    }
}

word_enum! {
    /// What to do when a config fires while its previous job is still queued or running.
    pub enum Overlap {
        /// Skip the fire. The default: two rotations of one key at once help nobody.
        Skip = "skip",
        /// Run both.
        Allow = "allow",
    }
}

word_enum! {
    /// What a job does when another job is working on its target (the same certificate
    /// store, the same account's keys in the same cloud).
    #[derive(Default)]
    pub enum WhenBusy {
        /// Wait in the queue until the target is free. The default.
        #[default]
        Wait = "wait",
        /// Give up: the job ends `cancelled`, saying why.
        Skip = "skip",
    }
}

word_enum! {
    /// The kind of schedule of a job config: Keyfactor's ScheduleType, recorded on each
    /// job of the config when it is enqueued (so editing or deleting the config does not
    /// rewrite history). A job of no config, or of one that only records an immediate
    /// run, has none.
    pub enum ScheduleKind {
        /// Every so often (`*/15 * * * *`, `@hourly`, every 90 minutes).
        Interval = "interval",
        /// Once a day at a fixed time.
        Daily = "daily",
        /// On some weekdays at a fixed time.
        Weekly = "weekly",
        /// On a day of the month at a fixed time.
        Monthly = "monthly",
        /// Once, at one instant.
        Once = "once",
    }
}

word_enum! {
    /// What an API token may do.
    pub enum TokenRole {
        /// Read its account's resources; no request that changes anything.
        ReadOnly = "read-only",
        /// Read and change its account's resources.
        Operator = "operator",
        /// Act on every account and manage tokens.
        Admin = "admin",
    }
}

/// Which nodes may run a job: any, or one by id. Stored as `any` or the node id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum RunOn {
    /// Whichever node claims it first.
    #[default]
    Any,
    /// Only the node (or agent) with this id.
    Node(String),
}

impl RunOn {
    /// The word for "any node".
    pub const ANY: &'static str = "any";

    /// `Any` for `None`, `any` or a blank id; else that node.
    pub fn from_option(node: Option<&str>) -> Self {
        match node.map(str::trim) {
            None | Some("") => RunOn::Any,
            Some(n) if n.eq_ignore_ascii_case(Self::ANY) => RunOn::Any,
            Some(n) => RunOn::Node(n.to_owned()),
        }
    }

    /// The node id, unless any node may run it.
    pub fn node(&self) -> Option<&str> {
        match self {
            RunOn::Any => None,
            RunOn::Node(n) => Some(n),
        }
    }

    /// The stored word: `any` or the node id.
    pub fn as_str(&self) -> &str {
        self.node().unwrap_or(Self::ANY)
    }
}

impl fmt::Display for RunOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunOn {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(RunOn::from_option(Some(s)))
    }
}

impl Serialize for RunOn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(RunOn::from_option(Some(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_ignore_case() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(*status));
        }
        assert_eq!(" Completed ".parse::<JobStatus>(), Ok(JobStatus::Completed));
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected one of queued, running, completed, failed, cancelled, got \"done\""
        );
        assert_eq!(
            serde_json::to_value(CatchUp::All).unwrap(),
            serde_json::json!("all")
        );
        assert_eq!(
            serde_json::from_value::<Overlap>(serde_json::json!("allow")).unwrap(),
            Overlap::Allow
        );
    }

    #[test]
    fn run_on_is_any_or_a_node() {
        assert_eq!(RunOn::from_option(None), RunOn::Any);
        assert_eq!(RunOn::from_option(Some(" ANY ")), RunOn::Any);
        assert_eq!(
            RunOn::from_option(Some("node-7")),
            RunOn::Node("node-7".into())
        );
        assert_eq!(RunOn::Node("n".into()).as_str(), "n");
        assert_eq!(serde_json::to_value(RunOn::Any).unwrap(), "any");
    }
}

word_enum! {
    /// What an SSL scan does: find endpoints in ranges, or re-probe known ones.
    pub enum ScanKind {
        Discovery = "discovery",
        Monitoring = "monitoring",
    }
}

word_enum! {
    /// How one probe of an endpoint ended.
    pub enum ProbeStatus {
        /// It spoke TLS and served a certificate.
        CertificateFound = "certificate_found",
        TimedOut = "timed_out",
        Refused = "refused",
        NotTls = "not_tls",
        Handshake = "handshake",
        Unreachable = "unreachable",
        NotGranted = "not_granted",
    }
}

word_enum! {
    /// What an alert is about.
    pub enum AlertKind {
        /// An endpoint's certificate ends within its network's ExpirationAlertDays.
        CertificateExpiring = "certificate_expiring",
        /// An endpoint serves another certificate than at its previous probe.
        CertificateChanged = "certificate_changed",
        /// An endpoint's chain does not lead to a trusted root.
        CertificateUntrusted = "certificate_untrusted",
        /// An endpoint's certificate is not valid for the name (or address) probed.
        NameMismatch = "name_mismatch",
        /// An attempt of a job failed.
        JobFailed = "job_failed",
        /// A config's fire time passed without a job (skipped on catch-up or overlap).
        JobMissed = "job_missed",
        /// A job failed on its last attempt.
        RetriesExhausted = "retries_exhausted",
        /// A due job waits for the node it is pinned to, which is not alive.
        NodeUnavailable = "node_unavailable",
        /// A config paused itself after too many failed runs in a row.
        ConfigPaused = "config_paused",
    }
}

word_enum! {
    /// Where an alert's delivery stands.
    pub enum AlertState {
        Pending = "pending",
        Delivered = "delivered",
        /// Every attempt failed.
        Failed = "failed",
    }
}
