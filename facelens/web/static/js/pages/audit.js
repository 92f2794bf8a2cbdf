// The audit log: its entries, oldest first, a page at a time; filters over the entries
// loaded; the check of the whole keyed chain; and the filtered rows as CSV.

import { $, api, busy, csv, download, el, field, say, table, when } from "../core.js";
import { dayOf, inDays, options } from "../filters.js";

const PAGE = 500;
let entries = []; // loaded so far, oldest first
let more = true; // the last page was full: there may be more after it

const HEADINGS = ["Id", "When", "Actor", "Action", "Subject", "Details"];
const cells = (e) => [String(e.id), when(e.at), e.actor, e.action, e.subject, words(e.details)];
// For the CSV, as stored; on the page, "key: value; ..." (wraps at its spaces).
const details = (d) => (d && Object.keys(d).length ? JSON.stringify(d) : "");
const words = (d) => Object.entries(d || {}).map(([key, value]) => `${key}: ${
  Array.isArray(value) ? value.join(", ") : typeof value === "object" && value !== null
    ? JSON.stringify(value) : String(value)}`).join("; ");

function filtered(section) {
  const actor = $("#audit-actor", section).value;
  const action = $("#audit-action", section).value;
  const text = $("#audit-subject", section).value.trim().toLowerCase();
  const days = [$("#audit-from", section).value, $("#audit-to", section).value];
  return entries.filter((e) => (!actor || e.actor === actor)
    && (!action || e.action === action)
    && (!text || e.subject.toLowerCase().includes(text))
    && inDays(dayOf(e.at), ...days));
}

function render(section) {
  options($("#audit-actor", section), entries.map((e) => e.actor), "Every actor");
  options($("#audit-action", section), entries.map((e) => e.action), "Every action");
  const rows = filtered(section);
  if ($("#audit-newest", section).checked) rows.reverse();
  $("#audit-count", section).textContent = `${rows.length} of the ${entries.length} entries `
    + `loaded match${more ? "; there are more to load" : " (the whole log)"}.`;
  $("#audit-more", section).hidden = !more;
  $("#audit-table", section).replaceChildren(rows.length
    ? table(HEADINGS, rows.map(cells))
    : el("p", { class: "hint" }, "No entries match."));
}

async function loadPage(section) {
  const after = entries.length ? entries[entries.length - 1].id : 0;
  const page = await api(`/audit?after_id=${after}&limit=${PAGE}`);
  entries.push(...page);
  more = page.length === PAGE;
  render(section);
}

async function verify(section) {
  const out = $("#audit-verify-result", section);
  out.textContent = "";
  const check = await api("/audit/verify");
  out.className = check.intact ? "notice-inline" : "error-inline";
  out.textContent = check.intact
    ? `The chain is intact: ${check.entries} entries checked`
      + (check.keyed_from ? `, keyed from entry ${check.keyed_from}.` : ".")
    : `The chain is broken at entry ${check.first_bad_id}: ${check.problem} `
      + `(${check.entries} entries checked).`;
}

export default {
  id: "audit",
  title: "Audit log",
  needs: ["read_audit"],
  build(section) {
    const actor = el("select", { id: "audit-actor" });
    const action = el("select", { id: "audit-action" });
    const subject = el("input", { id: "audit-subject", type: "search", autocomplete: "off" });
    const from = el("input", { id: "audit-from", type: "date" });
    const to = el("input", { id: "audit-to", type: "date" });
    const moreButton = el("button", { id: "audit-more", type: "button", class: "secondary" },
      `Load ${PAGE} more`);
    const verifyButton = el("button", { id: "audit-verify", type: "button" }, "Verify the chain");
    const exportButton = el("button", { id: "audit-export", type: "button", class: "secondary" },
      "Export shown entries (CSV)");
    const filters = el("form", { id: "audit-filters", role: "search", "aria-label": "Filter the audit log",
      onsubmit: (event) => event.preventDefault() },
    el("fieldset", {}, el("legend", {}, "Filter"),
      field("Actor", actor), field("Action", action), field("Subject contains", subject),
      field("From (day)", from), field("To (day)", to),
      el("label", { class: "inline" }, el("input", { id: "audit-newest", type: "checkbox" }),
        "Newest first")));
    section.append(
      el("h1", { id: "audit-title" }, "Audit log"),
      el("p", { class: "hint" }, "Every change and every look at the gallery, oldest first, each "
        + "entry chained to the one before. The filters work on the entries loaded so far: load "
        + "more to reach later ones."),
      el("p", {}, verifyButton),
      el("p", { id: "audit-verify-result", "aria-live": "polite" }),
      filters,
      el("p", { id: "audit-count", class: "hint", "aria-live": "polite" }),
      el("p", {}, exportButton, " ", moreButton),
      el("div", { id: "audit-table", class: "table-wrap log", tabindex: "0", role: "region",
        "aria-label": "Audit entries" }));
    filters.addEventListener("input", () => render(section));
    filters.addEventListener("change", () => render(section));
    moreButton.addEventListener("click", () => busy(moreButton, () => loadPage(section)));
    verifyButton.addEventListener("click", () => busy(verifyButton, () => verify(section)));
    exportButton.addEventListener("click", () => busy(exportButton, async () => {
      const rows = filtered(section).map((e) => [e.id, e.at, e.actor, e.action, e.subject,
        details(e.details), e.prev_hash, e.hash]);
      const text = csv([...HEADINGS.map((h) => h.toLowerCase()), "prev_hash", "hash"], rows);
      download("facelens-audit.csv", new Blob([text], { type: "text/csv" }));
      say(`${rows.length} entries exported.`, "notice");
    }));
  },
  async shown(section) {
    entries = [];
    more = true;
    await loadPage(section);
  },
  forget() {
    entries = [];
    more = true;
  },
};
