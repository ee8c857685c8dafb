// Certificate stores (GET /KeyfactorAPI/CertificateStores) and one store's inventory
// (#/stores/ID, GET /KeyfactorAPI/CertificateStores/{id}/Inventory). Certificates that
// expired or expire within 30 days are highlighted and labelled in words.

import { get, post } from "./api.js";
import { fill, h, shortId, table, when } from "./dom.js";

const API = "/KeyfactorAPI/CertificateStores";
const SOON_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

export async function render(view, route, ctx) {
  if (route.id) return inventory(view, route.id, ctx);
  const { data, headers } = await get(API, { ReturnLimit: 1000 });
  const rows = data.map((s) => h("tr", { "data-store": s.Id },
    h("td", {}, shortId(s.Id, `#/stores/${s.Id}`)),
    h("td", {}, h("a", { href: `#/stores/${s.Id}` }, s.ClientMachine)),
    h("td", { class: "mono", title: s.Storepath }, s.Storepath),
    h("td", {}, s.CertStoreTypeName ?? String(s.CertStoreType ?? "")),
    h("td", {}, s.Approved ? "yes" : "no"),
    h("td", {}, s.InventorySchedule ? JSON.stringify(s.InventorySchedule) : "—")));
  fill(view,
    h("h1", {}, "Certificate stores"),
    rows.length
      ? table(["Id", "Machine", "Path", "Type", "Approved", "Inventory schedule"], rows)
      : h("p", { class: "muted" }, "No certificate stores."),
    h("p", { class: "muted" }, `${headers.get("x-total-count") ?? data.length} stores`));
}

/** "expired", "expiring" (within 30 days) or "" for a NotAfter. */
export function expiry(notAfter, now = Date.now()) {
  const t = Date.parse(notAfter);
  if (Number.isNaN(t)) return { kind: "", days: null };
  const days = Math.floor((t - now) / DAY_MS);
  if (t <= now) return { kind: "expired", days };
  if (t - now <= SOON_DAYS * DAY_MS) return { kind: "expiring", days };
  return { kind: "", days };
}

async function inventory(view, id, ctx) {
  const [{ data: store }, { data: certs }] = await Promise.all([
    get(`${API}/${encodeURIComponent(id)}`),
    get(`${API}/${encodeURIComponent(id)}/Inventory`, { ReturnLimit: 1000 }),
  ]);
  const now = Date.now();
  const rows = certs.map((c) => {
    const e = expiry(c.NotAfter, now);
    const label = e.kind === "expired"
      ? h("span", { class: "badge expired" }, "expired")
      : e.kind === "expiring"
        ? h("span", { class: "badge expiring" }, `expires in ${e.days} days`)
        : null;
    return h("tr", { class: e.kind, "data-thumbprint": c.Thumbprint },
      h("td", { title: c.Alias }, c.Alias || "—"),
      h("td", { title: c.IssuedDN }, c.IssuedDN),
      h("td", { title: c.IssuerDN }, c.IssuerDN),
      h("td", {}, shortId(c.Thumbprint)),
      h("td", {}, when(c.NotAfter), " ", label),
      h("td", {}, c.HasPrivateKey ? "yes" : "no"),
      h("td", {}, when(c.InventoriedAt)));
  });
  const inventoryNow = async () => {
    ctx.clearBanners();
    try {
      await post(`${API}/Schedule`, { StoreIds: [id], Schedule: { Immediate: true } });
      ctx.showNotice("Inventory job queued; see Jobs.");
    } catch (err) {
      ctx.showError(err);
    }
  };
  fill(view,
    h("h1", {}, "Store ", h("span", { class: "mono", title: store.Storepath }, `${store.ClientMachine}:${store.Storepath}`)),
    h("div", { class: "toolbar" },
      h("button", { type: "button", id: "inventory-now", onclick: inventoryNow }, "Inventory now"),
      h("a", { class: "button", href: "#/stores" }, "All stores")),
    h("p", { class: "muted" }, `Certificates that have expired or expire within ${SOON_DAYS} days are highlighted.`),
    rows.length
      ? table(["Alias", "Subject", "Issuer", "Thumbprint", "Not after", "Key", "Inventoried"], rows)
      : h("p", { class: "muted" }, "No inventory yet."));
}
