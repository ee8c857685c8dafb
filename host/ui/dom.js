// DOM helpers. Everything the API returns reaches the page as text nodes or attribute
// values, never as markup, so a job name or log line cannot inject anything.

/** Element `tag` with attributes and children (strings become text nodes). `on*`
 *  attributes with a function value become event listeners; `text` sets textContent. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An id cut to its first 8 characters, the whole id in the title (and for copying). */
export function shortId(id, href) {
  if (!id) return h("span", { class: "muted", text: "—" });
  const short = id.length > 10 ? `${id.slice(0, 8)}…` : id;
  return href
    ? h("a", { class: "id", href, title: id, "aria-label": id }, short)
    : h("span", { class: "id", title: id }, short);
}

/** A timestamp as local date and time, the exact value in the title. */
export function when(t) {
  if (!t) return h("span", { class: "muted", text: "—" });
  const d = new Date(t);
  const text = Number.isNaN(d.getTime()) ? t : d.toLocaleString();
  return h("time", { datetime: t, title: t }, text);
}

/** A status word styled by its value (the word is always shown: colour is not the only cue). */
export function status(word) {
  const w = word ?? "—";
  return h("span", { class: `status status-${String(w).toLowerCase()}` }, w);
}

/** A table with a header row and one row per item. */
export function table(headers, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

/** Pretty JSON in a <pre>. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value ?? null, null, 2));
}
