// Plugins (GET /api/v1/plugins): each file in the plugins folder, loaded with its
// manifest (operations, params schemas, requested capabilities) or failed with the
// load error. Failed plugins come first.

import { get } from "./api.js";
import { fill, h, json, status } from "./dom.js";

export async function render(view) {
  const { data } = await get("/api/v1/plugins");
  const sorted = [...data].sort((a, b) => (a.status === b.status ? a.name.localeCompare(b.name) : a.status === "failed" ? -1 : 1));
  const failed = sorted.filter((p) => p.status !== "ready").length;
  fill(view,
    h("h1", {}, "Plugins"),
    h("p", {}, `${sorted.length} plugins, ${failed} failed to load.`),
    sorted.map(card));
}

function card(p) {
  const ops = p.manifest?.operations ?? [];
  return h("section", { class: `card ${p.status === "ready" ? "" : "failed"}`, "data-plugin": p.name },
    h("h2", {}, p.name, " ", status(p.status)),
    h("p", { class: "mono muted", title: p.sha256 || "" }, String(p.file)),
    p.error ? h("p", { class: "problem plugin-error" }, h("strong", {}, "Load error: "), p.error) : null,
    p.manifest
      ? [
          h("p", {}, `${p.manifest.name ?? p.name} ${p.manifest.version ?? ""}`, p.manifest.description ? ` — ${p.manifest.description}` : ""),
          ops.length
            ? h("ul", {}, ops.map((o) => h("li", {}, h("strong", {}, o.name ?? o.operation ?? "?"), o.kind ? ` (${o.kind})` : "", o.description ? `: ${o.description}` : "")))
            : null,
          h("details", {}, h("summary", {}, "Manifest"), json(p.manifest)),
        ]
      : null);
}
