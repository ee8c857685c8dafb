//! A webhook receiver on 127.0.0.1 for alert tests: records every request (headers and
//! body) and answers 500 to the first `fail_first` of them, 204 to the rest.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: StatusCode,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    fail_first: usize,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let status = if inner.received.len() < inner.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    inner.received.push(Received {
        headers,
        body,
        status,
    });
    status
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            fail_first,
        }));
        let app = Router::new()
            .route("/alerts", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, inner, task }
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
}
