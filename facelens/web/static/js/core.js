// What every page shares: the JSON API, the message banner, the signed-in account, and a
// small DOM builder that sets user data as text, never as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** The signed-in account and what its role may do; null when signed out. */
export const session = { me: null };

/** What one page hands the next (a person to search by), for this sign-in only. */
export const handoff = { personId: null };

export const may = (action) => Boolean(session.me && session.me.may.includes(action));

export function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("facelens_csrf="));
  return found ? decodeURIComponent(found.split("=")[1]) : "";
}

/** An error answered by the API (RFC 9457 problem details), or by the network. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The engine's messages are written for every door, and some name the CLI command that
// fixes things, which a browser user cannot run: here they name the page instead.
const CLI_HINT = /\s*\(facelens [a-z -]+\)/g;
const PAGE_FOR_CODE = {
  no_legal_basis: "An admin declares a collection's legal basis on the Collections page.",
};

/** A message for a person at a browser: never a server path, never a CLI command. */
export function browserMessage(code, detail) {
  // A path on the server tells the user nothing and reveals the server's layout.
  let text = String(detail || "")
    .replace(/(^|[\s'"(=])(?:[A-Za-z]:)?(?:\/[\w.@+-]+){2,}\/?/g, "$1(a file on the server)");
  // A server setting is the operator's to change, not the browser user's.
  text = text.replace(/,? or (?:raise|lower|set) FACELENS_[A-Z_]+[^;.]*/g, "");
  const unhinted = text.replace(CLI_HINT, "");
  if (unhinted !== text) text = unhinted + (PAGE_FOR_CODE[code] ? `. ${PAGE_FOR_CODE[code]}` : "");
  return text;
}

export function problemError(status, statusText, body) {
  const code = body?.type ? body.type.split("/").pop() : undefined;
  const detail = body?.detail || `${status} ${statusText}`;
  return new ApiError(browserMessage(code, detail), status, code);
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = { ...options, body: JSON.stringify(options.json) };
  }
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw problemError(response.status, response.statusText, body);
  return body;
}

/** The one banner: an error (role=alert) or a notice; empty text hides it. */
export function say(text, kind = "error") {
  const box = $("#message");
  box.textContent = text || "";
  box.className = kind;
  box.hidden = !text;
}

/**
 * el("p", {class: "x", onclick: f}, "text", child...): strings become text nodes, so data
 * from users can never become markup. Attributes starting with "on" are listeners.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** A labelled control: the label wraps it, so every control has its name. */
export const field = (label, control, hint) =>
  el("label", {}, el("span", { class: "label" }, label), control,
    hint ? el("small", { class: "hint" }, hint) : null);

export function table(headings, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell))))));
}

export function download(filename, blob) {
  const link = el("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

export function csv(headings, rows) {
  const quote = (v) => {
    const text = v === null || v === undefined ? "" : String(v);
    // A leading = + - @ would be a formula in a spreadsheet: quoted with an apostrophe.
    const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[",\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  return [headings, ...rows].map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

/** Fills a fieldset with a checkbox per collection (name="collections"), once. */
export async function collectionChoices(box) {
  if (box.dataset.loaded) return;
  const names = await api("/collections");
  if (box.dataset.loaded) return; // a second opening got there first
  box.dataset.loaded = "yes";
  for (const name of names) {
    box.append(el("label", { class: "inline" },
      el("input", { type: "checkbox", name: "collections", value: name }), name));
  }
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

/** Runs an action with its button disabled, so a second click cannot run it twice. */
export async function busy(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (error) {
    say(error.message);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// Why a face was not indexed, in words (the reason codes of facelens/pipeline/quality.py).
export const reasonWords = {
  too_small: "too small",
  too_blurry: "too blurry",
  too_many_faces: "past max faces per image",
  low_detector_score: "low detector score",
};
