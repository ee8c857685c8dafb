//! A small listener answering ACME http-01 challenges
//! (`GET /.well-known/acme-challenge/TOKEN` → key authorization) while an order waits.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

type Tokens = Arc<RwLock<HashMap<String, String>>>;

/// The running listener; stops when dropped.
pub struct Http01Responder {
    tokens: Tokens,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Http01Responder {
    /// Binds `addr` now (so a taken port fails at startup) and serves in the background.
    /// Must be called inside a Tokio runtime.
    pub fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen for http-01 challenges on {addr}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let tokens = Tokens::default();
        let app = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer))
            .with_state(tokens.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the http-01 challenge listener stopped");
            }
        });
        Ok(Self { tokens, addr, task })
    }

    /// The address actually bound (differs from the configured one for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `key_authorization` for `token` until [`Self::remove`].
    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.tokens
            .write()
            .expect("http-01 tokens lock")
            .insert(token.to_owned(), key_authorization.to_owned());
    }

    pub fn remove(&self, token: &str) {
        self.tokens
            .write()
            .expect("http-01 tokens lock")
            .remove(token);
    }
}

impl Drop for Http01Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(tokens): State<Tokens>, Path(token): Path<String>) -> (StatusCode, String) {
    match tokens.read().expect("http-01 tokens lock").get(&token) {
        Some(key_authorization) => (StatusCode::OK, key_authorization.clone()),
        None => (
            StatusCode::NOT_FOUND,
            "unknown challenge token\n".to_owned(),
        ),
    }
}
