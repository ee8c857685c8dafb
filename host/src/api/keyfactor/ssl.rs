//! `/KeyfactorAPI/SSL`: SSL networks and their ranges, in Keyfactor's field names
//! (`docs/keyfactor.md`). Scans, parts, results and endpoints come with the scanner.

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use keywarden_db::{
    QuietHour, ScanKind, ScanProgress, Sort, SslNetwork, SslNetworkField, SslNetworkFilter,
};

use crate::api::keyfactor::query::fields::{self, Kind, Target};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::kit::{self, Body, KeyfactorError, KeyfactorErrorBody, KeyfactorResult, Names, Params};
use super::ssl_scans::{percent, scan_status};
use crate::api::ciphertrust::extract::ApiJson;
use crate::api::{ApiError, ApiResult, AppState};
use crate::discovery::ranges::{NetworkRange, RangeTarget};
use crate::domain::Caller;
use crate::domain::ssl_networks::{MAX_RANGES, NetworkSpec, check_ranges};

const NAMES: Names = Names::DEFAULT;

/// Defaults of a network's probe time limits and alert lead time when a request leaves
/// them out.
const DEFAULT_TIMEOUT_MS: i64 = 5000;
const DEFAULT_ALERT_DAYS: i64 = 30;

/// Routes relative to `/KeyfactorAPI`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/SSL/Networks", get(list).post(create).put(replace))
        .route("/SSL/Networks/{identifier}", get(get_one).delete(delete))
        .route("/SSL/NetworkRanges", post(add_ranges).put(replace_ranges))
        .route("/SSL/NetworkRanges/Validate", post(validate_ranges))
        .route(
            "/SSL/NetworkRanges/{id}",
            get(network_ranges).delete(delete_ranges),
        )
}

/// A quiet period as the API shows it: days 0 (Sunday) to 6, times `HH:MM` (UTC).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct QuietHourView {
    pub start_day: u8,
    pub start_time: String,
    pub end_day: u8,
    pub end_time: String,
}

/// A network as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkView {
    pub network_id: String,
    pub name: String,
    pub agent_pool_name: String,
    pub description: String,
    pub enabled: bool,
    #[schema(value_type = Option<Object>)]
    pub discover_schedule: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub monitor_schedule: Option<Value>,
    pub discover_timeout_ms: i64,
    pub monitor_timeout_ms: i64,
    pub expiration_alert_days: i64,
    pub quiet_hours: Vec<QuietHourView>,
    pub ssl_alert_recipients: Vec<String>,
    pub auto_monitor: bool,
    pub get_robots: bool,
    /// Percent of the newest discovery scan's parts that ended.
    pub discover_percent_complete: i64,
    pub monitor_percent_complete: i64,
    /// 0 never scanned, 1 queued, 2 running, 3 completed, 4 completed with failed parts.
    pub discover_status: i64,
    pub monitor_status: i64,
    /// When the newest scan ended (once all its parts have).
    pub discover_last_scanned: Option<String>,
    pub monitor_last_scanned: Option<String>,
    /// Parts of the newest scan.
    pub discover_job_parts: i64,
    pub monitor_job_parts: i64,
}

fn hh_mm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

