//! Rendering for a scrape: the database-held values first, then the text format.

use chrono::Utc;
use keywarden_db::Database;

use super::Metrics;

/// The text exposition of every family. The queue figures come from the database at
/// this moment; if it cannot answer, they keep their last values and the scrape still
/// succeeds (the error is logged), since the rest is still worth having.
pub async fn render(metrics: &Metrics, db: &dyn Database) -> String {
    let f = &metrics.families;
    let now = Utc::now();
    match db.queue_stats(now).await {
        Ok(stats) => {
            f.jobs_queued.set(stats.queued);
            f.jobs_due.set(stats.due);
            f.jobs_running.set(stats.running);
            let age = stats
                .oldest_due
                .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            f.oldest_due_age.set(age);
        }
        Err(e) => tracing::warn!("reading the job queue for /metrics failed: {e}"),
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &f.registry);
    out
}
