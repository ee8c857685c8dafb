//! Pre- and post-job commands (`[agent_hooks.TYPE]`): an argv list run without a shell,
//! under a time limit, with only the job's facts in the environment. `KEYWARDEN_STORE_PATH`
//! comes from the server's users: a command must treat it as data (quote it in a script).

use std::time::Duration;

use tokio::process::Command;

/// The facts a hook sees.
#[derive(Debug, Clone)]
pub struct HookContext<'a> {
    pub job_id: &'a str,
    pub operation: &'a str,
    pub store_path: &'a str,
    /// `success`, `warning` or `failure` (post hooks only).
    pub result: Option<&'a str>,
}

/// Runs `argv` (nothing when empty); `Err` says why it failed.
pub async fn run(argv: &[String], timeout: Duration, ctx: &HookContext<'_>) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(());
    };
    let mut command = Command::new(program);
    // Nothing of the agent's own environment (its registration password, secrets it
    // reads from variables) reaches the command: only a search path and the job's facts.
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args(args)
        .env("KEYWARDEN_JOB_ID", ctx.job_id)
        .env("KEYWARDEN_OPERATION", ctx.operation)
        .env("KEYWARDEN_STORE_PATH", ctx.store_path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(result) = ctx.result {
        command.env("KEYWARDEN_JOB_RESULT", result);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("{program}: cannot start: {e}"))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => Err(format!("{program}: did not finish within {timeout:?}")),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: String = stderr
                .chars()
                .rev()
                .take(500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(format!("{program}: {}: {}", out.status, tail.trim()))
        }
    }
}
