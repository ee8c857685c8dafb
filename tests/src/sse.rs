//! A small client for server-sent events (the WHATWG format: `event:`/`data:` lines,
//! a blank line ends an event, `:` lines are comments), enough to read Keywarden's job
//! streams the way the CLI and dashboard do.

use std::time::{Duration, Instant};

use serde_json::Value;

/// One event: its name and its data parsed as JSON.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub data: Value,
    /// When it arrived (to show what came while a job still ran).
    pub at: Instant,
}

/// An open stream.
pub struct SseStream {
    response: reqwest::Response,
    buffer: String,
}

impl SseStream {
    /// Opens `url` with `token`; returns the status and, on 200, the stream (else the
    /// JSON error body).
    pub async fn open(
        client: &reqwest::Client,
        url: &str,
        token: &str,
    ) -> Result<SseStream, (reqwest::StatusCode, Value)> {
        let response = client
            .get(url)
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let body = response.json().await.unwrap_or(Value::Null);
            return Err((status, body));
        }
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "content type {kind}");
        Ok(SseStream {
            response,
            buffer: String::new(),
        })
    }

    /// The next event, or `None` when the server closed the stream or `timeout` passed.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one named `last` (included), the stream ends or `timeout` passes.
    pub async fn until(&mut self, last: &str, timeout: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(event) = self.next(left).await else {
                break;
            };
            let done = event.event == last;
            out.push(event);
            if done {
                break;
            }
        }
        out
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut event = String::from("message");
    let mut data = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let text = data.join("\n");
    Some(SseEvent {
        event,
        data: serde_json::from_str(&text).unwrap_or_else(|e| panic!("data not JSON ({e}): {text}")),
        at: Instant::now(),
    })
}
