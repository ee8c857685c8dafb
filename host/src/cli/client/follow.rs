//! Following a job to its end: from the server's event stream
//! (`GET /api/v1/scheduler/jobs/{id}/events`, server-sent events) when it has one, else by
//! polling the job once a second, so the client works against servers without the stream.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;

use super::error::{ClientError, exit};
use super::http::{Call, Client};

/// What happened to a job, in the stream's words.
#[derive(Debug)]
pub enum JobEvent {
    /// The job's JSON: first, then at every status change.
    Job(Value),
    Progress {
        done: u64,
        total: u64,
    },
    /// A log line: `{"level", "message", "fields"}`.
    Log(Value),
}

/// Statuses after which a job changes no more.
pub fn is_final(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

/// The exit code a finished job means: 0 success, 7 warning, 8 failed or cancelled.
pub fn job_exit(job: &Value) -> u8 {
    match (job["status"].as_str(), job["result"].as_str()) {
        (Some("completed"), Some("warning")) => exit::JOB_WARNING,
        (Some("completed"), Some("success") | None) => exit::OK,
        _ => exit::JOB_FAILED,
    }
}

/// Follows the job until it ends, handing each event to `on`; returns the final job JSON.
pub async fn follow(
    client: &Client,
    job_id: &str,
    mut on: impl FnMut(JobEvent),
) -> Result<Value, ClientError> {
    let events = Call::get(format!("/api/v1/scheduler/jobs/{job_id}/events"));
    let mut seen_logs = 0;
    match client.send(&events).await {
        Ok(response) => {
            if let Some(job) = stream(response, &mut on, &mut seen_logs).await? {
                return Ok(job);
            }
            // The stream closed before the end (a proxy timeout, a restart): poll the rest.
        }
        // A server without the stream (404), or one whose streams are all taken (403,
        // past its per-account limit): poll. An unknown or forbidden job is refused by
        // the polling too.
        Err(ClientError::Api {
            status: 403 | 404, ..
        }) => {}
        Err(e) => return Err(e),
    }
    poll(client, job_id, &mut on, seen_logs).await
}

/// Reads the event stream; `None` when it closed before its `end` event.
async fn stream(
    response: reqwest::Response,
    on: &mut impl FnMut(JobEvent),
    seen_logs: &mut usize,
) -> Result<Option<Value>, ClientError> {
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let Ok(event) = event else {
            return Ok(None);
        };
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| ClientError::Protocol(format!("event {}: {e}", event.event)))?;
        match event.event.as_str() {
            "job" => on(JobEvent::Job(data)),
            "progress" => on(JobEvent::Progress {
                done: data["done"].as_u64().unwrap_or(0),
                total: data["total"].as_u64().unwrap_or(0),
            }),
            "log" => {
                *seen_logs += 1;
                on(JobEvent::Log(data));
            }
            "end" => return Ok(Some(data)),
            _ => {}
        }
    }
    Ok(None)
}

async fn poll(
    client: &Client,
    job_id: &str,
    on: &mut impl FnMut(JobEvent),
    mut seen_logs: usize,
) -> Result<Value, ClientError> {
    let call = Call::get(format!("/api/v1/scheduler/jobs/{job_id}"));
    let mut last_status = None;
    let mut last_progress = None;
    loop {
        let job = client.json(&call).await?;
        if let Some(logs) = job["logs"].as_array() {
            for line in logs.iter().skip(seen_logs) {
                on(JobEvent::Log(line.clone()));
            }
            seen_logs = seen_logs.max(logs.len());
        }
        let progress = (
            job["progress"]["done"].as_u64().unwrap_or(0),
            job["progress"]["total"].as_u64().unwrap_or(0),
        );
        if last_progress != Some(progress) {
            last_progress = Some(progress);
            on(JobEvent::Progress {
                done: progress.0,
                total: progress.1,
            });
        }
        let status = job["status"].as_str().map(str::to_owned);
        if is_final(&job) {
            return Ok(job);
        }
        if last_status != status {
            last_status = status;
            on(JobEvent::Job(job));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A log line as people read it: `info  message  key=value ...`.
pub fn log_line(line: &Value) -> String {
    let mut text = format!(
        "{:<5} {}",
        line["level"].as_str().unwrap_or("info"),
        line["message"].as_str().unwrap_or_default()
    );
    if let Some(fields) = line["fields"].as_object() {
        for (key, value) in fields {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            text.push_str(&format!(" {key}={value}"));
        }
    }
    text
}