impl NetworkView {
    /// The network with its newest scans (`progress` may hold other networks' too).
    pub fn new(n: &SslNetwork, progress: &[ScanProgress]) -> Self {
        let of = |kind: ScanKind| {
            progress
                .iter()
                .find(|p| p.network_id == n.id && p.kind == kind)
        };
        let (d, m) = (of(ScanKind::Discovery), of(ScanKind::Monitoring));
        let schedule = |r: &Option<keywarden_db::Recurrence>| {
            r.as_ref().map(|r| kit::schedule::render(Some(r)))
        };
        NetworkView {
            network_id: n.id.to_string(),
            name: n.name.clone(),
            agent_pool_name: n.agent_pool_name.clone(),
            description: n.description.clone(),
            enabled: n.enabled,
            discover_schedule: schedule(&n.discover_schedule),
            monitor_schedule: schedule(&n.monitor_schedule),
            discover_timeout_ms: n.discover_timeout_ms,
            monitor_timeout_ms: n.monitor_timeout_ms,
            expiration_alert_days: n.expiration_alert_days,
            quiet_hours: n
                .quiet_hours
                .iter()
                .map(|q| QuietHourView {
                    start_day: q.start_day,
                    start_time: hh_mm(q.start_minute),
                    end_day: q.end_day,
                    end_time: hh_mm(q.end_minute),
                })
                .collect(),
            ssl_alert_recipients: n.alert_recipients.clone(),
            auto_monitor: n.auto_monitor,
            get_robots: n.get_robots,
            discover_percent_complete: percent(d),
            monitor_percent_complete: percent(m),
            discover_status: scan_status(d),
            monitor_status: scan_status(m),
            discover_last_scanned: d.and_then(|p| p.last_ended_at).map(kit::time),
            monitor_last_scanned: m.and_then(|p| p.last_ended_at).map(kit::time),
            discover_job_parts: d.map_or(0, |p| p.parts),
            monitor_job_parts: m.map_or(0, |p| p.parts),
        }
    }
}

/// The network as the API shows it, with its scans' progress as it is now.
async fn view(state: &AppState, caller: &Caller, n: &SslNetwork) -> KeyfactorResult<NetworkView> {
    let progress = state.service.ssl_progress(caller, &[n.id]).await?;
    Ok(NetworkView::new(n, &progress))
}

/// Response fields a client may send back unchanged from a GET.
pub const READ_ONLY: &[&str] = &[
    "AgentPoolId",
    "DiscoverPercentComplete",
    "MonitorPercentComplete",
    "DiscoverStatus",
    "MonitorStatus",
    "DiscoverLastScanned",
    "MonitorLastScanned",
    "DiscoverJobParts",
    "MonitorJobParts",
];

/// `HH:MM` or `HH:MM:SS` (exactly; [`TIME_OF_DAY`]), or an RFC 3339 date-time whose
/// time of day in UTC is taken (Keyfactor's model types these as date-times).
fn minute_of_day(field: &str, text: &str) -> ApiResult<u16> {
    let bytes = text.as_bytes();
    let two = |i: usize| -> Option<u16> {
        let (a, b) = (*bytes.get(i)?, *bytes.get(i + 1)?);
        (a.is_ascii_digit() && b.is_ascii_digit())
            .then(|| u16::from(a - b'0') * 10 + u16::from(b - b'0'))
    };
    let clock = match bytes.len() {
        5 | 8 if bytes[2] == b':' && (bytes.len() == 5 || bytes[5] == b':') => {
            match (
                two(0),
                two(3),
                if bytes.len() == 8 { two(6) } else { Some(0) },
            ) {
                (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60 => Some(h * 60 + m),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(minute) = clock {
        return Ok(minute);
    }
    match crate::api::ciphertrust::extract::timestamp(field, Some(text)) {
        Ok(Some(at)) => {
            use chrono::Timelike;
            Ok(u16::try_from(at.hour() * 60 + at.minute()).unwrap_or(0))
        }
        _ => Err(ApiError::invalid(
            field,
            format!("expected a time of day such as 22:00 or an RFC 3339 date-time, got {text:?}"),
        )),
    }
}

/// What [`minute_of_day`] reads besides a date-time.
pub const TIME_OF_DAY: &str = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$";

fn quiet_hours(value: Option<Value>) -> ApiResult<Vec<QuietHour>> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::invalid("QuietHours", "must be an array")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("QuietHours[{i}].");
        let mut q = Body::new(item, &prefix)?;
        let day = |q: &mut Body, key: &str| -> ApiResult<u8> {
            q.integer(key, 0, 6)?
                .map(|d| d as u8)
                .ok_or_else(|| ApiError::invalid(&format!("{prefix}{key}"), "is required"))
        };
        let time = |q: &mut Body, key: &str| -> ApiResult<u16> {
            let t = q
                .text(key)?
                .ok_or_else(|| ApiError::invalid(&format!("{prefix}{key}"), "is required"))?;
            minute_of_day(&format!("{prefix}{key}"), &t)
        };
        let quiet = QuietHour {
            start_day: day(&mut q, "StartDay")?,
            start_minute: time(&mut q, "StartTime")?,
            end_day: day(&mut q, "EndDay")?,
            end_minute: time(&mut q, "EndTime")?,
        };
        q.finish()?;
        out.push(quiet);
    }
    Ok(out)
}

fn text_list(field: &str, value: Option<Value>) -> ApiResult<Vec<String>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::invalid(
                    &format!("{field}[{i}]"),
                    "must be a string",
                )),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(field, "must be an array of strings")),
    }
}

