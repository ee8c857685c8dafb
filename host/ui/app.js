// The dashboard's entry point: hash routing (#/jobs, #/jobs/ID, ...), the error and
// notice banners, and sign-out. Each page is a module with `render(view, route, ctx)`;
// `ctx.signal` aborts when the user leaves the page, which stops its live streams.

import { ApiError, clearToken, token } from "./api.js";
import { fill, h } from "./dom.js";
import * as login from "./login.js";
import * as configs from "./configs.js";
import * as jobs from "./jobs.js";
import * as job from "./job.js";
import * as history from "./history.js";
import * as stores from "./stores.js";
import * as keys from "./keys.js";
import * as plugins from "./plugins.js";

const PAGES = { login, configs, jobs, job, history, stores, keys, plugins };

const view = document.getElementById("view");
const errorBox = document.getElementById("error");
const noticeBox = document.getElementById("notice");
const nav = document.getElementById("nav");
let current = null;

/** Shows a refusal as the server worded it, with the field (and query position) at fault. */
export function showError(err) {
  if (err?.name === "AbortError") return;
  const parts = [];
  if (err instanceof ApiError) {
    parts.push(h("strong", {}, `${err.status}: `), err.message);
    if (err.field) parts.push(h("span", { class: "field" }, ` (field: ${err.field})`));
  } else {
    parts.push(String(err?.message ?? err));
  }
  fill(errorBox, parts);
  errorBox.hidden = false;
}

function showNotice(...content) {
  fill(noticeBox, content);
  noticeBox.hidden = false;
}

function clearBanners() {
  errorBox.hidden = true;
  noticeBox.hidden = true;
  errorBox.replaceChildren();
  noticeBox.replaceChildren();
}

/** `#/jobs/ID?status=failed` → { page: "job", id: "ID", query: URLSearchParams }. */
function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  const section = parts[0] || "configs";
  if (section === "jobs" && parts[1]) return { page: "job", section, id: parts[1], query };
  return { page: section, section, id: parts[1], query };
}

async function route() {
  const r = parseRoute();
  if (!token() && r.page !== "login") {
    location.hash = "#/login";
    return;
  }
  current?.abort();
  current = new AbortController();
  const page = PAGES[r.page] ?? null;
  nav.hidden = r.page === "login";
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${r.section}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clearBanners();
  if (!page) {
    fill(view, h("h1", {}, "Not found"), h("p", {}, "No such page."));
    return;
  }
  const ctx = { signal: current.signal, showError, showNotice, clearBanners };
  document.body.dataset.page = r.page;
  delete document.body.dataset.ready;
  try {
    await page.render(view, r, ctx);
  } catch (err) {
    showError(err);
  } finally {
    // Tests and the benchmark wait for this: the page has rendered what it loaded
    // (and when, in milliseconds since navigation started).
    document.body.dataset.readyAt = performance.now().toFixed(1);
    document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
    document.body.dataset.ready = r.page;
  }
}

document.getElementById("logout").addEventListener("click", () => {
  clearToken();
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => showError(e.reason));
route();
