//! `keywarden history ...`: Keyfactor's job history (`/KeyfactorAPI/OrchestratorJobs`).

use clap::Subcommand;
use serde_json::json;

use super::args::KeyfactorPaging;
use super::error::ClientResult;
use super::http::{Call, Client};
use super::render::{Column, View, show};

const PATH: &str = "/KeyfactorAPI/OrchestratorJobs";

const COLUMNS: &[Column] = &[
    ("AUDIT ID", "/JobAuditId"),
    ("JOB ID", "/JobId"),
    ("TYPE", "/JobType"),
    ("AGENT", "/Agent"),
    ("START", "/OperationStart"),
    ("END", "/OperationEnd"),
    ("RESULT", "/Result"),
    ("MESSAGE", "/Message"),
];

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// List job history (`--query 'Result -eq 4 AND Status -eq 3'`).
    List(KeyfactorPaging),
    /// Run failed jobs again, by audit id.
    Reschedule {
        #[arg(required = true)]
        audit_ids: Vec<i64>,
    },
    /// Acknowledge failed jobs, by audit id.
    Acknowledge {
        #[arg(required = true)]
        audit_ids: Vec<i64>,
    },
}

pub async fn run(client: &Client, command: HistoryCommand) -> ClientResult {
    match command {
        HistoryCommand::List(paging) => {
            let call = paging.apply(Call::get(format!("{PATH}/JobHistory")));
            show(client, call, View::List(COLUMNS)).await
        }
        HistoryCommand::Reschedule { audit_ids } => {
            let call = Call::post(
                format!("{PATH}/Reschedule"),
                json!({"JobAuditIds": audit_ids}),
            );
            show(client, call, View::Done("rescheduled")).await
        }
        HistoryCommand::Acknowledge { audit_ids } => {
            let call = Call::post(
                format!("{PATH}/Acknowledge"),
                json!({"JobAuditIds": audit_ids}),
            );
            show(client, call, View::Done("acknowledged")).await
        }
    }
}