/// A string as sent (not trimmed: the domain judges its length as the contract does).
fn raw_text(body: &mut Body, key: &str) -> ApiResult<Option<String>> {
    match body.take(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(
            key,
            format!("expected a string, got {other}"),
        )),
    }
}

/// Reads a create/replace body.
fn read(mut body: Body) -> ApiResult<NetworkSpec> {
    body.ignore(READ_ONLY);
    let schedule = |body: &mut Body, key: &str| -> ApiResult<Option<keywarden_db::Recurrence>> {
        Ok(body
            .take(key)
            .filter(|v| !v.is_null())
            .map(|v| kit::schedule::parse(v, key))
            .transpose()?
            .flatten())
    };
    let spec = NetworkSpec {
        name: raw_text(&mut body, "Name")?
            .ok_or_else(|| ApiError::invalid("Name", "is required"))?,
        description: body.text("Description")?.unwrap_or_default(),
        agent_pool_name: body.text("AgentPoolName")?.unwrap_or_default(),
        enabled: body.boolean("Enabled")?.unwrap_or(true),
        discover_schedule: schedule(&mut body, "DiscoverSchedule")?,
        monitor_schedule: schedule(&mut body, "MonitorSchedule")?,
        discover_timeout_ms: body
            .integer("DiscoverTimeoutMs", i64::MIN, i64::MAX)?
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        monitor_timeout_ms: body
            .integer("MonitorTimeoutMs", i64::MIN, i64::MAX)?
            .unwrap_or(DEFAULT_TIMEOUT_MS),
        expiration_alert_days: body
            .integer("ExpirationAlertDays", i64::MIN, i64::MAX)?
            .unwrap_or(DEFAULT_ALERT_DAYS),
        quiet_hours: quiet_hours(body.take("QuietHours"))?,
        alert_recipients: text_list("SslAlertRecipients", body.take("SslAlertRecipients"))?,
        auto_monitor: body.boolean("AutoMonitor")?.unwrap_or(false),
        get_robots: body.boolean("GetRobots")?.unwrap_or(false),
    };
    body.finish()?;
    Ok(spec)
}

fn network_id(raw: &str) -> KeyfactorResult<Uuid> {
    Ok(crate::api::ciphertrust::extract::path_id(
        raw,
        "SSL network",
    )?)
}

