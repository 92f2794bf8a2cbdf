// Retention: destroy now what is kept past its collection's period, and faces enrolled on
// a consent that expired, was withdrawn or went unused for three years; then the report.

import { $, api, busy, el, when } from "../core.js";
import { count, tableBox } from "./admin-parts.js";

let section = null;

function report(r) {
  const byCollection = Object.entries(r.by_collection);
  const failures = Object.entries(r.failures);
  return el("div", { id: "retention-report" },
    el("h2", { id: "retention-report-title", tabindex: "-1" }, `Run at ${when(r.ran_at)}`),
    el("p", { id: "retention-summary" },
      `${count(r.images_deleted, "image")} and ${count(r.faces_deleted, "face")} deleted; `
      + `${count(r.consents_lapsed.length, "consent")} lapsed`
      + (failures.length ? `; ${count(failures.length, "collection")} not run.` : ".")),
    el("h3", {}, "Images deleted by collection"),
    byCollection.length
      ? tableBox("Images deleted by collection", ["Collection", "Images deleted"],
        byCollection.map(([name, n]) => [name, String(n)]), "retention-by-collection")
      : el("p", { class: "hint" }, "No collection held images past its period."),
    el("h3", {}, "Consents lapsed"),
    r.consents_lapsed.length
      ? el("p", { id: "retention-consents" }, "Faces enrolled under consent "
        + `${r.consents_lapsed.join(", ")} (expired, withdrawn or unused for three years) `
        + "were erased.")
      : el("p", { class: "hint" }, "No consent lapsed with faces enrolled under it."),
    el("h3", {}, "Failures"),
    failures.length
      ? tableBox("Collections not run", ["Collection", "Why"], failures, "retention-failures")
      : el("p", { class: "hint" }, "None: every collection was run."),
    r.face_ids.length || r.image_ids.length
      ? el("details", {}, el("summary", {}, "Ids destroyed"),
        el("p", {}, `Images: ${r.image_ids.join(", ") || "none"}`),
        el("p", {}, `Faces: ${r.face_ids.join(", ") || "none"}`))
      : null);
}

async function run() {
  const done = await api("/retention/runs", { method: "POST" });
  $("#retention-result", section).replaceChildren(report(done));
  $("#retention-report-title", section).focus();
}

export default {
  id: "retention",
  title: "Retention",
  needs: ["run_retention"],
  build(root) {
    section = root;
    const button = el("button", { type: "button", id: "retention-run" }, "Run retention now");
    button.addEventListener("click", () => busy(button, run));
    root.append(
      el("h1", { id: "retention-title" }, "Retention"),
      el("p", {}, "A run destroys at once every image kept longer than its collection's "
        + "retention period, and every face enrolled on a consent that expired, was withdrawn "
        + "or went unused for three years. It cannot be undone and there is no trial run: what "
        + "it destroys was due to go. The server also runs it on its own at a set interval."),
      el("p", {}, button),
      el("div", { id: "retention-result" }));
  },
  forget() {
    section = null;
  },
};
