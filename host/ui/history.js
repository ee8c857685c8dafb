// Job history (Keyfactor's GET /KeyfactorAPI/OrchestratorJobs/JobHistory) with its query
// language. A query fault answers 400 with `field`, `reason` and the 1-based `position`;
// the page shows them and points at the character.

import { ApiError, get } from "./api.js";
import { fill, h, shortId, table, when } from "./dom.js";

const API = "/KeyfactorAPI/OrchestratorJobs/JobHistory";
const STATUS = { 0: "Unknown", 1: "Waiting", 2: "InProcess", 3: "Completed", 4: "Acknowledged", 5: "CompletedWillRetry" };
const RESULT = { 0: "Unknown", 2: "Success", 3: "Warning", 4: "Failure" };
const LIMIT = 50;

export async function render(view, route, ctx) {
  const query = route.query.get("q") || "";
  const page = Number(route.query.get("page") || 1);
  const input = h("input", { id: "history-query", class: "mono", value: query, size: 70, placeholder: "Result -eq 4 AND (Status -eq 3 OR Status -eq 4)" });
  const problem = h("div", { id: "history-problem", role: "alert" });
  const body = h("div", { id: "history-body" });
  const submit = (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    const next = `#/history${params.toString() ? `?${params}` : ""}`;
    if (location.hash === next) render(view, { ...route, query: params }, ctx).catch(ctx.showError);
    else location.hash = next;
  };
  fill(view,
    h("h1", {}, "Job history"),
    h("form", { class: "toolbar", onsubmit: submit, "aria-label": "Query" },
      h("div", {}, h("label", { for: "history-query" }, "QueryString"), input),
      h("div", {}, h("button", { type: "submit", id: "run-query" }, "Search"))),
    h("p", { class: "muted" }, "Fields such as JobType, Status, Result, OperationStart, Message; operators -eq, -ne, -gt, -lt, -contains; AND, OR, parentheses."),
    problem,
    body);

  try {
    const { data, headers } = await get(API, {
      QueryString: query,
      PageReturned: page,
      ReturnLimit: LIMIT,
      SortField: "JobAuditId",
      SortAscending: 1,
    });
    const total = Number(headers.get("x-total-count") || data.length);
    const rows = data.map((e) => h("tr", { "data-audit": e.JobAuditId },
      h("td", {}, String(e.JobAuditId)),
      h("td", {}, shortId(e.JobId, `#/jobs/${e.JobId}`)),
      h("td", {}, e.JobType),
      h("td", {}, e.Operation),
      h("td", {}, `${e.Status} ${STATUS[e.Status] ?? ""}`),
      h("td", {}, `${e.Result} ${RESULT[e.Result] ?? ""}`),
      h("td", {}, when(e.OperationStart)),
      h("td", {}, when(e.OperationEnd)),
      h("td", { title: e.Message || "" }, e.Message || "")));
    const params = new URLSearchParams(query ? { q: query } : {});
    const link = (p) => { params.set("page", p); return `#/history?${params}`; };
    fill(body,
      rows.length
        ? table(["Audit id", "Job", "Type", "Operation", "Status", "Result", "Started", "Ended", "Message"], rows)
        : h("p", { class: "muted" }, "No entries match."),
      h("nav", { class: "pager", "aria-label": "Pages" },
        h("span", {}, `page ${page}, ${total} entries`),
        page > 1 ? h("a", { class: "button", href: link(page - 1) }, "Previous") : null,
        page * LIMIT < total ? h("a", { class: "button", href: link(page + 1) }, "Next") : null));
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 400) throw err;
    showProblem(problem, err, query);
    input.focus();
    if (err.position) input.setSelectionRange(err.position - 1, err.position);
  }
}

/** The server's message, the field, the reason and the query with a caret under the
 *  position (1-based). */
function showProblem(box, err, query) {
  box.className = "problem";
  const caret = err.position ? `${" ".repeat(Math.max(0, err.position - 1))}^` : "";
  fill(box,
    h("p", {}, h("strong", {}, "The query was refused: "), err.message),
    h("dl", { class: "facts" },
      h("dt", {}, "Field"), h("dd", { class: "problem-field" }, err.field ?? "—"),
      h("dt", {}, "Reason"), h("dd", { class: "problem-reason" }, err.reason ?? "—"),
      h("dt", {}, "Position"), h("dd", { class: "problem-position" }, err.position ?? "—")),
    err.position ? h("pre", { class: "mono", "aria-label": "query with the fault marked" }, `${query}\n${caret}`) : null);
}
