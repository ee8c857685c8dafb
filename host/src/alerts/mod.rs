//! Alerts: what raises them ([`ssl`]: endpoints whose certificates need attention), when
//! they may not be sent ([`quiet`]), and their delivery to the operator's webhook
//! ([`webhook`], [`delivery`]). An alert is a row raised once per condition
//! (`dedupe_key`); any node may deliver it, under a lease.

pub mod delivery;
pub mod jobs;
pub mod quiet;
pub mod ssl;
pub mod webhook;
