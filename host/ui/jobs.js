// Jobs: filters (status, operation, config), paging, live status and progress of the
// listed jobs from GET /api/v1/scheduler/events (polling the list when the server has no
// stream), a link to each job's details and logs.

import { get } from "./api.js";
import { fill, h, shortId, status, table, when } from "./dom.js";
import { isFinal, watchJobs } from "./events.js";
import { pager } from "./configs.js";

const API = "/api/v1/scheduler/jobs";
const STATUSES = ["", "queued", "running", "completed", "failed", "cancelled"];
const LIMIT = 50;

/** Progress as a bar and "done / total" (total 0 = unknown). */
export function progress(p) {
  const done = p?.done ?? 0;
  const total = p?.total ?? 0;
  const bar = h("progress", { max: total || 1, value: total ? done : 0, "aria-label": "progress" });
  return h("span", { class: "progress" }, bar, " ", h("span", { class: "progress-text" }, total ? `${done} / ${total}` : "—"));
}

export async function render(view, route, ctx) {
  const q = route.query;
  const filters = {
    status: q.get("status") || "",
    operation: q.get("operation") || "",
    job_config_id: q.get("job_config_id") || "",
  };
  const skip = Number(q.get("skip") || 0);
  const statusSel = h("select", { id: "filter-status" }, STATUSES.map((s) => h("option", { value: s }, s || "any")));
  statusSel.value = filters.status;
  const operation = h("input", { id: "filter-operation", value: filters.operation, size: 16 });
  const config = h("input", { id: "filter-config", value: filters.job_config_id, size: 38, class: "mono", placeholder: "job config id" });
  const apply = (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (statusSel.value) params.set("status", statusSel.value);
    if (operation.value.trim()) params.set("operation", operation.value.trim());
    if (config.value.trim()) params.set("job_config_id", config.value.trim());
    location.hash = `#/jobs${params.toString() ? `?${params}` : ""}`;
  };
  const body = h("div", { id: "jobs-body" }, h("p", { class: "muted" }, "Loading…"));
  fill(view,
    h("h1", {}, "Jobs"),
    h("form", { class: "toolbar", onsubmit: apply, "aria-label": "Filters" },
      h("div", {}, h("label", { for: "filter-status" }, "Status"), statusSel),
      h("div", {}, h("label", { for: "filter-operation" }, "Operation"), operation),
      h("div", {}, h("label", { for: "filter-config" }, "Job config"), config),
      h("div", {}, h("button", { type: "submit", id: "apply-filters" }, "Apply"))),
    body);

  const kept = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
  const base = kept ? `#/jobs?${kept}` : "#/jobs";
  const rowsById = new Map();
  const load = async () => {
    const { data } = await get(API, { ...filters, skip, limit: LIMIT, sort: "-createdAt" }, ctx.signal);
    rowsById.clear();
    const rows = data.resources.map((j) => {
      const tr = row(j);
      rowsById.set(j.id, tr);
      return tr;
    });
    fill(body,
      rows.length
        ? table(["Id", "Name", "Operation", "Status", "Result", "Progress", "Created", "Finished"], rows)
        : h("p", { class: "muted" }, "No jobs match."),
      pager(skip, LIMIT, data.total, base, data.total_exact !== false));
    return data.resources;
  };
  await load();

  // Live updates: replace a listed job's row; a new job on the first page reloads it.
  let reloading = null;
  const onJob = (job, source) => {
    const tr = rowsById.get(job.id);
    if (tr) {
      const fresh = row(job);
      fresh.dataset.source = source;
      tr.replaceWith(fresh);
      rowsById.set(job.id, fresh);
    } else if (skip === 0 && matches(job, filters) && !reloading) {
      reloading = load().finally(() => (reloading = null));
    }
  };
  // Without a stream: reload while the page is empty or shows an unfinished job.
  const onPoll = async () => {
    const rows = [...body.querySelectorAll("tr[data-status]")];
    if (!rows.length || rows.some((tr) => !isFinal({ status: tr.dataset.status }))) await load();
  };
  const query = filters.job_config_id ? { job_config_id: filters.job_config_id } : {};
  watchJobs(query, onJob, onPoll, ctx.signal).catch(ctx.showError);
}

function matches(job, filters) {
  return (!filters.status || job.status === filters.status)
    && (!filters.operation || job.operation === filters.operation)
    && (!filters.job_config_id || job.job_config_id === filters.job_config_id);
}

function row(j) {
  return h("tr", { "data-job": j.id, "data-status": j.status },
    h("td", {}, shortId(j.id, `#/jobs/${j.id}`)),
    h("td", { title: j.name }, j.name),
    h("td", {}, j.operation),
    h("td", {}, status(j.status)),
    h("td", { title: j.message || "" }, j.result ? status(j.result) : "—"),
    h("td", {}, progress(j.progress)),
    h("td", {}, when(j.createdAt)),
    h("td", {}, when(j.finished_at)));
}
