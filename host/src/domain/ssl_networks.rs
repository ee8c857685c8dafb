//! SSL networks (Keyfactor's `/SSL/Networks` and `/SSL/NetworkRanges`): what an account
//! scans for TLS endpoints. Every rule about a network is here: names, limits, ranges in
//! their normal form and how many addresses they may name together.

use chrono::Utc;
use keywarden_db::{QuietHour, Recurrence, Sort, SslNetwork, SslNetworkFilter};
use uuid::Uuid;

use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::discovery::ranges::{NetworkRange, RangeError, RangeErrorKind};

/// The longest a probe of a scan may be given.
pub const MAX_SCAN_TIMEOUT_MS: i64 = 30_000;
/// The most days before expiry an alert may be asked for.
pub const MAX_ALERT_DAYS: i64 = 3650;
/// Ranges one network may have.
pub const MAX_RANGES: usize = 1000;
/// Quiet periods one network may have.
pub const MAX_QUIET_HOURS: usize = 100;
/// The longest network name.
pub const MAX_NAME_CHARS: usize = 256;
/// The longest alert recipient.
pub const MAX_RECIPIENT_CHARS: usize = 320;
/// The longest range text (host names make ranges long).
pub const MAX_RANGE_CHARS: usize = 300;
/// Recipients one network's alerts may go to.
pub const MAX_RECIPIENTS: usize = 50;

/// A network as a request describes it (everything but its id and ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    pub name: String,
    pub description: String,
    pub agent_pool_name: String,
    pub enabled: bool,
    pub discover_schedule: Option<Recurrence>,
    pub monitor_schedule: Option<Recurrence>,
    pub discover_timeout_ms: i64,
    pub monitor_timeout_ms: i64,
    pub expiration_alert_days: i64,
    pub quiet_hours: Vec<QuietHour>,
    pub alert_recipients: Vec<String>,
    pub auto_monitor: bool,
    pub get_robots: bool,
}

/// How one range given to `Validate` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCheck {
    pub given: String,
    /// Its normal form, or why it is not a range.
    pub normal: Result<String, String>,
}

impl NetworkSpec {
    fn check(&self) -> DomainResult<()> {
        if !short_text(&self.name, MAX_NAME_CHARS) {
            return Err(DomainError::invalid(
                Field::NetworkName,
                format!(
                    "must have 1 to {MAX_NAME_CHARS} characters, not only white space, and no control characters"
                ),
            ));
        }
        for (monitoring, ms) in [
            (false, self.discover_timeout_ms),
            (true, self.monitor_timeout_ms),
        ] {
            if !(1..=MAX_SCAN_TIMEOUT_MS).contains(&ms) {
                return Err(DomainError::invalid(
                    Field::ScanTimeout { monitoring },
                    format!("must be 1 to {MAX_SCAN_TIMEOUT_MS} milliseconds, got {ms}"),
                ));
            }
        }
        if !(0..=MAX_ALERT_DAYS).contains(&self.expiration_alert_days) {
            return Err(DomainError::invalid(
                Field::ExpirationAlertDays,
                format!("must be 0 to {MAX_ALERT_DAYS}"),
            ));
        }
        if self.quiet_hours.len() > MAX_QUIET_HOURS {
            return Err(DomainError::invalid(
                Field::QuietHours(MAX_QUIET_HOURS),
                format!("at most {MAX_QUIET_HOURS} quiet periods"),
            ));
        }
        for (i, q) in self.quiet_hours.iter().enumerate() {
            if q.start_day > 6 || q.end_day > 6 || q.start_minute >= 1440 || q.end_minute >= 1440 {
                return Err(DomainError::invalid(
                    Field::QuietHours(i),
                    "days are 0 (Sunday) to 6, times within the day",
                ));
            }
        }
        if self.alert_recipients.len() > MAX_RECIPIENTS
            || !self
                .alert_recipients
                .iter()
                .all(|r| short_text(r, MAX_RECIPIENT_CHARS))
        {
            return Err(DomainError::invalid(
                Field::AlertRecipients,
                format!(
                    "at most {MAX_RECIPIENTS} recipients, each 1 to {MAX_RECIPIENT_CHARS} characters, not only white space, without control characters"
                ),
            ));
        }
        Ok(())
    }

