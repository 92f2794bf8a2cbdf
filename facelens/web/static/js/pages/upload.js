// Upload photos into a collection: each file sent on its own, so the progress shown is the
// server's (a file counts once it is detected, checked, embedded and indexed), and a report
// of what became of every file and face: indexed, not indexed by reason, skipped as a
// duplicate, suppressed (its faces had opted out), or failed and why.

import { $, api, browserMessage, busy, el, field, reasonWords, say } from "../core.js";
import { count, tableBox } from "./admin-parts.js";

// A failure of one file (too large, not an image, unreadable) leaves the others to go on;
// any other answer (no legal basis, no such collection, signed out) stops the upload.
const FILE_FAILURES = new Set([413, 415, 422]);

const OUTCOME_WORDS = {
  stored: "stored",
  duplicate: "skipped: already in this collection",
  suppressed: "nothing kept: only faces of people who opted out",
  failed: "failed",
};

const words = (rejected) => Object.entries(rejected)
  .map(([reason, n]) => `${n} ${reasonWords[reason] || reason.replaceAll("_", " ")}`).join(", ");

function addCounts(total, counts) {
  for (const [key, n] of Object.entries(counts)) total[key] = (total[key] || 0) + n;
}

function summary(t) {
  const parts = [
    `${count(t.stored, "image")} stored, ${count(t.faces, "face")} indexed`,
    `${count(t.duplicate, "duplicate")} skipped (already in the collection)`,
    Object.keys(t.rejected).length ? `faces not indexed: ${words(t.rejected)}`
      : "no face rejected",
    `${count(t.suppressed, "face")} suppressed (people who opted out: not stored)`,
    `${count(t.failed, "file")} failed`,
  ];
  if (t.notSent) parts.push(`${count(t.notSent, "file")} not sent`);
  return `${parts.join("; ")}.`;
}

function build(section) {
  const collection = el("select", { id: "upload-collection", name: "collection", required: true });
  const files = el("input", { id: "files", name: "files", type: "file", accept: "image/*",
    multiple: true, required: true });
  const button = el("button", { type: "submit", id: "upload-button" }, "Upload");
  const form = el("form", { id: "upload-form", novalidate: true },
    field("Collection", collection),
    field("Photos", files, "one or more; each is processed in turn"),
    el("details", { class: "provenance-fields" },
      el("summary", {}, "Where these photos came from (optional, kept with each image)"),
      field("Origin URL", el("input", { id: "origin-url", name: "origin_url", type: "url",
        autocomplete: "off" })),
      field("Page URL", el("input", { id: "page-url", name: "page_url", type: "url",
        autocomplete: "off" })),
      field("Licence or warrant reference", el("input", { id: "licence-ref",
        name: "licence_ref", autocomplete: "off" }))),
    button);
  const progress = el("progress", { id: "upload-progress", max: "1", value: "0", hidden: true,
    "aria-label": "Files processed by the server" });
  const status = el("p", { id: "upload-status", role: "status" });
  const report = el("p", { id: "upload-report" });
  const perFile = el("div", { id: "upload-files" });
  section.append(el("h1", { id: "upload-title" }, "Upload photos"),
    el("p", { class: "hint" }, "Every face found is checked, embedded and indexed with where it " +
      "came from. Upload only photos the collection's legal basis covers."),
    form, progress, status, report, perFile);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const chosen = [...files.files];
      if (!collection.value) return say("Choose the collection to upload into.");
      if (!chosen.length) return say("Choose one or more photos to upload.");
      const total = { stored: 0, faces: 0, duplicate: 0, suppressed: 0, failed: 0,
        notSent: 0, rejected: {} };
      const rows = chosen.map((file) => ({ file, status: el("span", {}, "waiting"),
        faces: el("span", {}, ""), rejected: el("span", {}, "") }));
      perFile.replaceChildren(tableBox("What became of each file",
        ["File", "Outcome", "Faces indexed", "Faces not indexed"],
        rows.map((r) => [r.file.name, r.status, r.faces, r.rejected]), "upload-table"));
      report.textContent = "";
      progress.max = chosen.length;
      progress.value = 0;
      progress.hidden = false;
      const url = `/collections/${encodeURIComponent(collection.value)}/images`;
      for (const [index, row] of rows.entries()) {
        status.textContent = `Processing ${row.file.name} (${index + 1} of ${chosen.length})…`;
        row.status.textContent = "processing";
        const data = new FormData();
        data.append("files", row.file, row.file.name);
        for (const name of ["origin_url", "page_url", "licence_ref"]) {
          const value = form[name].value.trim();
          if (value) data.append(name, value);
        }
        let answer;
        try {
          answer = await api(url, { method: "POST", body: data });
        } catch (error) {
          if (!FILE_FAILURES.has(error.status)) {
            total.notSent = rows.length - index;
            for (const rest of rows.slice(index)) rest.status.textContent = "not sent";
            report.textContent = summary(total);
            status.textContent = "Upload stopped.";
            throw error; // the banner says why
          }
          total.failed += 1;
          row.status.textContent = `failed: ${error.message}`;
          progress.value = index + 1;
          continue;
        }
        const [outcome] = answer.files;
        total[outcome.outcome] += 1;
        total.faces += answer.faces_indexed;
        total.suppressed += answer.faces_suppressed;
        addCounts(total.rejected, answer.faces_rejected);
        const why = outcome.outcome === "failed"
          ? `: ${browserMessage(outcome.error, outcome.message)}` : "";
        row.status.textContent = OUTCOME_WORDS[outcome.outcome] + why +
          (answer.faces_suppressed ? ` (${count(answer.faces_suppressed, "face")} suppressed)` : "");
        row.faces.textContent = String(answer.faces_indexed);
        row.rejected.textContent = words(answer.faces_rejected) || "none";
        progress.value = index + 1;
      }
      status.textContent = `Done: ${chosen.length} of ${chosen.length} files processed.`;
      report.textContent = summary(total);
      files.value = "";
    });
  });
}

async function shown(section) {
  const select = $("#upload-collection", section);
  const names = await api("/collections");
  // Read after the answer: a choice made while the list loaded is kept.
  const before = select.value;
  select.replaceChildren(el("option", { value: "" }, "choose a collection"),
    ...names.map((name) => el("option", { value: name }, name)));
  if (names.includes(before)) select.value = before;
}

export default { id: "upload", title: "Upload", needs: ["ingest"], build, shown };
