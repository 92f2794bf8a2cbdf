// The search log: who searched, why, over what, and what they were shown (never the
// probe). Analysts see their own searches; admins and auditors everyone's.

import { $, api, busy, csv, download, el, field, may, say, table, when } from "../core.js";
import { dayOf, inDays, options } from "../filters.js";

const LIMIT = 1000; // the most GET /searches gives, newest first
let searches = [];

const HEADINGS = ["When", "Who", "Purpose", "Case ref", "Collections", "Probe faces", "Results",
  "Matches", "Threshold"];
const values = (s) => [s.searched_at, s.account_name, s.purpose, s.case_ref,
  s.collections.length ? s.collections.join(", ") : "all", s.probe_faces, s.results, s.matches,
  s.threshold];
const cells = (s) => values(s).map((v, i) => (i === 0 ? when(v) : String(v)));

const everyone = () => may("read_all_searches");

function filtered(section) {
  const account = everyone() ? $("#history-account", section).value : "";
  const text = $("#history-text", section).value.trim().toLowerCase();
  const days = [$("#history-from", section).value, $("#history-to", section).value];
  return searches.filter((s) => (!account || s.account_name === account)
    && (!text || s.purpose.toLowerCase().includes(text) || s.case_ref.toLowerCase().includes(text))
    && inDays(dayOf(s.searched_at), ...days));
}

function render(section) {
  if (everyone()) {
    options($("#history-account", section), searches.map((s) => s.account_name), "Every account");
  }
  const rows = filtered(section);
  $("#history-count", section).textContent = `${rows.length} of ${searches.length} searches shown`
    + (searches.length === LIMIT ? ` (the latest ${LIMIT}).` : ".");
  $("#history-table", section).replaceChildren(rows.length
    ? table(HEADINGS, rows.map(cells))
    : el("p", { class: "hint" }, searches.length ? "No searches match." : "No searches yet."));
}

export default {
  id: "history",
  title: "Search log",
  needs: ["read_own_searches", "read_all_searches"],
  build(section) {
    const all = everyone();
    const text = el("input", { id: "history-text", type: "search", autocomplete: "off" });
    const from = el("input", { id: "history-from", type: "date" });
    const to = el("input", { id: "history-to", type: "date" });
    const exportButton = el("button", { id: "history-export", type: "button", class: "secondary" },
      "Export shown searches (CSV)");
    const filters = el("form", { id: "history-filters", role: "search",
      "aria-label": "Filter the search log", onsubmit: (event) => event.preventDefault() },
    el("fieldset", {}, el("legend", {}, "Filter"),
      all ? field("Account", el("select", { id: "history-account" })) : null,
      field("Purpose or case ref contains", text),
      field("From (day)", from), field("To (day)", to)));
    section.append(
      el("h1", { id: "history-title" }, all ? "Search log" : "Your searches"),
      el("p", { class: "hint" }, all
        ? "Every account's searches, newest first: who, why, over what and what was shown."
        : "Your own searches, newest first: why, over what and what you were shown."),
      filters,
      el("p", { id: "history-count", class: "hint", "aria-live": "polite" }),
      el("p", {}, exportButton),
      el("div", { id: "history-table", class: "table-wrap log", tabindex: "0", role: "region",
        "aria-label": "Searches" }));
    filters.addEventListener("input", () => render(section));
    filters.addEventListener("change", () => render(section));
    exportButton.addEventListener("click", () => busy(exportButton, async () => {
      const rows = filtered(section).map((s) => [...values(s), s.id, s.result_face_ids.join(" ")]);
      const headings = ["searched_at", "account", "purpose", "case_ref", "collections",
        "probe_faces", "results", "matches", "threshold", "search_id", "result_face_ids"];
      download("facelens-searches.csv", new Blob([csv(headings, rows)], { type: "text/csv" }));
      say(`${rows.length} searches exported.`, "notice");
    }));
  },
  async shown(section) {
    searches = await api(`/searches?limit=${LIMIT}`);
    render(section);
  },
  forget() {
    searches = [];
  },
};
