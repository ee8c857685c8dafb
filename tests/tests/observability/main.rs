//! What an operator watches: live job streams (server-sent events), retrying a job, and
//! the Prometheus metrics, against the real server with the real `hello` plugin.

mod events;
mod metrics;
mod retry;
