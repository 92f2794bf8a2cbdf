// Search by photo: the probe with its faces boxed, each face's candidates as evidence, and
// the search exported as a case record.

import { $, api, busy, collectionChoices, el, field, reasonWords, say } from "../core.js";
import { matchCard, recordExport, placeBox, ruleInWords } from "../evidence.js";

let probeUrl = null; // the probe photo, in this tab's memory only
let generation = 0; // a later search makes an earlier one's late answers stale

function forgetProbe() {
  if (probeUrl) URL.revokeObjectURL(probeUrl);
  probeUrl = null;
}

async function sha256Hex(file) {
  if (!crypto.subtle) return null; // only in a secure context (HTTPS or this machine)
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function drawBoxes(section, result, image) {
  const boxes = $(".boxes", section);
  boxes.replaceChildren(...result.faces.map((face, index) =>
    placeBox(el("div", { class: "box" }, el("span", {}, String(index + 1))), face.probe_box,
      image)));
}

function showResult(section, result) {
  const out = $(".results", section);
  if (result.probe_turned_degrees) {
    // Boxes come back on the photo as given, so they are drawn on it unturned.
    out.append(el("p", { id: "probe-turn" }, "No face stood upright in this photo: it was " +
      `searched turned ${result.probe_turned_degrees}° clockwise.`));
  }
  out.append(el("p", { class: "decision" }, ruleInWords(result.threshold, result.decision)));
  result.faces.forEach((face, index) => {
    out.append(
      el("h2", {}, `Face ${index + 1} (${face.probe_size_px} px` +
        `${face.probe_small_face ? ", small: weigh its matches with care" : ""}): ` +
        `${face.matches.filter((m) => m.is_match).length} MATCH of ${face.matches.length} results`),
      el("div", { class: "grid", dataset: { face: index + 1 } }, face.matches.map(matchCard)));
  });
  if (result.faces_rejected.length) {
    out.append(el("p", {}, `${result.faces_rejected.length} more face(s) found but not usable: ` +
      result.faces_rejected
        .map((q) => `${reasonWords[q.rejection_reason] || q.rejection_reason} (${q.size_px} px)`)
        .join(", ")));
  }
}

function build(section) {
  const input = el("input", { id: "probe", name: "image", type: "file", accept: "image/*",
    class: "visually-hidden", tabindex: "-1", "aria-label": "Photo to search with" });
  const chosen = el("span", { id: "probe-name" });
  const drop = el("div", { id: "drop", role: "button", tabindex: "0",
    "aria-describedby": "probe-name" },
  "Drop a photo here, or ", el("span", { class: "pick" }, "choose one"),
  " (Enter or Space).", " ", chosen);
  const pick = () => input.click();
  drop.addEventListener("click", pick);
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      pick();
    }
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change"));
  });
  input.addEventListener("change", () => {
    chosen.textContent = input.files[0] ? `Chosen: ${input.files[0].name}` : "";
  });

  const collections = el("fieldset", { class: "collections" },
    el("legend", {}, "Collections (none ticked: all)"));
  const button = el("button", { type: "submit", id: "search-button" }, "Search");
  const form = el("form", { id: "search-form", novalidate: true },
    drop, input,
    field("Purpose", el("input", { id: "purpose", name: "purpose", minlength: "3", required: true,
      autocomplete: "off", placeholder: "why you search (logged)" })),
    field("Case reference", el("input", { id: "case-ref", name: "case_ref", required: true,
      autocomplete: "off" })),
    field("Results per face", el("input", { id: "top-k", name: "top_k", type: "number",
      min: "1", max: "100", value: "10" })),
    collections, button);
  const image = el("img", { id: "probe-image", alt: "the photo searched with" });
  const view = el("figure", { id: "probe-view", class: "probe-view", hidden: true },
    image, el("div", { id: "boxes", class: "boxes" }));
  const record = recordExport("export-record");
  const results = el("div", { id: "results", class: "results", "aria-live": "polite" });
  section.append(el("h1", { id: "search-title" }, "Search by photo"),
    el("p", { class: "hint" }, "Every search is logged with your account, its purpose and " +
      "case reference, and what it showed."), form, view, record.button, results);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const mine = ++generation;
      // Nothing of the last search stays on screen with the new photo: no box, no result.
      record.drop();
      results.replaceChildren();
      $(".boxes", section).replaceChildren();
      view.hidden = true;
      image.onload = null;
      const file = input.files[0];
      const purpose = form.purpose.value.trim();
      const caseRef = form.case_ref.value.trim();
      if (!file) return say("Choose a photo to search with.");
      if (purpose.length < 3) return say("Say why you search (purpose, at least 3 characters).");
      if (!caseRef) return say("Give the case reference this search is for.");
      forgetProbe();
      probeUrl = URL.createObjectURL(file);
      const data = new FormData(form);
      data.delete("collections");
      const picked = [...form.querySelectorAll("[name=collections]:checked")].map((c) => c.value);
      for (const name of picked) data.append("collections", name);
      const fileSha256 = sha256Hex(file);
      let result;
      try {
        result = await api("/searches", { method: "POST", body: data });
      } catch (error) {
        if (mine === generation) say(error.message);
        return;
      }
      if (mine !== generation) return;
      image.onload = () => { if (mine === generation) drawBoxes(section, result, image); };
      image.onerror = () => { view.hidden = true; };
      image.src = probeUrl;
      view.hidden = false;
      showResult(section, result);
      record.hold({ result, purpose, caseRef, collections: picked,
        topK: Number(form.top_k.value), probeFileSha256: await fileSha256,
        searchedAt: new Date().toISOString() });
    });
  });
}

async function shown(section) {
  await collectionChoices($(".collections", section));
}

export default {
  id: "search", title: "Search", needs: ["search"], build, shown,
  forget() {
    generation++;
    forgetProbe();
  },
};
