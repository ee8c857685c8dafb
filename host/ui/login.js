// Sign-in: the user pastes an API token (issued with POST /api/v1/tokens or
// `keywarden tokens create`). It is checked with one harmless request before it is kept.

import { get, setToken, clearToken } from "./api.js";
import { h, fill } from "./dom.js";

export async function render(view, _route, ctx) {
  const message = sessionStorage.getItem("keywarden.loginMessage");
  sessionStorage.removeItem("keywarden.loginMessage");
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h("form", { class: "login", onsubmit: submit },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an API token. It is kept in this tab only (sessionStorage) and sent as a bearer token to the same server."),
    h("label", { for: "token" }, "API token"),
    input,
    h("p", {}, h("button", { type: "submit", class: "primary" }, "Sign in")));
  fill(view, form);
  if (message) ctx.showError(new Error(message));
  input.focus();

  async function submit(event) {
    event.preventDefault();
    ctx.clearBanners();
    setToken(input.value.trim());
    try {
      await get("/api/v1/scheduler/job-configs", { limit: 1 });
      location.hash = "#/configs";
    } catch (err) {
      clearToken();
      sessionStorage.removeItem("keywarden.loginMessage");
      ctx.showError(err);
    }
  }
}