#[utoipa::path(post, path = "/KeyfactorAPI/SSL/Networks", tag = "keyfactor-ssl",
    responses((status = 200, body = NetworkView), (status = 400, body = KeyfactorErrorBody),
        (status = 409, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<NetworkView>> {
    let mut body = Body::new(body, "")?;
    body.ignore(&["NetworkId"]);
    let spec = read(body)?;
    let network = state
        .service
        .create_ssl_network(&caller, spec)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(view(&state, &caller, &network).await?))
}

/// Replaces a network (its id in the body, `NetworkId`); its ranges stay.
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/Networks", tag = "keyfactor-ssl",
    responses((status = 200, body = NetworkView), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody), (status = 409, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<NetworkView>> {
    let mut body = Body::new(body, "")?;
    let id = body
        .uuid("NetworkId")?
        .ok_or_else(|| ApiError::invalid("NetworkId", "is required"))?;
    let spec = read(body)?;
    let network = state
        .service
        .replace_ssl_network(&caller, id, spec)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(view(&state, &caller, &network).await?))
}

/// A network by name (as Keyfactor addresses it) or by id.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Networks/{identifier}", tag = "keyfactor-ssl",
    params(("identifier" = String, Path, description = "The network's name or id")),
    responses((status = 200, body = NetworkView), (status = 404, body = KeyfactorErrorBody),
        (status = 409, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(identifier): Path<String>,
) -> KeyfactorResult<Json<NetworkView>> {
    crate::api::json::refuse_nul("identifier", &identifier)?;
    if let Ok(id) = Uuid::parse_str(identifier.trim())
        && let Ok(n) = state.service.ssl_network(&caller, id).await
    {
        return Ok(Json(view(&state, &caller, &n).await?));
    }
    let network = state
        .service
        .ssl_network_named(&caller, &identifier)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(Json(view(&state, &caller, &network).await?))
}

#[utoipa::path(delete, path = "/KeyfactorAPI/SSL/Networks/{identifier}", tag = "keyfactor-ssl",
    params(("identifier" = String, Path, description = "The network's id")),
    responses((status = 204), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<StatusCode> {
    state
        .service
        .delete_ssl_network(&caller, network_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sortable fields of `GET /SSL/Networks` (the contract lists the same).
pub const NETWORK_SORTABLE: &str = "Name, AgentPoolName, Enabled, CreatedAt, UpdatedAt, NetworkId";

/// The fields of `GET /SSL/Networks?QueryString=`.
pub const NETWORK_FIELDS: &[(&str, Target<SslNetworkField>)] = &[
    ("Name", Target::Column(SslNetworkField::Name, Kind::Text)),
    (
        "Pool",
        Target::Column(SslNetworkField::AgentPoolName, Kind::Text),
    ),
    (
        "AgentPoolName",
        Target::Column(SslNetworkField::AgentPoolName, Kind::Text),
    ),
    (
        "Description",
        Target::Column(SslNetworkField::Description, Kind::Text),
    ),
];

fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "name" => "name",
        "agentpoolname" | "pool" => "agent_pool_name",
        "enabled" => "enabled",
        "createdat" => "created_at",
        "updatedat" => "updated_at",
        "networkid" | "id" => "id",
        _ => return None,
    })
}

/// The caller's networks (by name unless sorted otherwise); the total in `x-total-count`.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL/Networks", tag = "keyfactor-ssl",
    responses((status = 200, body = Vec<NetworkView>,
        headers(("x-total-count" = i64, description = "Networks matching the filters"))),
        (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut q: Params,
) -> KeyfactorResult<Response> {
    let paging = q.paging(sort_column, NETWORK_SORTABLE)?;
    let filter = SslNetworkFilter {
        account_id: None,
        name: q.take("Name"),
        agent_pool_name: q.take("Pool").or_else(|| q.take("AgentPoolName")),
        condition: fields::from_params(&mut q, "QueryString", NETWORK_FIELDS)?,
    };
    q.finish()?;
    let sort = Sort::by(paging.sort.unwrap_or("name"), paging.descending);
    let (total, rows) = state
        .service
        .ssl_networks(&caller, filter, &sort, paging.skip, paging.limit)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|n| n.id).collect();
    let progress = state.service.ssl_progress(&caller, &ids).await?;
    Ok(kit::counted(
        total,
        rows.iter()
            .map(|n| NetworkView::new(n, &progress))
            .collect(),
    ))
}

/// One range as the API shows it: Keyfactor's `{ItemType, Value}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RangeView {
    /// 0 an address, 1 an address range, 2 a network (CIDR), 3 a host name.
    pub item_type: u8,
    /// The range in its normal form, ports included (`127.0.0.0/30:443`).
    pub value: String,
}

pub fn range_view(normal: &str) -> RangeView {
    let item_type = match NetworkRange::parse(normal).map(|r| r.target) {
        Ok(RangeTarget::Address(_)) => 0,
        Ok(RangeTarget::Span(..)) => 1,
        Ok(RangeTarget::Network(_)) => 2,
        _ => 3,
    };
    RangeView {
        item_type,
        value: normal.to_owned(),
    }
}

/// The ranges of a network.
#[utoipa::path(get, path = "/KeyfactorAPI/SSL/NetworkRanges/{id}", tag = "keyfactor-ssl",
    responses((status = 200, body = Vec<RangeView>), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn network_ranges(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<Json<Vec<RangeView>>> {
    let network = state.service.ssl_network(&caller, network_id(&id)?).await?;
    Ok(Json(network.ranges.iter().map(|r| range_view(r)).collect()))
}

/// The required `Ranges` array of strings.
fn ranges_field(body: &mut Body) -> ApiResult<Vec<String>> {
    match body.take("Ranges") {
        Some(v @ Value::Array(_)) => text_list("Ranges", Some(v)),
        Some(_) => Err(ApiError::invalid("Ranges", "must be an array of strings")),
        None => Err(ApiError::invalid("Ranges", "is required")),
    }
}

/// `{NetworkId, Ranges: [...]}`.
fn read_ranges(body: Value) -> ApiResult<(Uuid, Vec<String>)> {
    let mut body = Body::new(body, "")?;
    let id = body
        .uuid("NetworkId")?
        .ok_or_else(|| ApiError::invalid("NetworkId", "is required"))?;
    let ranges = ranges_field(&mut body)?;
    body.finish()?;
    Ok((id, ranges))
}

async fn set_ranges(
    state: &AppState,
    caller: &Caller,
    body: Value,
    append: bool,
) -> KeyfactorResult<StatusCode> {
    let (id, ranges) = read_ranges(body)?;
    state
        .service
        .set_ssl_ranges(caller, id, &ranges, append)
        .await
        .map_err(|e| KeyfactorError::domain(e, &NAMES))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds ranges to a network.
#[utoipa::path(post, path = "/KeyfactorAPI/SSL/NetworkRanges", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn add_ranges(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    set_ranges(&state, &caller, body, true).await
}

/// Replaces a network's ranges.
#[utoipa::path(put, path = "/KeyfactorAPI/SSL/NetworkRanges", tag = "keyfactor-ssl",
    responses((status = 204), (status = 400, body = KeyfactorErrorBody),
        (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn replace_ranges(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<StatusCode> {
    set_ranges(&state, &caller, body, false).await
}

/// Removes every range of a network.
#[utoipa::path(delete, path = "/KeyfactorAPI/SSL/NetworkRanges/{id}", tag = "keyfactor-ssl",
    responses((status = 204), (status = 404, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_ranges(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> KeyfactorResult<StatusCode> {
    state
        .service
        .set_ssl_ranges(&caller, network_id(&id)?, &[], false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How one range given to `Validate` reads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RangeCheckView {
    pub value: String,
    pub valid: bool,
    /// Its normal form, when valid.
    pub normal: Option<String>,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// The answer of `Validate`: valid when every range is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationView {
    pub valid: bool,
    pub ranges: Vec<RangeCheckView>,
}

/// Reads ranges without storing them: `{Ranges: [...]}` (a `NetworkId` is taken and
/// ignored).
#[utoipa::path(post, path = "/KeyfactorAPI/SSL/NetworkRanges/Validate", tag = "keyfactor-ssl",
    responses((status = 200, body = ValidationView), (status = 400, body = KeyfactorErrorBody)),
    security(("bearer" = [])))]
pub async fn validate_ranges(
    Extension(_caller): Extension<Caller>,
    ApiJson(body): ApiJson<Value>,
) -> KeyfactorResult<Json<ValidationView>> {
    let mut body = Body::new(body, "")?;
    body.ignore(&["NetworkId"]);
    let ranges = ranges_field(&mut body)?;
    body.finish()?;
    if ranges.len() > MAX_RANGES {
        return Err(ApiError::invalid("Ranges", format!("at most {MAX_RANGES} ranges")).into());
    }
    let checks: Vec<RangeCheckView> = check_ranges(&ranges)
        .into_iter()
        .map(|c| RangeCheckView {
            value: c.given,
            valid: c.normal.is_ok(),
            normal: c.normal.as_ref().ok().cloned(),
            reason: c.normal.err(),
        })
        .collect();
    Ok(Json(ValidationView {
        valid: checks.iter().all(|c| c.valid),
        ranges: checks,
    }))
}