    fn apply(self, n: &mut SslNetwork) {
        let now = Utc::now();
        n.next_discover_at = next_fire(self.discover_schedule.as_ref(), now);
        n.next_monitor_at = next_fire(self.monitor_schedule.as_ref(), now);
        n.name = self.name.trim().to_owned();
        n.description = self.description;
        n.agent_pool_name = self.agent_pool_name;
        n.enabled = self.enabled;
        n.discover_schedule = self.discover_schedule;
        n.monitor_schedule = self.monitor_schedule;
        n.discover_timeout_ms = self.discover_timeout_ms;
        n.monitor_timeout_ms = self.monitor_timeout_ms;
        n.expiration_alert_days = self.expiration_alert_days;
        n.quiet_hours = self.quiet_hours;
        n.alert_recipients = self.alert_recipients;
        n.auto_monitor = self.auto_monitor;
        n.get_robots = self.get_robots;
    }
}

/// At most `max` characters, some not white space, and no control characters but white
/// space (`api::contract::ssl` states the same in a pattern).
fn short_text(text: &str, max: usize) -> bool {
    text.chars().count() <= max
        && !text.trim().is_empty()
        && text.chars().all(|c| !c.is_control() || c.is_whitespace())
}

/// The control characters that are not white space, as a regular expression class body.
pub const CONTROL_NOT_WHITE: &str = r"\u0000-\u0008\u000E-\u001F\u007F-\u0084\u0086-\u009F";

/// One range, refused as syntax when longer than [`MAX_RANGE_CHARS`].
fn parse_range(text: &str) -> Result<NetworkRange, RangeError> {
    if text.chars().count() > MAX_RANGE_CHARS {
        return Err(RangeError {
            kind: RangeErrorKind::Syntax,
            message: format!("a range is at most {MAX_RANGE_CHARS} characters"),
        });
    }
    NetworkRange::parse(text)
}

/// When a scan schedule fires first as of `now`: now for an immediate one, never for none.
pub fn next_fire(
    schedule: Option<&Recurrence>,
    now: chrono::DateTime<Utc>,
) -> Option<chrono::DateTime<Utc>> {
    let fires = super::schedule::recurrence_fires(schedule?, now);
    if fires.runs_now {
        Some(now)
    } else {
        fires.next
    }
}

/// Each range read, without judging the whole (`Validate`).
pub fn check_ranges(given: &[String]) -> Vec<RangeCheck> {
    given
        .iter()
        .map(|g| RangeCheck {
            given: g.clone(),
            normal: parse_range(g).map(|r| r.normal()).map_err(|e| e.message),
        })
        .collect()
}

impl Service {
    fn max_network_addresses(&self) -> u64 {
        self.registry
            .runtime()
            .config()
            .tls_probing
            .max_network_addresses
    }

    /// `ranges` in their normal form, each parsed, together within the configured
    /// maximum of addresses; 400 naming the first that is not a range.
    fn normal_ranges(&self, ranges: &[String]) -> DomainResult<Vec<String>> {
        if ranges.len() > MAX_RANGES {
            return Err(DomainError::Unprocessable {
                field: Field::Ranges(None),
                reason: format!("a network may have at most {MAX_RANGES} ranges"),
            });
        }
        let mut total: u128 = 0;
        let mut endpoints: u128 = 0;
        let mut out = Vec::with_capacity(ranges.len());
        for (i, r) in ranges.iter().enumerate() {
            let parsed = parse_range(r).map_err(|e| {
                let field = Field::Ranges(Some(i));
                match e.kind {
                    RangeErrorKind::Syntax => DomainError::invalid(field, e.message),
                    RangeErrorKind::Limit => DomainError::Unprocessable {
                        field,
                        reason: e.message,
                    },
                }
            })?;
            total = total.saturating_add(parsed.addresses());
            endpoints = endpoints.saturating_add(parsed.endpoints());
            let normal = parsed.normal();
            if !out.contains(&normal) {
                out.push(normal);
            }
        }
        let max = self.max_network_addresses();
        if total > u128::from(max) {
            return Err(DomainError::Unprocessable {
                field: Field::Ranges(None),
                reason: format!(
                    "the ranges name {total} addresses; a network may name at most {max} ([tls_probing] max_network_addresses)"
                ),
            });
        }
        let max = self
            .registry
            .runtime()
            .config()
            .tls_probing
            .max_network_endpoints;
        if endpoints > u128::from(max) {
            return Err(DomainError::Unprocessable {
                field: Field::Ranges(None),
                reason: format!(
                    "the ranges name {endpoints} endpoints (addresses × ports); a network may name at most {max} ([tls_probing] max_network_endpoints)"
                ),
            });
        }
        Ok(out)
    }

