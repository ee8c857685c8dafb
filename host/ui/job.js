// One job (#/jobs/ID): its facts, live progress and logs from
// GET /api/v1/scheduler/jobs/{id}/events (polling when the server has no stream), the
// plugin's `details`, and Retry (POST /api/v1/scheduler/jobs/{id}/retry).

import { post } from "./api.js";
import { fill, h, json, shortId, status, table, when } from "./dom.js";
import { isFinal, watchJob } from "./events.js";
import { progress } from "./jobs.js";

const API = "/api/v1/scheduler/jobs";

export async function render(view, route, ctx) {
  const id = route.id;
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const progressBox = h("div", { id: "job-progress", "aria-live": "polite" });
  const logsBox = h("div", { id: "job-logs" });
  const detailsBox = h("div", { id: "job-details" });
  const retry = h("button", { type: "button", id: "retry", onclick: doRetry }, "Retry");
  fill(view,
    h("h1", {}, "Job ", h("span", { class: "id", title: id }, id)),
    h("div", { class: "toolbar" }, retry, h("a", { class: "button", href: "#/jobs" }, "All jobs")),
    facts,
    h("h2", {}, "Progress"), progressBox,
    h("h2", {}, "Logs"), logsBox,
    h("h2", {}, "Details"), detailsBox);

  let logs = [];
  let lastProgress = null;

  function showProgress(p, source) {
    lastProgress = p;
    fill(progressBox, progress(p));
    progressBox.dataset.source = source;
    progressBox.dataset.done = p?.done ?? 0;
    progressBox.dataset.total = p?.total ?? 0;
    // Where a figure short of the end came from: proof that progress was seen live.
    if (p?.total && p.done < p.total) progressBox.dataset.partialSource = source;
  }

  function showLogs() {
    fill(logsBox, logs.length
      ? table(["Level", "Message", "Fields"], logs.map((l) => h("tr", {},
          h("td", {}, status(l.level ?? "")),
          h("td", {}, l.message ?? ""),
          h("td", { class: "mono" }, l.fields && Object.keys(l.fields).length ? JSON.stringify(l.fields) : ""))))
      : h("p", { class: "muted" }, "No log lines."));
  }

  let resolveFirst;
  const first = new Promise((resolve) => (resolveFirst = resolve));

  function showJob(job, source, ended = false) {
    fill(facts,
      fact("Name", job.name),
      fact("Operation", job.operation),
      fact("Status", status(job.status)),
      fact("Result", job.result ? status(job.result) : "—"),
      fact("Message", job.message || "—"),
      fact("Job config", job.job_config_id ? shortId(job.job_config_id, `#/configs/${job.job_config_id}`) : "—"),
      fact("Target", job.target || "—"),
      fact("Attempt", `${job.attempt} of ${job.max_attempts}`),
      fact("Node", job.processing_node || "—"),
      fact("Created", when(job.createdAt)),
      fact("Started", when(job.started_at)),
      fact("Finished", when(job.finished_at)));
    view.dataset.status = job.status;
    view.dataset.source = source;
    // The server retries failed jobs, each failure once (a job that worked runs again
    // through its config's Run now).
    retry.disabled = job.status !== "failed";
    retry.title = job.status === "failed" ? "Queue this job again" : "Only a failed job can be retried";
    if (job.progress) showProgress(job.progress, source);
    // Polled jobs and the stream's `end` carry every log line; on the stream the lines
    // otherwise arrive as `log` events (stored ones replayed first), so a `job` event's
    // copy is ignored there to show each line once.
    if (Array.isArray(job.logs) && (source !== "stream" || ended)) {
      logs = job.logs;
      showLogs();
    }
    fill(detailsBox, json(job.details));
    resolveFirst();
  }

  async function doRetry() {
    ctx.clearBanners();
    try {
      const { data } = await post(`${API}/${encodeURIComponent(id)}/retry`);
      ctx.showNotice("Retried as job ", h("a", { href: `#/jobs/${data.id}`, class: "id", id: "retried-job" }, data.id));
    } catch (err) {
      ctx.showError(err);
    }
  }

  showLogs();
  const watching = watchJob(id, {
    job: showJob,
    progress: (p, source) => showProgress({ ...lastProgress, ...p }, source),
    log: (line) => {
      logs.push(line);
      showLogs();
    },
  }, ctx.signal).catch(ctx.showError);
  // The page is ready once the job is shown; the watch goes on until it ends.
  await Promise.race([first, watching]);
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}
