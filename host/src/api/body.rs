//! Reading request bodies with a size limit, without dropping the connection on a client
//! that sends too much: the rest of an oversized body is read and thrown away (up to a
//! cap), so the client finishes writing and reads the refusal instead of a broken pipe.

use axum::body::{Body, Bytes, HttpBody};

/// The largest body a handler reads (axum's default limit).
pub const BODY_LIMIT: usize = 2 << 20;
/// How much of an oversized body is read and discarded before the connection is closed.
const DRAIN_CAP: usize = 16 << 20;

/// Why a body could not be had.
#[derive(Debug)]
pub enum BodyFailure {
    /// Over [`BODY_LIMIT`]; `drained` when all of it was read (the connection can carry
    /// the answer).
    TooLarge { drained: bool },
    /// The client's stream failed.
    Unreadable(String),
}

impl std::fmt::Display for BodyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyFailure::TooLarge { .. } => {
                write!(
                    f,
                    "the request body is over the limit of {BODY_LIMIT} bytes"
                )
            }
            BodyFailure::Unreadable(why) => write!(f, "the request body could not be read: {why}"),
        }
    }
}

/// The whole body, at most [`BODY_LIMIT`] bytes.
pub async fn read_limited(mut body: Body) -> Result<Bytes, BodyFailure> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|e| BodyFailure::Unreadable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= BODY_LIMIT {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_CAP {
            return Err(BodyFailure::TooLarge { drained: false });
        }
    }
    if total > BODY_LIMIT {
        return Err(BodyFailure::TooLarge { drained: true });
    }
    Ok(Bytes::from(kept))
}
