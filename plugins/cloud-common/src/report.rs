//! What every rotation job answers: a line for people and CipherTrust-style details
//! (`total_keys`, `num_rotated`, `rotated`, `not_due`, `num_failed`, `failed`, plus the
//! cloud's own groups), a Warning when any key failed or could not be used. A dry run
//! answers the same shape, nothing rotated, with `dry_run: true` and the keys it would
//! have rotated in `would_rotate` (`num_would_rotate`).

use keywarden_sdk::Outcome;
use serde_json::{Map, Value, json};

/// Rotations and failures listed in the details (all are counted): keeps the output under
/// the host's cap even for a large account.
pub const MAX_LISTED: usize = 200;

/// Keys in scope that could not be rotated for a reason that is not a failed call (AWS
/// keys awaiting imported material, say): counted, listed, and they make a Warning.
struct Group {
    field: &'static str,
    what: &'static str,
    entries: Vec<Value>,
    count: usize,
}

#[derive(Default)]
pub struct Report {
    /// Keys that matched the scope filters.
    pub in_scope: u64,
    /// In scope, but `rotation_after` says not yet.
    pub not_due: u64,
    rotated: Vec<Value>,
    num_rotated: usize,
    failed: Vec<Value>,
    num_failed: usize,
    groups: Vec<Group>,
    /// `Some` in a dry run: the keys that a real run would rotate.
    would_rotate: Option<Vec<Value>>,
    num_would_rotate: usize,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a group (`field` in the details; `what` finishes "N keys in scope ...").
    pub fn group(mut self, field: &'static str, what: &'static str) -> Self {
        self.groups.push(Group {
            field,
            what,
            entries: Vec::new(),
            count: 0,
        });
        self
    }

    /// A report for a dry run (see [`Report::would_rotate`]).
    pub fn dry_run(mut self) -> Self {
        self.would_rotate = Some(Vec::new());
        self
    }

    /// A key a real run would rotate; only in a dry run.
    pub fn would_rotate(&mut self, entry: Value) {
        debug_assert!(
            self.would_rotate.is_some(),
            "would_rotate outside a dry run"
        );
        self.num_would_rotate += 1;
        if let Some(list) = &mut self.would_rotate
            && list.len() < MAX_LISTED
        {
            list.push(entry);
        }
    }

    pub fn rotated(&mut self, entry: Value) {
        self.num_rotated += 1;
        if self.rotated.len() < MAX_LISTED {
            self.rotated.push(entry);
        }
    }

    pub fn failed(&mut self, entry: Value) {
        self.num_failed += 1;
        if self.failed.len() < MAX_LISTED {
            self.failed.push(entry);
        }
    }

    /// Adds `entry` to the declared group `field`.
    pub fn note(&mut self, field: &str, entry: Value) {
        let group = self.groups.iter_mut().find(|g| g.field == field);
        debug_assert!(group.is_some(), "undeclared report group {field}");
        if let Some(g) = group {
            g.count += 1;
            if g.entries.len() < MAX_LISTED {
                g.entries.push(entry);
            }
        }
    }

    pub fn num_rotated(&self) -> usize {
        self.num_rotated
    }

    /// The outcome, with `extra` fields (an object) merged into the details.
    pub fn finish(self, extra: Value) -> Outcome {
        let mut message = match &self.would_rotate {
            None => format!(
                "{} of {} keys rotated ({} not due, {} failed)",
                self.num_rotated, self.in_scope, self.not_due, self.num_failed
            ),
            Some(_) => format!(
                "dry run: {} of {} keys would be rotated ({} not due, {} failed); nothing was changed",
                self.num_would_rotate, self.in_scope, self.not_due, self.num_failed
            ),
        };
        let mut unusable = false;
        for g in &self.groups {
            if g.count > 0 {
                unusable = true;
                message.push_str(&format!("; {} keys in scope {}", g.count, g.what));
            }
        }
        let outcome = if self.num_failed == 0 && !unusable {
            Outcome::success(message)
        } else {
            Outcome::warning(message)
        };
        let mut details = Map::new();
        details.insert("total_keys".into(), json!(self.in_scope));
        details.insert("num_rotated".into(), json!(self.num_rotated));
        details.insert("rotated".into(), json!(self.rotated));
        details.insert("not_due".into(), json!(self.not_due));
        details.insert("num_failed".into(), json!(self.num_failed));
        details.insert("failed".into(), json!(self.failed));
        for g in self.groups {
            details.insert(g.field.into(), Value::Array(g.entries));
        }
        if let Some(would_rotate) = self.would_rotate {
            details.insert("dry_run".into(), json!(true));
            details.insert("num_would_rotate".into(), json!(self.num_would_rotate));
            details.insert("would_rotate".into(), Value::Array(would_rotate));
        }
        if let Value::Object(extra) = extra {
            details.extend(extra);
        }
        outcome.with_details(Value::Object(details))
    }
}

/// What a synchronization answers: how many keys it kept and, as a Warning, what it could
/// not read (capped at [`MAX_LISTED`]); `extra` fields (an object) join the details.
pub fn synchronized(kept: usize, mut failed: Vec<Value>, extra: Value) -> Outcome {
    let num_failed = failed.len();
    failed.truncate(MAX_LISTED);
    let mut details = json!({"total_keys": kept, "num_failed": num_failed, "failed": failed});
    if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), extra) {
        d.extend(extra);
    }
    if num_failed == 0 {
        Outcome::success(format!("{kept} keys synchronized"))
    } else {
        Outcome::warning(format!(
            "{kept} keys synchronized; {num_failed} could not be read"
        ))
    }
    .with_details(details)
}
