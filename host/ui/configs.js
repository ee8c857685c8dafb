// Job configs: the list with next runs, pause/resume (PATCH `disabled`), run now, and
// the create and edit forms (#/configs/new, #/configs/ID). Buttons are offered to every
// token; what the API refuses (a read-only token, a bad cron) is shown as it answered.

import { get, patch, post } from "./api.js";
import { fill, h, json, shortId, status, table, when } from "./dom.js";

const API = "/api/v1/scheduler/job-configs";

export async function render(view, route, ctx) {
  if (route.id === "new") return form(view, null, ctx);
  if (route.id) {
    const { data } = await get(`${API}/${encodeURIComponent(route.id)}`);
    return form(view, data, ctx);
  }
  return list(view, route, ctx);
}

async function list(view, route, ctx) {
  const skip = Number(route.query.get("skip") || 0);
  const limit = 50;
  const { data } = await get(API, { skip, limit, sort: "name" });
  const rows = data.resources.map((c) => row(c, view, route, ctx));
  fill(view,
    h("h1", {}, "Job configs"),
    h("div", { class: "toolbar" },
      h("a", { class: "button", href: "#/configs/new", id: "new-config" }, "New job config")),
    rows.length
      ? table(["Name", "Id", "Operation", "Schedule", "Next run", "State", "Actions"], rows)
      : h("p", { class: "muted" }, "No job configs yet."),
    pager(skip, limit, data.total, "#/configs", data.total_exact !== false));
}

function row(c, view, route, ctx) {
  const runNow = async () => {
    ctx.clearBanners();
    try {
      const { data } = await post(`${API}/${c.id}/run-now`);
      ctx.showNotice("Job queued: ", h("a", { href: `#/jobs/${data.job_id}`, class: "id" }, data.job_id));
    } catch (err) {
      ctx.showError(err);
    }
  };
  const toggle = async () => {
    ctx.clearBanners();
    try {
      await patch(`${API}/${c.id}`, { disabled: !c.disabled });
      await list(view, route, ctx);
      ctx.showNotice(`${c.name} ${c.disabled ? "resumed" : "paused"}.`);
    } catch (err) {
      ctx.showError(err);
    }
  };
  return h("tr", { "data-config": c.id, "data-name": c.name },
    h("td", {}, h("a", { href: `#/jobs?job_config_id=${c.id}`, title: "Jobs of this config" }, c.name)),
    h("td", {}, shortId(c.id)),
    h("td", {}, c.operation),
    h("td", { class: "mono", title: c.timezone || "UTC" }, c.run_at),
    h("td", {}, c.disabled ? h("span", { class: "muted" }, "paused") : when(c.next_run_at)),
    h("td", {}, status(c.disabled ? "paused" : "enabled")),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "run-now", onclick: runNow }, "Run now"),
      h("button", { type: "button", class: "toggle", onclick: toggle }, c.disabled ? "Resume" : "Pause"),
      h("a", { class: "button", href: `#/configs/${c.id}` }, "Edit")));
}

/** Previous/next links and "1–50 of N"; a list that stopped counting (`exact` false) has
 * more than `total` entries, so it always offers the next page. */
export function pager(skip, limit, total, base, exact = true) {
  const sep = base.includes("?") ? "&" : "?";
  const prev = Math.max(0, skip - limit);
  const of = exact ? `${total}` : `more than ${total}`;
  const last = exact ? Math.min(skip + limit, total) : skip + limit;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("span", {}, `${total === 0 ? 0 : skip + 1}–${last} of ${of}`),
    skip > 0 ? h("a", { class: "button", href: `${base}${sep}skip=${prev}` }, "Previous") : null,
    !exact || skip + limit < total ? h("a", { class: "button", href: `${base}${sep}skip=${skip + limit}` }, "Next") : null);
}

function field(id, label, input, hint) {
  return h("div", {}, h("label", { for: id }, label), input, hint ? h("div", { class: "muted" }, hint) : null);
}

/** The create (config null) or edit form. */
function form(view, config, ctx) {
  const c = config || { name: "", description: "", operation: "", run_at: "@hourly", timezone: "", disabled: false, params_key: "params", job_config_params: {} };
  const name = h("input", { id: "f-name", value: c.name, required: true });
  const description = h("input", { id: "f-description", value: c.description || "" });
  const operation = h("input", { id: "f-operation", value: c.operation, required: true });
  const runAt = h("input", { id: "f-run_at", value: c.run_at, required: true, class: "mono" });
  const timezone = h("input", { id: "f-timezone", value: c.timezone || "", placeholder: "UTC" });
  const disabled = h("input", { id: "f-disabled", type: "checkbox" });
  disabled.checked = !!c.disabled;
  const params = h("textarea", { id: "f-params", rows: 8 });
  params.value = JSON.stringify(c.job_config_params ?? {}, null, 2);

  async function submit(event) {
    event.preventDefault();
    ctx.clearBanners();
    let parsed;
    try {
      parsed = params.value.trim() ? JSON.parse(params.value) : {};
    } catch (err) {
      ctx.showError(new Error(`Params are not JSON: ${err.message}`));
      params.focus();
      return;
    }
    const body = {
      name: name.value,
      description: description.value,
      operation: operation.value,
      run_at: runAt.value,
      disabled: disabled.checked,
      [c.params_key || "params"]: parsed,
    };
    if (timezone.value.trim()) body.timezone = timezone.value.trim();
    try {
      const { data } = config
        ? await patch(`${API}/${config.id}`, body)
        : await post(API, body);
      location.hash = "#/configs";
      // The notice outlives the page change only if shown after it.
      setTimeout(() => ctx.showNotice(`Saved ${data.name}; next run `, when(data.next_run_at)), 0);
    } catch (err) {
      ctx.showError(err);
      const input = err.field && view.querySelector(`#f-${CSS.escape(err.field.split(".")[0])}`);
      input?.focus();
    }
  }

  fill(view,
    h("h1", {}, config ? `Edit ${config.name}` : "New job config"),
    h("form", { id: "config-form", onsubmit: submit },
      field("f-name", "Name", name),
      field("f-description", "Description", description),
      field("f-operation", "Operation", operation, "An operation a loaded plugin provides (see Plugins)."),
      field("f-run_at", "Schedule (run_at)", runAt, "5- or 6-field cron, or a macro such as @hourly."),
      field("f-timezone", "Time zone", timezone, "IANA name; UTC when empty."),
      h("div", { class: "inline" }, disabled, h("label", { for: "f-disabled" }, " Paused (disabled)")),
      field("f-params", `Params (${c.params_key || "params"}, JSON)`, params),
      h("p", {},
        h("button", { type: "submit", class: "primary", id: "save-config" }, config ? "Save" : "Create"),
        " ",
        h("a", { class: "button", href: "#/configs" }, "Cancel"))),
    config ? h("details", {}, h("summary", {}, "As stored"), json(config)) : null);
  name.focus();
}
