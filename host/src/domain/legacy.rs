//! Job configs written before their target, schedule kind and recurrence were stored:
//! the server fills those facts in once, when it starts, so every later request reads
//! them as columns.
//!
//! Keywarden 0.1 derived a job's Keyfactor ScheduleType from its config on every request
//! and kept a certificate store's inventory schedule in the config's description, as
//! `Keyfactor inventory schedule: {"Daily": {"Time": "1970-01-01T02:30:00Z"}}`. Those
//! descriptions are read back into recurrences here and cleared.

use chrono::{DateTime, Utc, Weekday};
use keywarden_db::{ConfigFacts, JobConfig, Recurrence};
use serde_json::Value;
use uuid::Uuid;

use super::schedule::classify;
use super::target::target_of;
use super::{DomainResult, Service};
use crate::certificates::job_params::operation;
use crate::scheduler::fire_times::Window;

/// How the 0.1 description of a store's inventory config began.
const LEGACY_PREFIX: &str = "Keyfactor inventory schedule: ";

/// Configs handled per round.
const BATCH: i64 = 500;

impl Service {
    /// Records the facts of every config written before they were stored; returns how
    /// many configs were updated.
    pub async fn record_legacy_config_facts(&self) -> DomainResult<u64> {
        let mut updated = 0;
        loop {
            let configs = self.db.unclassified_configs(BATCH).await?;
            if configs.is_empty() {
                return Ok(updated);
            }
            let mut facts = Vec::with_capacity(configs.len());
            for config in &configs {
                facts.push(self.facts_of(config).await?);
            }
            let n = self.db.record_config_facts(&facts).await?;
            if n == 0 {
                // Nothing changed (deleted meanwhile): do not spin.
                return Ok(updated);
            }
            updated += n;
        }
    }

    async fn facts_of(&self, config: &JobConfig) -> DomainResult<ConfigFacts> {
        let recurrence = config
            .description
            .strip_prefix(LEGACY_PREFIX)
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
            .and_then(|v| legacy_recurrence(&v));
        let description = if recurrence.is_some() {
            String::new()
        } else {
            config.description.clone()
        };
        let store_type = match config.params.get("certificate_store_id") {
            Some(Value::String(id)) if config.operation == operation::INVENTORY => {
                match Uuid::parse_str(id) {
                    Ok(id) => self
                        .db
                        .get_certificate_store(Some(&config.account_id), id)
                        .await?
                        .map(|s| s.store_type),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        let schedule_kind = match &recurrence {
            Some(r) => r.kind(),
            None => Some(classify(
                &config.run_at,
                config.timezone.as_deref(),
                Window {
                    start: config.start_date,
                    end: config.end_date,
                },
                config.created_at,
            )),
        };
        Ok(ConfigFacts {
            id: config.id,
            target: target_of(&config.params, store_type.as_deref()),
            schedule_kind,
            // A config must end up with a kind or a recurrence, or it would be found
            // again next time.
            recurrence: recurrence
                .or_else(|| schedule_kind.is_none().then_some(Recurrence::Immediate)),
            description,
        })
    }
}

/// The recurrence of a 0.1 inventory description (Keyfactor's schedule shape, as that
/// version wrote it).
fn legacy_recurrence(v: &Value) -> Option<Recurrence> {
    let time =
        |inner: &Value| -> Option<DateTime<Utc>> { inner.get("Time")?.as_str()?.parse().ok() };
    let (kind, inner) = v.as_object()?.iter().next()?;
    Some(match kind.as_str() {
        "Immediate" => Recurrence::Immediate,
        "Interval" => Recurrence::Interval {
            minutes: u32::try_from(inner.get("Minutes")?.as_u64()?).ok()?,
        },
        "Daily" => Recurrence::Daily { at: time(inner)? },
        "Weekly" => Recurrence::Weekly {
            days: inner
                .get("Days")?
                .as_array()?
                .iter()
                .map(|d| d.as_str()?.parse::<Weekday>().ok())
                .collect::<Option<Vec<_>>>()?,
            at: time(inner)?,
        },
        "Monthly" => Recurrence::Monthly {
            day: u32::try_from(inner.get("Day")?.as_u64()?).ok()?,
            at: time(inner)?,
        },
        "ExactlyOnce" => Recurrence::Once { at: time(inner)? },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_what_0_1_wrote() {
        let at: DateTime<Utc> = "1970-01-01T23:05:00Z".parse().unwrap();
        assert_eq!(
            legacy_recurrence(
                &json!({"Weekly": {"Days": ["Monday", "Friday"], "Time": "1970-01-01T23:05:00Z"}})
            ),
            Some(Recurrence::Weekly {
                days: vec![Weekday::Mon, Weekday::Fri],
                at
            })
        );
        assert_eq!(
            legacy_recurrence(&json!({"Interval": {"Minutes": 30}})),
            Some(Recurrence::Interval { minutes: 30 })
        );
        assert_eq!(
            legacy_recurrence(&json!({"Immediate": true})),
            Some(Recurrence::Immediate)
        );
        assert_eq!(legacy_recurrence(&json!({"Hourly": {}})), None);
    }
}
