// The transparency report: what facelens was used for since a date (searches by purpose,
// subject requests by outcome, consent withdrawals, retention, refusals by rule), as tables,
// and as CSV or JSON to publish.

import { $, api, busy, csv, download, el, field, when } from "../core.js";
import { tableBox } from "./admin-parts.js";

let section = null;

const TOTALS = [
  ["searches", "Searches"],
  ["faces_erased_on_request", "Faces erased on request"],
  ["consent_withdrawals", "Consent withdrawals"],
  ["retention_runs", "Retention runs"],
  ["retention_images_deleted", "Images deleted by retention"],
  ["retention_faces_deleted", "Faces deleted by retention"],
];
const BREAKDOWNS = [
  ["searches_by_purpose", "Searches by purpose", "Purpose"],
  ["access_requests", "Access requests by outcome", "Outcome"],
  ["erasure_requests", "Erasure requests by outcome", "Outcome"],
  ["refusals_by_rule", "Refusals by rule", "Rule"],
];

/** Every figure of the report as rows: section, item, count. */
function rows(report) {
  return [
    ...TOTALS.map(([key, words]) => ["totals", words, report[key]]),
    ...BREAKDOWNS.flatMap(([key, words]) =>
      Object.entries(report[key]).map(([item, n]) => [words, item, n])),
  ];
}

function show(report) {
  const stamp = (iso) => iso.slice(0, 10);
  const csvButton = el("button", { type: "button", class: "secondary", id: "transparency-csv" },
    "Download CSV");
  csvButton.addEventListener("click", () => download(
    `transparency-${stamp(report.since)}-${stamp(report.until)}.csv`,
    new Blob([csv(["Section", "Item", "Count"], rows(report))], { type: "text/csv" })));
  const jsonButton = el("button", { type: "button", class: "secondary",
    id: "transparency-json" }, "Download JSON");
  jsonButton.addEventListener("click", () => download(
    `transparency-${stamp(report.since)}-${stamp(report.until)}.json`,
    new Blob([JSON.stringify(report, null, 2)], { type: "application/json" })));
  $("#transparency-report", section).replaceChildren(
    el("h2", { id: "transparency-period", tabindex: "-1" },
      `From ${when(report.since)} to ${when(report.until)}`),
    el("p", {}, csvButton, " ", jsonButton),
    el("h3", {}, "Totals"),
    tableBox("Totals", ["What", "Count"],
      TOTALS.map(([key, words]) => [words, String(report[key])]), "transparency-totals"),
    ...BREAKDOWNS.flatMap(([key, words, item]) => {
      const entries = Object.entries(report[key]);
      return [
        el("h3", {}, words),
        entries.length
          ? tableBox(words, [item, "Count"], entries.map(([k, n]) => [k, String(n)]),
            `transparency-${key.replaceAll("_", "-")}`)
          : el("p", { class: "hint" }, "None."),
      ];
    }));
  $("#transparency-period", section).focus();
}

async function load(form) {
  const since = String(new FormData(form).get("since"));
  show(await api(`/reports/transparency?since=${encodeURIComponent(`${since}T00:00:00Z`)}`));
}

export default {
  id: "transparency",
  title: "Transparency",
  needs: ["read_reports"],
  build(root) {
    section = root;
    const yearAgo = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10);
    const form = el("form", { id: "transparency-form" },
      field("Since", el("input", { name: "since", id: "transparency-since", type: "date",
        required: true, value: yearAgo }), "From the start of this day (UTC) to now."),
      el("button", { type: "submit" }, "Show report"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form.querySelector("button"), () => load(form));
    });
    root.append(
      el("h1", { id: "transparency-title" }, "Transparency report"),
      el("p", { class: "hint" }, "Counts only: no image, name or case reference."),
      form,
      el("div", { id: "transparency-report" }));
  },
  forget() {
    section = null;
  },
};
