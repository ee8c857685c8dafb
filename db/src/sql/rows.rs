//! Row → model decoding, shared by both backends.

use serde_json::Value;

use crate::agents::{Agent, AgentSession, AgentStatus, CertificateRenewal, RegistrationCredential};
use crate::backend::{Backend, Cols};
use crate::certificates::{CertificateStore, DiscoveredPath, InventoryEntry};
use crate::error::{DbError, Result};
use crate::model::{Account, ApiToken, AuditEntry, Job, JobConfig, NewAuditEntry, Node, SyncedKey};

pub(crate) fn account<DB: Backend>(row: &DB::Row) -> Result<Account> {
    let c = Cols::<DB>(row);
    Ok(Account {
        id: c.text("id")?,
        created_at: c.time("created_at")?,
    })
}

pub(crate) fn token<DB: Backend>(row: &DB::Row) -> Result<ApiToken> {
    let c = Cols::<DB>(row);
    Ok(ApiToken {
        id: c.text("id")?,
        account_id: c.text("account_id")?,
        token_hash: c.text("token_hash")?,
        is_admin: c.boolean("is_admin")?,
        role: c.word("role")?,
        label: c.text("label")?,
        created_at: c.time("created_at")?,
        expires_at: c.opt_time("expires_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

pub(crate) fn audit_entry<DB: Backend>(row: &DB::Row) -> Result<AuditEntry> {
    let c = Cols::<DB>(row);
    Ok(AuditEntry {
        seq: c.int("seq")?,
        entry: NewAuditEntry {
            at: c.time("at")?,
            account_id: c.text("account_id")?,
            token_id: c.opt_text("token_id")?,
            action: c.text("action")?,
            target: c.text("target")?,
            result: c.text("result")?,
            detail: c.json("detail")?,
        },
        prev_hash: c.text("prev_hash")?,
        hash: c.text("hash")?,
    })
}

pub(crate) fn config<DB: Backend>(row: &DB::Row) -> Result<JobConfig> {
    let c = Cols::<DB>(row);
    Ok(JobConfig {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        name: c.text("name")?,
        operation: c.text("operation")?,
        description: c.text("description")?,
        run_on: c.word("run_on")?,
        run_at: c.text("run_at")?,
        timezone: c.opt_text("timezone")?,
        start_date: c.opt_time("start_date")?,
        end_date: c.opt_time("end_date")?,
        disabled: c.boolean("disabled")?,
        params: c.json("params")?,
        params_key: c.text("params_key")?,
        target: c.opt_text("target")?,
        schedule_kind: c.opt_word("schedule_kind")?,
        recurrence: c.opt_typed("recurrence")?,
        catch_up: c.word("catch_up")?,
        overlap: c.word("overlap")?,
        max_retries: c.int32("max_retries")?,
        retry_backoff_secs: c.int("retry_backoff_secs")?,
        next_fire_at: c.opt_time("next_fire_at")?,
        alerts: c.opt_typed("alerts")?.unwrap_or_default(),
        policy: c.opt_typed("policy")?.unwrap_or_default(),
        paused_reason: c.opt_text("paused_reason")?,
        paused_at: c.opt_time("paused_at")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn job<DB: Backend>(row: &DB::Row) -> Result<Job> {
    let c = Cols::<DB>(row);
    Ok(Job {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        job_config_id: c.opt_uuid("job_config_id")?,
        name: c.text("name")?,
        description: c.text("description")?,
        operation: c.text("operation")?,
        target: c.opt_text("target")?,
        params: c.json("params")?,
        run_on: c.word("run_on")?,
        schedule_kind: c.opt_word("schedule_kind")?,
        status: c.word("status")?,
        result: c.opt_word("result")?,
        message: c.opt_text("message")?,
        details: c.opt_json("details")?,
        logs: decode_logs(&c.text("logs")?)?,
        progress_done: c.int("progress_done")?,
        progress_total: c.int("progress_total")?,
        attempt: c.int32("attempt")?,
        max_attempts: c.int32("max_attempts")?,
        retry_backoff_secs: c.int("retry_backoff_secs")?,
        scheduled_for: c.time("scheduled_for")?,
        start_by: c.opt_time("start_by")?,
        dry_run: c.boolean("dry_run")?,
        enqueued_at: c.time("enqueued_at")?,
        started_at: c.opt_time("started_at")?,
        finished_at: c.opt_time("finished_at")?,
        processing_node: c.opt_text("processing_node")?,
        lease_expires_at: c.opt_time("lease_expires_at")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn ssl_network<DB: Backend>(row: &DB::Row) -> Result<crate::ssl::SslNetwork> {
    let c = Cols::<DB>(row);
    Ok(crate::ssl::SslNetwork {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        name: c.text("name")?,
        description: c.text("description")?,
        agent_pool_name: c.text("agent_pool_name")?,
        enabled: c.boolean("enabled")?,
        discover_schedule: c.opt_typed("discover_schedule")?,
        monitor_schedule: c.opt_typed("monitor_schedule")?,
        discover_timeout_ms: c.int("discover_timeout_ms")?,
        monitor_timeout_ms: c.int("monitor_timeout_ms")?,
        expiration_alert_days: c.int("expiration_alert_days")?,
        quiet_hours: c.opt_typed("quiet_hours")?.unwrap_or_default(),
        alert_recipients: c.opt_typed("alert_recipients")?.unwrap_or_default(),
        auto_monitor: c.boolean("auto_monitor")?,
        get_robots: c.boolean("get_robots")?,
        ranges: c.opt_typed("ranges")?.unwrap_or_default(),
        next_discover_at: c.opt_time("next_discover_at")?,
        next_monitor_at: c.opt_time("next_monitor_at")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn node<DB: Backend>(row: &DB::Row) -> Result<Node> {
    let c = Cols::<DB>(row);
    Ok(Node {
        id: c.text("id")?,
        first_seen_at: c.time("first_seen_at")?,
        last_seen_at: c.time("last_seen_at")?,
        version: c.text("version")?,
        started_at: c.time("started_at")?,
        heartbeat_interval: std::time::Duration::from_millis(
            u64::try_from(c.int("heartbeat_ms")?).unwrap_or(0),
        ),
        stopped_at: c.opt_time("stopped_at")?,
    })
}

pub(crate) fn certificate_store<DB: Backend>(row: &DB::Row) -> Result<CertificateStore> {
    let c = Cols::<DB>(row);
    Ok(CertificateStore {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        client_machine: c.text("client_machine")?,
        store_path: c.text("store_path")?,
        store_type: c.text("store_type")?,
        container_id: c.opt_int("container_id")?,
        approved: c.boolean("approved")?,
        create_if_missing: c.boolean("create_if_missing")?,
        properties: c.json("properties")?,
        agent_id: c.opt_text("agent_id")?,
        password_secret: c.opt_text("password_secret")?,
        inventory_config_id: c.opt_uuid("inventory_config_id")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn inventory_entry<DB: Backend>(row: &DB::Row) -> Result<InventoryEntry> {
    let c = Cols::<DB>(row);
    let sans: Vec<String> = serde_json::from_value(c.json("sans")?)
        .map_err(|e| DbError::Corrupt(format!("sans: {e}")))?;
    let source = match c.opt_uuid("endpoint_id")? {
        Some(endpoint_id) => crate::certificates::CertificateSource::SslEndpoint { endpoint_id },
        None => crate::certificates::CertificateSource::Store,
    };
    Ok(InventoryEntry {
        store_id: c.uuid("store_id")?,
        source,
        account_id: c.text("account_id")?,
        alias: c.text("alias")?,
        thumbprint: c.text("thumbprint")?,
        serial_number: c.text("serial_number")?,
        subject: c.text("subject")?,
        issuer: c.text("issuer")?,
        sans,
        not_before: c.time("not_before")?,
        not_after: c.time("not_after")?,
        has_private_key: c.boolean("has_private_key")?,
        chain_length: c.int("chain_length")?,
        certificate: c.text("certificate")?,
        job_id: c.opt_uuid("job_id")?,
        inventoried_at: c.time("inventoried_at")?,
    })
}

pub(crate) fn discovered_path<DB: Backend>(row: &DB::Row) -> Result<DiscoveredPath> {
    let c = Cols::<DB>(row);
    Ok(DiscoveredPath {
        account_id: c.text("account_id")?,
        store_type: c.text("store_type")?,
        client_machine: c.text("client_machine")?,
        path: c.text("path")?,
        job_id: c.opt_uuid("job_id")?,
        discovered_at: c.time("discovered_at")?,
    })
}

pub(crate) fn synced_key<DB: Backend>(row: &DB::Row) -> Result<SyncedKey> {
    let c = Cols::<DB>(row);
    let aliases = c.json("aliases")?;
    let aliases =
        serde_json::from_value(aliases).map_err(|e| DbError::Corrupt(format!("aliases: {e}")))?;
    Ok(SyncedKey {
        account_id: c.text("account_id")?,
        source: c.text("source")?,
        cloud_name: c.text("cloud_name")?,
        key_id: c.text("key_id")?,
        resource_name: c.opt_text("resource_name")?,
        aliases,
        state: c.text("state")?,
        created_at: c.opt_time("created_at")?,
        rotated_at: c.opt_time("rotated_at")?,
        attributes: c.json("attributes")?,
        synced_at: c.time("synced_at")?,
    })
}

/// Decodes every row with `f`.
pub(crate) fn all<DB: Backend, T>(
    rows: &[DB::Row],
    f: fn(&DB::Row) -> Result<T>,
) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// Logs are stored as JSON lines (one compact JSON value plus `\n` each), so finishing an
/// attempt can append with a plain string concatenation instead of rewriting an array.
pub(crate) fn encode_logs(logs: &[Value]) -> String {
    let mut out = String::new();
    for v in logs {
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn decode_logs(s: &str) -> Result<Vec<Value>> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| DbError::Corrupt(format!("logs: {e}"))))
        .collect()
}

pub(crate) fn agent<DB: Backend>(row: &DB::Row) -> Result<Agent> {
    let c = Cols::<DB>(row);
    let capabilities: Vec<String> = serde_json::from_value(c.json("capabilities")?)
        .map_err(|e| DbError::Corrupt(format!("capabilities: {e}")))?;
    let status = c.int("status")?;
    let renewal = c.int("auth_cert_reenrollment")?;
    Ok(Agent {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        client_machine: c.text("client_machine")?,
        username: c.text("username")?,
        platform: c.int("platform")?,
        version: c.text("version")?,
        status: AgentStatus::from_code(status)
            .ok_or_else(|| DbError::Corrupt(format!("agent status {status}")))?,
        capabilities,
        thumbprint: c.opt_text("thumbprint")?,
        legacy_thumbprint: c.opt_text("legacy_thumbprint")?,
        last_thumbprint_used: c.opt_text("last_thumbprint_used")?,
        certificate_not_after: c.opt_time("certificate_not_after")?,
        certificate_renewal: CertificateRenewal::from_code(renewal)
            .ok_or_else(|| DbError::Corrupt(format!("auth_cert_reenrollment {renewal}")))?,
        last_error_code: c.int("last_error_code")?,
        last_error_message: c.opt_text("last_error_message")?,
        last_seen: c.opt_time("last_seen")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

pub(crate) fn registration_credential<DB: Backend>(
    row: &DB::Row,
) -> Result<RegistrationCredential> {
    let c = Cols::<DB>(row);
    Ok(RegistrationCredential {
        username: c.text("username")?,
        account_id: c.text("account_id")?,
        secret_hash: c.text("secret_hash")?,
        client_machine: c.opt_text("client_machine")?,
        created_at: c.time("created_at")?,
    })
}

pub(crate) fn agent_session<DB: Backend>(row: &DB::Row) -> Result<AgentSession> {
    let c = Cols::<DB>(row);
    Ok(AgentSession {
        token_hash: c.text("token_hash")?,
        agent_id: c.uuid("agent_id")?,
        account_id: c.text("account_id")?,
        thumbprint: c.opt_text("thumbprint")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

pub(crate) fn ssl_part<DB: Backend>(row: &DB::Row) -> Result<crate::ssl::SslScanPart> {
    let c = Cols::<DB>(row);
    Ok(crate::ssl::SslScanPart {
        id: c.uuid("id")?,
        scan_id: c.uuid("scan_id")?,
        account_id: c.text("account_id")?,
        network_id: c.uuid("network_id")?,
        kind: c.word("kind")?,
        seq: c.int("seq")?,
        job_id: c.uuid("job_id")?,
        definitions: c.json("definitions")?,
        estimated_endpoints: c.int("estimated_endpoints")?,
        created_at: c.time("created_at")?,
        finished_at: c.opt_time("finished_at")?,
        stats: c.opt_typed("stats")?,
        job_status: c.opt_word("job_status")?,
        job_started_at: c.opt_time("job_started_at")?,
        job_finished_at: c.opt_time("job_finished_at")?,
    })
}

pub(crate) fn ssl_endpoint<DB: Backend>(row: &DB::Row) -> Result<crate::ssl::SslEndpoint> {
    let c = Cols::<DB>(row);
    Ok(crate::ssl::SslEndpoint {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        network_id: c.uuid("network_id")?,
        host: c.text("host")?,
        port: c.int("port")?,
        sni_name: c.text("sni_name")?,
        address: c.text("address")?,
        enable_monitor: c.boolean("enable_monitor")?,
        reviewed: c.boolean("reviewed")?,
        last_status: c.word("last_status")?,
        last_history_id: c.opt_uuid("last_history_id")?,
        thumbprint: c.opt_text("thumbprint")?,
        subject: c.opt_text("subject")?,
        issuer: c.opt_text("issuer")?,
        serial_number: c.opt_text("serial_number")?,
        not_before: c.opt_time("not_before")?,
        not_after: c.opt_time("not_after")?,
        certificate: c.opt_text("certificate")?,
        trusted: c.opt_bool("trusted")?,
        name_matches: c.opt_bool("name_matches")?,
        first_seen: c.time("first_seen")?,
        last_seen: c.time("last_seen")?,
    })
}

pub(crate) fn ssl_history<DB: Backend>(row: &DB::Row) -> Result<crate::ssl::SslHistoryEntry> {
    let c = Cols::<DB>(row);
    Ok(crate::ssl::SslHistoryEntry {
        id: c.uuid("id")?,
        endpoint_id: c.uuid("endpoint_id")?,
        job_id: c.uuid("job_id")?,
        kind: c.word("kind")?,
        observed_at: c.time("observed_at")?,
        status: c.word("status")?,
        changed: c.boolean("changed")?,
        address: c.opt_text("address")?,
        thumbprint: c.opt_text("thumbprint")?,
        chain: c.opt_typed("chain")?.unwrap_or_default(),
        protocol: c.opt_text("protocol")?,
        cipher_suite: c.opt_text("cipher_suite")?,
        trusted: c.opt_bool("trusted")?,
        trust_error: c.opt_text("trust_error")?,
        name_matches: c.opt_bool("name_matches")?,
        expired: c.opt_bool("expired")?,
    })
}

pub(crate) fn alert<DB: Backend>(row: &DB::Row) -> Result<crate::alerts::Alert> {
    let c = Cols::<DB>(row);
    Ok(crate::alerts::Alert {
        id: c.uuid("id")?,
        account_id: c.text("account_id")?,
        kind: c.word("kind")?,
        subject: c.text("subject")?,
        message: c.text("message")?,
        details: c.json("details")?,
        network_id: c.opt_uuid("network_id")?,
        job_config_id: c.opt_uuid("job_config_id")?,
        job_id: c.opt_uuid("job_id")?,
        created_at: c.time("created_at")?,
        state: c.word("state")?,
        attempts: c.int("attempts")?,
        next_attempt_at: c.time("next_attempt_at")?,
        delivered_at: c.opt_time("delivered_at")?,
        last_error: c.opt_text("last_error")?,
    })
}
