// Kept cloud keys (GET /api/v1/cckm/keys): what the key-rotation and synchronization
// jobs last saw of each cloud key.

import { get } from "./api.js";
import { fill, h, shortId, table, when } from "./dom.js";
import { pager } from "./configs.js";

export async function render(view, route) {
  const skip = Number(route.query.get("skip") || 0);
  const limit = 50;
  const { data } = await get("/api/v1/cckm/keys", { skip, limit });
  const rows = data.resources.map((k) => h("tr", { "data-key": k.key_id },
    h("td", { class: "mono", title: k.resource_name || k.key_id }, k.key_id),
    h("td", {}, k.cloud_name),
    h("td", { title: (k.aliases || []).join(", ") }, (k.aliases || []).join(", ") || "—"),
    h("td", {}, k.state),
    h("td", {}, when(k.rotated_at)),
    h("td", {}, when(k.synced_at)),
    h("td", {}, shortId(k.job_config_id, `#/configs/${k.job_config_id}`))));
  fill(view,
    h("h1", {}, "Cloud keys"),
    rows.length
      ? table(["Key", "Cloud", "Aliases", "State", "Rotated", "Synced", "Job config"], rows)
      : h("p", { class: "muted" }, "No cloud keys kept yet: they appear once a rotation or synchronization job has run."),
    pager(skip, limit, data.total, "#/keys"));
}
