//! One job on `keywarden agent`: fetch it whole, run the pre-job command, run it on the
//! local plugins under this machine's grants (the node executor's own code), run the
//! post-job command, and report the record and the data back.

use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use chrono::Utc;
use keywarden_db::{CertificateStore, Job, JobResult, JobStatus};
use serde_json::{Map, Value, json};

use super::Agent;
use super::client::ProtocolClient;
use super::hooks::{self, HookContext};
use crate::certificates::job_params::StoreJobParams;
use crate::executor::job::{Accounts, Done, execute, judge};
use crate::executor::store_job::StoreJob;
use crate::runtime::invoke::FamilyData;

/// Runs the handed job `job_id` and reports it; `Err` when the server could not be told.
pub(crate) async fn run(
    agent: &Agent,
    client: &ProtocolClient,
    token: &str,
    agent_id: &str,
    (job_id, configuration, completion): &(String, String, String),
) -> anyhow::Result<()> {
    let conf = client.configuration(configuration, token, job_id).await?;
    let job: Job = serde_json::from_value(conf["Job"].clone()).context("the job record")?;
    let store: Option<CertificateStore> =
        serde_json::from_value(conf["Store"].clone()).context("the store record")?;
    let params: StoreJobParams =
        serde_json::from_value(job.params.clone()).context("the store job's params")?;
    let store_job = StoreJob {
        params,
        store: store.clone(),
    };
    let store_type = store_job.target().unwrap_or_default();
    let store_path = store
        .as_ref()
        .map(|s| s.store_path.clone())
        .unwrap_or_default();
    let hooks = agent
        .config
        .agent_hooks
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(&store_type))
        .map(|(_, h)| h.clone())
        .filter(|h| {
            h.operations.is_empty()
                || h.operations
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(&job.operation))
        });
    let timeout = Duration::from_secs(hooks.as_ref().map_or(30, |h| h.timeout_secs.max(1)));
    let mut context = HookContext {
        job_id,
        operation: &job.operation,
        store_path: &store_path,
        result: None,
    };

    let mut outcome = Map::new();
    if let Some(h) = &hooks
        && let Err(why) = hooks::run(&h.pre, timeout, &context).await
    {
        outcome.insert("Status".into(), json!(JobStatus::Failed));
        outcome.insert("Result".into(), json!(JobResult::Failure));
        outcome.insert(
            "Message".into(),
            json!(format!("the pre-job command failed: {why}")),
        );
        return client.complete(completion, token, job_id, outcome).await;
    }

    agent
        .authority
        .current
        .lock()
        .expect("not poisoned")
        .session = Some((client.clone(), token.to_owned(), job_id.clone()));
    let report = execute(
        &agent.registry,
        &job,
        Some(&store_job),
        None,
        Accounts::Local,
    )
    .await;
    agent
        .authority
        .current
        .lock()
        .expect("not poisoned")
        .session = None;

    let (mut status, mut result, mut message, details, logs) = match report {
        Err(why) => (
            JobStatus::Failed,
            Some(JobResult::Failure),
            Some(why),
            None,
            Vec::new(),
        ),
        Ok(report) => {
            if let Ok(finished) = &report.outcome {
                match &finished.data {
                    FamilyData::Inventory(entries) => {
                        let entries: Vec<Value> = entries
                            .iter()
                            .map(|e| {
                                json!({
                                    "Alias": e.alias,
                                    "PrivateKeyEntry": e.has_private_key,
                                    "Certificates": e.chain.iter()
                                        .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                                        .collect::<Vec<_>>(),
                                })
                            })
                            .collect();
                        outcome.insert("Inventory".into(), Value::Array(entries));
                    }
                    FamilyData::Paths(paths) => {
                        outcome.insert("Paths".into(), json!(paths));
                    }
                    _ => {}
                }
            }
            match judge(&job, agent_id, report, Utc::now()) {
                Done::Finish(f) => (f.status, f.result, f.message, f.details, f.logs),
                // Jobs handed to an agent are not retried behind the server's back.
                Done::Retry(retry) => (
                    JobStatus::Failed,
                    Some(JobResult::Failure),
                    Some(retry.message),
                    None,
                    retry.logs,
                ),
            }
        }
    };
    if let Some(h) = &hooks {
        let word = result.map(|r| r.as_str()).unwrap_or("failure");
        context.result = Some(word);
        if let Err(why) = hooks::run(&h.post, timeout, &context).await {
            let note = format!("the post-job command failed: {why}");
            if result == Some(JobResult::Success) {
                result = Some(JobResult::Warning);
            }
            if status == JobStatus::Completed && result.is_none() {
                status = JobStatus::Failed;
            }
            message = Some(match message {
                Some(m) if !m.is_empty() => format!("{m}; {note}"),
                _ => note,
            });
        }
    }
    outcome.insert("Status".into(), json!(status));
    outcome.insert("Result".into(), json!(result));
    outcome.insert("Message".into(), json!(message));
    outcome.insert("Details".into(), json!(details));
    outcome.insert("Logs".into(), Value::Array(logs));
    client.complete(completion, token, job_id, outcome).await
}
