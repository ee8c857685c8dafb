//! The rule for dry runs, checked before anything is queued: only an operation that
//! writes (rotation, Management, Reenrollment), on a plugin built against
//! `keywarden:plugin@0.2.0` or later that declares the operation's dry run
//! ([`crate::plugins::dry_run::refusal`], which the executor asks again at run time).

use keywarden_db::JobConfig;

use super::{DomainError, DomainResult, Field, Service};

/// How `run-now` runs a config's job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunNow {
    /// Due when the config's (and its account's) windows next allow, not now.
    pub respect_windows: bool,
    /// Only report what the job would change (see `keywarden_db::Job::dry_run`).
    pub dry_run: bool,
}

impl Service {
    /// Refuses (422, naming `dry_run`) a dry run of `config`'s operation that the plugin
    /// serving it cannot make.
    pub(crate) fn check_dry_run(&self, config: &JobConfig) -> DomainResult<()> {
        let (plugin, op) = self
            .registry
            .resolve(&config.operation, config.target.as_deref())
            .map_err(|_| {
                DomainError::unprocessable(
                    Field::DryRun,
                    format!(
                        "no loaded plugin provides operation {}, so nothing can say what it would do",
                        config.operation
                    ),
                )
            })?;
        match crate::plugins::dry_run::refusal(&plugin, &op) {
            None => Ok(()),
            Some(why) => Err(DomainError::unprocessable(Field::DryRun, why)),
        }
    }
}