    /// The caller's network with `id` (any account's for admins).
    pub async fn ssl_network(&self, caller: &Caller, id: Uuid) -> DomainResult<SslNetwork> {
        self.db
            .get_ssl_network(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no SSL network with id {id}")))
    }

    /// The caller's network named `name` (Keyfactor addresses networks by name too).
    pub async fn ssl_network_named(&self, caller: &Caller, name: &str) -> DomainResult<SslNetwork> {
        let filter = SslNetworkFilter {
            account_id: caller.scope().map(str::to_owned),
            name: Some(name.trim().to_owned()),
            ..Default::default()
        };
        let (_, found) = self
            .db
            .list_ssl_networks(&filter, &Sort::by("name", false), 0, 2)
            .await?;
        match found.len() {
            1 => Ok(found.into_iter().next().expect("one")),
            0 => Err(DomainError::not_found(format!(
                "no SSL network named {name:?}"
            ))),
            _ => Err(DomainError::conflict(
                Field::NetworkName,
                format!("several accounts have a network named {name:?}; use its id"),
            )),
        }
    }

    /// A page of the caller's networks.
    pub async fn ssl_networks(
        &self,
        caller: &Caller,
        mut filter: SslNetworkFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<SslNetwork>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self
            .db
            .list_ssl_networks(&filter, sort, skip, limit)
            .await?)
    }

    /// Creates a network (no ranges yet) in the caller's account.
    pub async fn create_ssl_network(
        &self,
        caller: &Caller,
        spec: NetworkSpec,
    ) -> DomainResult<SslNetwork> {
        spec.check()?;
        let now = keywarden_db::truncate_micros(Utc::now());
        let mut network = SslNetwork {
            id: Uuid::now_v7(),
            account_id: caller.account.clone(),
            name: String::new(),
            description: String::new(),
            agent_pool_name: String::new(),
            enabled: true,
            discover_schedule: None,
            monitor_schedule: None,
            discover_timeout_ms: 0,
            monitor_timeout_ms: 0,
            expiration_alert_days: 0,
            quiet_hours: Vec::new(),
            alert_recipients: Vec::new(),
            auto_monitor: false,
            get_robots: false,
            ranges: Vec::new(),
            next_discover_at: None,
            next_monitor_at: None,
            created_at: now,
            updated_at: now,
        };
        spec.apply(&mut network);
        Ok(self.db.insert_ssl_network(&network).await?)
    }

    /// Replaces a network's fields (its ranges stay).
    pub async fn replace_ssl_network(
        &self,
        caller: &Caller,
        id: Uuid,
        spec: NetworkSpec,
    ) -> DomainResult<SslNetwork> {
        spec.check()?;
        let mut network = self.ssl_network(caller, id).await?;
        spec.apply(&mut network);
        Ok(self.db.update_ssl_network(&network).await?)
    }

    /// Deletes a network.
    pub async fn delete_ssl_network(&self, caller: &Caller, id: Uuid) -> DomainResult<()> {
        if self.db.delete_ssl_network(caller.scope(), id).await? {
            Ok(())
        } else {
            Err(DomainError::not_found(format!(
                "no SSL network with id {id}"
            )))
        }
    }

    /// Sets a network's ranges: `append` adds to what it has, else they replace it.
    pub async fn set_ssl_ranges(
        &self,
        caller: &Caller,
        id: Uuid,
        ranges: &[String],
        append: bool,
    ) -> DomainResult<SslNetwork> {
        let mut network = self.ssl_network(caller, id).await?;
        let mut all = if append {
            network.ranges.clone()
        } else {
            Vec::new()
        };
        all.extend(ranges.iter().cloned());
        let offset = if append { network.ranges.len() } else { 0 };
        network.ranges = self.normal_ranges(&all).map_err(|e| shift(e, offset))?;
        // Only the ranges are written: the network's other fields (its next fire times
        // above all, which the scheduler advances) stay as they are now.
        if !self
            .db
            .set_ssl_network_ranges(&network.account_id, network.id, &network.ranges)
            .await?
        {
            return Err(DomainError::not_found(format!(
                "no SSL network with id {id}"
            )));
        }
        Ok(network)
    }
}

/// A refusal naming range `n` of the combined list as range `n - offset` of the request.
fn shift(e: DomainError, offset: usize) -> DomainError {
    let back = |i: usize| Field::Ranges(Some(i - offset));
    match e {
        DomainError::Invalid {
            field: Some(Field::Ranges(Some(i))),
            reason,
        } if i >= offset => DomainError::Invalid {
            field: Some(back(i)),
            reason,
        },
        DomainError::Unprocessable {
            field: Field::Ranges(Some(i)),
            reason,
        } if i >= offset => DomainError::Unprocessable {
            field: back(i),
            reason,
        },
        other => other,
    }
}
